"""The security admin's pages, mounted at /console/security/ by config.urls."""

from django.urls import path

from sizhi.security import views_admin

app_name = "secadmin"
urlpatterns = [
    path("", views_admin.memberships, name="memberships"),
    path("grant/", views_admin.membership_grant, name="membership_grant"),
    path("<int:pk>/revoke/", views_admin.membership_revoke, name="membership_revoke"),
    path("policy/", views_admin.policy, name="policy"),
]
