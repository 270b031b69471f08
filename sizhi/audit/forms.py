from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sizhi.audit.models import Result
from sizhi.audit.selectors import AuditFilter

_CODE_RE = re.compile(r"^[a-z0-9_.:-]*$")
MAX_RANGE_DAYS = 3660


class AuditFilterForm(forms.Form):
    date_from = forms.DateField(label=_("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    actor = forms.CharField(label=_("操作人用户名"), required=False, max_length=150)
    action = forms.CharField(
        label=_("动作"), required=False, max_length=80,
        help_text=_("完整的动作代码，或以“.”结尾的前缀，如 http."),
    )
    result = forms.ChoiceField(label=_("结果"), required=False, choices=[("", _("全部")), *Result.choices])
    target_type = forms.CharField(label=_("对象类型"), required=False, max_length=80)
    target_id = forms.CharField(label=_("对象编号"), required=False, max_length=64)
    route = forms.CharField(label=_("路由"), required=False, max_length=120, help_text=_("如 cases:act"))

    def clean_action(self) -> str:
        value: str = self.cleaned_data["action"].strip().lower()
        if not _CODE_RE.match(value):
            raise ValidationError(_("动作代码只含小写字母、数字和 . _ : -。"))
        return value

    def clean_route(self) -> str:
        value: str = self.cleaned_data["route"].strip()
        if not _CODE_RE.match(value.lower()):
            raise ValidationError(_("路由名只含字母、数字和 . _ : -。"))
        return value

    def clean(self) -> dict:
        data = super().clean() or {}
        start: dt.date | None = data.get("date_from")
        end: dt.date | None = data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("截止日期不能早于起始日期。"))
        elif start and end and (end - start).days > MAX_RANGE_DAYS:
            self.add_error("date_to", _("日期范围不能超过十年。"))
        return data

    def to_filter(self) -> AuditFilter:
        data = self.cleaned_data
        return AuditFilter(
            date_from=data.get("date_from"), date_to=data.get("date_to"),
            actor=(data.get("actor") or "").strip(), action=data.get("action") or "",
            result=data.get("result") or "", target_type=(data.get("target_type") or "").strip(),
            target_id=(data.get("target_id") or "").strip(), route=data.get("route") or "",
        )
