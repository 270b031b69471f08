from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SecurityConfig(AppConfig):
    name = "sizhi.security"
    label = "security"
    verbose_name = _("身份认证与会话")
