"""Forms of the staff workbench. They only parse what a person typed into the arguments of a
case service; every business rule (who may, from which status, what a reason must hold) stays
in cases.services, which the views call right after a form is valid."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from sizhi.accounts.models import DISPATCHER_ROLES, User
from sizhi.accounts.selectors import active_memberships
from sizhi.cases import selectors
from sizhi.cases.models import Case, Category
from sizhi.cases.workflow import CaseStatus, RejectionKind
from sizhi.units.models import HandlingUnit

REASON_MAX = 2000  # the limit cases.services applies to every reason


def dispatch_units_for(user: User, case: Case) -> QuerySet[HandlingUnit]:
    """Active units a dispatcher may send this case to: the unit's region contains the case
    (its prefix is a prefix of the case's code) and lies inside one of the dispatcher's scopes.
    services.case_dispatch checks the same rule again through permissions.can_dispatch_to."""
    scopes = [
        m.scope.prefix for m in active_memberships(user) if m.role in DISPATCHER_ROLES and m.scope is not None
    ]
    if not scopes:
        return HandlingUnit.objects.none()
    in_scope = Q()
    for prefix in scopes:
        in_scope |= Q(region_code__startswith=prefix)
    containing = [case.region_code[:n] for n in (4, 6, 9, 12)]
    return (
        HandlingUnit.objects.filter(in_scope, is_active=True, region__prefix__in=containing)
        .select_related("region")
        .order_by("-region_code", "kind", "name")
    )


def category_choices() -> tuple[list[tuple[Any, Any]], dict[str, Category]]:
    """Active categories as option groups (parent → its active children); a parent with no
    active child is offered on its own. Returns the choices and the categories by submitted value."""
    choices: list[tuple[Any, Any]] = [("", _("请选择类别"))]
    by_value: dict[str, Category] = {}
    for parent in selectors.category_tree():
        children: list[Category] = getattr(parent, "active_children", [])
        if children:
            choices.append((parent.name, [(str(c.pk), c.name) for c in children]))
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


class RegisterForm(ActionForm):
    action = "register"
    category = forms.ChoiceField(label=_("事件类别"))
    reason = _reason(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices, self._categories = category_choices()
        field = self.fields["category"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices
        if self.case.category_id is not None and str(self.case.category_id) in self._categories:
            field.initial = str(self.case.category_id)

    def clean_category(self) -> Category:
        return self._categories[self.cleaned_data["category"]]


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: HandlingUnit) -> str:
        return f"{obj.name}（{obj.region.name}）"


class DispatchForm(ActionForm):
    action = "dispatch"
    unit = UnitChoiceField(
        label=_("承办单位"), queryset=HandlingUnit.objects.none(), empty_label=_("请选择单位")
    )
    reason = _reason(required=False, label=_("派遣说明（可选）"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["unit"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = dispatch_units_for(self.user, self.case)


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


class CaseListFilterForm(forms.Form):
    """The filters of the case list. Unknown values are dropped, never an error: the selector
    accepts only allow-listed statuses and sort keys."""

    status = forms.ChoiceField(label=_("状态"), required=False)
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
        ordering = self.fields["ordering"]
        assert isinstance(status, forms.ChoiceField) and isinstance(ordering, forms.ChoiceField)
        status.choices = [("", _("全部状态")), *CaseStatus.choices]
        ordering.choices = [(key, self.ORDERING_LABELS.get(key, key)) for key in selectors.ORDERINGS]

    def value(self, name: str) -> str:
        """The cleaned value, or "" when the submitted one was not acceptable."""
        if not self.is_bound:
            return ""
        self.is_valid()
        return str(self.cleaned_data.get(name) or "")
