"""Forms of the citizen pages. They check shape only (types, lengths, counts), so that no input
reaches a service in a form it cannot take; every business rule stays in cases.services."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from sizhi.accounts.forms import CleanCharField
from sizhi.cases import selectors as case_selectors
from sizhi.cases.models import AttributeDatatype, Category, CategoryAttribute
from sizhi.cases.workflow import Satisfaction
from sizhi.web.selectors import category_choices

LOCATION_INVALID = _("位置坐标无效，请在地图上重新选点。")
KEY_INVALID = _("页面已过期，已为您刷新提交标识，请再提交一次。")

# Where a service error with this `field` is shown on the report form; `location` covers the map
# and the address together, and its errors are kept on `lat`.
REPORT_ERROR_FIELDS = {"description": "description", "category": "category", "photos": "photos", "location": "lat"}


def _attrs(testid: str, **extra: str | Promise) -> dict[str, str | Promise]:
    return {"data-testid": testid, **extra}


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to SIZHI_MAX_PHOTOS files. The count is checked before any file is looked at; what is
    inside each file is checked by cases.photos (by decoding it, never by its name)."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "error_messages",
            {
                "empty": _("照片文件是空的，请重新选择。"),
                "invalid": _("无法读取上传的照片，请重新选择。"),
                "missing": _("无法读取上传的照片，请重新选择。"),
            },
        )
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:  # type: ignore[override]
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > settings.SIZHI_MAX_PHOTOS:
            raise forms.ValidationError(
                _("最多上传 %(n)d 张照片，您选择了 %(count)d 张。"),
                code="photo_too_many", params={"n": settings.SIZHI_MAX_PHOTOS, "count": len(files)},
            )
        return [super(PhotosField, self).clean(f, initial) for f in files]


def _coordinate_field(low: float, high: float, testid: str) -> forms.FloatField:
    return forms.FloatField(
        required=False, min_value=low, max_value=high,
        error_messages={"invalid": LOCATION_INVALID, "min_value": LOCATION_INVALID, "max_value": LOCATION_INVALID},
        widget=forms.HiddenInput(attrs=_attrs(testid)),
    )


class ReportForm(forms.Form):
    description = CleanCharField(
        label=_("问题描述"), max_length=4000,
        error_messages={
            "required": _("请描述您要反映的问题。"),
            "max_length": _("问题描述不能超过 %(limit_value)d 个字（现在 %(show_value)d 个）。"),
        },
        widget=forms.Textarea(attrs=_attrs("description-input", rows="5",
                                            placeholder=_("发生了什么？在什么地方？已经持续多久？"))),
    )
    category = forms.ChoiceField(
        label=_("问题类别"), required=False,
        error_messages={"invalid_choice": _("所选类别不存在或已停用，请重新选择。")},
        widget=forms.Select(attrs=_attrs("category-select")),
    )
    lat = _coordinate_field(-90.0, 90.0, "lat-input")
    lng = _coordinate_field(-180.0, 180.0, "lng-input")
    address = CleanCharField(
        label=_("事发地址"), max_length=200, required=False,
        error_messages={"max_length": _("地址不能超过 %(limit_value)d 个字。")},
        widget=forms.TextInput(attrs=_attrs("address-input", placeholder=_("如：某某村村委会东 200 米路口"))),
    )
    photos = PhotosField(
        label=_("现场照片"),
        widget=MultipleFileInput(attrs=_attrs("photos-input", accept="image/*")),
    )
    is_anonymous = forms.BooleanField(
        label=_("匿名反映（不记录您的账号，只能凭查询码查询进度）"), required=False,
        widget=forms.CheckboxInput(attrs=_attrs("anonymous-checkbox")),
    )
    idempotency_key = forms.UUIDField(
        error_messages={"required": KEY_INVALID, "invalid": KEY_INVALID},
        widget=forms.HiddenInput(attrs=_attrs("idempotency-key")),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices(_("不确定，请工作人员分类"))  # type: ignore[attr-defined]
        if not self.is_bound:
            # A fresh key each time the empty form is shown: a resubmission of this page makes
            # one case, a new visit to the page makes a new one.
            self.initial.setdefault("idempotency_key", str(uuid.uuid4()))

    def clean_category(self) -> Category | None:
        value = self.cleaned_data.get("category")
        if not value:
            return None
        category = Category.objects.filter(pk=int(value), is_active=True).first()
        if category is None:
            raise forms.ValidationError(_("所选类别不存在或已停用，请重新选择。"), code="category_invalid")
        return category

    def renew_key(self) -> None:
        """Give the re-rendered form a new, valid key (the old one was missing, malformed or
        already used by someone else), keeping everything else the user typed."""
        data = QueryDict(mutable=True)
        data.update(self.data)
        data["idempotency_key"] = str(uuid.uuid4())
        self.data = data

    @property
    def location_errors(self) -> list[str]:
        return list(dict.fromkeys([*self.errors.get("lat", []), *self.errors.get("lng", [])]))


class TrackLookupForm(forms.Form):
    code = CleanCharField(
        label=_("查询码"), max_length=64,
        error_messages={"required": _("请输入查询码。"), "max_length": _("查询码格式不正确。")},
        widget=forms.TextInput(attrs={"data-testid": "track-code-input", "autocomplete": "off",
                                      "autocapitalize": "none", "spellcheck": "false"}),
    )

    def clean_code(self) -> str:
        # People copy codes with spaces around or inside them from SMS and chat apps.
        return "".join(str(self.cleaned_data["code"]).split())


class RateForm(forms.Form):
    satisfaction = forms.ChoiceField(
        label=_("满意度"), choices=Satisfaction.choices, widget=forms.RadioSelect,
        error_messages={"required": _("请选择满意、基本满意或不满意。"),
                        "invalid_choice": _("请选择满意、基本满意或不满意。")},
    )
    comment = CleanCharField(
        label=_("评价意见（选填）"), max_length=1000, required=False,
        error_messages={"max_length": _("评价意见不能超过 %(limit_value)d 个字。")},
        widget=forms.Textarea(attrs={"rows": "3", "data-testid": "rate-comment"}),
    )


class ReopenForm(forms.Form):
    reason = CleanCharField(
        label=_("哪里还没有解决？"), max_length=2000,
        error_messages={"required": _("请说明哪里还没有解决。"),
                        "max_length": _("说明不能超过 %(limit_value)d 个字。")},
        widget=forms.Textarea(attrs={"rows": "3", "data-testid": "reopen-reason"}),
    )


# --- the category's further questions -----------------------------------------------------------

QUESTION_PREFIX = "attr-"


@dataclass
class Question:
    """One further question of the chosen category as the form shows it, with what was typed."""

    attribute: CategoryAttribute
    value: str = ""
    values: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{QUESTION_PREFIX}{self.attribute.code}"

    @property
    def code(self) -> str:
        return self.attribute.code

    @property
    def datatype(self) -> str:
        return self.attribute.datatype

    @property
    def options(self) -> list[tuple[str, str]]:
        return [
            (str(v["key"]), str(v.get("name") or v["key"]))
            for v in self.attribute.values or []
            if isinstance(v, dict) and "key" in v
        ]

    @property
    def is_multiple(self) -> bool:
        return self.attribute.datatype == AttributeDatatype.MULTIVALUELIST

    def is_blank(self) -> bool:
        if self.is_multiple:
            return not any(v.strip() for v in self.values)
        return not self.value.strip()


class CategoryQuestions:
    """The questions CategoryAttribute defines for the chosen category (cases.selectors.
    category_attributes) and the answers posted for them as `attr-<code>`. Answers go to
    report_submit as {code: value or [values]}; the service checks them in full."""

    def __init__(self, category: Category | None, data: Mapping[str, Any] | None = None) -> None:
        self.category = category
        self.errors: list[str] = []
        self.questions: list[Question] = []
        for attribute in case_selectors.category_attributes(category):
            question = Question(attribute)
            if data is not None and attribute.variable:
                if question.is_multiple:
                    getlist = getattr(data, "getlist", None)
                    raw = getlist(question.name) if getlist else data.get(question.name, [])
                    question.values = [str(v) for v in (raw if isinstance(raw, list | tuple) else [raw])][:50]
                else:
                    question.value = str(data.get(question.name, ""))[:4000]
            self.questions.append(question)

    def __bool__(self) -> bool:
        return bool(self.questions)

    def __iter__(self) -> Any:
        return iter(self.questions)

    def answers(self) -> dict[str, object] | None:
        """None when the category asks nothing (report_submit then checks nothing)."""
        if not self.questions:
            return None
        out: dict[str, object] = {}
        for q in self.questions:
            if q.attribute.variable:
                out[q.code] = list(q.values) if q.is_multiple else q.value
        return out

    def check_required(self) -> bool:
        """Every unanswered required question at once (the service stops at the first)."""
        ok = True
        for q in self.questions:
            if q.attribute.variable and q.attribute.required and q.is_blank():
                q.errors.append(str(_("请回答这个问题。")))
                ok = False
        return ok

    def add_error(self, message: str) -> None:
        """A service's attribute_invalid message, shown beside the question it names (every such
        message quotes the question's text) or above the questions when it names none."""
        for q in self.questions:
            if f"“{q.attribute.description}”" in message:
                q.errors.append(message)
                return
        self.errors.append(message)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(q.errors for q in self.questions)
