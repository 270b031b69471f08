import base64
import io
import os

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from sizhi.accounts.models import User
from sizhi.privacy.crypto import DecryptionError
from sizhi.privacy.management.commands.privacy_rekey import rekey


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


K1, K2, IDX = key(), key(), key()


def raw_phone(user: User) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM accounts_user WHERE id = %s", [user.pk])
        return cursor.fetchone()[0]


def test_rotation_rewrites_old_rows_so_the_old_key_can_go(db: None) -> None:
    with override_settings(SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=IDX):
        users = [User.objects.create_user(username=f"u{i}", phone=f"1391234000{i}") for i in range(3)]
        User.objects.create_user(username="nophone")
    with override_settings(SIZHI_FIELD_KEYS=f"k2:{K2},k1:{K1}", SIZHI_INDEX_KEY=IDX, SIZHI_FIELD_CIPHER="sm4-gcm"):
        assert rekey(dry_run=True)["accounts.user"] == 3
        assert raw_phone(users[0]).split(".")[2] == "k1"
        out = io.StringIO()
        call_command("privacy_rekey", stdout=out)
        assert "accounts.user: rewrote 3 rows" in out.getvalue()
        assert rekey()["accounts.user"] == 0  # nothing left to do
        assert raw_phone(users[0]).split(".")[1:3] == ["sm4gcm", "k2"]
    with override_settings(SIZHI_FIELD_KEYS=f"k2:{K2}", SIZHI_INDEX_KEY=IDX):
        assert [User.objects.get(pk=u.pk).phone for u in users] == [f"1391234000{i}" for i in range(3)]
        assert User.objects.get_by_phone("13912340001") == users[1]
    with override_settings(SIZHI_FIELD_KEYS=f"k1:{K1}", SIZHI_INDEX_KEY=IDX), pytest.raises(DecryptionError):
        User.objects.get(pk=users[0].pk)
