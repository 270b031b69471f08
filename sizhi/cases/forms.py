"""Forms of the staff workbench. They only parse what a person typed into the arguments of a
case service; every business rule (who may, from which status, what a reason must hold) stays
in cases.services, which the views call right after a form is valid."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from sizhi.accounts.models import User
from sizhi.cases import selectors
from sizhi.cases.models import Case, Category
from sizhi.cases.workflow import CaseStatus, Priority, RejectionKind, WarningLevel
from sizhi.regions.models import RegionLevel
from sizhi.units.models import HandlingUnit

REASON_MAX = 2000  # the limit cases.services applies to every reason


def category_choices(*, broad: Category | None = None) -> tuple[list[tuple[Any, Any]], dict[str, Category]]:
    """Active categories as option groups (parent → its active children); a parent with no
    active child is offered on its own. Returns the choices and the categories by submitted value.

    `broad`, a top-level category with children, is offered as well, first in its own group: the
    classifier names top-level categories only, and the dispatcher confirms that or refines it."""
    choices: list[tuple[Any, Any]] = [("", _("请选择类别"))]
    by_value: dict[str, Category] = {}
    for parent in selectors.category_tree():
        children: list[Category] = getattr(parent, "active_children", [])
        if children:
            options = [(str(c.pk), c.name) for c in children]
            if broad is not None and broad.pk == parent.pk:
                options.insert(0, (str(parent.pk), _("%(name)s（大类，未细分）") % {"name": parent.name}))
                by_value[str(parent.pk)] = parent
            choices.append((parent.name, options))
            by_value.update((str(c.pk), c) for c in children)
        else:
            choices.append((str(parent.pk), parent.name))
            by_value[str(parent.pk)] = parent
    return choices, by_value


class ActionForm(forms.Form):
    """Base of every action form: ids are unique per action (`id_<action>_<field>`) because
    all of a case's forms share one page, while the field names stay plain."""

    action = ""

    def __init__(self, *args: Any, user: User, case: Case, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.action}_%s")
        super().__init__(*args, **kwargs)
        self.user = user
        self.case = case
        for name, field in self.fields.items():
            # Stable hooks for the end-to-end tests, independent of labels and layout.
            field.widget.attrs.setdefault("data-testid", f"{self.action}-{name}")


def _reason(*, required: bool, label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label or (_("理由") if required else _("说明（可选）")),
        required=required, max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 3}),
    )


class AcceptForm(ActionForm):
    action = "accept"
    reason = _reason(required=False)


class RejectForm(ActionForm):
    action = "reject"
    kind = forms.ChoiceField(label=_("不予受理原因"), choices=RejectionKind.choices)
    reason = _reason(required=True, label=_("理由（群众可见）"))
    duplicate_of = forms.CharField(
        label=_("重复于案件编号"), required=False, max_length=32, help_text=_("仅“重复上报”时填写。")
    )

    def clean_duplicate_of(self) -> Case | None:
        number = (self.cleaned_data.get("duplicate_of") or "").strip()
        if not number:
            return None
        # Looked up only among cases the user may see; an unknown number and one outside the
        # user's scope get the same answer, so the field cannot be used to probe for cases.
        found = selectors.case_list_for_user(self.user).filter(number=number).first()
        if found is None:
            raise forms.ValidationError(_("找不到编号为 %(number)s 的案件。"), params={"number": number})
        return found


def _top_level(value: object) -> Category | None:
    """An active top-level category by its submitted id, or None."""
    if not isinstance(value, str) or not value.isdigit() or len(value) > 18:
        return None
    return Category.objects.filter(pk=int(value), parent__isnull=True, is_active=True).first()


class RegisterForm(ActionForm):
    """立案 with a category. `suggested` is the classifier's category (see views.case_triage): it
    is preselected unless the case's own category already lies within it, the more specific
    choice being kept then."""

    action = "register"
    category = forms.ChoiceField(label=_("事件类别"))
    reason = _reason(required=False)

    def __init__(self, *args: Any, suggested: Category | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        broad = suggested if suggested is not None and suggested.parent_id is None else None
        if broad is None and self.is_bound:
            # The broad option the page offered when the suggestion was made: accepted on its own.
            broad = _top_level(self.data.get(self.add_prefix("category")))
        choices, self._categories = category_choices(broad=broad)
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices
        current = self.case.category
        agrees = suggested is not None and current is not None and suggested.pk in (current.pk, current.parent_id)
        if suggested is not None and not agrees and str(suggested.pk) in self._categories:
            field.initial = str(suggested.pk)
        elif current is not None and str(current.pk) in self._categories:
            field.initial = str(current.pk)

    def clean_category(self) -> Category:
        return self._categories[self.cleaned_data["category"]]


class MergeForm(ActionForm):
    """并案: the number of the case this one joins. Only cases the user may see are found; an
    unknown number and one outside the user's scope get the same answer."""

    action = "merge"
    into = forms.CharField(label=_("并入案件编号"), max_length=32)
    reason = _reason(required=False, label=_("并案说明（可选，群众可见）"))

    def clean_into(self) -> Case:
        number = (self.cleaned_data.get("into") or "").strip()
        found = selectors.case_list_for_user(self.user).filter(number=number).first() if number else None
        if found is None:
            raise forms.ValidationError(_("找不到编号为 %(number)s 的案件。"), params={"number": number})
        return found


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: HandlingUnit) -> str:
        return f"{obj.name}（{obj.region.name}）"


class UnitMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: HandlingUnit) -> str:
        return f"{obj.name}（{obj.region.name}）"


class DispatchForm(ActionForm):
    action = "dispatch"
    unit = UnitChoiceField(
        label=_("主办单位"), queryset=HandlingUnit.objects.none(), empty_label=_("请选择单位")
    )
    assist_units = UnitMultipleChoiceField(
        label=_("协办单位（可多选）"), queryset=HandlingUnit.objects.none(), required=False,
        widget=forms.SelectMultiple(attrs={"size": 5}),
        help_text=_("按住 Ctrl（Mac 为 ⌘）可选择多个单位；与主办单位相同的会被忽略。"),
    )
    # Shown preset to the case's priority; left out of a POST, the case keeps its priority.
    priority = forms.ChoiceField(label=_("紧急程度"), choices=Priority.choices, required=False)
    reason = _reason(required=False, label=_("派遣说明（可选）"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = selectors.dispatch_units_for_user(self.user, self.case)
        for name in ("unit", "assist_units"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = units
        self.fields["priority"].initial = self.case.priority

    def clean_priority(self) -> str | None:
        return self.cleaned_data.get("priority") or None


class EscalateForm(ActionForm):
    action = "escalate"
    reason = _reason(required=True, label=_("上报理由"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        target = selectors.escalation_level(self.case)
        if target is not None:
            self.fields["reason"].help_text = _("将上报至%(level)s指挥中心。") % {"level": RegionLevel(target).label}


class DelegateForm(ActionForm):
    action = "delegate"
    level = forms.ChoiceField(label=_("下派至"))
    reason = _reason(required=True, label=_("下派要求"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["level"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = selectors.delegation_levels(self.case)


class ExtendRequestForm(ActionForm):
    action = "extend_request"
    days = forms.IntegerField(label=_("延期工作日数"), min_value=1, max_value=60, initial=3)
    reason = _reason(required=True, label=_("延期理由"))


class SuspendForm(ActionForm):
    action = "suspend"
    reason = _reason(required=True, label=_("缓办理由"))


class ResumeForm(ActionForm):
    action = "resume"
    reason = _reason(required=False)


class SignForForm(ActionForm):
    action = "sign_for"


class ReturnForm(ActionForm):
    action = "return"
    reason = _reason(required=True, label=_("退回理由"))


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    """Several photos in one input. Their content is checked by cases.photos inside the service."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultiplePhotoInput(attrs={"accept": "image/*", "multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > settings.SIZHI_MAX_PHOTOS:
            raise forms.ValidationError(_("最多上传 %(n)d 张照片。"), params={"n": settings.SIZHI_MAX_PHOTOS})
        return [super(MultiplePhotoField, self).clean(f, initial) for f in files]


class HandleForm(ActionForm):
    action = "handle"
    result = forms.CharField(label=_("处置情况"), max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 4}))
    photos = MultiplePhotoField(label=_("处置照片"), required=False)


class VerifyPassForm(ActionForm):
    # Both verification outcomes share one form on the page, hence one id prefix.
    action = "verify"
    # The browser must not demand a reason before 核查通过; the server checks it for 不通过.
    use_required_attribute = False
    reason = _reason(required=False, label=_("核查意见"))


class VerifyFailForm(VerifyPassForm):
    reason = _reason(required=True, label=_("核查意见"))


class CloseForm(ActionForm):
    action = "close"
    reason = _reason(required=False)


class ObjectActionForm(ActionForm):
    """A form acting on one object of the case (an assignment, an extension request). The page
    may show several of the same kind, so ids carry the object's key: `id_<action>_<key>_<field>`."""

    def __init__(self, *args: Any, key: int, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.action}_{key}_%s")
        super().__init__(*args, **kwargs)
        self.key = key


class AssistFinishForm(ObjectActionForm):
    action = "assist_finish"
    result = forms.CharField(
        label=_("协办情况"), max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


class AssistWaiveForm(ObjectActionForm):
    action = "assist_waive"
    reason = _reason(required=True, label=_("免除理由"))


class ExtensionDecideForm(ObjectActionForm):
    # Approval and refusal are two buttons of one form, like 核查.
    action = "extend_decide"
    note = forms.CharField(
        label=_("审批意见（可选）"), required=False, max_length=REASON_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )


class CaseListFilterForm(forms.Form):
    """The filters of the case list. Unknown values are dropped, never an error: the selector
    accepts only allow-listed statuses and sort keys."""

    status = forms.ChoiceField(label=_("状态"), required=False)
    warning = forms.ChoiceField(label=_("预警"), required=False)
    # No max_length: a longer term is cut by the selector rather than thrown away.
    q = forms.CharField(label=_("搜索"), required=False)
    ordering = forms.ChoiceField(label=_("排序"), required=False)

    ORDERING_LABELS = {
        "newest": _("最新上报"),
        "oldest": _("最早上报"),
        "updated": _("最近更新"),
        "number": _("案件编号"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_filter_%s")
        super().__init__(*args, **kwargs)
        status = self.fields["status"]
        warning = self.fields["warning"]
        ordering = self.fields["ordering"]
        assert isinstance(status, forms.ChoiceField) and isinstance(ordering, forms.ChoiceField)
        assert isinstance(warning, forms.ChoiceField)
        status.choices = [("", _("全部状态")), *CaseStatus.choices]
        warning.choices = [("", _("全部预警状态")), *WarningLevel.choices]
        ordering.choices = [(key, self.ORDERING_LABELS.get(key, key)) for key in selectors.ORDERINGS]

    def value(self, name: str) -> str:
        """The cleaned value, or "" when the submitted one was not acceptable."""
        if not self.is_bound:
            return ""
        self.is_valid()
        return str(self.cleaned_data.get(name) or "")
