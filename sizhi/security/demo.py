"""The demo's second factor: every demo staff account shares ONE published TOTP secret, so that a
person trying `make run` can add it to any authenticator app once — or read the current code off
the login page, which shows it only when settings.SIZHI_DEMO_HINTS (DEBUG) is on."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from sizhi.accounts.models import Membership
from sizhi.privacy.crypto import encrypt
from sizhi.security.models import TOTPDevice
from sizhi.security.services import SECRET_CONTEXT

# Published on purpose (README, login hint): the demo is for a laptop, never for production.
DEMO_TOTP_SECRET = "SIZHIDEMOLUOYANGTOTPSECRET234567"  # noqa: S105


def demo_totp_enrol(*, user_ids: Iterable[int]) -> int:
    """Give every demo account with a staff or admin role a confirmed device with the demo
    secret; returns how many were enrolled."""
    ids = set(user_ids)
    staff = set(Membership.objects.filter(user_id__in=ids, is_active=True).values_list("user_id", flat=True))
    staff -= set(TOTPDevice.objects.filter(user_id__in=staff).values_list("user_id", flat=True))
    now = timezone.now()
    # One ciphertext for all: the same published value, encrypted once.
    token = encrypt(DEMO_TOTP_SECRET, context=SECRET_CONTEXT)
    TOTPDevice.objects.bulk_create(
        [TOTPDevice(user_id=uid, secret=token, confirmed=True, confirmed_at=now) for uid in sorted(staff)],
        batch_size=500,
    )
    return len(staff)


def is_demo_secret(secret: str) -> bool:
    return secret == DEMO_TOTP_SECRET
