"""Mounted at /account/tokens/ by config.urls."""

from django.urls import path

from sizhi.api import views

app_name = "api_tokens"
urlpatterns = [
    path("", views.token_list, name="list"),
    path("<int:pk>/revoke/", views.token_revoke, name="revoke"),
]
