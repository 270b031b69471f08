"""No day-to-day account is a Django superuser, and 三权分立 holds in the data: the system check
finds a violation however it got into the database, and the demo city has none."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from sizhi.accounts.models import Membership, Role, User
from sizhi.conftest import World
from sizhi.demo.loader import load_demo
from sizhi.demo.people import DEMO_LOGINS, DEMO_PASSWORD
from sizhi.security import services, totp
from sizhi.security.checks import accounts_separation_check, role_conflicts
from sizhi.security.demo import DEMO_TOTP_SECRET
from sizhi.security.models import TOTPDevice


def ids(world: World) -> list[str]:
    return [m.id for m in accounts_separation_check(databases=["default"]) if m.id]


def test_the_test_world_is_clean(world: World) -> None:
    assert ids(world) == []
    call_command("check", "--database", "default", "--tag", "security")


def test_a_superuser_is_an_error(world: World) -> None:
    User.objects.filter(username="leader").update(is_superuser=True)
    assert ids(world) == ["sizhi.security.E001"]


def test_combined_admin_roles_are_an_error(world: World) -> None:
    # Written past the services, as a data fix or an old import might.
    Membership.objects.create(user=world.user("system_admin"), role=Role.AUDIT_ADMIN)
    Membership.objects.create(user=world.user("leader"), role=Role.SECURITY_ADMIN)
    assert ids(world) == ["sizhi.security.E002", "sizhi.security.E002"]
    assert set(role_conflicts()) == {world.user("system_admin").pk, world.user("leader").pk}
    try:
        call_command("check", "--database", "default", "--tag", "security")
    except SystemCheckError as exc:
        assert "三权分立" in str(exc)
    else:
        raise AssertionError("the check must fail")


def test_the_check_needs_a_database_to_run(world: World) -> None:
    User.objects.filter(username="leader").update(is_superuser=True)
    assert accounts_separation_check(databases=None) == []


def test_django_admin_is_not_installed() -> None:
    assert "django.contrib.admin" not in settings.INSTALLED_APPS


def test_demo_accounts_are_no_superusers_keep_roles_apart_and_use_the_demo_totp(db: None) -> None:
    load_demo(districts=["410311"], cases=12, seed=3)
    assert not User.objects.filter(is_superuser=True).exists()
    assert not User.objects.filter(is_staff=True).exists()
    assert role_conflicts() == {}
    assert accounts_separation_check(databases=["default"]) == []
    for login in DEMO_LOGINS:
        user = User.objects.get(username=login.username) if login.role != "citizen" else None
        if user is None:
            continue
        device = TOTPDevice.objects.get(user=user)
        assert device.confirmed and services.device_secret(device) == DEMO_TOTP_SECRET
        assert user.check_password(DEMO_PASSWORD)
    # Every demo staff account, not only the documented ones, can pass the code step.
    staff = set(Membership.objects.filter(is_active=True).values_list("user_id", flat=True))
    assert staff == set(TOTPDevice.objects.filter(confirmed=True).values_list("user_id", flat=True))
    assert len(totp.current_code(DEMO_TOTP_SECRET)) == 6
