"""The system admin's account pages, mounted at /console/system/ by config.urls."""

from django.urls import path

from sizhi.security import views_admin

app_name = "sysadmin"
urlpatterns = [
    path("", views_admin.accounts, name="accounts"),
    path("new/", views_admin.account_create, name="account_create"),
    path("<int:pk>/deactivate/", views_admin.account_deactivate, name="account_deactivate"),
    path("<int:pk>/reactivate/", views_admin.account_reactivate, name="account_reactivate"),
    path("<int:pk>/password/", views_admin.account_password_reset, name="account_password_reset"),
    path("<int:pk>/totp/", views_admin.account_totp_reset, name="account_totp_reset"),
    path("<int:pk>/sessions/end/", views_admin.account_end_sessions, name="account_end_sessions"),
]
