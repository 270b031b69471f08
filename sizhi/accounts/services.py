"""Citizen accounts: SMS verification codes and sign-up by mobile number.

A code is stored only as a keyed hash, lives ten minutes and survives five wrong guesses; a
phone may ask for one at most once a minute and ten times in 24 hours. Together that keeps both
the code (a million possibilities) and the SMS gateway (money, and a harassment tool) safe from
brute force.
"""

from __future__ import annotations

import math
import re
import secrets
import unicodedata
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from sizhi.accounts.errors import AccountError
from sizhi.accounts.models import User, VerificationCode
from sizhi.accounts.phones import PHONE_PURPOSE, normalise_phone, phone_blind_index
from sizhi.accounts.throttle import cache  # process memory while Redis is down (the gate fails open)
from sizhi.notify.sms import send_sms
from sizhi.privacy.crypto import blind_index

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5
RESEND_INTERVAL = timedelta(seconds=60)
DAILY_LIMIT = 10
DISPLAY_NAME_MAX = 50

Purpose = VerificationCode.Purpose

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _require_phone(phone: str) -> str:
    number = normalise_phone(phone)
    if number is None:
        raise AccountError(_("请输入正确的 11 位手机号码。"), code="phone_invalid", field="phone")
    return number


def _code_hash(phone: str, purpose: str, code: str) -> str:
    # Keyed with SECRET_KEY: a leaked table alone does not let anyone try the million codes offline.
    return salted_hmac("sizhi.accounts.VerificationCode", f"{purpose}:{phone}:{code}", algorithm="sha256").hexdigest()


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _message(purpose: str, code: str, *, registered: bool) -> tuple[str, bool]:
    """The SMS text, and whether it carries the code.

    Asking for a sign-up code for a number that already has an account (or a reset code for one
    that has none) sends a notice instead of a code: the web page answers the same either way,
    so it cannot be used to find out which numbers are registered.
    """
    minutes = int(CODE_TTL.total_seconds() // 60)
    if purpose == Purpose.SIGNUP and registered:
        return _("【四治】该手机号已注册，请直接用手机号和密码登录。如非本人操作，请忽略。"), False
    if purpose == Purpose.RESET and not registered:
        return _("【四治】该手机号尚未注册，无法重置密码。如非本人操作，请忽略。"), False
    return (
        _("【四治】您的验证码是 %(code)s，%(minutes)d 分钟内有效。请勿告诉他人。")
        % {"code": code, "minutes": minutes},
        True,
    )


def verification_code_send(*, phone: str, purpose: str) -> VerificationCode:
    """Create a code for `phone` and send it by SMS; refuse when the phone asked too recently
    or too often today."""
    number = _require_phone(phone)
    if purpose not in Purpose.values:
        raise ValueError(f"unknown verification purpose {purpose!r}")
    registered = User.objects.with_phone(number).exists()
    index = blind_index(number, purpose=PHONE_PURPOSE)
    code = _new_code()
    text, carries_code = _message(purpose, code, registered=registered)
    if not carries_code:
        # The row is still written, so notices count against the same limits, but with a hash
        # of a code nobody ever sees: it can never be verified.
        code = secrets.token_hex(16)

    now = timezone.now()
    with transaction.atomic():
        recent = VerificationCode.objects.filter(phone_index=index, created_at__gte=now - timedelta(days=1))
        last = recent.order_by("-created_at").values_list("created_at", flat=True).first()
        if last is not None and now - last < RESEND_INTERVAL:
            wait = math.ceil((RESEND_INTERVAL - (now - last)).total_seconds())
            raise AccountError(
                _("验证码已发送，请 %(n)d 秒后再重新获取。") % {"n": max(wait, 1)}, code="code_too_soon", field="phone",
                retry_after=max(wait, 1),
            )
        if recent.count() >= DAILY_LIMIT:
            oldest = recent.order_by("created_at").values_list("created_at", flat=True).first() or now
            frees = math.ceil((oldest + timedelta(days=1) - now).total_seconds())
            raise AccountError(
                _("该手机号 24 小时内获取验证码的次数已达上限，请明天再试。"), code="code_daily_limit", field="phone",
                retry_after=max(frees, 1),
            )
        # Two requests in the same instant both pass the check above on a database without
        # range locks; the cache gate lets only one of them through.
        if not cache.add(f"sizhi:sms-gate:{_code_hash(number, purpose, 'gate')}", 1, RESEND_INTERVAL.seconds):
            raise AccountError(
                _("验证码已发送，请 %(n)d 秒后再重新获取。") % {"n": RESEND_INTERVAL.seconds},
                code="code_too_soon", field="phone", retry_after=RESEND_INTERVAL.seconds,
            )
        row = VerificationCode.objects.create(
            phone_index=index, purpose=purpose, code_hash=_code_hash(number, purpose, code), expires_at=now + CODE_TTL
        )
    send_sms(number, text)
    return row


def _normalise_code(code: str) -> str:
    # Full-width digits and stray spaces are how people paste codes from an SMS app.
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", code or ""))


def _check_code(*, phone: str, purpose: str, code: str) -> AccountError | None:
    """Use up the phone's latest live code if `code` matches it.

    Returns the error instead of raising it, so that the caller's transaction commits the
    counted attempt: a rolled-back counter would allow unlimited guesses.
    Call inside a transaction.
    """
    now = timezone.now()
    row = (
        VerificationCode.objects.select_for_update()
        .filter(phone_index=phone_blind_index(phone), purpose=purpose, used_at__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )
    if row is None or row.expires_at <= now:
        return AccountError(_("验证码已失效，请重新获取。"), code="code_expired", field="code")
    if row.attempts >= CODE_MAX_ATTEMPTS:
        return AccountError(_("验证码错误次数过多，请重新获取。"), code="code_attempts_exceeded", field="code")
    if not constant_time_compare(row.code_hash, _code_hash(phone, purpose, _normalise_code(code))):
        VerificationCode.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
        left = CODE_MAX_ATTEMPTS - row.attempts - 1
        if left <= 0:
            return AccountError(_("验证码错误次数过多，请重新获取。"), code="code_attempts_exceeded", field="code")
        return AccountError(
            _("验证码不正确，还可以再试 %(n)d 次。") % {"n": left}, code="code_wrong", field="code"
        )
    VerificationCode.objects.filter(pk=row.pk).update(used_at=now)
    return None


def _clean_display_name(value: str) -> str:
    name = _CONTROL.sub("", unicodedata.normalize("NFC", value or "")).strip()
    if len(name) > DISPLAY_NAME_MAX:
        raise AccountError(
            _("称呼不能超过 %(n)d 个字。") % {"n": DISPLAY_NAME_MAX}, code="display_name_too_long", field="display_name"
        )
    return name


def _new_username() -> str:
    # Never the phone number: usernames show up in staff pages where the phone must stay masked.
    return f"u{secrets.token_hex(6)}"


def citizen_signup(*, phone: str, code: str, password: str, display_name: str = "") -> User:
    """Create a citizen account for a phone that proved itself with an SMS code."""
    number = _require_phone(phone)
    name = _clean_display_name(display_name)
    user = User(username=_new_username(), phone=number, display_name=name, is_citizen=True)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise AccountError(" ".join(exc.messages), code="password_invalid", field="password") from exc
    user.set_password(password)

    # Everything else is checked before the code, so a typo in the password does not cost a guess.
    with transaction.atomic():
        failure = _check_code(phone=number, purpose=Purpose.SIGNUP, code=code)
        if failure is None:
            if User.objects.with_phone(number).exists():
                failure = AccountError(
                    _("该手机号已注册，请直接登录。"), code="phone_registered", field="phone"
                )
            else:
                try:
                    with transaction.atomic():
                        user.save()
                except IntegrityError:
                    failure = AccountError(
                        _("注册未成功，请稍后重试。"), code="signup_conflict", field="phone"
                    )
    if failure is not None:
        raise failure
    return user
