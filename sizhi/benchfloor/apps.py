from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BenchfloorConfig(AppConfig):
    name = "sizhi.benchfloor"
    label = "benchfloor"
    verbose_name = _("基准对照")
