"""Fault 5 of SECURITY.md: the upload volume is full. A report with photos is refused cleanly on
the web and the API (503 with Retry-After, the form kept, no stack trace), and nothing is
half-written: no case, no attachment row, no event. (A real ENOSPC can leave a partly written
file behind; it belongs to no row and sizhi.ops removes such orphans once they are an hour old:
test_orphan_photo_files_are_removed_once_old.)"""

from __future__ import annotations

import errno
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.files.storage import FileSystemStorage
from django.test import Client

from sizhi.cases.models import Attachment, Case, CaseEvent
from sizhi.conftest import World, inside, make_photo
from sizhi.web.tests.factories import report_data


def _disk_full(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(autouse=True)
def _fresh_counters() -> Any:
    cache.clear()
    yield
    cache.clear()


def _nothing_written(media_root: Path) -> None:
    assert Case.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert CaseEvent.objects.count() == 0
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_a_full_disk_refuses_a_web_report_and_leaves_nothing(world: World, settings: Any) -> None:
    client = Client(raise_request_exception=False)
    with mock.patch.object(FileSystemStorage, "_save", _disk_full):
        response = client.post("/report/", {**report_data(world), "photos": [make_photo()]})
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    body = response.content.decode()
    assert "暂时无法保存照片" in body and "Traceback" not in body and "No space left" not in body
    # The form comes back with what was typed.
    assert report_data(world)["description"] in body
    _nothing_written(Path(settings.MEDIA_ROOT))


def test_a_full_disk_refuses_an_api_report_and_leaves_nothing(world: World, settings: Any) -> None:
    client = Client(raise_request_exception=False)
    lat, lng = inside(world.grid_a1)
    with mock.patch.object(FileSystemStorage, "_save", _disk_full):
        response = client.post(
            "/api/v1/reports", {"description": "路口的井盖缺失了，晚上很危险", "lat": str(lat), "lng": str(lng),
                                "photos": [make_photo()]},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    assert response.status_code == 503
    assert response["Retry-After"] == "60"
    assert "No space left" not in response.content.decode()
    assert response.json()["error"]["code"] == "storage_unavailable"
    _nothing_written(Path(settings.MEDIA_ROOT))
