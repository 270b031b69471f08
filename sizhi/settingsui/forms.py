"""Forms of the configuration pages and the call-back queue. They parse what a person typed
into the arguments of a service; the rules themselves (what a valid rule, limit, unit or
endpoint is) stay in the services, whose ValidationErrors `apply_errors` puts on the form."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from sizhi.cases.limits import MAX_HANDLE_DAYS, MAX_SIGN_HOURS
from sizhi.cases.models import Category
from sizhi.cases.text import clean_text
from sizhi.cases.workflow import CaseAction, Priority, Satisfaction
from sizhi.regions.models import Region, RegionLevel
from sizhi.regions.selectors import region_by_code
from sizhi.units.models import UnitKind

# Official statistical codes name a level by their significant digits (regions.LEVEL_PREFIX_LENGTH).
REGION_CODE = re.compile(r"[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12}")
ASSIST_SEPARATORS = re.compile(r"[\n|,，、;；]+")
MAX_ASSISTS = 20
UNIT_NAME_MAX = 100
CALENDAR_YEARS = (2000, 2100)


def apply_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ValidationError on the form: keyed messages on their fields when the form has
    them, everything else above the form."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _styled(form: forms.Form, prefix: str) -> None:
    for name, field in form.fields.items():
        field.widget.attrs.setdefault("data-testid", f"{prefix}-{name}")


class TextField(forms.CharField):
    """Free text as a person meant it: NFC, no control, zero-width or bidi characters, stripped."""

    def to_python(self, value: Any) -> str:
        return clean_text(super().to_python(value))


class RegionCodeField(forms.CharField):
    """A region by its statistical code: 4, 6, 9 or 12 digits (full-width digits and spaces are
    accepted), answered with the Region or None when left empty."""

    default_error_messages = {
        "format": _("区划代码应为 4、6、9 或 12 位数字。"),
        "unknown": _("区划代码“%(code)s”不存在。"),
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Region | None:  # type: ignore[override]
        text = super().clean(value)
        code = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))
        if not code:
            return None
        if not REGION_CODE.fullmatch(code):
            raise ValidationError(self.error_messages["format"], code="format")
        region = region_by_code(code)
        if region is None:
            raise ValidationError(self.error_messages["unknown"], code="unknown", params={"code": code})
        return region

    def prepare_value(self, value: Any) -> Any:
        return value.code if isinstance(value, Region) else value


def category_tree() -> QuerySet[Category]:
    """All categories (inactive ones too), each parent followed by its children."""
    return Category.objects.select_related("parent").order_by(
        Coalesce("parent__order", "order"), Coalesce("parent__code", "code"),
        F("parent_id").asc(nulls_first=True), "order", "code",
    )


class CategoryField(forms.ModelChoiceField):
    """Every category, parents first with their children after them; a rule or a limit may name
    a parent (its children inherit) or a single sub-category."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=category_tree(), **kwargs)

    def label_from_instance(self, obj: Category) -> str:  # type: ignore[override]
        label = f"　{obj.name}" if obj.parent_id else obj.name
        return label if obj.is_active else f"{label}{_('（停用）')}"


def level_choices(blank: Any = None) -> list[tuple[str, Any]]:
    return ([("", blank)] if blank is not None else []) + list(RegionLevel.choices)


# --- responsibility matrix -----------------------------------------------------------------------


class RuleFilterForm(forms.Form):
    category = CategoryField(label=_("事件类别"), required=False, empty_label=_("全部类别"))
    level = forms.ChoiceField(label=_("承办层级"), required=False, choices=level_choices(_("全部层级")))
    region = RegionCodeField(label=_("适用区域代码"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "filter_%s")
        super().__init__(*args, **kwargs)
        _styled(self, "filter")

    def value(self, name: str) -> Any:
        """The cleaned value of one filter, or None when it was left empty or is invalid."""
        if not self.is_bound or (not self.is_valid() and name in self.errors):
            return None
        return self.cleaned_data.get(name) or None


class RuleForm(forms.Form):
    category = CategoryField(label=_("事件类别"), empty_label=_("请选择类别"))
    level = forms.ChoiceField(label=_("承办层级"), choices=level_choices(_("请选择层级")))
    region = RegionCodeField(
        label=_("适用区域代码"), required=False,
        help_text=_("留空表示全市适用；填写区/县、乡镇（街道）或村（社区）的统计代码，只在该区域内适用。"),
    )
    lead_unit_name = TextField(
        label=_("主办单位名称"), required=False, max_length=UNIT_NAME_MAX,
        help_text=_("例如“城市管理局”：在案件所在区域的该层级中按名称查找单位。"),
    )
    lead_unit_kind = forms.ChoiceField(
        label=_("或主办单位类型"), required=False, choices=[("", _("—")), *UnitKind.choices],
        help_text=_("未填名称时，按类型查找该层级的单位，例如村（居）委会。"),
    )
    assist_unit_names = TextField(
        label=_("协办单位名称"), required=False, max_length=3000,
        widget=forms.Textarea(attrs={"rows": 3}), help_text=_("每行一个单位名称，最多 20 个。"),
    )
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _styled(self, "rule")

    def clean_assist_unit_names(self) -> list[str]:
        names = [n.strip() for n in ASSIST_SEPARATORS.split(self.cleaned_data.get("assist_unit_names") or "")]
        names = list(dict.fromkeys(n for n in names if n))
        too_long = [n for n in names if len(n) > UNIT_NAME_MAX]
        if too_long:
            raise ValidationError(_("单位名称不能超过 %(n)d 个字：%(name)s…"),
                                  params={"n": UNIT_NAME_MAX, "name": too_long[0][:20]})
        if len(names) > MAX_ASSISTS:
            raise ValidationError(_("协办单位最多 %(n)d 个。"), params={"n": MAX_ASSISTS})
        return names

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("lead_unit_name") and not data.get("lead_unit_kind") and "lead_unit_name" not in self.errors:
            self.add_error("lead_unit_name", _("请填写主办单位名称或选择单位类型。"))
        return data

    @classmethod
    def initial_for(cls, rule: Any) -> dict[str, Any]:
        return {
            "category": rule.category_id, "level": rule.level, "region": rule.region.code if rule.region else "",
            "lead_unit_name": rule.lead_unit_name, "lead_unit_kind": rule.lead_unit_kind,
            "assist_unit_names": "\n".join(rule.assist_unit_names or []), "is_active": rule.is_active,
        }


class RuleTryForm(forms.Form):
    category = CategoryField(label=_("事件类别"), empty_label=_("请选择类别"))
    region = RegionCodeField(label=_("村（社区）代码"), help_text=_("也可以填写乡镇、区/县的代码。"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "try_%s")
        super().__init__(*args, **kwargs)
        self.fields["region"].required = True
        _styled(self, "try")


class RuleImportForm(forms.Form):
    MAX_BYTES = 1024 * 1024

    file = forms.FileField(
        label=_("CSV 文件"), help_text=_("UTF-8 或 GBK 编码，不超过 1 MB。"),
        error_messages={"required": _("请选择要导入的 CSV 文件。"), "empty": _("文件是空的。"),
                        "invalid": _("请选择要导入的 CSV 文件。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "import_%s")
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".csv,text/csv"
        _styled(self, "import")

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise ValidationError(_("文件不能超过 1 MB。"))
        data = upload.read()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return str(data.decode(encoding))
            except UnicodeDecodeError:
                continue
        raise ValidationError(_("无法识别文件编码，请另存为 UTF-8 编码的 CSV 文件。"))


# --- time limits ---------------------------------------------------------------------------------


def _hours_field() -> forms.DecimalField:
    return forms.DecimalField(
        label=_("签收时限（工作小时）"), max_digits=4, decimal_places=1, min_value=Decimal("0.1"),
        max_value=MAX_SIGN_HOURS,
    )


def _days_field() -> forms.IntegerField:
    return forms.IntegerField(label=_("办结时限（工作日）"), min_value=1, max_value=MAX_HANDLE_DAYS)


class TimeLimitEditForm(forms.Form):
    sign_hours = _hours_field()
    handle_days = _days_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _styled(self, "limit")


class TimeLimitCreateForm(TimeLimitEditForm):
    category = CategoryField(
        label=_("事件类别"), required=False, empty_label=_("默认（全部类别）"),
        help_text=_("为某一类别单独规定时限；其子类别未单独规定时沿用。"),
    )
    priority = forms.ChoiceField(label=_("紧急程度"), choices=Priority.choices)
    field_order = ["category", "priority", "sign_hours", "handle_days"]


# --- working calendar ----------------------------------------------------------------------------


class DayKind:
    WORK = "work"
    REST = "rest"
    CHOICES = ((WORK, _("上班（工作日）")), (REST, _("休息")))


def _checked_date(value: dt.date | None) -> dt.date | None:
    if value is not None and not CALENDAR_YEARS[0] <= value.year <= CALENDAR_YEARS[1]:
        raise ValidationError(
            _("日期应在 %(low)d 年至 %(high)d 年之间。"), params={"low": CALENDAR_YEARS[0], "high": CALENDAR_YEARS[1]}
        )
    return value


class CalendarDayForm(forms.Form):
    date = forms.DateField(label=_("日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    kind = forms.ChoiceField(label=_("这一天"), choices=DayKind.CHOICES, widget=forms.RadioSelect)
    name = TextField(label=_("说明"), required=False, max_length=50, help_text=_("例如：春节、国庆节调休上班"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "day_%s")
        super().__init__(*args, **kwargs)
        _styled(self, "day")

    def clean_date(self) -> dt.date | None:
        return _checked_date(self.cleaned_data.get("date"))


class CalendarClearForm(forms.Form):
    date = forms.DateField()

    def clean_date(self) -> dt.date | None:
        return _checked_date(self.cleaned_data.get("date"))


class YearForm(forms.Form):
    year = forms.IntegerField(min_value=CALENDAR_YEARS[0], max_value=CALENDAR_YEARS[1])


# --- handling units ------------------------------------------------------------------------------


class UnitFilterForm(forms.Form):
    STATUS_CHOICES = (("", _("全部")), ("active", _("启用")), ("inactive", _("停用")))

    region = RegionCodeField(label=_("区划代码"), required=False)
    kind = forms.ChoiceField(label=_("类型"), required=False, choices=[("", _("全部类型")), *UnitKind.choices])
    status = forms.ChoiceField(label=_("状态"), required=False, choices=STATUS_CHOICES)
    q = TextField(label=_("名称"), required=False, max_length=50)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "filter_%s")
        super().__init__(*args, **kwargs)
        _styled(self, "filter")

    def value(self, name: str) -> Any:
        if not self.is_bound or (not self.is_valid() and name in self.errors):
            return None
        return self.cleaned_data.get(name) or None


class UnitForm(forms.Form):
    name = TextField(label=_("单位名称"), max_length=UNIT_NAME_MAX)
    kind = forms.ChoiceField(label=_("类型"), choices=[("", _("请选择类型")), *UnitKind.choices])
    region = RegionCodeField(label=_("所在区划代码"), help_text=_("单位所在的市、区/县、乡镇（街道）或村（社区）。"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].required = True
        _styled(self, "unit")


# --- webhooks ------------------------------------------------------------------------------------


class WebhookForm(forms.Form):
    name = TextField(label=_("名称"), max_length=100)
    url = forms.CharField(
        label=_("接收地址"), max_length=300, help_text=_("以 http:// 或 https:// 开头。"),
        widget=forms.URLInput(attrs={"autocomplete": "off"}),
    )
    actions = forms.MultipleChoiceField(
        label=_("订阅的操作"), required=False, choices=CaseAction.choices, widget=forms.CheckboxSelectMultiple,
        help_text=_("不选表示订阅全部操作。"),
    )
    scope = RegionCodeField(label=_("范围（区划代码）"), required=False, help_text=_("留空表示全市。"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _styled(self, "webhook")


# --- call-backs ----------------------------------------------------------------------------------


class CallBackForm(forms.Form):
    REACHED_CHOICES = (("yes", _("已联系上反映人")), ("no", _("未联系上")))

    reached = forms.ChoiceField(label=_("联系情况"), choices=REACHED_CHOICES, widget=forms.RadioSelect)
    satisfaction = forms.ChoiceField(
        label=_("回访满意度"), required=False, choices=[("", _("—")), *Satisfaction.choices]
    )
    note = TextField(label=_("回访记录"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "callback_%s")
        super().__init__(*args, **kwargs)
        _styled(self, "callback")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reached") == "yes" and not data.get("satisfaction"):
            self.add_error("satisfaction", _("联系上反映人时请选择满意度。"))
        return data
