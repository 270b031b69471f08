from django.apps import AppConfig


class InsightConfig(AppConfig):
    name = "sizhi.insight"
    label = "insight"
    verbose_name = "研判分析"

    def ready(self) -> None:
        # Connects the receivers that keep the dashboard roll-ups exact on every case save.
        from sizhi.insight import rollups  # noqa: F401
