"""No phone or ID-card number in clear in any log of the test run, the audit table or the outbox.

The flows that touch personal data run over HTTP (sign-up by SMS, login and failed login by
phone, resident registration, search by ID number and by phone, unmasking, a report with a
phone, an SMS notification); then every file in var/test-logs (all loggers at DEBUG, SQL with
its parameters) and the rows written are searched for any mainland mobile number, any valid ID
number and the exact strings typed. Ciphertext and blind indexes may appear; plaintext may not.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.test import Client
from django.urls import reverse

from sizhi.accounts.models import User
from sizhi.audit.models import AuditRecord
from sizhi.cases import services as case_services
from sizhi.cases.workflow import Channel
from sizhi.conftest import PASSWORD, World, inside
from sizhi.notify.models import Notification
from sizhi.notify.services import notify_users
from sizhi.notify.sms import LocmemSmsBackend
from sizhi.open311.models import Open311Request
from sizhi.open311.services import client_create
from sizhi.privacy.leaks import log_files, scan_files, scan_text
from sizhi.privacy.models import UnmaskRecord
from sizhi.privacy.tests.conftest import RUN_STARTED
from sizhi.privacy.tests.helpers import FULL_WIDTH, id_ending_in_x, make_id
from sizhi.regions.models import Household, Resident

SIGNUP_PHONE = "13977770001"
SIGNUP_TYPED = "+86 139 7777 0001"
RESIDENT_PHONE = "18677770002"
REPORT_PHONE = "15877770003"
ID_NUMBER = id_ending_in_x("410302", datetime.date(1971, 4, 23))
ID_TYPED = ID_NUMBER.lower().translate(FULL_WIDTH)
LEGACY = "410302550607123"
LEGACY_18 = make_id("410302", datetime.date(1955, 6, 7), "123")
NEW_PASSWORD = "Luoyang-village-2026"
# Only the test settings define these (sizhi/config/test_settings.py).
LOG_DIR: Path = getattr(settings, "SIZHI_TEST_LOG_DIR")  # noqa: B009
LOG_FILE: Path = getattr(settings, "SIZHI_TEST_LOG_FILE")  # noqa: B009
VALUES = [SIGNUP_PHONE, SIGNUP_TYPED, RESIDENT_PHONE, REPORT_PHONE, ID_NUMBER, ID_TYPED, ID_NUMBER.lower(),
          LEGACY, LEGACY_18, "13800000001"]


def staff(world: World, name: str) -> Client:
    client = Client()
    client.force_login(world.user(name))
    return client


def run_the_flows(world: World) -> None:
    citizen = Client()
    signup = reverse("accounts:signup")
    sent = citizen.post(signup, {"action": "send_code", "phone": SIGNUP_TYPED, "display_name": "王大爷"})
    assert sent.status_code == 200
    code = re.search(r"\b(\d{6})\b", LocmemSmsBackend.outbox[-1].text)
    assert code
    done = citizen.post(signup, {"action": "signup", "phone": SIGNUP_TYPED, "code": code.group(1),
                                 "display_name": "王大爷", "password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302, done.content.decode()[:500]
    login = reverse("accounts:login")
    assert Client().post(login, {"username": SIGNUP_TYPED, "password": "wrong-password-1"}).status_code in (200, 400)
    assert Client().post(login, {"username": SIGNUP_PHONE, "password": NEW_PASSWORD}).status_code == 302
    assert Client().post(login, {"username": "13800000001", "password": PASSWORD}).status_code == 302

    worker = staff(world, "grid_worker")
    home = Household.objects.create(grid=world.grid_a1, door="金业路 7 号")
    made = worker.post(reverse("privacy:new"), {"household": home.pk, "name": "赵桂芝", "id_number": ID_TYPED,
                                                "phone": RESIDENT_PHONE})
    assert made.status_code == 302
    refused = worker.post(reverse("privacy:new"), {"household": home.pk, "name": "赵桂芝", "id_number": ID_NUMBER})
    assert "已登记" in refused.content.decode()
    legacy = worker.post(reverse("privacy:new"), {"household": home.pk, "name": "赵老汉", "id_number": LEGACY})
    assert legacy.status_code == 302
    resident = Resident.objects.get(name="赵桂芝")
    for query in (ID_TYPED, RESIDENT_PHONE, LEGACY, "410302197104231"):
        assert worker.post(reverse("privacy:search"), {"q": query}).status_code in (200, 400)
    unmask = reverse("privacy:unmask", args=[resident.pk])
    for field in ("id_number", "phone"):
        shown = worker.post(unmask, {"field": field, "purpose": "verify_identity", "reason": "上门核实低保申请材料"})
        assert shown.status_code == 200
    assert staff(world, "town_dispatcher_b").post(
        unmask, {"field": "phone", "purpose": "contact", "reason": "越权查看尝试记录"}
    ).status_code == 404

    lat, lng = inside(world.grid_a1)
    case = case_services.report_submit(
        description="楼道灯坏了", lat=lat, lng=lng, channel=Channel.APP, category=world.category,
        reporter=User.objects.get_by_phone(SIGNUP_PHONE),
    )
    dispatcher = staff(world, "town_dispatcher")
    assert dispatcher.get(reverse("cases:detail", args=[case.pk])).status_code == 200
    reporter = reverse("privacy:case_reporter", args=[case.pk])
    call_back = {"field": "phone", "purpose": "contact", "reason": "回访核实处理情况"}
    assert dispatcher.post(reporter, call_back).status_code == 200
    _, key = client_create(name="测试接入方")
    posted = Client().post("/open311/v2/requests.json", {
        "api_key": key, "service_code": "roads-damage", "lat": str(lat), "long": str(lng),
        "description": "路面塌陷需要尽快处理", "attribute[severity]": "severe", "phone": REPORT_PHONE,
        "first_name": "小明",
    })
    assert posted.status_code in (200, 201), posted.content.decode()[:300]
    notify_users(
        users=[User.objects.get_by_phone(SIGNUP_PHONE)], subject="您的反映已受理", body="请留意处理进度", sms=True
    )


def test_no_plaintext_phone_or_id_number_in_logs_audit_or_outbox(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    # After-commit work (SMS delivery by the worker) runs as it would after a real commit.
    with django_capture_on_commit_callbacks(execute=True):
        run_the_flows(world)
    assert any(m.phone == SIGNUP_PHONE for m in LocmemSmsBackend.outbox)  # the SMS did go out

    # Every log file of this run: this process's and any other written since the run began
    # (older files belong to finished runs, each checked by its own session-end check).
    files = [f for f in log_files(LOG_DIR) if f.stat().st_mtime >= RUN_STARTED]
    assert LOG_FILE in files
    own = LOG_FILE.read_text(encoding="utf-8")
    # The logs did see the flows (SQL with parameters included), just never the numbers.
    assert "regions_resident" in own and "privacy.unmask" in own and "accounts_user" in own
    findings = scan_files(files, values=VALUES)

    rows = {
        "audit": AuditRecord.objects.values_list(),
        "notification": Notification.objects.values_list(),
        "unmask": UnmaskRecord.objects.values_list(),
        "open311": Open311Request.objects.values_list(),
    }
    for where, values in rows.items():
        findings += scan_text(repr(list(values)), where, values=VALUES)
    assert findings == [], "\n".join(str(f) for f in findings[:50])
