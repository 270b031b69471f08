"""The production profile's smoke test, driven over HTTP (run by scripts/prod_smoke.sh).

An anonymous resident reports through the JSON API (as the mobile app does), a town dispatcher
accepts, registers and dispatches it, the village committee signs for it and handles it with a
photo, the dispatcher verifies and closes it, and the resident rates it with the tracking code.
Then the background worker must have delivered the dispatch's inbox messages (the web process
only queues them in Redis). Exits non-zero with a message at the first thing that is wrong.

    python scripts/prod_smoke.py <base-url> <seed.json> <tracking-code-out-file>
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from sizhi.config.gunicorn import redact_path

WORKER_WAIT_SECONDS = 60


class SmokeError(RuntimeError):
    pass


def request(
    base: str, method: str, path: str, *, token: str | None = None, json_body: Any = None,
    form: dict[str, str] | None = None, files: dict[str, tuple[str, bytes]] | None = None,
    key: str | None = None, expect: int = 200,
) -> tuple[dict[str, str], bytes]:
    headers = {"Accept": "application/json"}
    data: bytes | None = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if method == "POST":
        headers["Idempotency-Key"] = key or str(uuid.uuid4())
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif files:
        boundary = uuid.uuid4().hex
        out = io.BytesIO()
        for name, value in (form or {}).items():
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            out.write(value.encode() + b"\r\n")
        for name, (filename, content) in files.items():
            out.write(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: image/jpeg\r\n\r\n".encode()
            )
            out.write(content + b"\r\n")
        out.write(f"--{boundary}--\r\n".encode())
        data = out.getvalue()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310
            status, answer_headers, body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        status, answer_headers, body = exc.code, dict(exc.headers), exc.read()
    if status != expect:
        raise SmokeError(f"{method} {path}: expected {expect}, got {status}: {body[:600].decode(errors='replace')}")
    print(f"ok  {method} {redact_path(path)} -> {status}")
    return answer_headers, body


def call(base: str, method: str, path: str, **kwargs: Any) -> Any:
    return json.loads(request(base, method, path, **kwargs)[1])


def photo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


def check_static(base: str) -> None:
    _headers, page = request(base, "GET", "/")
    html = page.decode()
    start = html.find("/static/")
    if start < 0:
        raise SmokeError("the home page links no static file")
    path = html[start:html.find('"', start)]
    headers, _body = request(base, "GET", path)
    cache = headers.get("Cache-Control", "")
    if "immutable" not in cache:
        raise SmokeError(f"{path}: hashed static file without a long cache header ({cache!r})")


def walk_case(base: str, seed: dict[str, Any]) -> tuple[int, str]:
    tokens = seed["tokens"]
    dispatcher, handler = tokens["town_dispatcher"], tokens["village_cadre"]
    key = str(uuid.uuid4())
    report = {
        "title": "路灯不亮", "description": "金业路社区3号楼前的路灯连续三晚不亮，夜里行人看不清路。",
        "lat": str(seed["lat"]), "lng": str(seed["lng"]),
    }
    created = call(base, "POST", "/api/v1/reports", form=report, key=key, expect=201)
    # A retry on a flaky link with the same key gets the same case, not a second one.
    headers, body = request(base, "POST", "/api/v1/reports", form=report, key=key, expect=201)
    if json.loads(body)["id"] != created["id"] or headers.get("Idempotent-Replayed") != "true":
        raise SmokeError("a retried report with the same Idempotency-Key was not replayed")
    case_id, code = int(created["id"]), str(created["tracking_code"])
    path = f"/api/v1/cases/{case_id}"
    if call(base, "GET", path, token=dispatcher)["status"] != "reported":
        raise SmokeError("the new case is not waiting for acceptance")
    call(base, "POST", f"{path}/accept", token=dispatcher, json_body={"reason": ""})
    call(base, "POST", f"{path}/register", token=dispatcher, json_body={"category": seed["category"]})
    call(base, "POST", f"{path}/dispatch", token=dispatcher, json_body={"unit": seed["unit"], "reason": "请尽快处理"})
    call(base, "POST", f"{path}/sign-for", token=handler)
    call(base, "POST", f"{path}/handle", token=handler, form={"result": "已更换灯泡，路灯恢复照明。"},
         files={"photos": ("done.jpg", photo())})
    call(base, "POST", f"{path}/verify", token=dispatcher, json_body={"passed": True, "reason": "现场核实已亮"})
    closed = call(base, "POST", f"{path}/close", token=dispatcher, json_body={"reason": "处置完毕"})
    if closed["case"]["status"] != "closed":
        raise SmokeError(f"the case is {closed['case']['status']!r} after closing")
    call(base, "POST", f"/api/v1/track/{code}/rate", json_body={"satisfaction": "satisfied", "comment": "谢谢"})
    request(base, "GET", f"/track/{code}/")
    return case_id, code


def check_worker(seed: dict[str, Any]) -> None:
    """The dispatch queued inbox messages for the unit's members; only the huey consumer (on
    Redis) delivers them, since the web process never runs tasks itself."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sizhi.config.settings")
    import django

    django.setup()
    from django.conf import settings

    from sizhi.notify.models import Notification, NotificationStatus

    if settings.HUEY.get("huey_class") != "sizhi.ops.queue.ResilientRedisHuey" or settings.HUEY.get("immediate"):
        raise SmokeError(f"the queue is not Redis-backed: {settings.HUEY}")
    rows = Notification.objects.filter(recipient_id__in=seed["unit_members"])
    deadline = time.monotonic() + WORKER_WAIT_SECONDS
    while True:
        total = rows.count()
        sent = rows.filter(status=NotificationStatus.SENT).count()
        if total and sent == total:
            print(f"ok  worker delivered {sent} of {total} inbox messages of the dispatch")
            return
        if time.monotonic() > deadline:
            raise SmokeError(f"worker: {sent} of {total} messages delivered after {WORKER_WAIT_SECONDS} s")
        time.sleep(0.5)


def main() -> None:
    base, seed_path, code_out = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    with open(seed_path, encoding="utf-8") as handle:
        seed = json.load(handle)
    try:
        check_static(base)
        case_id, code = walk_case(base, seed)
        with open(code_out, "w", encoding="utf-8") as handle:
            handle.write(code + "\n")
        check_worker(seed)
    except SmokeError as exc:
        print(f"prod smoke FAILED: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    print(f"prod smoke passed: case {case_id} reported, dispatched, handled, closed and rated")


if __name__ == "__main__":
    main()
