from django.apps import AppConfig


class WorkdaysConfig(AppConfig):
    name = "sizhi.workdays"
    label = "workdays"
