"""Account phones: ciphertext in the column, lookups through the blind index in any typed form."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import FieldError
from django.db import IntegrityError, connection, transaction

from sizhi.accounts import services
from sizhi.accounts.models import User, VerificationCode
from sizhi.accounts.phones import normalise_phone, phone_blind_index
from sizhi.privacy.crypto import decrypt

PHONE = "13912340001"
TYPED = ["13912340001", "+86 139 1234 0001", "+86-139-1234-0001", "0086 13912340001", "８６１３９１２３４０００１",
         "１３９ １２３４ ０００１", "139\u200b1234\u20600001", "(139) 1234-0001"]


@pytest.mark.parametrize("typed", TYPED)
def test_every_typed_form_has_the_same_blind_index(typed: str) -> None:
    assert normalise_phone(typed) == PHONE
    assert phone_blind_index(typed) == phone_blind_index(PHONE)


@pytest.mark.parametrize("bad", ["", "1391234000", "139123400011", "23912340001", "+1 139 1234 0001",
                                 "١٣٩١٢٣٤٠٠٠١", "13912340001x"])
def test_not_a_mobile_number(bad: str) -> None:
    assert normalise_phone(bad) is None and phone_blind_index(bad) is None


def test_column_holds_ciphertext_and_the_index(db: None) -> None:
    user = User.objects.create_user(username="u1", phone="+86 139 1234 0001", password="x")
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, phone_index FROM accounts_user WHERE id = %s", [user.pk])
        phone, index = cursor.fetchone()
    assert PHONE not in phone and PHONE not in index and PHONE[3:] not in phone
    assert decrypt(phone, context="accounts.user.phone") == PHONE
    assert index == phone_blind_index(PHONE)
    user.refresh_from_db()
    assert user.phone == PHONE


@pytest.mark.parametrize("typed", TYPED)
def test_lookup_and_login_in_any_form(db: None, typed: str) -> None:
    user = User.objects.create_user(username="u1", phone=PHONE, password="pass-word-1")
    assert User.objects.get_by_phone(typed) == user
    assert list(User.objects.with_phone(typed)) == [user]
    assert authenticate(username=typed, password="pass-word-1") == user
    assert authenticate(username=typed, password="wrong") is None


def test_unknown_or_invalid_phone(db: None) -> None:
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_phone("13900000000")
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_phone("not a phone")
    assert not User.objects.with_phone(None).exists()


def test_filtering_on_the_ciphertext_is_refused(db: None) -> None:
    with pytest.raises(FieldError, match="blind index"):
        list(User.objects.filter(phone=PHONE))
    with pytest.raises(FieldError):
        list(User.objects.filter(phone__startswith="139"))
    assert not User.objects.filter(phone__isnull=False).exists()


def test_one_account_per_number_however_typed(db: None) -> None:
    User.objects.create_user(username="u1", phone=PHONE)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="u2", phone="+86 139 1234 0001")


def test_changing_and_removing_the_phone_keeps_the_index_in_step(db: None) -> None:
    user = User.objects.create_user(username="u1", phone=PHONE)
    user.phone = "13912340002"
    user.save(update_fields=["phone"])
    assert User.objects.get_by_phone("13912340002") == user
    assert not User.objects.with_phone(PHONE).exists()
    user.phone = ""
    user.save()
    user.refresh_from_db()
    assert user.phone is None and user.phone_index is None


def test_an_invalid_phone_is_not_saved(db: None) -> None:
    with pytest.raises(ValueError) as info:
        User.objects.create_user(username="u1", phone="12345")
    assert "12345" not in str(info.value)


def test_verification_codes_keep_only_the_index(db: None) -> None:
    services.verification_code_send(phone="+86 139 1234 0001", purpose=VerificationCode.Purpose.SIGNUP)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_verificationcode")
        row = cursor.fetchall()
    assert PHONE not in repr(row)
    assert VerificationCode.objects.get().phone_index == phone_blind_index(PHONE)


def _manage(database: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    env["DJANGO_SETTINGS_MODULE"] = "sizhi.config.test_settings"
    subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "django", *args], env=env, check=True, capture_output=True, timeout=600,
        cwd=settings.BASE_DIR.parent,
    )


def test_migration_encrypts_existing_plaintext_phones(tmp_path: Path) -> None:
    """On a database of its own (migrating the test database back and forth would disturb the
    other tests): plaintext rows of the old schema come out encrypted and indexed."""
    database = str(tmp_path / "migrate.sqlite3")
    _manage(database, "migrate", "accounts", "0002_initial", "--noinput")
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined, phone, display_name, is_citizen)"
            " VALUES ('', 0, 'old', '', '', '', 0, 1, CURRENT_TIMESTAMP, ?, '', 1)",
            [PHONE],
        )
        db.execute(
            "INSERT INTO accounts_verificationcode (phone, purpose, code_hash, created_at, expires_at, attempts)"
            " VALUES (?, 'signup', 'h', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)",
            [PHONE],
        )
    _manage(database, "migrate", "--noinput")
    with sqlite3.connect(database) as db:
        phone, index = db.execute("SELECT phone, phone_index FROM accounts_user WHERE username = 'old'").fetchone()
        (code_index,) = db.execute("SELECT phone_index FROM accounts_verificationcode").fetchone()
        columns = [row[1] for row in db.execute("PRAGMA table_info(accounts_verificationcode)")]
    assert "phone" not in columns
    assert PHONE not in phone
    assert decrypt(phone, context="accounts.user.phone") == PHONE
    assert index == code_index == phone_blind_index(PHONE)
