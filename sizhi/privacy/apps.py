from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "sizhi.privacy"
    label = "privacy"
    verbose_name = _("个人信息保护")

    def ready(self) -> None:
        from sizhi.privacy import checks  # noqa: F401 - registers the deploy check
