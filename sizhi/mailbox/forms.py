"""Forms of the mailbox pages. They check shape only; every rule lives in mailbox.services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from sizhi.accounts.forms import CleanCharField
from sizhi.accounts.models import User
from sizhi.cases.models import Category
from sizhi.mailbox import selectors
from sizhi.mailbox.models import Identity, LetterLevel
from sizhi.mailbox.services import new_form_key
from sizhi.regions.models import Region
from sizhi.web.forms import MultipleFileInput, PhotosField
from sizhi.web.selectors import category_choices

KEY_INVALID = _("页面已过期，已为您刷新提交标识，请再提交一次。")


def town_choices() -> list[tuple[str, Any]]:
    """Towns grouped by district: a short list even for a city of thousands of villages."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for town in selectors.towns():
        groups.setdefault(town.parent.name if town.parent else "", []).append((town.code, town.name))
    return [("", _("请选择乡镇（街道）")), *groups.items()]


def village_choices(town: Region | None) -> list[tuple[str, str]]:
    if town is None:
        return []
    return [("", str(_("请选择您所在的村（社区）"))), *((v.code, v.name) for v in selectors.villages_of(town))]


class PlaceForm(forms.Form):
    """Step one, a plain GET form that works without script: the town, then the village in it,
    and which secretary the letter goes to."""

    town = forms.ChoiceField(
        label=_("乡镇（街道）"), required=False,
        error_messages={"invalid_choice": _("请选择乡镇（街道）。")},
        widget=forms.Select(attrs={"data-testid": "letter-town"}),
    )
    village = forms.ChoiceField(
        label=_("您所在的村（社区）"), required=False,
        error_messages={"invalid_choice": _("请选择您所在的村（社区）。")},
        widget=forms.Select(attrs={"data-testid": "letter-village"}),
    )
    level = forms.ChoiceField(
        label=_("写信给"), choices=LetterLevel.choices, initial=LetterLevel.VILLAGE, required=False,
        error_messages={"invalid_choice": _("请选择写给哪一级书记。")},
        widget=forms.RadioSelect(attrs={"data-testid": "letter-level"}),
    )

    def __init__(self, *args: Any, town: Region | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chosen_town = town
        self.fields["town"].choices = town_choices()  # type: ignore[attr-defined]
        self.fields["village"].choices = village_choices(town)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        village = None
        if data.get("village"):
            village = Region.objects.filter(code=data["village"], level="village").first()
        if village is None:
            # A new town was chosen, or none yet: the village list of that town comes next.
            if self.chosen_town is not None and "village" in self.data:
                self.add_error("village", _("请选择您所在的村（社区）。"))
            raise forms.ValidationError("", code="place_incomplete")
        data["village"] = village
        data["level"] = data.get("level") or LetterLevel.VILLAGE
        return data


class LetterForm(forms.Form):
    """Step two: the letter itself, to the secretary resolved in step one."""

    title = CleanCharField(
        label=_("标题（选填）"), max_length=100, required=False,
        error_messages={"max_length": _("标题不能超过 %(limit_value)d 个字。")},
        widget=forms.TextInput(attrs={"data-testid": "letter-title"}),
    )
    body = CleanCharField(
        label=_("想对书记说的话"), max_length=4000,
        error_messages={"required": _("请写下您想对书记说的话。"),
                        "max_length": _("来信内容不能超过 %(limit_value)d 个字（现在 %(show_value)d 个）。")},
        widget=forms.Textarea(attrs={"rows": "8", "data-testid": "letter-body"}),
    )
    subjects = forms.TypedMultipleChoiceField(
        label=_("信中反映的工作人员（选填）"), required=False, coerce=int,
        error_messages={"invalid_choice": _("所选的被反映人不在该地区的工作人员名单中。")},
        widget=forms.CheckboxSelectMultiple(attrs={"data-testid": "letter-subjects"}),
        help_text=_("所选人员看不到这封信，也不能被指定处理这封信。"),
    )
    photos = PhotosField(label=_("照片（选填）"), widget=MultipleFileInput(attrs={"accept": "image/*",
                                                                             "data-testid": "letter-photos"}))
    is_anonymous = forms.BooleanField(
        label=_("匿名写信（不记录账号、姓名和电话，只能凭查询码查看回复）"), required=False,
        widget=forms.CheckboxInput(attrs={"data-testid": "letter-anonymous"}),
    )
    writer_name = CleanCharField(
        label=_("您的姓名"), max_length=50, required=False,
        error_messages={"max_length": _("姓名不能超过 %(limit_value)d 个字。")},
        widget=forms.TextInput(attrs={"data-testid": "letter-name"}),
    )
    identity_consent = forms.ChoiceField(
        label=_("如需转交有关部门办理，可以向承办人员提供我的"), choices=Identity.choices, initial=Identity.NOTHING,
        error_messages={"invalid_choice": _("请选择转办时可以提供的身份信息。")},
        widget=forms.RadioSelect(attrs={"data-testid": "letter-consent"}),
        required=False,
    )
    idempotency_key = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{43}$",
        error_messages={"required": KEY_INVALID, "invalid": KEY_INVALID}, widget=forms.HiddenInput(),
    )

    def __init__(self, *args: Any, officials: list[User], signed_in: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subjects"].choices = [(u.pk, str(u)) for u in officials]  # type: ignore[attr-defined]
        if not signed_in:
            # Without an account a letter can only be anonymous.
            for name in ("is_anonymous", "writer_name", "identity_consent"):
                del self.fields[name]
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", new_form_key())

    def renew_key(self) -> None:
        data = QueryDict(mutable=True)
        data.update(self.data)
        data["idempotency_key"] = new_form_key()
        self.data = data


class TrackForm(forms.Form):
    code = CleanCharField(
        label=_("来信查询码"), max_length=64,
        error_messages={"required": _("请输入查询码。"), "max_length": _("查询码格式不正确。")},
        widget=forms.TextInput(attrs={"data-testid": "letter-track-code", "autocomplete": "off",
                                      "autocapitalize": "none", "spellcheck": "false"}),
    )

    def clean_code(self) -> str:
        return "".join(str(self.cleaned_data["code"]).split())


# --- the addressee's forms ------------------------------------------------------------------------


class ReplyForm(forms.Form):
    body = CleanCharField(
        label=_("回复写信人"), max_length=4000,
        error_messages={"required": _("请填写回复内容。"), "max_length": _("回复不能超过 %(limit_value)d 个字。")},
        widget=forms.Textarea(attrs={"rows": "5", "data-testid": "letter-reply-body"}),
    )


class UserPickForm(forms.Form):
    user = forms.TypedChoiceField(
        label=_("人员"), coerce=int,
        error_messages={"required": _("请选择人员。"), "invalid_choice": _("请选择人员。")},
    )

    def __init__(self, *args: Any, users: list[User], testid: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["user"]
        field.choices = [("", "—"), *[(u.pk, str(u)) for u in users]]  # type: ignore[attr-defined]
        field.widget.attrs["data-testid"] = testid


class UnmaskForm(forms.Form):
    purpose = forms.ChoiceField(
        label=_("查看完整电话的用途"),
        choices=[("call_back", _("电话联系写信人核实情况")), ("tell_result", _("电话告知办理结果"))],
        error_messages={"required": _("请选择查看完整电话的用途。"), "invalid_choice": _("请选择查看完整电话的用途。")},
        widget=forms.Select(attrs={"data-testid": "letter-unmask-purpose"}),
    )


class SubjectForm(forms.Form):
    user = forms.TypedChoiceField(
        label=_("本辖区工作人员"), coerce=int, required=False, empty_value=None,
        error_messages={"invalid_choice": _("请选择人员。")},
        widget=forms.Select(attrs={"data-testid": "letter-subject-user"}),
    )
    name = CleanCharField(
        label=_("或填写姓名"), max_length=50, required=False,
        widget=forms.TextInput(attrs={"data-testid": "letter-subject-name"}),
    )

    def __init__(self, *args: Any, users: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [("", "—"), *[(u.pk, str(u)) for u in users]]  # type: ignore[attr-defined]


class ConvertForm(forms.Form):
    identity = forms.ChoiceField(
        label=_("随办件提供的写信人身份"), widget=forms.RadioSelect(attrs={"data-testid": "convert-identity"}),
        error_messages={"required": _("请选择随办件提供的身份信息。"),
                        "invalid_choice": _("写信人不同意提供这些身份信息，请重新选择。")},
    )
    title = CleanCharField(
        label=_("办件标题"), max_length=100, required=False,
        widget=forms.TextInput(attrs={"data-testid": "convert-title"}),
    )
    description = CleanCharField(
        label=_("需要办理的事项"), max_length=3800,
        error_messages={"required": _("请写明需要办理的事项。"),
                        "max_length": _("不能超过 %(limit_value)d 个字。")},
        widget=forms.Textarea(attrs={"rows": "6", "data-testid": "convert-description"}),
        help_text=_("办件对承办单位和辖区工作人员可见：只写需要办理的事项，不要写入来信中不宜公开的内容。"),
    )
    address = CleanCharField(
        label=_("事发地址"), max_length=200,
        error_messages={"required": _("请填写事发地址。")},
        widget=forms.TextInput(attrs={"data-testid": "convert-address"}),
    )
    category = forms.ChoiceField(
        label=_("问题类别"), required=False,
        error_messages={"invalid_choice": _("所选类别不存在或已停用，请重新选择。")},
        widget=forms.Select(attrs={"data-testid": "convert-category"}),
    )

    def __init__(self, *args: Any, identities: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["identity"].choices = [(i, Identity(i).label) for i in identities]  # type: ignore[attr-defined]
        self.fields["category"].choices = category_choices(_("由调度员分类"))  # type: ignore[attr-defined]

    def clean_category(self) -> Category | None:
        value = self.cleaned_data.get("category")
        if not value:
            return None
        category = Category.objects.filter(pk=int(value), is_active=True).first()
        if category is None:
            raise forms.ValidationError(_("所选类别不存在或已停用，请重新选择。"))
        return category
