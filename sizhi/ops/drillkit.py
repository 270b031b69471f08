"""Pieces that run INSIDE the processes of a crash drill (see sizhi.ops.drills): the slow SMS
gateway the worker drill kills in mid-send, and the probe the drills call to set up and to
inspect their private database.

    python -m sizhi.ops.drillkit seed [OVERDUE SMS]      world + a citizen with an API token (+ work)
    python -m sizhi.ops.drillkit reports KEYS.json       what exists for each idempotency key
    python -m sizhi.ops.drillkit overdue N               N working cases past their deadline
    python -m sizhi.ops.drillkit sms N                   N pending SMS notifications
    python -m sizhi.ops.drillkit notify N PREFIX         N SMS through notify_users (on-commit nudge)
    python -m sizhi.ops.drillkit fill N                  N reports with a photo and an audit record
    python -m sizhi.ops.drillkit enqueue deliver|sweep   put jobs on the queue
    python -m sizhi.ops.drillkit settle CLAIM TIMEOUT requeue|wait   until every SMS is sent
    python -m sizhi.ops.drillkit outcome                 escalations and deliveries so far
    python -m sizhi.ops.drillkit drain TIMEOUT           outcome once no notification is left to send
    python -m sizhi.ops.drillkit consumer SECONDS ARGS   run_huey with a shorter claim timeout

Every command prints one JSON object. The environment (SIZHI_DATA_DIR, DATABASE_URL, ...) says
which database; nothing here is used by the platform itself.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any


class SlowFileSmsBackend:
    """An SMS gateway that takes SIZHI_DRILL_SMS_DELAY seconds per message. It notes the start
    of each send in sending.log and, once the gateway has "accepted" it, the message in
    sms.log (one JSON line, appended with O_APPEND so lines from several threads never mix)."""

    def send(self, phone: str, text: str) -> None:
        folder = Path(os.environ["SIZHI_DRILL_DIR"])
        _append(folder / "sending.log", {"text": text, "pid": os.getpid()})
        time.sleep(float(os.environ.get("SIZHI_DRILL_SMS_DELAY", "0.3")))
        _append(folder / "sms.log", {"phone": phone, "text": text})


def _append(path: Path, row: dict[str, Any]) -> None:
    line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sizhi.config.settings")
    import django

    django.setup()


def seed() -> dict[str, Any]:
    from sizhi.accounts.models import User
    from sizhi.api.services import api_token_create
    from sizhi.conftest import build_world

    world = build_world()
    citizen = User.objects.create_user(username="drill-citizen", password=None)
    _token, secret = api_token_create(user=citizen, name="drill")
    return {"token": secret, "user": citizen.pk, "unit": world.district_a_dept.pk}


def reports(keys_file: str) -> dict[str, Any]:
    """For each client key: the cases made with it, and whether each has its submit event and
    its photos with the right content; plus orphans across the whole database and media."""
    from django.conf import settings
    from django.db.models import Count, Q

    from sizhi.accounts.models import User
    from sizhi.api.idempotency import service_key
    from sizhi.api.models import IdempotencyRecord
    from sizhi.cases.models import Attachment, Case
    from sizhi.cases.workflow import CaseAction
    from sizhi.ops.backup import sha256_file

    keys: list[str] = json.loads(Path(keys_file).read_text())
    user = User.objects.get(username="drill-citizen")
    by_service_key = {service_key(user, k): k for k in keys}
    found: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
    cases = Case.objects.filter(idempotency_key__in=list(by_service_key)).annotate(
        submits=Count("events", filter=Q(events__action=CaseAction.SUBMIT))
    )
    media = Path(settings.MEDIA_ROOT)
    for case in cases:
        photos = []
        for a in Attachment.objects.filter(case=case):
            path = media / a.file.name
            photos.append({"sha256": a.sha256, "ok": path.is_file() and sha256_file(path) == a.sha256})
        found[by_service_key[case.idempotency_key or ""]].append(
            {"id": case.pk, "submits": case.submits, "photos": photos}
        )
    referenced = set(Attachment.objects.values_list("file", flat=True))
    files = [p.relative_to(media).as_posix() for p in (media / "cases").rglob("*") if p.is_file()] if (
        media / "cases").exists() else []
    return {
        "found": found,
        "cases_total": Case.objects.count(),
        "cases_without_submit": Case.objects.exclude(events__action=CaseAction.SUBMIT).count(),
        "attachments_without_file": sum(1 for name in referenced if not (media / name).is_file()),
        "unfinished_idempotency_records": IdempotencyRecord.objects.filter(response_status=0).count(),
        "orphan_files": sorted(set(files) - referenced),
    }


def overdue(count: int, unit_id: int) -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    from sizhi.cases import services
    from sizhi.cases.models import Case
    from sizhi.cases.workflow import CaseStatus, WarningLevel

    past = timezone.now() - timedelta(days=3)
    ids = []
    for i in range(count):
        case = services.report_submit(
            reporter=None, description=f"演练超期案件 {i} 路灯不亮", address="演练路 1 号", is_anonymous=True
        )
        ids.append(case.pk)
    Case.objects.filter(pk__in=ids).update(
        status=CaseStatus.HANDLING, assigned_unit_id=unit_id, due_at=past, yellow_at=past - timedelta(days=1),
        warning=WarningLevel.NONE,
    )
    return {"cases": ids}


def sms(count: int) -> dict[str, Any]:
    from sizhi.notify.models import Notification, NotificationChannel

    rows = Notification.objects.bulk_create(
        Notification(channel=NotificationChannel.SMS, phone="13800000002", subject=f"drill-{i:05d}", body="演练")
        for i in range(count)
    )
    return {"sms": len(rows)}


def notify(count: int, prefix: str) -> dict[str, Any]:
    """`count` SMS queued the way staff work queues them: notify_users in a transaction, whose
    commit nudges the worker through huey (the call a Redis outage breaks)."""
    from django.db import transaction

    from sizhi.accounts.models import User
    from sizhi.notify.services import notify_users

    user = User.objects.filter(username="drill-sms").first() or User.objects.create_user(
        username="drill-sms", password=None, phone="13800000009"
    )
    started = time.monotonic()
    for i in range(count):
        with transaction.atomic():
            notify_users(users=[user], subject=f"{prefix}-{i:05d}", body="演练", sms=True, email=False)
    return {"notified": count, "seconds": time.monotonic() - started}


def enqueue(*jobs: str) -> dict[str, Any]:
    from sizhi.cases.tasks import sweep_deadlines
    from sizhi.notify.tasks import deliver_pending

    known = {"deliver": deliver_pending, "sweep": sweep_deadlines}
    for job in jobs:
        known[job]()
    return {"enqueued": list(jobs)}


def settle(claim_seconds: float, timeout: float, requeue: bool) -> dict[str, Any]:
    """Wait until no SMS is left to send and no overdue case is left unescalated. With `requeue`
    the jobs are queued again meanwhile (what the minute tick does in production; a claim left
    by a killed worker is re-picked once it has expired); else the consumer's own periodic jobs
    must do it."""
    from django.utils import timezone

    from sizhi.cases.deadlines import _due
    from sizhi.cases.models import Case
    from sizhi.cases.workflow import WarningLevel
    from sizhi.notify.models import Notification, NotificationChannel, NotificationStatus

    pending = Notification.objects.filter(channel=NotificationChannel.SMS).exclude(
        status__in=[NotificationStatus.SENT, NotificationStatus.FAILED]
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = []
        if pending.exists():
            jobs.append("deliver")
        if Case.objects.filter(_due(WarningLevel.RED, timezone.now())).exists():
            jobs.append("sweep")
        if not jobs:
            break
        if requeue:
            enqueue(*jobs)
        time.sleep(max(claim_seconds, 0.5))
    return outcome()


def drain(timeout: float) -> dict[str, Any]:
    """Wait until the consumer has sent every notification of any channel (it works through the
    nudges queued by the last reports of a drill), then the outcome."""
    from sizhi.notify.models import Notification, NotificationStatus

    deadline = time.monotonic() + timeout
    waiting = Notification.objects.filter(status__in=[NotificationStatus.PENDING, NotificationStatus.SENDING])
    while waiting.exists() and time.monotonic() < deadline:
        time.sleep(0.25)
    return outcome()


def outcome() -> dict[str, Any]:
    from django.db.models import Count

    from sizhi.cases.models import Case, CaseEvent
    from sizhi.cases.workflow import CaseAction, WarningLevel
    from sizhi.notify.models import Notification, NotificationChannel, NotificationStatus

    red_events = dict(
        CaseEvent.objects.filter(action=CaseAction.WARN_RED).values_list("case_id").annotate(n=Count("id"))
    )
    red_cases = list(Case.objects.filter(warning=WarningLevel.RED).values_list("pk", "number"))
    inbox: dict[str, int] = {}
    for subject in Notification.objects.filter(channel=NotificationChannel.INBOX).values_list("subject", flat=True):
        inbox[subject] = inbox.get(subject, 0) + 1
    per_case_inbox = {str(pk): sum(n for s, n in inbox.items() if s.endswith(number)) for pk, number in red_cases}
    sms_rows = Notification.objects.filter(channel=NotificationChannel.SMS)
    return {
        "red_cases": [pk for pk, _n in red_cases],
        "red_events": {str(k): v for k, v in red_events.items()},
        "inbox_per_red_case": per_case_inbox,
        "sms_status": dict(sms_rows.values_list("status").annotate(n=Count("id"))),
        "sms_pending": sms_rows.exclude(status__in=[NotificationStatus.SENT, NotificationStatus.FAILED]).count(),
        "sms_attempts": dict(sms_rows.values_list("subject", "attempts")),
        # Every notification of any channel: how many are in each state, and how many of those
        # sent needed more than one claim (a claim is one attempt to send).
        "all_status": dict(Notification.objects.values_list("status").annotate(n=Count("id"))),
        "sent_after_retries": Notification.objects.filter(status=NotificationStatus.SENT, attempts__gt=1).count(),
    }


def consumer(claim_seconds: float, args: list[str]) -> None:
    """The real `run_huey`, with the outbox's claim timeout shortened so that a claim left by a
    killed worker expires within the drill (production: 5 minutes)."""
    from datetime import timedelta

    from django.core.management import call_command

    import sizhi.notify.tasks as notify_tasks

    notify_tasks.CLAIM_TIMEOUT = timedelta(seconds=claim_seconds)
    call_command("run_huey", *args)


def fill(count: int) -> dict[str, Any]:
    """`count` reports with one photo each, and an audit record for each (backup drill)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from sizhi.audit.services import audit
    from sizhi.cases import services
    from sizhi.ops.drills import make_photo

    for i in range(count):
        photo = SimpleUploadedFile("p.jpg", make_photo(i), content_type="image/jpeg")
        case = services.report_submit(
            reporter=None, description=f"备份演练 {i}：道路破损", address="演练路 2 号", photos=[photo],
            is_anonymous=True,
        )
        audit("ops.drill", target=case)
    return {"filled": count}


def _seed_all(overdue_count: int, sms_count: int) -> dict[str, Any]:
    result = seed()
    if overdue_count:
        result.update(overdue(overdue_count, result["unit"]))
    if sms_count:
        result.update(sms(sms_count))
    return result


def main(argv: list[str]) -> None:
    _setup()
    command, rest = argv[0], argv[1:]
    if command == "consumer":
        consumer(float(rest[0]), rest[1:])
        return
    handlers = {
        # seed [OVERDUE SMS]: the world, then optionally the worker drill's overdue cases and messages.
        "seed": lambda: _seed_all(int(rest[0]) if rest else 0, int(rest[1]) if len(rest) > 1 else 0),
        "reports": lambda: reports(rest[0]),
        "overdue": lambda: overdue(int(rest[0]), int(rest[1])),
        "sms": lambda: sms(int(rest[0])),
        "notify": lambda: notify(int(rest[0]), rest[1]),
        "fill": lambda: fill(int(rest[0])),
        "enqueue": lambda: enqueue(*rest),
        "settle": lambda: settle(float(rest[0]), float(rest[1]), rest[2] == "requeue"),
        "outcome": lambda: outcome(),
        "drain": lambda: drain(float(rest[0])),
    }
    result = handlers[command]()
    sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
