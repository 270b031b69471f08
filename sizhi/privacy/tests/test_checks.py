import base64
import os

from django.test import override_settings

from sizhi.privacy.checks import check_field_keys


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_derived_keys_warn_on_deploy() -> None:
    with override_settings(SIZHI_FIELD_KEYS="", SIZHI_INDEX_KEY=""):
        assert [m.id for m in check_field_keys()] == ["privacy.W001"]
    with override_settings(SIZHI_FIELD_KEYS=f"k1:{key()}", SIZHI_INDEX_KEY=""):
        assert [m.id for m in check_field_keys()] == ["privacy.W001"]


def test_real_keys_pass_and_bad_keys_warn() -> None:
    with override_settings(SIZHI_FIELD_KEYS=f"k1:{key()}", SIZHI_INDEX_KEY=key()):
        assert check_field_keys() == []
    with override_settings(SIZHI_FIELD_KEYS="k1:nope", SIZHI_INDEX_KEY=key()):
        assert [m.id for m in check_field_keys()] == ["privacy.W002"]
