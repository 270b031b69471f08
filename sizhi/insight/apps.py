from django.apps import AppConfig


class InsightConfig(AppConfig):
    name = "sizhi.insight"
    label = "insight"
    verbose_name = "研判分析"
