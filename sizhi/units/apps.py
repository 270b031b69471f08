from django.apps import AppConfig


class UnitsConfig(AppConfig):
    name = "sizhi.units"
    label = "units"
