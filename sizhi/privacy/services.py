"""Every change to residents' personal data, and every unmasking, goes through here; each one
writes an audit record that names the object and the field but never holds the value."""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from sizhi.accounts import throttle
from sizhi.accounts.models import User
from sizhi.accounts.phones import normalise_phone
from sizhi.audit.services import audit
from sizhi.cases.models import Case
from sizhi.privacy.idcards import birth_date, id_number_blind_index, normalise_id_number
from sizhi.privacy.models import UnmaskField, UnmaskPurpose, UnmaskRecord
from sizhi.privacy.permissions import can_manage_household, can_unmask_case_reporter, can_unmask_resident
from sizhi.regions.models import Household, Resident

NAME_MAX = 50
RELATION_MAX = 20
REASON_MIN = 8
REASON_MAX = 200
# Reading numbers in full is for single cases; dozens an hour by one person look like harvesting
# (MLPS 3: limit and audit access to personal data in bulk).
UNMASKS_PER_USER = throttle.Limit("privacy-unmask-user", 30, 60 * 60)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _clean_text(value: str | None) -> str:
    return _CONTROL.sub("", unicodedata.normalize("NFC", value or "")).strip()


def _validated(
    *, name: str, relation: str, id_number: str, phone: str, exclude_pk: int | None = None
) -> tuple[str, str, str | None, str | None]:
    """(name, relation, normalised ID number or None, normalised phone or None), or a
    ValidationError keyed by field with every problem at once."""
    errors: dict[str, list[str]] = {}
    name = _clean_text(name)
    relation = _clean_text(relation)
    if not name:
        errors["name"] = [_("请填写姓名。")]
    elif len(name) > NAME_MAX:
        errors["name"] = [_("姓名不能超过 %(n)d 个字。") % {"n": NAME_MAX}]
    if len(relation) > RELATION_MAX:
        errors["relation"] = [_("与户主关系不能超过 %(n)d 个字。") % {"n": RELATION_MAX}]
    number: str | None = None
    if _clean_text(id_number):
        try:
            number = normalise_id_number(id_number)
        except ValidationError as exc:
            errors["id_number"] = list(exc.messages)
        else:
            taken = Resident.objects.filter(id_number_index=id_number_blind_index(number))
            if exclude_pk is not None:
                taken = taken.exclude(pk=exclude_pk)
            if taken.exists():
                errors["id_number"] = [_("该身份证号码已登记，请勿重复登记。")]
    mobile: str | None = None
    if _clean_text(phone):
        mobile = normalise_phone(phone)
        if mobile is None:
            errors["phone"] = [_("请输入正确的 11 位手机号码。")]
    if errors:
        raise ValidationError(errors)
    return name, relation, number, mobile


def _require_household(actor: User, household: Household) -> None:
    if not can_manage_household(actor, household.grid_id, household.grid.region_code):
        raise PermissionDenied


def resident_register(
    *,
    actor: User,
    household: Household,
    name: str,
    id_number: str = "",
    phone: str = "",
    relation: str = "",
    is_party_member: bool = False,
    request: HttpRequest | None = None,
) -> Resident:
    """Register a resident of `household`. The ID number and phone are validated and
    normalised (full-width digits, lower-case x, spaces, +86, the 15-digit legacy form)."""
    _require_household(actor, household)
    name, relation, number, mobile = _validated(name=name, relation=relation, id_number=id_number, phone=phone)
    resident = Resident(
        household=household, name=name, relation=relation, id_number=number, phone=mobile,
        is_party_member=is_party_member, birth_year=birth_date(number).year if number else None,
    )
    try:
        with transaction.atomic():
            resident.save()
            audit(
                "resident.register", request=request, actor=actor, target=resident,
                detail={"household": household.pk, "has_id_number": bool(number), "has_phone": bool(mobile)},
            )
    except IntegrityError as exc:  # the same number registered a moment ago by someone else
        raise ValidationError({"id_number": [_("该身份证号码已登记，请勿重复登记。")]}) from exc
    return resident


def resident_update(
    *,
    actor: User,
    resident: Resident,
    name: str,
    id_number: str = "",
    phone: str = "",
    relation: str = "",
    is_party_member: bool = False,
    request: HttpRequest | None = None,
) -> Resident:
    """Change a resident; empty ID number or phone removes it. The audit record lists the names
    of the fields that changed."""
    _require_household(actor, resident.household)
    name, relation, number, mobile = _validated(
        name=name, relation=relation, id_number=id_number, phone=phone, exclude_pk=resident.pk
    )
    new = {
        "name": name, "relation": relation, "id_number": number, "phone": mobile,
        "is_party_member": is_party_member,
    }
    changed = [f for f, v in new.items() if getattr(resident, f) != v]
    if not changed:
        return resident
    for f, v in new.items():
        setattr(resident, f, v)
    if "id_number" in changed and number:
        resident.birth_year = birth_date(number).year
        changed.append("birth_year")
    try:
        with transaction.atomic():
            resident.save(update_fields=changed)
            audit(
                "resident.update", request=request, actor=actor, target=resident,
                detail={"fields": ",".join(changed)},
            )
    except IntegrityError as exc:
        raise ValidationError({"id_number": [_("该身份证号码已登记，请勿重复登记。")]}) from exc
    return resident


def _clean_reason(purpose: str, reason: str) -> str:
    errors: dict[str, list[str]] = {}
    if purpose not in UnmaskPurpose.values:
        errors["purpose"] = [_("请选择查看用途。")]
    text = _clean_text(reason)
    if len(text) < REASON_MIN:
        errors["reason"] = [_("请写明查看事由，至少 %(n)d 个字。") % {"n": REASON_MIN}]
    elif len(text) > REASON_MAX:
        errors["reason"] = [_("查看事由不能超过 %(n)d 个字。") % {"n": REASON_MAX}]
    if errors:
        raise ValidationError(errors)
    return text


class UnmaskLimitError(Exception):
    """The reader has used up this hour's unmaskings."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        self.message = _("本小时查看完整号码的次数已达上限（%(n)d 次），请 %(m)d 分钟后再试。") % {
            "n": UNMASKS_PER_USER.count, "m": max(1, -(-retry_after // 60)),
        }
        super().__init__(self.message)


def _record(
    *, actor: User, target: Resident | Case, field: str, purpose: str, reason: str, request: HttpRequest | None
) -> None:
    subject = f"user:{actor.pk}"
    if not throttle.hit(UNMASKS_PER_USER, subject):
        audit(
            "privacy.unmask", request=request, actor=actor, target=target, result="denied",
            detail={"field": field, "limit": "unmask_per_hour"},
        )
        raise UnmaskLimitError(UNMASKS_PER_USER.retry_after(subject))
    with transaction.atomic():
        row = UnmaskRecord.objects.create(
            user=actor, target_type=target._meta.label_lower, target_id=str(target.pk),
            field=field, purpose=purpose, reason=reason,
        )
        audit(
            "privacy.unmask", request=request, actor=actor, target=target,
            detail={"field": field, "reason_code": purpose, "record": row.pk},
        )


def unmask_denied(
    *, actor: User, target: Resident | Case, field: str, request: HttpRequest | None = None
) -> PermissionDenied:
    """Record a refused unmasking; returns the exception for the caller to raise."""
    audit("privacy.unmask", request=request, actor=actor, target=target, result="denied", detail={"field": field})
    return PermissionDenied()


def unmask_resident(
    *, actor: User, resident: Resident, field: str, purpose: str, reason: str, request: HttpRequest | None = None
) -> str:
    """The full ID number or phone of `resident`, after checking the reader's scope and role and
    recording who asked, for which purpose and why. PermissionDenied (audited) when not allowed;
    ValidationError for a missing purpose or a too short reason."""
    if field not in UnmaskField.values:
        raise ValidationError({"field": [_("无法查看该字段。")]})
    if not can_unmask_resident(actor, resident):
        raise unmask_denied(actor=actor, target=resident, field=field, request=request)
    text = _clean_reason(purpose, reason)
    value: str | None = getattr(resident, field)
    if not value:
        raise ValidationError({"field": [_("该居民未登记此项信息。")]})
    _record(actor=actor, target=resident, field=field, purpose=purpose, reason=text, request=request)
    return value


def unmask_case_reporter(
    *, actor: User, case: Case, purpose: str, reason: str, request: HttpRequest | None = None
) -> str:
    """The reporter's full phone number, for staff who work the case (a call-back)."""
    if not can_unmask_case_reporter(actor, case):
        raise unmask_denied(actor=actor, target=case, field=UnmaskField.PHONE, request=request)
    text = _clean_reason(purpose, reason)
    assert case.reporter is not None and case.reporter.phone  # checked by can_unmask_case_reporter
    _record(actor=actor, target=case, field=UnmaskField.PHONE, purpose=purpose, reason=text, request=request)
    return case.reporter.phone
