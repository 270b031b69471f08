"""Forms of the account pages. They check shape only (lengths, required, types); the rules
about codes, phones and passwords live in accounts.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _

from sizhi.accounts.phones import normalise_phone

NUL_MESSAGE = _("内容包含无法识别的控制字符，请删除后重新输入。")


class CleanCharField(forms.CharField):
    """A CharField whose refusal of NUL characters speaks plain Chinese (Django's own
    translation of that message is wrong), used by every text input on the citizen side."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validators = [
            ProhibitNullCharactersValidator(message=NUL_MESSAGE)
            if isinstance(v, ProhibitNullCharactersValidator)
            else v
            for v in self.validators
        ]


def _attrs(name: str, **extra: str) -> dict[str, str]:
    # Stable ids and data-testid for the browser tests.
    return {"id": f"id_{name}", "data-testid": f"{name}-input", **extra}


class LoginForm(forms.Form):
    username = CleanCharField(
        label=_("手机号或用户名"), max_length=150,
        error_messages={"required": _("请输入手机号或用户名。")},
        widget=forms.TextInput(attrs=_attrs("username", autocomplete="username", autocapitalize="none")),
    )
    password = CleanCharField(
        label=_("密码"), max_length=128, strip=False,
        error_messages={"required": _("请输入密码。")},
        widget=forms.PasswordInput(attrs=_attrs("password", autocomplete="current-password")),
    )

    def identifier(self) -> str:
        """The account the attempt is aimed at, the same however the phone number was typed."""
        raw: str = self.cleaned_data["username"]
        return normalise_phone(raw) or raw.strip().lower()


class SignupForm(forms.Form):
    phone = CleanCharField(
        label=_("手机号"), max_length=32,
        error_messages={"required": _("请输入手机号。")},
        widget=forms.TextInput(attrs=_attrs("phone", autocomplete="tel", inputmode="tel")),
    )
    code = CleanCharField(
        label=_("短信验证码"), max_length=12,
        error_messages={"required": _("请输入短信验证码。")},
        widget=forms.TextInput(attrs=_attrs("code", autocomplete="one-time-code", inputmode="numeric")),
    )
    display_name = CleanCharField(
        label=_("称呼（选填）"), max_length=50, required=False,
        widget=forms.TextInput(attrs=_attrs("display_name", autocomplete="name")),
    )
    password = CleanCharField(
        label=_("设置密码"), max_length=128, strip=False,
        help_text=_("至少 8 位，不能全是数字，不要太常见。"),
        error_messages={"required": _("请设置密码。")},
        widget=forms.PasswordInput(attrs=_attrs("password", autocomplete="new-password")),
    )
    password2 = CleanCharField(
        label=_("确认密码"), max_length=128, strip=False,
        error_messages={"required": _("请再输入一次密码。")},
        widget=forms.PasswordInput(attrs=_attrs("password2", autocomplete="new-password")),
    )

    def clean_phone(self) -> str:
        phone = normalise_phone(self.cleaned_data["phone"])
        if phone is None:
            raise forms.ValidationError(_("请输入正确的 11 位手机号码。"), code="phone_invalid")
        return phone

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password2") and data["password"] != data["password2"]:
            self.add_error("password2", _("两次输入的密码不一致。"))
        return data
