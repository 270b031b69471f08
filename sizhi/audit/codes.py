"""The action codes this app writes, and the ones other apps are known to write, with labels.

Codes are dotted lower-case; a code that is not listed here still shows, by its code.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACTIONS: dict[str, Promise] = {
    "auth.login": _("登录"),
    "auth.login_failed": _("登录失败"),
    "auth.logout": _("退出登录"),
    "http.post": _("提交（POST）"),
    "http.put": _("提交（PUT）"),
    "http.patch": _("提交（PATCH）"),
    "http.delete": _("删除（DELETE）"),
    "http.get": _("访问（GET）"),
    "audit.log_view": _("查看审计日志"),
    "audit.record_view": _("查看审计记录"),
    "audit.verify": _("校验审计链"),
    # Written by other apps through audit():
    "privacy.unmask": _("查看敏感信息明文"),
    "letter.read": _("阅读书记信箱来信"),
}


def action_label(code: str) -> str:
    label = ACTIONS.get(code)
    return str(label) if label is not None else code
