"""Every read of letters starts from the person reading: the addressee's and delegates' inbox,
the named writer's own letters, or the bearer of a tracking code. There is no "all letters"
reader, so no list, count, search or export elsewhere can be built on one."""

from __future__ import annotations

import hashlib
import re

from django.db.models import Exists, OuterRef, Q, QuerySet

from sizhi.accounts.models import ADMIN_ROLES, Membership, Role, User
from sizhi.mailbox import permissions
from sizhi.mailbox.models import Letter, LetterDelegate, LetterLevel, LetterPhoto, LetterSubject
from sizhi.mailbox.permissions import AnyUser
from sizhi.regions.models import Region, RegionLevel

# What services.new_letter_code produces (32 URL-safe characters); anything else is not looked up.
TRACKING_CODE = re.compile(r"[A-Za-z0-9_-]{32}")


def tracking_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def letters_for_user(user: AnyUser) -> QuerySet[Letter]:
    """The letters this user may read: addressed to them or delegated to them now, never one
    that names them as its subject, none at all for an administrator."""
    if not isinstance(user, User) or not user.is_authenticated or not user.is_active:
        return Letter.objects.none()
    if permissions.holds_admin_role(user):
        return Letter.objects.none()
    delegated = LetterDelegate.objects.filter(letter=OuterRef("pk"), user=user, removed_at__isnull=True)
    about_me = LetterSubject.objects.filter(letter=OuterRef("pk"), user=user)
    return (
        Letter.objects.filter(Q(addressee=user) | Q(Exists(delegated)))
        .exclude(Exists(about_me))
        .select_related("region", "addressee")
        .order_by("-created_at", "-id")
    )


def letter_get_for_user(user: AnyUser, pk: int) -> Letter | None:
    letter = letters_for_user(user).filter(pk=pk).first()
    # The permission function has the last word, so a list and a detail cannot disagree.
    if letter is None or not permissions.can_view_letter(user, letter):
        return None
    return letter


def letters_of_writer(user: AnyUser) -> QuerySet[Letter]:
    if not isinstance(user, User) or not user.is_authenticated:
        return Letter.objects.none()
    return Letter.objects.filter(writer=user, is_anonymous=False).select_related("region").order_by("-created_at")


def letter_of_writer(user: AnyUser, pk: int) -> Letter | None:
    return letters_of_writer(user).filter(pk=pk).first()


def letter_by_tracking_code(code: str) -> Letter | None:
    code = (code or "").strip()
    if not TRACKING_CODE.fullmatch(code):
        return None
    return Letter.objects.filter(tracking_hash=tracking_hash(code)).select_related("region", "case").first()


def letter_photos(letter: Letter) -> QuerySet[LetterPhoto]:
    return letter.photos.order_by("created_at", "id")


# --- addressing --------------------------------------------------------------------------------

LEVEL_OF = {
    LetterLevel.VILLAGE: RegionLevel.VILLAGE,
    LetterLevel.TOWN: RegionLevel.TOWN,
    LetterLevel.DISTRICT: RegionLevel.DISTRICT,
}
PREFIX_LENGTH = {RegionLevel.VILLAGE: 12, RegionLevel.TOWN: 9, RegionLevel.DISTRICT: 6}


def addressee_region(village: Region, level: str) -> Region | None:
    """The village itself, its town or its district (county), by level."""
    if village.level != RegionLevel.VILLAGE or level not in LEVEL_OF:
        return None
    if level == LetterLevel.VILLAGE:
        return village
    length = PREFIX_LENGTH[LEVEL_OF[LetterLevel(level)]]
    return Region.objects.filter(code=village.code[:length].ljust(12, "0"), level=LEVEL_OF[LetterLevel(level)]).first()


def secretary_of(region: Region) -> User | None:
    """The party secretary of exactly this region: an active PARTY_SECRETARY membership scoped to
    it, held by an active account that holds no administrator role. The earliest appointment
    wins when there are several."""
    admins = Membership.objects.filter(user=OuterRef("user"), is_active=True, role__in=sorted(ADMIN_ROLES))
    membership = (
        Membership.objects.filter(role=Role.PARTY_SECRETARY, scope=region, is_active=True, user__is_active=True)
        .exclude(Exists(admins))
        .select_related("user")
        .order_by("created_at", "pk")
        .first()
    )
    return membership.user if membership is not None else None


def officials_of(region: Region, *, exclude: User | None = None) -> list[User]:
    """Staff with an active, non-administrator membership inside the region: whom a writer may
    name as the subject of a letter to that region's secretary."""
    in_area = Membership.objects.filter(
        user=OuterRef("pk"), is_active=True, scope__code__startswith=region.prefix
    ).exclude(role__in=sorted(ADMIN_ROLES))
    admin = Membership.objects.filter(user=OuterRef("pk"), is_active=True, role__in=sorted(ADMIN_ROLES))
    qs = (
        User.objects.filter(Exists(in_area), is_active=True)
        .exclude(Exists(admin))
        .order_by("display_name", "username")
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return list(qs[:200])


def delegate_candidates(letter: Letter) -> list[User]:
    """Staff of the addressee's area who may be named delegates now."""
    candidates = officials_of(letter.region, exclude=letter.addressee)
    return [u for u in candidates if permissions.delegate_refusal(u, letter) is None]


def towns() -> QuerySet[Region]:
    """Every town (街道) with its district, for the writer's place picker."""
    return Region.objects.filter(level=RegionLevel.TOWN).select_related("parent").order_by("code")


def villages_of(town: Region) -> QuerySet[Region]:
    return Region.objects.filter(level=RegionLevel.VILLAGE, parent=town).order_by("code")


def region_of_level(code: str, level: str) -> Region | None:
    text = code.strip() if isinstance(code, str) else ""
    if not (text.isascii() and text.isdigit() and len(text) == 12):
        return None
    return Region.objects.filter(code=text, level=level).select_related("parent").first()


def default_village(user: AnyUser) -> Region | None:
    """The writer's own village as far as the platform knows it: that of their latest letter or
    of their latest report placed in a village."""
    if not isinstance(user, User) or not user.is_authenticated:
        return None
    letter = Letter.objects.filter(writer=user).order_by("-created_at").select_related("region").first()
    from sizhi.cases.models import Case  # cases never imports the mailbox; the mailbox reads cases

    case = (
        Case.objects.filter(reporter=user, region__level=RegionLevel.VILLAGE)
        .order_by("-created_at")
        .select_related("region")
        .first()
    )
    if case is not None:
        return case.region
    if letter is not None and letter.region.level == RegionLevel.VILLAGE:
        return letter.region
    return None
