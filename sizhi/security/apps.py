from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "sizhi.security"
    label = "security"
    verbose_name = _("身份认证与会话")

    def ready(self) -> None:
        from sizhi.security import checks, signals  # noqa: F401 - registers receivers and checks
