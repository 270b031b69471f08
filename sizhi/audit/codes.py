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
    "resident.register": _("登记居民信息"),
    "resident.update": _("修改居民信息"),
    "auth.second_factor": _("第二步验证"),
    "auth.totp_enrol": _("绑定动态口令"),
    "auth.totp_reset": _("重置动态口令"),
    "auth.password_change": _("修改密码"),
    "auth.sessions_ended": _("结束全部会话"),
    "account.created": _("创建账号"),
    "account.reactivated": _("恢复账号"),
    "account.password_reset": _("重置密码"),
    "role.grant": _("授予角色"),
    "role.revoke": _("撤销角色"),
    "letter.submit": _("提交书记信箱来信"),
    "letter.track": _("查询来信办理进度"),
    "letter.read": _("阅读书记信箱来信"),
    "letter.photo": _("查看来信照片"),
    "letter.delegate": _("委托办理来信"),
    "letter.undelegate": _("撤销来信委托"),
    "letter.subject": _("修改来信事由"),
    "letter.reply": _("答复来信"),
    "letter.close": _("办结来信"),
    "letter.convert": _("来信转为案件"),
    "ops.drill": _("运维演练"),
}


def action_label(code: str) -> str:
    label = ACTIONS.get(code)
    return str(label) if label is not None else code
