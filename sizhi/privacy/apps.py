from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _log_sql(sender: Any, connection: Any, **kwargs: Any) -> None:
    # Django logs SQL (with parameters) only for debug cursors; the test run wants every query in
    # its log files so the leak test can prove no plaintext phone or ID number reaches them.
    connection.force_debug_cursor = True


class PrivacyConfig(AppConfig):
    name = "sizhi.privacy"
    label = "privacy"
    verbose_name = _("个人信息保护")

    def ready(self) -> None:
        from django.conf import settings
        from django.db.backends.signals import connection_created

        from sizhi.privacy import checks  # noqa: F401 - registers the deploy check

        if getattr(settings, "SIZHI_LOG_SQL", False):
            connection_created.connect(_log_sql, dispatch_uid="sizhi.privacy.log_sql")
