"""The second sign-in step, mounted at /accounts/2fa/ by config.urls."""

from django.urls import path

from sizhi.security import views_auth

app_name = "security"
urlpatterns = [
    path("", views_auth.totp_step, name="totp"),
    path("enrol/", views_auth.enrol, name="enrol"),
]
