from django.urls import URLPattern, path

from sizhi.audit import views

app_name = "audit"

urlpatterns: list[URLPattern] = [
    path("", views.log_view, name="log"),
    path("records/<int:seq>/", views.record_view, name="record"),
    path("verify/", views.verify_view, name="verify"),
]
