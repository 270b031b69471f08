from collections.abc import Iterator

import pytest

from sizhi.notify.sms import LocmemSmsBackend


@pytest.fixture(autouse=True)
def _empty_sms_outbox() -> Iterator[None]:
    # The in-memory backend keeps messages on the class, which outlives a single test.
    LocmemSmsBackend.outbox.clear()
    yield
    LocmemSmsBackend.outbox.clear()
