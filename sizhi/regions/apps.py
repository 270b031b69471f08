from django.apps import AppConfig


class RegionsConfig(AppConfig):
    name = "sizhi.regions"
    label = "regions"
