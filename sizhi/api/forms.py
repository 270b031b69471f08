"""The form of the token page; it only parses, api.services decides."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sizhi.api.services import NAME_MAX

EXPIRY_CHOICES = [
    ("30", _("30 天")),
    ("90", _("90 天")),
    ("365", _("1 年")),
    ("never", _("永不过期")),
]


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label=_("名称"), max_length=NAME_MAX, help_text=_("用途或设备，例如“巡查 App（张三的手机）”。")
    )
    expires = forms.ChoiceField(label=_("有效期"), choices=EXPIRY_CHOICES, initial="90")

    def expires_at(self) -> datetime | None:
        value = self.cleaned_data["expires"]
        return None if value == "never" else timezone.now() + timedelta(days=int(value))
