from django.urls import path

from sizhi.insight import views_alerts as views

app_name = "alerts"
urlpatterns = [
    path("", views.alert_list, name="list"),
    path("<int:pk>/", views.alert_detail, name="detail"),
    path("<int:pk>/acknowledge/", views.alert_acknowledge, name="acknowledge"),
    path("briefings/", views.briefing_list, name="briefings"),
    path("briefings/<int:pk>/", views.briefing_detail, name="briefing"),
    path("briefings/<int:pk>.pdf", views.briefing_pdf, name="briefing_pdf"),
    path("briefings/<int:pk>.xlsx", views.briefing_xlsx, name="briefing_xlsx"),
]
