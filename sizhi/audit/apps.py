from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "sizhi.audit"
    label = "audit"
    verbose_name = _("审计")

    def ready(self) -> None:
        from sizhi.audit import receivers  # noqa: F401 - connects the auth signal receivers
        from sizhi.audit.redaction import install

        install()
