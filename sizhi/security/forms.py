"""Forms of the security pages: shape only; the rules live in security.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sizhi.accounts.forms import CleanCharField
from sizhi.accounts.models import Role
from sizhi.regions.models import Grid, Region
from sizhi.units.models import HandlingUnit


def _attrs(name: str, **extra: str) -> dict[str, str]:
    return {"id": f"id_{name}", "data-testid": f"{name}-input", **extra}


class CodeForm(forms.Form):
    code = CleanCharField(
        label=_("动态口令"), max_length=32,
        error_messages={"required": _("请输入动态口令。")},
        help_text=_("打开手机上的验证器（身份验证器）应用，输入显示的 6 位数字；手机丢失时可输入一个恢复码。"),
        widget=forms.TextInput(
            attrs=_attrs("code", autocomplete="one-time-code", inputmode="numeric", autocapitalize="none")
        ),
    )


class EnrolForm(forms.Form):
    code = CleanCharField(
        label=_("验证器显示的 6 位数字"), max_length=16,
        error_messages={"required": _("请输入验证器显示的 6 位数字。")},
        widget=forms.TextInput(attrs=_attrs("code", autocomplete="one-time-code", inputmode="numeric")),
    )


class PasswordChangeForm(forms.Form):
    old_password = CleanCharField(
        label=_("当前密码"), max_length=128, strip=False,
        error_messages={"required": _("请输入当前密码。")},
        widget=forms.PasswordInput(attrs=_attrs("old_password", autocomplete="current-password")),
    )
    new_password = CleanCharField(
        label=_("新密码"), max_length=128, strip=False,
        help_text=_("至少 8 位，不能全是数字，不要太常见，不要与用户名相似。"),
        error_messages={"required": _("请输入新密码。")},
        widget=forms.PasswordInput(attrs=_attrs("new_password", autocomplete="new-password")),
    )
    new_password2 = CleanCharField(
        label=_("确认新密码"), max_length=128, strip=False,
        error_messages={"required": _("请再输入一次新密码。")},
        widget=forms.PasswordInput(attrs=_attrs("new_password2", autocomplete="new-password")),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") and data.get("new_password2") and data["new_password"] != data["new_password2"]:
            self.add_error("new_password2", _("两次输入的新密码不一致。"))
        return data


class AccountFilterForm(forms.Form):
    q = CleanCharField(label=_("用户名或姓名"), max_length=50, required=False,
                       widget=forms.TextInput(attrs=_attrs("q", type="search")))
    status = forms.ChoiceField(
        label=_("类别"), required=False,
        choices=[("", _("全部")), ("active", _("启用")), ("inactive", _("停用")), ("staff", _("工作人员")),
                 ("citizen", _("群众"))],
        widget=forms.Select(attrs=_attrs("status")),
    )


class AccountCreateForm(forms.Form):
    username = CleanCharField(
        label=_("用户名"), max_length=150,
        error_messages={"required": _("请输入用户名。")},
        help_text=_("字母、数字和 @ . + - _，用于登录。"),
        widget=forms.TextInput(attrs=_attrs("username", autocomplete="off", autocapitalize="none")),
    )
    display_name = CleanCharField(
        label=_("姓名"), max_length=50, required=False,
        widget=forms.TextInput(attrs=_attrs("display_name", autocomplete="off")),
    )


class MembershipFilterForm(forms.Form):
    q = CleanCharField(label=_("用户名或姓名"), max_length=50, required=False,
                       widget=forms.TextInput(attrs=_attrs("q", type="search")))
    role = forms.ChoiceField(label=_("角色"), required=False, choices=[("", _("全部")), *Role.choices],
                             widget=forms.Select(attrs=_attrs("role")))


class MembershipGrantForm(forms.Form):
    username = CleanCharField(
        label=_("账号（用户名）"), max_length=150,
        error_messages={"required": _("请输入要授予角色的用户名。")},
        widget=forms.TextInput(attrs=_attrs("username", autocomplete="off", autocapitalize="none")),
    )
    role = forms.ChoiceField(
        label=_("角色"), choices=[("", _("请选择")), *Role.choices],
        error_messages={"required": _("请选择一个角色。"), "invalid_choice": _("请选择一个角色。")},
        widget=forms.Select(attrs=_attrs("role")),
    )
    unit = forms.ModelChoiceField(
        label=_("所属单位"), queryset=HandlingUnit.objects.none(), required=False,
        error_messages={"invalid_choice": _("所选单位不存在。")},
        widget=forms.NumberInput(attrs=_attrs("unit")),
        help_text=_("单位编号；管理员角色不填。"),
    )
    scope = forms.CharField(
        label=_("管辖范围（区划代码）"), max_length=12, required=False,
        widget=forms.TextInput(attrs=_attrs("scope", inputmode="numeric")),
        help_text=_("12 位区划代码；业务角色必填，管理员角色不填。"),
    )
    grid = forms.CharField(
        label=_("负责网格（网格编码）"), max_length=32, required=False,
        widget=forms.TextInput(attrs=_attrs("grid", inputmode="numeric")),
        help_text=_("仅网格员需要。"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        unit_field = self.fields["unit"]
        assert isinstance(unit_field, forms.ModelChoiceField)
        unit_field.queryset = HandlingUnit.objects.all()

    def clean_scope(self) -> Region | None:
        code = (self.cleaned_data.get("scope") or "").strip()
        if not code:
            return None
        region = Region.objects.filter(code=code).first()
        if region is None:
            raise forms.ValidationError(_("没有这个区划代码。"), code="scope_unknown")
        return region

    def clean_grid(self) -> Grid | None:
        code = (self.cleaned_data.get("grid") or "").strip()
        if not code:
            return None
        grid = Grid.objects.filter(code=code).first()
        if grid is None:
            raise forms.ValidationError(_("没有这个网格编码。"), code="grid_unknown")
        return grid
