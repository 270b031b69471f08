from django.urls import path

from sizhi.privacy import views

app_name = "privacy"
urlpatterns = [
    path("", views.resident_search, name="search"),
    path("new/", views.resident_new, name="new"),
    path("<int:pk>/", views.resident_detail, name="detail"),
    path("<int:pk>/unmask/", views.resident_unmask, name="unmask"),
    path("cases/<int:pk>/reporter/", views.case_reporter_unmask, name="case_reporter"),
]
