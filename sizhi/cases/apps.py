from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "sizhi.cases"
    label = "cases"
