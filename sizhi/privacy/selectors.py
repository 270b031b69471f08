"""Reads of residents, always inside the reader's scope."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from sizhi.accounts.phones import normalise_phone, phone_blind_index
from sizhi.privacy.idcards import id_number_blind_index
from sizhi.privacy.models import UnmaskRecord
from sizhi.privacy.permissions import AnyUser, household_scope_q, resident_scope_q
from sizhi.regions.models import Household, Resident

SEARCH_LIMIT = 50


def residents_for_user(user: AnyUser) -> QuerySet[Resident]:
    scope = resident_scope_q(user)
    if scope is None:
        return Resident.objects.none()
    return Resident.objects.filter(scope).select_related("household", "household__grid", "household__grid__village")


def resident_get_for_user(user: AnyUser, pk: int) -> Resident | None:
    """The resident if the user may read them, otherwise None (the view answers 404)."""
    return residents_for_user(user).filter(pk=pk).first()


@dataclass
class ResidentSearch:
    kind: str  # "id_number" | "phone" | "" (nothing searched)
    residents: list[Resident]
    error: str = ""


def resident_search(user: AnyUser, query: str) -> ResidentSearch:
    """Find residents in scope by ID-card number (any accepted form) or mobile number. The term
    becomes a blind index at once; the plaintext is never put into SQL."""
    text = (query or "").strip()
    if not text:
        return ResidentSearch("", [])
    if normalise_phone(text) is not None:
        kind, index = "phone", phone_blind_index(text)
        qs = residents_for_user(user).filter(phone_index=index)
    else:
        try:
            index = id_number_blind_index(text)
        except ValidationError as exc:
            return ResidentSearch("", [], _("请输入完整的身份证号码或 11 位手机号码。") + " " + " ".join(exc.messages))
        kind = "id_number"
        qs = residents_for_user(user).filter(id_number_index=index)
    return ResidentSearch(kind, list(qs.order_by("pk")[:SEARCH_LIMIT]))


def households_for_user(user: AnyUser) -> QuerySet[Household]:
    """Households whose grid lies in the user's resident scope (for registration)."""
    scope = household_scope_q(user)
    if scope is None:
        return Household.objects.none()
    return Household.objects.filter(scope).select_related("grid").order_by("grid__code", "door")


def unmask_history(target_type: str, target_id: str) -> QuerySet[UnmaskRecord]:
    return UnmaskRecord.objects.filter(target_type=target_type, target_id=target_id).select_related("user")
