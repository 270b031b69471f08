from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sizhi.accounts.models import Role
from sizhi.audit.models import AuditRecord
from sizhi.audit.services import audit
from sizhi.conftest import World

pytestmark = pytest.mark.django_db

EVERY_ROLE = [
    "citizen", "grid_worker", "village_cadre", "party_secretary", "town_dispatcher", "department_handler",
    "district_dispatcher", "city_dispatcher", "leader", "system_admin", "security_admin", "audit_admin",
]
PAGES = [("audit:log", []), ("audit:record", [1]), ("audit:verify", [])]


def test_every_role_is_covered(world: World) -> None:
    roles = {m.role for name in EVERY_ROLE for m in world.user(name).memberships.all()}
    assert roles == set(Role.values)


@pytest.mark.parametrize("who", EVERY_ROLE)
@pytest.mark.parametrize(("name", "args"), PAGES)
def test_only_the_audit_admin_opens_the_pages(world: World, client: Client, who: str, name: str,
                                              args: list[int]) -> None:
    audit("test.write")
    client.force_login(world.user(who))
    response = client.get(reverse(name, args=args))
    if who == "audit_admin":
        assert response.status_code == 200
        return
    assert response.status_code == 404
    denial = AuditRecord.objects.order_by("-seq").first()
    assert denial is not None and denial.result == "denied" and denial.actor_username == who
    assert denial.detail["route"] == name
    # Nobody else can run the check either.
    if name == "audit:verify":
        assert client.post(reverse(name)).status_code == 404


def test_anonymous_goes_to_the_login_page(world: World, client: Client) -> None:
    response = client.get(reverse("audit:log"))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_audit_admin_reads_nothing_else(world: World, client: Client) -> None:
    client.force_login(world.user("audit_admin"))
    assert client.get(reverse("cases:list")).status_code in (403, 404)
    assert client.get(reverse("cases:queue")).status_code in (403, 404)


def _admin(client: Client, world: World) -> None:
    client.force_login(world.user("audit_admin"))


def test_log_lists_newest_first_with_filters(world: World, client: Client) -> None:
    _admin(client, world)  # record 1: auth.login
    audit("case.one", actor=world.user("town_dispatcher"), target_type="cases.case", target_id="11")
    audit("case.two", actor=world.user("leader"), result="denied")
    audit("privacy.unmask", actor=world.user("town_dispatcher"), target_type="cases.case", target_id="12")
    html = client.get(reverse("audit:log")).content.decode()
    seqs = [int(s) for s in re.findall(r'data-testid="audit-row" data-seq="(\d+)"', html)]
    assert seqs == [4, 3, 2, 1]  # the page view itself is recorded after the list is read

    def rows(**params: str) -> list[int]:
        response = client.get(reverse("audit:log"), params)
        assert response.status_code == 200
        body = response.content.decode()
        return [int(s) for s in re.findall(r'data-testid="audit-row" data-seq="(\d+)"', body)]

    assert rows(actor="town_dispatcher") == [4, 2]
    assert rows(result="denied") == [3]
    assert rows(action="privacy.unmask") == [4]
    assert rows(action="case.") == [3, 2]
    assert rows(target_type="cases.case", target_id="12") == [4]
    client.post(reverse("audit:verify"))  # recorded by the middleware under its route
    posted = AuditRecord.objects.get(detail__route="audit:verify")
    assert posted.action == "http.post" and rows(route="audit:verify") == [posted.seq]
    assert rows(route="cases:act") == []
    today = timezone.localdate()
    assert 4 in rows(date_from=today.isoformat(), date_to=today.isoformat())
    assert rows(date_to=(today - dt.timedelta(days=1)).isoformat()) == []
    # Reading the log is itself recorded.
    assert AuditRecord.objects.filter(action="audit.log_view", actor_username="audit_admin").exists()


def test_bad_filters_answer_400_with_a_message(world: World, client: Client) -> None:
    _admin(client, world)
    response = client.get(reverse("audit:log"), {"date_from": "2026-05-02", "date_to": "2026-05-01",
                                                 "action": "DROP TABLE"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "截止日期不能早于起始日期。" in html and "动作代码只含" in html
    assert 'value="2026-05-02"' in html  # what was typed is kept


def test_chart_counts_per_day_and_result(world: World, client: Client) -> None:
    audit("case.one")
    audit("case.two", result="denied")
    audit("case.three", result="denied")
    _admin(client, world)
    html = client.get(reverse("audit:log")).content.decode()
    start = html.index('id="audit-chart-data"')
    data = json.loads(html[html.index(">", start) + 1:html.index("</script>", start)])
    assert data["days"][-1] == timezone.localdate().isoformat() and len(data["days"]) == 30
    counts = {s["result"]: s["counts"][-1] for s in data["series"]}
    assert counts == {"ok": 2, "denied": 2, "failed": 0}  # case.one and the sign-in
    assert 'src="/static/vendor/echarts/dist/echarts.min.js"' in html


def test_record_page_shows_the_record_and_its_check(world: World, client: Client) -> None:
    audit("case.one", actor=world.user("leader"), detail={"case": 5})
    audit("case.two")
    _admin(client, world)
    html = client.get(reverse("audit:record", args=[2])).content.decode()
    assert "内容与哈希一致" in html and "与前一条相连" in html
    assert client.get(reverse("audit:record", args=[999])).status_code == 404
    assert AuditRecord.objects.filter(action="audit.record_view", target_id="2").exists()


def test_verify_now_reports_ok_then_a_problem(world: World, client: Client) -> None:
    for _ in range(3):
        audit("case.one")
    _admin(client, world)
    response = client.post(reverse("audit:verify"))
    assert 'data-ok="true"' in response.content.decode()
    assert AuditRecord.objects.filter(action="audit.verify", result="ok").exists()
    _tamper("UPDATE audit_auditrecord SET action = 'case.zzz' WHERE seq = 2")
    html = client.post(reverse("audit:verify")).content.decode()
    assert 'data-ok="false"' in html and "记录 2：内容被篡改（哈希不符）" in html
    assert AuditRecord.objects.filter(action="audit.verify", result="failed").exists()


def _tamper(sql: str) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditrecord DISABLE TRIGGER audit_record_append_only")
        cursor.execute(sql)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditrecord ENABLE TRIGGER audit_record_append_only")


def _verify(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("audit", "verify", "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_verify_command_exit_codes(world: World) -> None:
    assert "通过" in _verify()
    for _ in range(4):
        audit("case.one")
    assert "4 条记录" in _verify()

    _tamper("UPDATE audit_auditrecord SET result = 'failed' WHERE seq = 2")
    with pytest.raises(CommandError, match="1 个问题") as info:
        _verify()
    assert info.value.returncode == 1


def test_verify_command_deleted_and_last_deleted(world: World) -> None:
    for _ in range(5):
        audit("case.one")
    _tamper("DELETE FROM audit_auditrecord WHERE seq = 5")
    with pytest.raises(CommandError):
        _verify()
    _tamper("DELETE FROM audit_auditrecord WHERE seq = 2")
    with pytest.raises(CommandError, match="3 个问题"):
        _verify()


def test_verify_command_anchor(world: World) -> None:
    from io import StringIO

    for _ in range(3):
        audit("case.one")
    out = StringIO()
    call_command("audit", "head", stdout=out)
    anchor = out.getvalue().strip()
    assert anchor.startswith("3:")
    assert "1 个" in _verify("--anchor", anchor)
    with pytest.raises(CommandError):
        _verify("--anchor", "3:" + "0" * 64)
    with pytest.raises(CommandError, match="--anchor"):
        _verify("--anchor", "nonsense")
