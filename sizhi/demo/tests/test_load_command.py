"""Loading is idempotent, a reset starts over, and the command reports what it did."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sizhi.accounts.models import User
from sizhi.cases.models import Case
from sizhi.cases.workflow import Channel
from sizhi.demo.loader import DemoError, demo_loaded, load_demo
from sizhi.demo.models import DemoLoad
from sizhi.demo.people import DEMO_PASSWORD
from sizhi.units.models import HandlingUnit

LUOLONG = "410311"


def test_loading_twice_does_nothing(db: None) -> None:
    assert load_demo(districts=[LUOLONG], cases=20).loaded
    counts = (Case.objects.count(), User.objects.count(), HandlingUnit.objects.count())
    again = load_demo(districts=[LUOLONG], cases=20)
    assert not again.loaded
    assert (Case.objects.count(), User.objects.count(), HandlingUnit.objects.count()) == counts
    assert DemoLoad.objects.count() == 1


def test_reset_replaces_the_demo(db: None) -> None:
    load_demo(districts=[LUOLONG], cases=20, seed=7)
    before = set(User.objects.values_list("pk", flat=True))
    summary = load_demo(districts=[LUOLONG], cases=12, seed=8, reset=True)
    assert summary.loaded
    # The mailbox demo's converted letter (channel MAILBOX) comes on top of the generated cases.
    assert Case.objects.exclude(channel=Channel.MAILBOX).count() == 12
    assert Case.objects.filter(channel=Channel.MAILBOX).count() == 1
    assert not before & set(User.objects.values_list("pk", flat=True))
    assert DemoLoad.objects.count() == 1


def test_rejects_a_district_outside_the_city(db: None) -> None:
    with pytest.raises(DemoError):
        load_demo(districts=["110101"], cases=20)
    assert not demo_loaded()


def test_command_loads_once_and_lists_the_logins(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("demo", "load", "--districts", LUOLONG, "--cases", "20", "--no-progress")
    assert "示例城市已载入" in capsys.readouterr().out
    call_command("demo", "load", "--districts", LUOLONG, "--cases", "20", "--no-progress")
    assert "无需重复载入" in capsys.readouterr().out
    call_command("demo", "logins")
    assert DEMO_PASSWORD in capsys.readouterr().out


def test_command_refuses_too_few_cases(db: None) -> None:
    with pytest.raises(CommandError):
        call_command("demo", "load", "--cases", "3", "--no-progress")
