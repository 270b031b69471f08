"""SMS verification codes and citizen sign-up."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache

from sizhi.accounts import services
from sizhi.accounts.errors import AccountError
from sizhi.accounts.models import User, VerificationCode
from sizhi.accounts.phones import phone_blind_index
from sizhi.conftest import World
from sizhi.notify.sms import LocmemSmsBackend

PHONE = "13912345678"
PASSWORD = "Luoyang-village-2026"
SIGNUP = VerificationCode.Purpose.SIGNUP


def sent_code(phone: str = PHONE) -> str:
    messages = [m for m in LocmemSmsBackend.outbox if m.phone == phone]
    assert messages, f"no SMS to {phone}"
    match = re.search(r"\b(\d{6})\b", messages[-1].text)
    assert match, messages[-1].text
    return match.group(1)


def age_codes(seconds: int, phone: str = PHONE) -> None:
    """Move the phone's codes into the past, as if time had passed."""
    for row in VerificationCode.objects.filter(phone_index=phone_blind_index(phone)):
        shift = timedelta(seconds=seconds)
        VerificationCode.objects.filter(pk=row.pk).update(
            created_at=row.created_at - shift, expires_at=row.expires_at - shift
        )
    cache.clear()


# --- sending -----------------------------------------------------------------------------------


def test_send_stores_only_a_hash_and_texts_the_code(db: None) -> None:
    row = services.verification_code_send(phone=PHONE, purpose=SIGNUP)

    code = sent_code()
    row.refresh_from_db()
    assert row.phone_index == phone_blind_index(PHONE) and PHONE not in row.phone_index
    assert code not in row.code_hash
    assert len(row.code_hash) == 64
    assert row.attempts == 0 and row.used_at is None
    assert timedelta(minutes=9) < row.expires_at - row.created_at <= timedelta(minutes=10)


@pytest.mark.parametrize(
    "typed", ["+86 139 1234 5678", "0086-139-1234-5678", "１３９１２３４５６７８", "139 1234\u200b5678"]
)
def test_phone_is_normalised(db: None, typed: str) -> None:
    row = services.verification_code_send(phone=typed, purpose=SIGNUP)

    assert row.phone_index == phone_blind_index(PHONE) and PHONE not in row.phone_index
    assert LocmemSmsBackend.outbox[-1].phone == PHONE


@pytest.mark.parametrize("typed", ["", "12345", "02312345678", "1391234567x", "+1 415 555 0100", "\x00"])
def test_invalid_phone_is_refused(db: None, typed: str) -> None:
    with pytest.raises(AccountError) as exc:
        services.verification_code_send(phone=typed, purpose=SIGNUP)

    assert exc.value.field == "phone"
    assert not VerificationCode.objects.exists()
    assert not LocmemSmsBackend.outbox


def test_resend_within_a_minute_is_refused(db: None) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)

    with pytest.raises(AccountError) as exc:
        services.verification_code_send(phone=PHONE, purpose=SIGNUP)

    assert exc.value.code == "code_too_soon"
    assert "秒后" in str(exc.value.message)
    assert VerificationCode.objects.count() == 1
    assert len(LocmemSmsBackend.outbox) == 1


def test_resend_after_a_minute_is_allowed(db: None) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)
    age_codes(61)

    services.verification_code_send(phone=PHONE, purpose=SIGNUP)

    assert VerificationCode.objects.count() == 2


def test_at_most_ten_codes_a_day(db: None) -> None:
    for _ in range(services.DAILY_LIMIT):
        services.verification_code_send(phone=PHONE, purpose=SIGNUP)
        age_codes(61)

    with pytest.raises(AccountError) as exc:
        services.verification_code_send(phone=PHONE, purpose=SIGNUP)
    assert exc.value.code == "code_daily_limit"

    age_codes(24 * 3600)
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)


def test_limits_are_per_phone(db: None) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)
    services.verification_code_send(phone="13912345679", purpose=SIGNUP)

    assert VerificationCode.objects.count() == 2


def test_registered_phone_gets_a_notice_not_a_code(world: World) -> None:
    services.verification_code_send(phone="13800000001", purpose=SIGNUP)

    text = LocmemSmsBackend.outbox[-1].text
    assert "已注册" in text
    assert not re.search(r"\d{6}", text)
    with pytest.raises(AccountError):
        services.citizen_signup(phone="13800000001", code="000000", password=PASSWORD)


# --- signing up --------------------------------------------------------------------------------


def test_signup_with_the_code_creates_a_citizen(db: None) -> None:
    services.verification_code_send(phone="+86 139 1234 5678", purpose=SIGNUP)

    user = services.citizen_signup(phone="139-1234-5678", code=sent_code(), password=PASSWORD, display_name=" 王大爷 ")

    user.refresh_from_db()
    assert user.phone == PHONE
    assert user.is_citizen
    assert user.display_name == "王大爷"
    assert user.check_password(PASSWORD)
    assert PHONE not in user.username
    assert VerificationCode.objects.get().used_at is not None


def test_full_width_code_is_accepted(db: None) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)
    code = sent_code().translate(str.maketrans("0123456789", "０１２３４５６７８９"))

    services.citizen_signup(phone=PHONE, code=f" {code} ", password=PASSWORD)

    assert User.objects.with_phone(PHONE).exists()


def test_a_code_works_once(db: None) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)
    code = sent_code()
    services.citizen_signup(phone=PHONE, code=code, password=PASSWORD)

    with pytest.raises(AccountError):
        services.citizen_signup(phone=PHONE, code=code, password=PASSWORD)
    assert User.objects.with_phone(PHONE).count() == 1


def test_wrong_code_attempts_are_limited(db: None) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)
    right = sent_code()
    wrong = "000000" if right != "000000" else "111111"

    errors = []
    for _ in range(services.CODE_MAX_ATTEMPTS):
        with pytest.raises(AccountError) as exc:
            services.citizen_signup(phone=PHONE, code=wrong, password=PASSWORD)
        errors.append(exc.value.code)
    # Even the right code is refused once the attempts are used up.
    with pytest.raises(AccountError) as exc:
        services.citizen_signup(phone=PHONE, code=right, password=PASSWORD)

    assert errors == ["code_wrong"] * (services.CODE_MAX_ATTEMPTS - 1) + ["code_attempts_exceeded"]
    assert exc.value.code == "code_attempts_exceeded"
    assert exc.value.field == "code"
    assert VerificationCode.objects.get().attempts == services.CODE_MAX_ATTEMPTS
    assert not User.objects.with_phone(PHONE).exists()


def test_wrong_attempt_message_says_how_many_are_left(db: None) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)
    wrong = "000000" if sent_code() != "000000" else "111111"

    with pytest.raises(AccountError) as exc:
        services.citizen_signup(phone=PHONE, code=wrong, password=PASSWORD)

    assert "还可以再试 4 次" in str(exc.value.message)


def test_expired_code_is_refused(db: None) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)
    code = sent_code()
    age_codes(11 * 60)

    with pytest.raises(AccountError) as exc:
        services.citizen_signup(phone=PHONE, code=code, password=PASSWORD)

    assert exc.value.code == "code_expired"


def test_only_the_latest_code_counts(db: None) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)
    old = sent_code()
    age_codes(61)
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)
    new = sent_code()
    if old == new:
        pytest.skip("the two random codes happened to be equal")

    with pytest.raises(AccountError):
        services.citizen_signup(phone=PHONE, code=old, password=PASSWORD)
    services.citizen_signup(phone=PHONE, code=new, password=PASSWORD)


@pytest.mark.parametrize("password", ["12345678", "short", "password123"])
def test_weak_password_is_refused_without_using_up_a_guess(db: None, password: str) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)

    with pytest.raises(AccountError) as exc:
        services.citizen_signup(phone=PHONE, code=sent_code(), password=password)

    assert exc.value.field == "password"
    row = VerificationCode.objects.get()
    assert row.attempts == 0 and row.used_at is None


def test_display_name_is_limited(db: None) -> None:
    services.verification_code_send(phone=PHONE, purpose=SIGNUP)

    with pytest.raises(AccountError) as exc:
        services.citizen_signup(phone=PHONE, code=sent_code(), password=PASSWORD, display_name="名" * 51)

    assert exc.value.field == "display_name"
