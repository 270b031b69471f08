from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from sizhi.notify.sms import LocmemSmsBackend


@pytest.fixture(autouse=True)
def _fresh_cache_and_outbox() -> Iterator[None]:
    # Rate-limit counters live in the (process-wide) local-memory cache; each test starts from zero.
    cache.clear()
    LocmemSmsBackend.outbox.clear()
    yield
    cache.clear()
