"""The mailbox's test world: the shared slice of 洛阳 (sizhi/conftest.py) plus the secretaries
a letter can be hidden from, and a letter about one official with a delegate, an ex-delegate
and a photo."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.core.cache import cache

from sizhi.accounts.models import Membership, Role, User
from sizhi.conftest import PASSWORD, World, make_photo
from sizhi.mailbox import services
from sizhi.mailbox.models import Identity, Letter, LetterLevel
from sizhi.regions.models import Region
from sizhi.units.models import HandlingUnit

MARKER = "信箱机密标记甲乙丙"
BODY_FRAGMENT = "路灯坏了半年无人修"


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def add_staff(world: World, name: str, role: str, scope: Region, unit: HandlingUnit | None = None) -> User:
    user = User.objects.create_user(username=name, password=PASSWORD, display_name=name)
    Membership.objects.create(user=user, role=role, scope=scope, unit=unit)
    world.users[name] = user
    return user


@dataclass
class MailWorld:
    world: World
    letter: Letter
    code: str

    def user(self, name: str) -> User:
        return self.world.user(name)


def extra_people(world: World) -> None:
    add_staff(world, "town_secretary", Role.PARTY_SECRETARY, world.town_a)
    add_staff(world, "district_secretary", Role.PARTY_SECRETARY, world.district_a)
    add_staff(world, "other_secretary", Role.PARTY_SECRETARY, world.village_b1)
    add_staff(world, "cadre2", Role.VILLAGE_CADRE, world.village_a1, world.village_a1_committee)


def write_letter(world: World, *, anonymous: bool = False, photos: int = 1, subject: str | None = "village_cadre",
                 consent: str = Identity.NAME_PHONE, key: str | None = None) -> tuple[Letter, str]:
    submitted = services.letter_submit(
        writer=None if anonymous else world.user("citizen"), is_anonymous=anonymous, village=world.village_a1,
        level=LetterLevel.VILLAGE, title=f"{MARKER}标题",
        body=f"{MARKER}：村干部收取垃圾清运费不开收据，路灯坏了半年无人修。",
        writer_name="" if anonymous else "张三", identity_consent=Identity.NOTHING if anonymous else consent,
        subject_ids=[world.user(subject).pk] if subject else [],
        photos=[make_photo(exif_gps=True) for _ in range(photos)], idempotency_key=key,
    )
    assert submitted.code is not None
    return submitted.letter, submitted.code


@pytest.fixture
def mail(world: World) -> MailWorld:
    extra_people(world)
    letter, code = write_letter(world)
    secretary = world.user("party_secretary")
    services.letter_read(letter=letter, actor=secretary)
    services.letter_delegate(letter=letter, actor=secretary, delegate=world.user("grid_worker"))
    services.letter_delegate(letter=letter, actor=secretary, delegate=world.user("cadre2"))
    services.letter_undelegate(letter=letter, actor=secretary, delegate=world.user("cadre2"))
    letter.refresh_from_db()
    return MailWorld(world=world, letter=letter, code=code)
