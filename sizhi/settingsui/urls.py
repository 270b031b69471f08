from django.urls import path

from sizhi.settingsui import views

app_name = "settingsui"
urlpatterns = [
    path("", views.index, name="index"),
    path("rules/", views.rules, name="rules"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<int:pk>/edit/", views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/delete/", views.rule_remove, name="rule_delete"),
    path("rules/import/", views.rules_import, name="rules_import"),
    path("rules/export.csv", views.rules_export, name="rules_export"),
    path("rules/try/", views.rule_try, name="rule_try"),
    path("limits/", views.limits, name="limits"),
    path("limits/new/", views.limit_create, name="limit_create"),
    path("limits/<int:pk>/edit/", views.limit_edit, name="limit_edit"),
    path("limits/<int:pk>/delete/", views.limit_remove, name="limit_delete"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/set/", views.calendar_set, name="calendar_set"),
    path("calendar/clear/", views.calendar_clear, name="calendar_clear"),
    path("calendar/<int:year>/<int:month>/", views.calendar_month, name="calendar_month"),
    path("units/", views.units, name="units"),
    path("units/new/", views.unit_create, name="unit_create"),
    path("units/<int:pk>/edit/", views.unit_edit, name="unit_edit"),
    path("units/<int:pk>/toggle/", views.unit_toggle, name="unit_toggle"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/new/", views.webhook_create, name="webhook_create"),
    path("webhooks/<int:pk>/edit/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<int:pk>/toggle/", views.webhook_toggle, name="webhook_toggle"),
    path("webhooks/<int:pk>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:pk>/secret/", views.webhook_secret, name="webhook_secret"),
    path("callbacks/", views.callbacks, name="callbacks"),
    path("callbacks/<int:pk>/", views.callback_record, name="callback_record"),
]
