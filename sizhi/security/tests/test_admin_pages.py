"""The administrators' pages (三权分立): each belongs to exactly one role and is 404 to every
other; every change goes through a service, is audited, and a refusal changes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.accounts.models import Membership, Role, User
from sizhi.api.services import api_token_create
from sizhi.audit.models import AuditRecord
from sizhi.conftest import PASSWORD, World
from sizhi.security import services
from sizhi.security.models import PasswordChangeRequired, TOTPDevice, UserSession
from sizhi.security.tests.conftest import code_now, enrol, password_login

ROLES = [
    "citizen", "grid_worker", "village_cadre", "party_secretary", "town_dispatcher", "department_handler",
    "district_dispatcher", "city_dispatcher", "leader", "system_admin", "security_admin", "audit_admin",
]
SYSTEM_PAGES = ["sysadmin:accounts", "sysadmin:account_create"]
SECURITY_PAGES = ["secadmin:memberships", "secadmin:membership_grant", "secadmin:policy"]
SYSTEM_POSTS = ["sysadmin:account_deactivate", "sysadmin:account_reactivate", "sysadmin:account_password_reset",
                "sysadmin:account_totp_reset", "sysadmin:account_end_sessions"]


def body(response: Any) -> str:
    return str(response.content.decode())


def as_user(world: World, name: str) -> Client:
    client = Client()
    client.force_login(world.user(name))
    session = client.session
    session[services.SESSION_MFA_AT] = 1  # as if the code step had been passed
    session.save()
    return client


@pytest.mark.parametrize("role", ROLES)
def test_every_page_is_404_without_its_role(world: World, role: str) -> None:
    client = as_user(world, role)
    target = world.user("grid_worker").pk
    for name in SYSTEM_PAGES:
        assert client.get(reverse(name)).status_code == (200 if role == "system_admin" else 404), (role, name)
    for name in SECURITY_PAGES:
        assert client.get(reverse(name)).status_code == (200 if role == "security_admin" else 404), (role, name)
    if role != "system_admin":
        for name in SYSTEM_POSTS:
            assert client.post(reverse(name, args=[target])).status_code == 404, (role, name)
    if role != "security_admin":
        membership = Membership.objects.filter(user=world.user("grid_worker")).first()
        assert membership is not None
        assert client.post(reverse("secadmin:membership_revoke", args=[membership.pk])).status_code == 404
        assert client.post(reverse("secadmin:membership_grant"), {"username": "citizen"}).status_code == 404
    # Nothing changed for anyone.
    assert User.objects.get(pk=target).is_active
    assert Membership.objects.filter(user_id=target, is_active=True).exists()


def test_anonymous_visitors_go_to_the_login_page(world: World) -> None:
    for name in SYSTEM_PAGES + SECURITY_PAGES:
        response = Client().get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_account_list_shows_identity_and_roles_only(world: World) -> None:
    enrol(world.user("town_dispatcher"))
    page = body(as_user(world, "system_admin").get(reverse("sysadmin:accounts")))
    assert "town_dispatcher" in page and "乡镇（街道）中心调度员" in page
    assert "138****0001" in page and "13800000001" not in page
    row = re.search(rf'data-account="{world.user("town_dispatcher").pk}".*?</tr>', page, re.S)
    assert row is not None and "已绑定" in row.group(0)
    searched = body(as_user(world, "system_admin").get(reverse("sysadmin:accounts"), {"q": "张三"}))
    assert "citizen" in searched and "town_dispatcher" not in searched


def test_system_admin_creates_an_account_that_must_change_its_password(world: World, settings: Any) -> None:
    settings.SIZHI_REQUIRE_TOTP = True
    admin = as_user(world, "system_admin")
    response = admin.post(reverse("sysadmin:account_create"), {"username": "new_clerk", "display_name": "王五"})
    assert response.status_code == 200
    password = re.search(r'data-testid="one-time-password-value">([^<]+)<', body(response)).group(1)  # type: ignore[union-attr]
    user = User.objects.get(username="new_clerk")
    assert not user.is_superuser and not user.is_staff and not user.memberships.exists()
    assert PasswordChangeRequired.objects.filter(user=user).exists()
    assert AuditRecord.objects.filter(action="account.created", target_id=str(user.pk)).exists()
    # Taken or phone-shaped names are refused.
    assert admin.post(reverse("sysadmin:account_create"), {"username": "NEW_CLERK"}).status_code == 400
    assert admin.post(reverse("sysadmin:account_create"), {"username": "13912345678"}).status_code == 400

    # The security admin gives a role; first sign-in: enrol, then a new password, then work.
    granted = as_user(world, "security_admin").post(reverse("secadmin:membership_grant"), {
        "username": "new_clerk", "role": Role.TOWN_DISPATCHER, "unit": world.town_a_centre.pk,
        "scope": world.town_a.code,
    })
    assert granted.status_code == 302
    clerk = Client()
    assert password_login(clerk, "new_clerk", password)["Location"] == reverse("security:enrol")
    clerk.get(reverse("security:enrol"))
    secret = services.device_secret(TOTPDevice.objects.get(user=user))
    assert clerk.post(reverse("security:enrol"), {"code": code_now(secret)}).status_code == 200
    assert clerk.get("/console/")["Location"] == reverse("accounts:password")
    new = "Clerk-own-pass-2027"
    changed = clerk.post(reverse("accounts:password"), {
        "old_password": password, "new_password": new, "new_password2": new,
    })
    assert changed.status_code == 302
    assert clerk.get("/console/").status_code == 200
    assert not PasswordChangeRequired.objects.filter(user=user).exists()


def test_deactivate_and_reactivate(world: World) -> None:
    target = world.user("grid_worker")
    victim = Client()
    password_login(victim, "grid_worker")
    _token, secret = api_token_create(user=target, name="app")
    admin = as_user(world, "system_admin")
    assert admin.post(reverse("sysadmin:account_deactivate", args=[target.pk])).status_code == 302
    assert not User.objects.get(pk=target.pk).is_active
    assert victim.get("/console/").status_code == 302
    assert Client().get("/api/v1/cases", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    assert password_login(Client(), "grid_worker").status_code == 400
    assert AuditRecord.objects.filter(action="account.deactivated", target_id=str(target.pk)).exists()
    assert admin.post(reverse("sysadmin:account_reactivate", args=[target.pk])).status_code == 302
    assert password_login(Client(), "grid_worker").status_code == 302


def test_sign_out_everywhere(world: World) -> None:
    target = world.user("grid_worker")
    victim = Client()
    password_login(victim, "grid_worker")
    _token, secret = api_token_create(user=target, name="app")
    admin = as_user(world, "system_admin")
    row = re.search(rf'data-account="{target.pk}".*?</tr>', body(admin.get(reverse("sysadmin:accounts"))), re.S)
    assert row is not None and 'data-testid="account-end-sessions"' in row.group(0)
    assert admin.post(reverse("sysadmin:account_end_sessions", args=[target.pk])).status_code == 302
    assert victim.get("/console/").status_code == 302
    assert Client().get("/api/v1/cases", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert User.objects.get(pk=target.pk).is_active  # the account itself stays
    record = AuditRecord.objects.filter(action="auth.sessions_ended", target_id=str(target.pk)).get()
    assert record.actor_id == world.user("system_admin").pk and record.detail["reason"] == "admin"


def test_admin_cannot_act_on_own_account(world: World) -> None:
    admin_user = world.user("system_admin")
    admin = as_user(world, "system_admin")
    admin.post(reverse("sysadmin:account_deactivate", args=[admin_user.pk]))
    assert User.objects.get(pk=admin_user.pk).is_active
    assert "不能对自己的账号" in body(admin.get(reverse("sysadmin:accounts")))


def test_password_reset_shows_a_one_time_password_and_ends_sessions(world: World) -> None:
    target = world.user("town_dispatcher")
    victim = Client()
    password_login(victim, "town_dispatcher")
    response = as_user(world, "system_admin").post(reverse("sysadmin:account_password_reset", args=[target.pk]))
    password = re.search(r'data-testid="one-time-password-value">([^<]+)<', body(response)).group(1)  # type: ignore[union-attr]
    assert victim.get("/console/").status_code == 302
    assert password_login(Client(), "town_dispatcher", PASSWORD).status_code == 400
    fresh = Client()
    assert password_login(fresh, "town_dispatcher", password)["Location"] == reverse("accounts:password")
    assert fresh.get("/console/")["Location"] == reverse("accounts:password")


def test_totp_reset_forces_a_new_enrolment(world: World, settings: Any) -> None:
    settings.SIZHI_REQUIRE_TOTP = True
    target = world.user("town_dispatcher")
    enrol(target)
    services.recovery_codes_issue(user=target)
    victim = Client()
    victim.force_login(target)
    response = as_user(world, "system_admin").post(reverse("sysadmin:account_totp_reset", args=[target.pk]))
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=target).exists()
    assert not target.recovery_codes.exists()
    assert not UserSession.objects.filter(user=target).exists()
    assert password_login(Client(), "town_dispatcher")["Location"] == reverse("security:enrol")


# --- roles ---------------------------------------------------------------------------------------


def grant(world: World, **data: Any) -> Any:
    return as_user(world, "security_admin").post(reverse("secadmin:membership_grant"), data)


@pytest.mark.parametrize(
    ("username", "role"),
    [
        ("audit_admin", Role.SYSTEM_ADMIN),  # two admin roles
        ("system_admin", Role.AUDIT_ADMIN),
        ("town_dispatcher", Role.AUDIT_ADMIN),  # admin + handling
        ("leader", Role.SECURITY_ADMIN),
        ("audit_admin", Role.TOWN_DISPATCHER),  # handling onto an admin
    ],
)
def test_admin_roles_cannot_be_combined(world: World, username: str, role: str) -> None:
    before = set(Membership.objects.filter(is_active=True).values_list("pk", flat=True))
    response = grant(world, username=username, role=role, scope=world.town_a.code, unit=world.town_a_centre.pk)
    assert response.status_code == 400
    assert "三权分立" in body(response)
    assert set(Membership.objects.filter(is_active=True).values_list("pk", flat=True)) == before
    assert AuditRecord.objects.filter(action="role.grant", result="denied").exists()


def test_grant_and_revoke(world: World) -> None:
    response = grant(world, username="village_cadre", role=Role.GRID_WORKER, scope=world.village_a1.code,
                     grid=world.grid_a1b.code, unit=world.village_a1_committee.pk)
    assert response.status_code == 302
    membership = Membership.objects.get(user=world.user("village_cadre"), role=Role.GRID_WORKER)
    assert membership.grid == world.grid_a1b and membership.scope == world.village_a1
    page = body(as_user(world, "security_admin").get(reverse("secadmin:memberships"), {"q": "village_cadre"}))
    assert f'data-membership="{membership.pk}"' in page
    revoke = as_user(world, "security_admin").post(reverse("secadmin:membership_revoke", args=[membership.pk]))
    assert revoke.status_code == 302
    assert not Membership.objects.get(pk=membership.pk).is_active
    assert AuditRecord.objects.filter(action="role.revoke", target_id=str(world.user("village_cadre").pk)).exists()
    # An admin role on a fresh staff account is fine.
    fresh = User.objects.create_user(username="fresh_admin", password=PASSWORD)
    assert grant(world, username="fresh_admin", role=Role.AUDIT_ADMIN).status_code == 302
    assert Membership.objects.get(user=fresh).scope is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "citizen", "role": Role.GRID_WORKER}, "业务角色必须指定管辖范围"),
        ({"username": "citizen", "role": Role.LEADER, "scope": "410300000000"}, "群众账号不能授予工作角色"),
        ({"username": "nobody", "role": Role.LEADER, "scope": "410300000000"}, "没有这个用户名的账号"),
        ({"username": "leader", "role": "king"}, "请选择一个角色"),
        ({"username": "leader", "role": Role.LEADER, "scope": "999"}, "没有这个区划代码"),
        ({"username": "leader", "role": Role.GRID_WORKER, "scope": "410302001001"}, "网格员必须指定负责网格"),
        ({"username": "leader", "role": Role.GRID_WORKER, "scope": "410302001001", "grid": "410303001001001"},
         "负责网格不在管辖范围内"),
        ({"username": "security_admin", "role": Role.LEADER, "scope": "410300000000"}, "不能对自己的账号"),
    ],
)
def test_grant_refusals_are_clear(world: World, data: dict[str, str], message: str) -> None:
    count = Membership.objects.count()
    response = grant(world, **data)
    assert response.status_code == 400
    assert message in body(response)
    assert Membership.objects.count() == count


def test_policy_page_shows_what_is_in_force(world: World, settings: Any) -> None:
    client = as_user(world, "security_admin")
    page = body(client.get(reverse("secadmin:policy")))
    assert "30 分钟" in page and "12 小时" in page and "100 次" in page and "至少" in page
