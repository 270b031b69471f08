from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "sizhi.notify"
    label = "notify"
