from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailboxConfig(AppConfig):
    name = "sizhi.mailbox"
    label = "mailbox"
    verbose_name = _("书记信箱")
