"""Forms of the resident pages: shape only; validation of numbers and reasons is in services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from sizhi.accounts.forms import CleanCharField
from sizhi.privacy.models import UnmaskField, UnmaskPurpose
from sizhi.privacy.services import NAME_MAX, REASON_MAX, REASON_MIN, RELATION_MAX
from sizhi.regions.models import Household


def _attrs(name: str, **extra: str) -> dict[str, str]:
    return {"id": f"id_{name}", "data-testid": f"{name}-input", **extra}


class ResidentSearchForm(forms.Form):
    q = CleanCharField(
        label=_("身份证号码或手机号"), max_length=40,
        error_messages={"required": _("请输入身份证号码或手机号。")},
        # autocomplete off: the browser must not remember ID numbers typed on a shared PC.
        widget=forms.TextInput(attrs=_attrs("q", autocomplete="off", spellcheck="false")),
    )


class UnmaskForm(forms.Form):
    field = forms.ChoiceField(choices=UnmaskField.choices, widget=forms.HiddenInput)
    purpose = forms.ChoiceField(
        label=_("查看用途"), choices=[("", _("请选择")), *UnmaskPurpose.choices],
        error_messages={"required": _("请选择查看用途。"), "invalid_choice": _("请选择查看用途。")},
        widget=forms.Select(attrs=_attrs("purpose")),
    )
    reason = CleanCharField(
        label=_("查看事由"), min_length=REASON_MIN, max_length=REASON_MAX,
        error_messages={
            "required": _("请写明查看事由。"),
            "min_length": _("请写明查看事由，至少 %(limit_value)d 个字。"),
            "max_length": _("查看事由不能超过 %(limit_value)d 个字。"),
        },
        widget=forms.Textarea(attrs=_attrs("reason", rows="2")),
    )


class ReporterUnmaskForm(UnmaskForm):
    field = forms.ChoiceField(choices=[(UnmaskField.PHONE, UnmaskField.PHONE.label)], widget=forms.HiddenInput)


class ResidentForm(forms.Form):
    household = forms.ModelChoiceField(
        label=_("户"), queryset=Household.objects.none(),
        error_messages={"required": _("请选择所在户。"), "invalid_choice": _("请选择所在户。")},
        widget=forms.Select(attrs=_attrs("household")),
    )
    name = CleanCharField(label=_("姓名"), max_length=NAME_MAX, widget=forms.TextInput(attrs=_attrs("name")),
                          error_messages={"required": _("请填写姓名。")})
    relation = CleanCharField(label=_("与户主关系"), max_length=RELATION_MAX, required=False,
                              widget=forms.TextInput(attrs=_attrs("relation")))
    id_number = CleanCharField(
        label=_("身份证号码"), max_length=40, required=False,
        widget=forms.TextInput(attrs=_attrs("id_number", autocomplete="off", spellcheck="false")),
    )
    phone = CleanCharField(
        label=_("手机号"), max_length=32, required=False,
        widget=forms.TextInput(attrs=_attrs("phone", autocomplete="off", inputmode="tel")),
    )
    is_party_member = forms.BooleanField(label=_("党员"), required=False,
                                         widget=forms.CheckboxInput(attrs=_attrs("is_party_member")))
