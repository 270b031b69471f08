from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SettingsUiConfig(AppConfig):
    name = "sizhi.settingsui"
    label = "settingsui"
    verbose_name = _("配置管理")
