from django.urls import path

from sizhi.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("cases/", views.case_list, name="list"),
    path("cases/<int:pk>/", views.case_detail, name="detail"),
    path("cases/<int:pk>/act/<slug:action>/", views.case_act, name="act"),
    path(
        "cases/<int:pk>/assignments/<int:assignment_id>/<slug:verb>/", views.assignment_act, name="assignment_act"
    ),
    path("cases/<int:pk>/extensions/<int:extension_id>/<slug:verb>/", views.extension_act, name="extension_act"),
    path("cases/<int:pk>/photos/<int:attachment_id>/", views.case_photo, name="photo"),
]
