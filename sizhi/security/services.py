"""Writes of the security app: sessions, the second factor, accounts (system admin) and roles
(security admin). Every change is audited.

`end_all_sessions` is the one way to throw a user out everywhere: it deletes every web session
from the session store and revokes every API token, for logout, password change and
deactivation alike.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from sizhi.accounts.models import ADMIN_ROLES, Membership, Role, User
from sizhi.accounts.phones import normalise_phone
from sizhi.accounts.selectors import forget_memberships, has_role
from sizhi.accounts.throttle import client_address
from sizhi.api.services import api_tokens_revoke_all
from sizhi.audit.services import audit
from sizhi.privacy.crypto import decrypt, encrypt
from sizhi.regions.models import Grid, Region
from sizhi.security import lockout, totp
from sizhi.security.models import PasswordChangeRequired, RecoveryCode, TOTPDevice, UserSession
from sizhi.security.selectors import is_staff_account
from sizhi.units.models import HandlingUnit

SECRET_CONTEXT = "security.totpdevice.secret"  # noqa: S105 - an encryption context name
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105

# Keys in the session data. The leading underscore keeps them apart from the app's own keys.
SESSION_LOGIN_AT = "_sizhi_login_at"
SESSION_SEEN_AT = "_sizhi_seen_at"
SESSION_STAFF = "_sizhi_staff"
SESSION_MFA_AT = "_sizhi_mfa_at"
SESSION_MFA_PENDING = "_sizhi_mfa_pending"  # an enrolled account owes its code even when TOTP is optional
SESSION_MUST_CHANGE_PASSWORD = "_sizhi_must_change_password"  # noqa: S105 - a session key
TOUCH_INTERVAL = 60  # seconds: last-seen is written at most once a minute

LOGIN_SCOPE = "login"
TOTP_SCOPE = "totp"
PASSWORD_SCOPE = "password-change"  # noqa: S105 - a counter name


class SecurityError(Exception):
    def __init__(self, message: str, *, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


# --- sessions ----------------------------------------------------------------------------------


def _session_store(key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(key)
    return store


def staff_max_age() -> timedelta:
    return timedelta(hours=settings.SIZHI_STAFF_MAX_HOURS)


def staff_idle_limit() -> timedelta:
    return timedelta(minutes=settings.SIZHI_STAFF_IDLE_MINUTES)


def session_record(*, request: HttpRequest, user: User) -> UserSession | None:
    """Name a freshly signed-in session (user_logged_in): its start, last activity, and whether
    the staff limits apply. Staff cookies also expire with the absolute limit."""
    session = getattr(request, "session", None)
    if session is None:
        return None
    now = timezone.now()
    staff = is_staff_account(user)
    session[SESSION_LOGIN_AT] = int(now.timestamp())
    session[SESSION_SEEN_AT] = int(now.timestamp())
    session[SESSION_STAFF] = staff
    session.pop(SESSION_MFA_AT, None)
    session.pop(SESSION_MFA_PENDING, None)
    if staff:
        session.set_expiry(int(staff_max_age().total_seconds()))
    if session.session_key is None:
        session.save()
    key = session.session_key
    if key is None:
        return None
    row, _created = UserSession.objects.update_or_create(
        session_key=key,
        defaults={"user": user, "created_at": now, "last_seen_at": now, "is_staff_session": staff},
    )
    # Rows of sessions that must have expired by now are only clutter.
    oldest = now - max(staff_max_age(), timedelta(seconds=settings.SESSION_COOKIE_AGE))
    UserSession.objects.filter(user=user, created_at__lt=oldest).delete()
    return row


def session_forget(session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def session_rekey(*, old_key: str | None, new_key: str | None) -> None:
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


def session_touch(*, request: HttpRequest, user: User, now: datetime) -> None:
    """Note activity, at most once a minute, in the session and in its UserSession row."""
    session = request.session
    session[SESSION_SEEN_AT] = int(now.timestamp())
    key = session.session_key
    if key is None:
        return
    updated = UserSession.objects.filter(session_key=key).update(last_seen_at=now)
    if not updated:
        # A session older than this record (or one made by force_login before it): name it
        # now, so that end_all_sessions finds it.
        login_at = session.get(SESSION_LOGIN_AT)
        started = datetime.fromtimestamp(login_at, tz=timezone.get_current_timezone()) if login_at else now
        UserSession.objects.update_or_create(
            session_key=key,
            defaults={
                "user": user, "created_at": started, "last_seen_at": now,
                "is_staff_session": bool(session.get(SESSION_STAFF)),
            },
        )


def session_mark_verified(*, request: HttpRequest) -> None:
    """The second factor was shown: a new session key (the pre-verification key is worth
    nothing to whoever saw it) that carries the verification."""
    session = request.session
    old = session.session_key
    session.cycle_key()
    session[SESSION_MFA_AT] = int(timezone.now().timestamp())
    session.pop(SESSION_MFA_PENDING, None)
    if session.session_key is None:
        session.save()
    session_rekey(old_key=old, new_key=session.session_key)


def end_all_sessions(user: User, *, reason: str, request: HttpRequest | None = None) -> int:
    """End every web session of `user` and revoke every API token; returns how many of both.

    The caller's own session, if it is one of them, is deleted from the store too: call
    django.contrib.auth.logout (or login again) on the request afterwards so that the response
    does not try to save it.
    """
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        _session_store(key).delete(key)
    UserSession.objects.filter(user=user).delete()
    tokens = api_tokens_revoke_all(user=user)
    audit(
        "auth.sessions_ended", request=request, target=user,
        detail={"reason": reason, "sessions": len(keys), "tokens": tokens},
    )
    return len(keys) + tokens


def end_sessions_if_deactivated(user: User) -> None:
    """post_save of User: a deactivated account keeps no session and no token, however it was
    deactivated (a service, a shell, a data fix)."""
    if user.is_active or user.pk is None:
        return
    from sizhi.api.models import ApiToken

    has_any = (
        UserSession.objects.filter(user=user).exists()
        or ApiToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    )
    if has_any:
        end_all_sessions(user, reason="deactivated")


# --- the second factor -------------------------------------------------------------------------


def device_secret(device: TOTPDevice) -> str:
    return decrypt(device.secret, context=SECRET_CONTEXT)


def totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user).first()


def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The unconfirmed device to show on the enrolment page (made once, then reused, so that
    reloading the page does not change the QR code under the user's phone)."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        device = TOTPDevice.objects.filter(user=user).first()
        if device is not None and device.confirmed:
            raise SecurityError(_("该账号已绑定动态口令。"), code="totp_already_enrolled")
        if device is None:
            device = TOTPDevice.objects.create(
                user=user, secret=encrypt(totp.new_secret(), context=SECRET_CONTEXT), confirmed=False
            )
    return device


def _recovery_hash(user: User, code: str) -> str:
    return salted_hmac("sizhi.security.RecoveryCode", f"{user.pk}:{code}", algorithm="sha256").hexdigest()


def _normalise_recovery(raw: str) -> str:
    return "".join(ch for ch in totp.normalise_code(raw).lower() if ch.isalnum())


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))  # ~49 bits
    return f"{raw[:5]}-{raw[5:]}"


def recovery_codes_issue(*, user: User) -> list[str]:
    """A fresh set of one-time recovery codes (the old ones stop working); shown once."""
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    with transaction.atomic():
        RecoveryCode.objects.filter(user=user).delete()
        RecoveryCode.objects.bulk_create(
            [RecoveryCode(user=user, code_hash=_recovery_hash(user, _normalise_recovery(c))) for c in codes]
        )
    return codes


def totp_enrolment_confirm(*, user: User, code: str, request: HttpRequest | None = None) -> list[str]:
    """Confirm the pending device with a code from the authenticator; returns the recovery codes."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        raise SecurityError(_("请先打开绑定页面获取二维码。"), code="totp_not_started")
    step = totp.matching_step(device_secret(device), code, now=totp.clock(), after_step=None)
    if step is None:
        audit("auth.totp_enrol", request=request, actor=user, target=user, result="failed")
        raise SecurityError(
            _("动态口令不正确。请确认手机时间准确，并输入验证器中当前显示的 6 位数字。"),
            code="totp_wrong", field="code",
        )
    with transaction.atomic():
        updated = TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(
            confirmed=True, confirmed_at=timezone.now(), last_used_step=step
        )
        if not updated:
            raise SecurityError(_("该账号已绑定动态口令。"), code="totp_already_enrolled")
        codes = recovery_codes_issue(user=user)
    audit("auth.totp_enrol", request=request, actor=user, target=user)
    return codes


def second_factor_verify(*, user: User, code: str, request: HttpRequest | None = None) -> str:
    """Check a TOTP code (or a one-time recovery code) of a confirmed device; returns "totp" or
    "recovery". A code is accepted once: its time step (or the recovery code) is used up in the
    same UPDATE that checks it, so two parallel requests cannot both pass."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        raise SecurityError(_("该账号尚未绑定动态口令。"), code="totp_not_enrolled")
    cleaned = totp.normalise_code(code)
    if cleaned.isdigit():
        step = totp.matching_step(
            device_secret(device), cleaned, now=totp.clock(), after_step=device.last_used_step
        )
        if step is not None:
            used = TOTPDevice.objects.filter(
                Q(last_used_step__isnull=True) | Q(last_used_step__lt=step), pk=device.pk
            ).update(last_used_step=step)
            if used:
                audit("auth.second_factor", request=request, actor=user, target=user, detail={"method": "totp"})
                return "totp"
    else:
        digest = _recovery_hash(user, _normalise_recovery(cleaned))
        row = RecoveryCode.objects.filter(user=user, used_at__isnull=True, code_hash=digest).first()
        if (
            row is not None
            and constant_time_compare(row.code_hash, digest)
            and RecoveryCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=timezone.now())
        ):
            audit("auth.second_factor", request=request, actor=user, target=user, detail={"method": "recovery"})
            return "recovery"
    audit("auth.second_factor", request=request, actor=user, target=user, result="failed")
    raise SecurityError(_("动态口令不正确或已使用过，请输入验证器中新的 6 位数字。"), code="totp_wrong", field="code")


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


# --- accounts (system admin) -------------------------------------------------------------------


def _require_role(actor: User, role: Role) -> None:
    if not has_role(actor, role):
        raise SecurityError(_("您没有执行此操作的权限。"), code="forbidden")


def _not_self(actor: User, user: User) -> None:
    if actor.pk == user.pk:
        raise SecurityError(_("不能对自己的账号执行此操作。"), code="self_not_allowed")


def new_one_time_password() -> str:
    raw = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(12))  # ~69 bits
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _require_password_change(user: User) -> None:
    PasswordChangeRequired.objects.update_or_create(user=user, defaults={"since": timezone.now()})


def account_create(
    *, actor: User, username: str, display_name: str, request: HttpRequest | None = None
) -> tuple[User, str]:
    """A new staff account with a one-time password (changed at first sign-in). Roles come
    from the security admin; the system admin only makes the account."""
    _require_role(actor, Role.SYSTEM_ADMIN)
    name = (username or "").strip()
    if not name:
        raise SecurityError(_("请输入用户名。"), code="username_required", field="username")
    field = User._meta.get_field("username")
    try:
        field.run_validators(name)
    except ValidationError as exc:
        raise SecurityError(" ".join(exc.messages), code="username_invalid", field="username") from exc
    if len(name) > 150:
        raise SecurityError(_("用户名不能超过 150 个字符。"), code="username_invalid", field="username")
    if normalise_phone(name) is not None:
        # The login form reads a phone-shaped name as a citizen's phone number.
        raise SecurityError(_("用户名不能是手机号的形式。"), code="username_phone", field="username")
    display = " ".join((display_name or "").split())[:50]
    password = new_one_time_password()
    try:
        with transaction.atomic():
            if User.objects.filter(username__iexact=name).exists():
                raise SecurityError(_("该用户名已被使用。"), code="username_taken", field="username")
            user = User(username=name, display_name=display, is_citizen=False, is_staff=False, is_superuser=False)
            user.set_password(password)
            user.save()
            _require_password_change(user)
    except IntegrityError as exc:
        raise SecurityError(_("该用户名已被使用。"), code="username_taken", field="username") from exc
    audit("account.created", request=request, actor=actor, target=user)
    return user, password


def account_set_active(*, actor: User, user: User, active: bool, request: HttpRequest | None = None) -> None:
    """Deactivate (everything of the account ends at once) or reactivate an account."""
    _require_role(actor, Role.SYSTEM_ADMIN)
    _not_self(actor, user)
    if user.is_active == active:
        return
    if not active:
        end_all_sessions(user, reason="deactivated", request=request)
    User.objects.filter(pk=user.pk).update(is_active=active)
    user.is_active = active
    if not active:
        # Anything that signed in between the two lines above.
        end_sessions_if_deactivated(user)
    audit("account.reactivated" if active else "account.deactivated", request=request, actor=actor, target=user)


def account_end_sessions(*, actor: User, user: User, request: HttpRequest | None = None) -> int:
    """Sign an account out everywhere (a lost laptop, a shared computer left signed in)."""
    _require_role(actor, Role.SYSTEM_ADMIN)
    _not_self(actor, user)
    return end_all_sessions(user, reason="admin", request=request)


def _identifiers(user: User) -> list[str]:
    return [x for x in (user.username.strip().lower(), user.phone or "") if x]


def account_reset_password(*, actor: User, user: User, request: HttpRequest | None = None) -> str:
    """A one-time password for `user`, to be changed at the next sign-in; ends every session."""
    _require_role(actor, Role.SYSTEM_ADMIN)
    _not_self(actor, user)
    password = new_one_time_password()
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        _require_password_change(user)
    for identifier in _identifiers(user):
        lockout.clear(LOGIN_SCOPE, account=identifier)
    end_all_sessions(user, reason="password_reset", request=request)
    audit("account.password_reset", request=request, actor=actor, target=user)
    return password


def totp_reset(*, actor: User, user: User, request: HttpRequest | None = None) -> None:
    """Remove the user's second factor (a lost phone): they enrol again at the next sign-in."""
    _require_role(actor, Role.SYSTEM_ADMIN)
    _not_self(actor, user)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
    lockout.clear(TOTP_SCOPE, account=str(user.pk))
    end_all_sessions(user, reason="totp_reset", request=request)
    audit("auth.totp_reset", request=request, actor=actor, target=user)


def password_change(
    *, user: User, old_password: str, new_password: str, request: HttpRequest | None = None
) -> None:
    """The user's own change. Checks the current password (throttled like a login), the rules,
    and ends every session and token; the caller signs the current request in again."""
    address = client_address(request) if request is not None else "internal"
    attempt = lockout.begin(PASSWORD_SCOPE, account=str(user.pk), address=address)
    if isinstance(attempt, lockout.Refusal):
        raise SecurityError(
            _("当前密码错误次数过多，请 %(n)d 秒后再试。") % {"n": attempt.retry_in()},
            code="too_many_attempts", field="old_password",
        )
    if not user.check_password(old_password):
        audit("auth.password_change", request=request, actor=user, target=user, result="failed")
        raise SecurityError(_("当前密码不正确。"), code="password_wrong", field="old_password")
    lockout.succeeded(attempt)
    if constant_time_compare(old_password, new_password):
        raise SecurityError(_("新密码不能与当前密码相同。"), code="password_same", field="new_password")
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise SecurityError(" ".join(exc.messages), code="password_invalid", field="new_password") from exc
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        PasswordChangeRequired.objects.filter(user=user).delete()
    end_all_sessions(user, reason="password_changed", request=request)
    audit("auth.password_change", request=request, actor=user, target=user)


def password_change_required(user: User | AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and PasswordChangeRequired.objects.filter(user_id=user.pk).exists())


# --- roles (security admin) --------------------------------------------------------------------


def _role_label(role: str) -> str:
    return str(Role(role).label) if role in Role.values else role


def membership_grant(
    *,
    actor: User,
    user: User,
    role: str,
    unit: HandlingUnit | None = None,
    scope: Region | None = None,
    grid: Grid | None = None,
    request: HttpRequest | None = None,
) -> Membership:
    """Give `user` a role. 三权分立: an administrator role is the account's only role, and no
    two administrator roles meet in one account; a handling role needs a scope."""
    _require_role(actor, Role.SECURITY_ADMIN)
    try:
        return _grant(actor=actor, user=user, role=role, unit=unit, scope=scope, grid=grid, request=request)
    except SecurityError as err:
        audit(
            "role.grant", request=request, actor=actor, target=user, result="denied",
            detail={"role": role if role in Role.values else "invalid", "code": err.code},
        )
        raise


def _grant(
    *, actor: User, user: User, role: str, unit: HandlingUnit | None, scope: Region | None, grid: Grid | None,
    request: HttpRequest | None,
) -> Membership:
    if role not in Role.values:
        raise SecurityError(_("请选择一个角色。"), code="role_invalid", field="role")
    _not_self(actor, user)
    admin = role in ADMIN_ROLES
    if admin:
        unit = scope = grid = None
    else:
        if scope is None:
            raise SecurityError(_("业务角色必须指定管辖范围。"), code="scope_required", field="scope")
        if role == Role.GRID_WORKER and grid is None:
            raise SecurityError(_("网格员必须指定负责网格。"), code="grid_required", field="grid")
        if grid is not None and not grid.region_code.startswith(scope.prefix):
            raise SecurityError(_("负责网格不在管辖范围内。"), code="grid_outside_scope", field="grid")
    with transaction.atomic():
        # The account row is the lock: two grants to one account run one after the other, so the
        # exclusivity check below cannot be raced.
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None or not locked.is_active:
            raise SecurityError(_("账号已停用，不能授予角色。"), code="user_inactive")
        if locked.is_citizen:
            raise SecurityError(_("群众账号不能授予工作角色。"), code="user_is_citizen")
        if locked.is_superuser:
            raise SecurityError(_("超级用户账号不能用于日常工作。"), code="user_is_superuser")
        current = list(Membership.objects.filter(user=user, is_active=True))
        held = sorted({m.role for m in current})
        if admin and current:
            raise SecurityError(
                _("三权分立：系统管理员、安全管理员、审计管理员只能单独担任，不能与其他角色兼任。该账号已有角色：%(roles)s。")
                % {"roles": "、".join(_role_label(r) for r in held)},
                code="admin_role_conflict", field="role",
            )
        if not admin and any(m.role in ADMIN_ROLES for m in current):
            raise SecurityError(
                _("三权分立：管理员账号不能再担任业务角色。该账号已有角色：%(roles)s。")
                % {"roles": "、".join(_role_label(r) for r in held)},
                code="admin_role_conflict", field="role",
            )
        existing = Membership.objects.filter(user=user, role=role, unit=unit).first()
        if existing is not None and existing.is_active:
            raise SecurityError(_("该账号已有这个角色。"), code="role_already_held", field="role")
        if existing is not None:
            existing.scope, existing.grid, existing.is_active = scope, grid, True
            existing.save(update_fields=["scope", "grid", "is_active"])
            membership = existing
        else:
            membership = Membership.objects.create(user=user, role=role, unit=unit, scope=scope, grid=grid)
    forget_memberships(user)
    audit("role.grant", request=request, actor=actor, target=user, detail={"role": role, "membership": membership.pk})
    return membership


def membership_revoke(*, actor: User, membership: Membership, request: HttpRequest | None = None) -> bool:
    _require_role(actor, Role.SECURITY_ADMIN)
    if membership.user_id == actor.pk:
        raise SecurityError(_("不能对自己的账号执行此操作。"), code="self_not_allowed")
    updated = Membership.objects.filter(pk=membership.pk, is_active=True).update(is_active=False)
    if updated:
        membership.is_active = False
        audit(
            "role.revoke", request=request, actor=actor, target=membership.user,
            detail={"role": membership.role, "membership": membership.pk},
        )
    return bool(updated)


def security_policy() -> dict[str, Any]:
    """The policy in force, for the security admin's read-only page."""
    from django.contrib.auth.password_validation import get_default_password_validators

    return {
        "require_totp": bool(settings.SIZHI_REQUIRE_TOTP),
        "totp_window": totp.WINDOW,
        "totp_step": totp.STEP_SECONDS,
        "recovery_codes": RECOVERY_CODES,
        "free_failures": lockout.FREE_FAILURES,
        "max_delay_minutes": lockout.MAX_DELAY // 60,
        "hourly_cap": lockout.HOURLY_CAP,
        "address_hourly_cap": lockout.ADDRESS_HOURLY_CAP,
        "idle_minutes": settings.SIZHI_STAFF_IDLE_MINUTES,
        "max_hours": settings.SIZHI_STAFF_MAX_HOURS,
        "password_rules": [v.get_help_text() for v in get_default_password_validators()],
    }
