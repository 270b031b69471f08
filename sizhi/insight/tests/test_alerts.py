"""Early warnings: the detectors, their idempotence, the confidentiality of letters, who is told,
and the alerts pages' scope."""

from __future__ import annotations

import datetime as dt
from itertools import count
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sizhi.accounts.models import User
from sizhi.cases import services
from sizhi.cases.models import Case, CaseEvent, Category
from sizhi.cases.workflow import CaseAction, CaseStatus, Channel
from sizhi.conftest import World, inside
from sizhi.insight import alerts
from sizhi.insight.alerts import Term, find_spikes, match_terms
from sizhi.insight.lexicon import DEFAULT_LEXICON
from sizhi.insight.models import Alert, AlertCursor, AlertKind, AlertSeverity, RiskTerm
from sizhi.notify.models import Notification, NotificationChannel

_serial = count(1)


def report(world: World, text: str, *, channel: str = Channel.APP, reporter: User | None = None,
           grid: Any = None, category: Category | None = None, title: str = "") -> Case:
    """A report through the real intake service, placed in a grid of town A by default."""
    lat, lng = inside(grid or world.grid_a1)
    return services.report_submit(
        reporter=reporter if reporter is not None else world.user("citizen"), description=text, title=title,
        lat=lat, lng=lng, channel=channel, category=category or world.category,
    )


def make_case(world: World, *, region: Any = None, created_at: dt.datetime | None = None,
              channel: str = Channel.APP, category: Category | None = None, **fields: Any) -> Case:
    """A case row written directly (for back-dated counts)."""
    n = next(_serial)
    region = region or world.village_a1
    return Case.objects.create(
        number=f"AL{n:06d}", tracking_code=f"alert-tracking-{n:06d}", title=fields.pop("title", f"案件 {n}"),
        description=fields.pop("description", "描述"), region=region, region_code=region.code, channel=channel,
        category=category if category is not None else world.category,
        created_at=created_at or timezone.now(), **fields,
    )


def alert_notifications(user: User) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, subject__startswith="【预警"))


# --- the lexicon ---------------------------------------------------------------------------------


def test_the_lexicon_is_seeded_by_the_migration(db: None) -> None:
    terms = dict(RiskTerm.objects.values_list("term", "kind"))
    assert len(terms) == len(DEFAULT_LEXICON)
    for term in ("轻生", "不想活", "跳楼", "喝农药", "砍死", "报复", "同归于尽", "集体上访", "堵路", "拉横幅",
                 "讨薪", "欠薪", "拖欠工资", "塌方", "裂缝", "燃气泄漏", "漏电", "溺水"):
        assert term in terms
    assert terms["不想活"] == "suicide" and terms["集体上访"] == "group_protest"


def test_terms_match_through_spaces_and_not_after_a_negation() -> None:
    terms = [Term("裂缝", "safety_hazard", 4), Term("不想活", "suicide", 10), Term("跳楼", "suicide", 10)]
    assert [h.term for h in match_terms("墙体出现裂缝", terms)] == ["裂缝"]
    assert match_terms("路面没有裂缝，已修好", terms) == []
    assert match_terms("经查无裂缝", terms) == []
    assert match_terms("他并非要跳楼", terms) == []
    # The negation belongs to another clause: the hit stands.
    assert [h.term for h in match_terms("没有人管，墙上全是裂缝", terms)] == ["裂缝"]
    # Spaces typed between the characters do not hide a word; the heaviest hit comes first.
    assert [h.term for h in match_terms("实在 不 想 活 了，房子也有裂缝", terms)] == ["不想活", "裂缝"]
    # A negated occurrence does not hide a later plain one.
    assert [h.term for h in match_terms("不是说跳楼，是真的要跳楼", terms)] == ["跳楼"]


def test_a_lexicon_hit_raises_one_alert_even_when_scanned_twice(world: World) -> None:
    case = report(world, "欠了三个月工资，老板不给，我实在不想活了")
    first = alerts.scan_new_cases()
    assert [a.kind for a in first.alerts] == [AlertKind.RISK]
    alert = Alert.objects.get()
    assert alert.case == case and alert.region_code == case.region_code
    assert alert.severity == AlertSeverity.HIGH
    assert "命中高风险词：‘不想活’（轻生）" in alert.reason
    told = {n.recipient for n in Notification.objects.filter(subject__startswith="【预警")}
    # The town centre that manages the case and the city's leader; not the other town.
    assert world.user("town_dispatcher") in told and world.user("leader") in told
    assert world.user("town_dispatcher_b") not in told
    sent = Notification.objects.filter(subject__startswith="【预警").count()

    again = alerts.scan_new_cases()
    assert again.alerts == []
    assert alerts.scan_case(case) == []
    assert Alert.objects.count() == 1
    assert Notification.objects.filter(subject__startswith="【预警").count() == sent


def test_a_high_alert_is_also_sent_by_sms(world: World) -> None:
    dispatcher = world.user("town_dispatcher")
    dispatcher.phone = "13900000009"
    dispatcher.save(update_fields=["phone"])
    case = report(world, "有人扬言要同归于尽")
    alerts.scan_case(case)
    channels = {n.channel for n in alert_notifications(dispatcher)}
    assert channels >= {NotificationChannel.INBOX, NotificationChannel.SMS}


def test_a_low_weight_hit_is_not_sent_by_sms(world: World) -> None:
    dispatcher = world.user("town_dispatcher")
    dispatcher.phone = "13900000009"
    dispatcher.save(update_fields=["phone"])
    case = report(world, "楼道墙面有裂缝")
    [alert] = alerts.scan_case(case)
    assert alert.severity == AlertSeverity.LOW
    assert NotificationChannel.SMS not in {n.channel for n in alert_notifications(dispatcher)}


def test_an_inactive_or_edited_term_is_respected(world: World) -> None:
    RiskTerm.objects.filter(term="裂缝").update(is_active=False)
    RiskTerm.objects.create(term="井盖丢失", kind="safety_hazard", weight=9)
    assert alerts.scan_case(report(world, "楼道墙面有裂缝")) == []
    [alert] = alerts.scan_case(report(world, "路口井盖丢失很危险"))
    assert alert.severity == AlertSeverity.HIGH and "井盖丢失" in alert.reason


def test_a_case_raises_its_alert_once_even_if_two_scans_race(world: World) -> None:
    case = report(world, "工地拖欠工资，工人要集体上访")
    alerts.scan_case(case)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind=AlertKind.RISK, severity="high", reason="x", region_code=case.region_code, case=case)


# --- letters are confidential --------------------------------------------------------------------


def test_a_mailbox_letter_never_raises_an_alert(world: World) -> None:
    letter = report(world, "书记您好，我被逼得不想活了，要去跳楼", channel=Channel.MAILBOX)
    result = alerts.scan_new_cases()
    assert result.cases == 0 and result.alerts == []
    assert alerts.scan_case(letter) == []
    assert alerts.risk_draft(letter) is None
    draft = alerts.AlertDraft(kind=AlertKind.RISK, severity="high", reason="x", region_code=letter.region_code,
                              case=letter)
    with pytest.raises(ValueError):
        alerts.raise_alert(draft)
    assert not Alert.objects.exists()
    assert not Notification.objects.filter(subject__startswith="【预警").exists()


def test_letters_do_not_count_towards_a_spike_or_a_repeat(world: World) -> None:
    now = timezone.now()
    for _ in range(8):
        make_case(world, channel=Channel.MAILBOX, created_at=now - dt.timedelta(hours=1),
                  reporter=world.user("citizen"))
    current, _history = alerts.spike_counts(now)
    assert sum(current.values()) == 0
    assert alerts.detect_spikes(now=now) == []
    case = make_case(world, reporter=world.user("citizen"))
    assert alerts.repeat_reporter_draft(case) is None


# --- the scan's high-water mark ------------------------------------------------------------------


def test_the_scan_moves_its_mark_and_reads_registrations_too(world: World) -> None:
    case = report(world, "小区门口道路破损")
    result = alerts.scan_new_cases()
    mark = AlertCursor.objects.get().last_id
    assert result.cases == 1 and mark == CaseEvent.objects.order_by("-id").first().pk  # type: ignore[union-attr]
    # An event older than the overlap and below the mark is not read again.
    CaseEvent.objects.filter(case=case).update(created_at=timezone.now() - dt.timedelta(hours=1))
    assert alerts.scan_new_cases().cases == 0
    # Registration is scanned like a report: the text may have changed the risk.
    Case.objects.filter(pk=case.pk).update(description="路面塌方，已有行人受伤")
    CaseEvent.objects.create(case=case, action=CaseAction.REGISTER, from_status=CaseStatus.ACCEPTED,
                             to_status=CaseStatus.REGISTERED)
    result = alerts.scan_new_cases()
    assert result.cases == 1 and [a.kind for a in result.alerts] == [AlertKind.RISK]


def test_a_scan_reads_each_event_once(world: World) -> None:
    report(world, "小区门口道路破损")
    assert alerts.scan_new_cases().cases == 1
    # Within the overlap, but already read: the next scan costs nothing.
    assert alerts.scan_new_cases().cases == 0
    report(world, "小区路灯一直不亮")
    assert alerts.scan_new_cases().cases == 1


def test_an_id_committed_after_the_scan_passed_it_is_still_scanned(world: World) -> None:
    report(world, "小区门口道路破损")
    alerts.scan_new_cases()
    late = report(world, "工地拖欠工资，工人要集体上访")
    report(world, "小区路灯一直不亮")
    # The first report's transaction is "still open" when the scan runs: its event ids are not
    # visible yet, though the second report's higher ids are.
    held = list(CaseEvent.objects.filter(case=late).values())
    CaseEvent.objects.filter(case=late).delete()
    first = alerts.scan_new_cases()
    assert first.cases == 1 and not Alert.objects.filter(case=late).exists()
    gap_ids = {pk for pk, _seen in AlertCursor.objects.get().gaps}
    assert {row["id"] for row in held} <= gap_ids
    # Now it commits, below the mark.
    CaseEvent.objects.bulk_create([CaseEvent(**row) for row in held])
    second = alerts.scan_new_cases()
    assert second.cases == 1 and Alert.objects.filter(case=late, kind=AlertKind.RISK).exists()
    assert not {row["id"] for row in held} & {pk for pk, _seen in AlertCursor.objects.get().gaps}
    assert alerts.scan_new_cases().cases == 0


def test_a_gap_is_given_up_after_the_overlap(world: World) -> None:
    report(world, "小区门口道路破损")
    alerts.scan_new_cases()
    lost = report(world, "小区路灯一直不亮")
    report(world, "路口井盖丢失很危险")
    CaseEvent.objects.filter(case=lost).delete()  # rolled back: the ids stay empty for good
    alerts.scan_new_cases()
    assert AlertCursor.objects.get().gaps
    alerts.scan_new_cases(now=timezone.now() + alerts.OVERLAP + dt.timedelta(seconds=1))
    assert AlertCursor.objects.get().gaps == []


def test_a_scan_queued_after_commit_runs_in_the_worker(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        case = report(world, "有人在河边溺水")
        alerts.scan_after_commit()
    assert Alert.objects.filter(case=case, kind=AlertKind.RISK).exists()


# --- spikes --------------------------------------------------------------------------------------


def test_spike_threshold_is_mean_plus_three_sd() -> None:
    mean, sd, threshold = alerts.spike_threshold([1, 3] * 14)
    assert (mean, sd, threshold) == (2.0, 1.0, 5.0)


def test_find_spikes_on_hand_made_counts() -> None:
    key_quiet, key_busy, key_new, key_small = ("410302001", 1), ("410302001", 2), ("410303001", 1), ("410303001", 2)
    history = {
        key_quiet: [1, 3] * 14,  # mean 2, sd 1: threshold 5
        key_busy: [10, 14] * 14,  # mean 12, sd 2: threshold 18
        key_small: [0] * 28,
    }
    current = {key_quiet: 6, key_busy: 15, key_new: 5, key_small: 4}
    spikes = {(s.town_prefix, s.category_id): s for s in find_spikes(current, history)}
    # Above the baseline: a spike; a busy group's ordinary day is not; a group with no history
    # spikes at the minimum; below the minimum never, whatever the baseline.
    assert set(spikes) == {key_quiet, key_new}
    assert spikes[key_quiet].threshold == 5.0 and spikes[key_quiet].count == 6
    assert find_spikes({key_quiet: 5}, history) == []  # not above the threshold
    assert find_spikes({key_small: 4}, {}) == []  # below the minimum of 5


def test_detect_spikes_raises_one_alert_per_town_category_and_day(world: World) -> None:
    now = timezone.now()
    sub = Category.objects.get(code="roads-damage")
    top = sub.parent
    for hours in range(1, 7):
        make_case(world, created_at=now - dt.timedelta(hours=hours), category=sub)
    # A quiet baseline in town A, a busy one in town B that stays below its threshold.
    make_case(world, created_at=now - dt.timedelta(days=3), category=sub)
    for day in range(1, 29):
        for _ in range(6):
            make_case(world, region=world.village_b1, created_at=now - dt.timedelta(days=day, hours=2), category=sub)
    for hours in range(1, 7):
        make_case(world, region=world.village_b1, created_at=now - dt.timedelta(hours=hours), category=sub)
    # A case placed only at the city level has no town: never counted.
    for hours in range(1, 7):
        make_case(world, region=world.city, created_at=now - dt.timedelta(hours=hours), category=sub)

    raised = alerts.detect_spikes(now=now)
    assert len(raised) == 1
    alert = raised[0]
    assert alert.kind == AlertKind.SPIKE and alert.case is None
    assert alert.region_code == world.town_a.code and alert.region == world.town_a
    assert alert.category == top and alert.day == timezone.localtime(now).date()
    assert alert.data["count"] == 6 and "西关街道" in alert.reason and "道路桥梁" in alert.reason
    assert alert_notifications(world.user("town_dispatcher")) and alert_notifications(world.user("leader"))
    assert not alert_notifications(world.user("town_dispatcher_b"))
    # Ten minutes later the same spike is the same alert.
    assert alerts.detect_spikes(now=now + dt.timedelta(minutes=10)) == []
    assert Alert.objects.filter(kind=AlertKind.SPIKE).count() == 1


# --- repeat complainants -------------------------------------------------------------------------


def test_a_reporters_third_case_in_thirty_days_raises_one_alert(world: World) -> None:
    citizen = world.user("citizen")
    first = report(world, "路灯不亮已经一周", reporter=citizen)
    second = report(world, "门口的路灯还是不亮", reporter=citizen)
    assert alerts.repeat_reporter_draft(first) is None and alerts.repeat_reporter_draft(second) is None
    third = report(world, "反映多次了，路灯依旧不亮", reporter=citizen)
    raised = alerts.scan_new_cases().alerts
    repeat = [a for a in raised if a.kind == AlertKind.REPEAT_REPORTER]
    assert [a.case for a in repeat] == [third]
    assert "30 天内反映 3 件" in repeat[0].reason
    assert citizen.display_name not in repeat[0].reason  # the reason names no one
    fourth = report(world, "第四次反映路灯", reporter=citizen)
    assert alerts.repeat_reporter_draft(fourth) is None  # once per reporter per window


def test_anonymous_and_patrol_reports_are_not_repeat_complaints(world: World) -> None:
    worker = world.user("grid_worker")
    cases = [report(world, f"巡查发现道路破损 {i}", reporter=worker, channel=Channel.PATROL) for i in range(4)]
    assert alerts.repeat_reporter_draft(cases[-1]) is None
    old = timezone.now() - dt.timedelta(days=40)
    for _ in range(2):
        make_case(world, reporter=world.user("citizen2"), created_at=old)
    case = make_case(world, reporter=world.user("citizen2"))
    assert alerts.repeat_reporter_draft(case) is None  # the earlier two are outside the window


def test_a_repeat_chain_of_two_raises_an_alert(world: World) -> None:
    a = make_case(world, title="排水沟堵塞")
    b = make_case(world, title="排水沟又堵了", repeat_of=a)
    c = make_case(world, title="排水沟第三次堵塞", repeat_of=b)
    assert alerts.repeat_chain_draft(b) is None
    [alert] = [x for x in alerts.scan_case(c) if x.kind == AlertKind.REPEAT_CHAIN]
    assert alert.case == c and alert.severity == AlertSeverity.MEDIUM
    assert a.number in alert.reason and "第 3 次" in alert.reason
    assert alert.data["chain"] == [b.number, a.number]
    # While that alert waits, a further repeat of the chain adds nothing; once acknowledged, it is news.
    d = make_case(world, title="排水沟第四次堵塞", repeat_of=c)
    assert alerts.repeat_chain_draft(d) is None
    alerts.alert_acknowledge(alert=alert, user=world.user("town_dispatcher"))
    later = alerts.repeat_chain_draft(d)
    assert later is not None and "第 4 次" in later.reason


def test_a_repeat_chain_stops_at_a_letter_at_a_loop_and_at_its_limit(world: World) -> None:
    letter = make_case(world, title="书记信箱来信", channel=Channel.MAILBOX)
    a = make_case(world, title="排水沟堵塞", repeat_of=letter)
    b = make_case(world, title="排水沟又堵了", repeat_of=a)
    c = make_case(world, title="排水沟第三次堵塞", repeat_of=b)
    assert [x.pk for x in alerts.repeat_chain(c)] == [b.pk, a.pk]  # never the letter
    Case.objects.filter(pk=a.pk).update(repeat_of=c)  # a loop nobody should make
    assert [x.pk for x in alerts.repeat_chain(c)] == [b.pk, a.pk]
    links = [a]
    for n in range(6):
        links.append(make_case(world, title=f"排水沟第{n}次", repeat_of=links[-1]))
    assert len(alerts.repeat_chain(links[-1], limit=4)) == 4
    assert alerts.repeat_chain(letter) == []


# --- the pages -----------------------------------------------------------------------------------


@pytest.fixture
def town_a_alert(world: World) -> Alert:
    case = report(world, "有人扬言要报复村干部")
    [alert] = alerts.scan_case(case)
    return alert


def as_user(client: Client, world: World, name: str) -> Client:
    client.force_login(world.user(name))
    return client


def test_the_alerts_page_lists_only_alerts_in_the_viewers_scope(
    world: World, client: Client, town_a_alert: Alert
) -> None:
    url = reverse("alerts:list")
    html = as_user(client, world, "town_dispatcher").get(url).content.decode()
    assert f'data-testid="alert-row" data-pk="{town_a_alert.pk}"' in html
    assert "命中高风险词：‘报复’（暴力）" in html
    assert reverse("cases:detail", args=[town_a_alert.case_id]) in html  # type: ignore[arg-type]

    other = Client()
    other.force_login(world.user("town_dispatcher_b"))
    response = other.get(url)
    assert response.status_code == 200
    assert 'data-testid="alert-row"' not in response.content.decode()
    assert other.get(reverse("alerts:detail", args=[town_a_alert.pk])).status_code == 404
    assert other.post(reverse("alerts:acknowledge", args=[town_a_alert.pk])).status_code == 404

    leader = Client()
    leader.force_login(world.user("leader"))
    assert f'data-pk="{town_a_alert.pk}"' in leader.get(url).content.decode()


# The three administrator roles get 404 here instead: sizhi/authz/matrix.py (CONSOLE_PAGES).
@pytest.mark.parametrize("name", ["citizen", "citizen2"])
def test_citizens_get_403(world: World, client: Client, name: str) -> None:
    as_user(client, world, name)
    for url in (reverse("alerts:list"), reverse("alerts:briefings")):
        assert client.get(url).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(db: None, client: Client) -> None:
    response = client.get(reverse("alerts:list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_filters_and_acknowledging(world: World, client: Client, town_a_alert: Alert) -> None:
    as_user(client, world, "town_dispatcher")
    url = reverse("alerts:list")
    assert f'data-pk="{town_a_alert.pk}"' in client.get(url, {"kind": "risk"}).content.decode()
    assert f'data-pk="{town_a_alert.pk}"' not in client.get(url, {"kind": "spike"}).content.decode()
    assert f'data-pk="{town_a_alert.pk}"' not in client.get(url, {"acknowledged": "yes"}).content.decode()

    response = client.post(reverse("alerts:acknowledge", args=[town_a_alert.pk]), {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == url
    town_a_alert.refresh_from_db()
    assert town_a_alert.acknowledged_by == world.user("town_dispatcher")
    assert town_a_alert.acknowledged_at is not None
    assert f'data-pk="{town_a_alert.pk}"' in client.get(url, {"acknowledged": "yes"}).content.decode()
    assert f'data-pk="{town_a_alert.pk}"' not in client.get(url, {"acknowledged": "no"}).content.decode()
    # Acknowledging again keeps the first acknowledgement.
    leader = Client()
    leader.force_login(world.user("leader"))
    leader.post(reverse("alerts:acknowledge", args=[town_a_alert.pk]))
    town_a_alert.refresh_from_db()
    assert town_a_alert.acknowledged_by == world.user("town_dispatcher")


def test_a_grid_worker_sees_but_may_not_acknowledge(world: World, client: Client, town_a_alert: Alert) -> None:
    as_user(client, world, "grid_worker")
    detail = client.get(reverse("alerts:detail", args=[town_a_alert.pk]))
    assert detail.status_code == 200 and 'data-testid="alert-acknowledge"' not in detail.content.decode()
    assert client.post(reverse("alerts:acknowledge", args=[town_a_alert.pk])).status_code == 403
    assert client.get(reverse("alerts:acknowledge", args=[town_a_alert.pk])).status_code == 405


# --- the worker's clock --------------------------------------------------------------------------


def test_local_crontab_reads_shanghai_time() -> None:
    from huey.contrib.djhuey import HUEY

    from sizhi.insight.tasks_alerts import local_crontab

    seven = local_crontab(hour="7", minute="0")
    if HUEY.utc:
        assert seven(dt.datetime(2026, 3, 1, 23, 0))  # 07:00 in Shanghai
        assert not seven(dt.datetime(2026, 3, 2, 7, 0))  # 15:00 in Shanghai
    assert seven(dt.datetime(2026, 3, 1, 23, 0, tzinfo=dt.UTC))
    monday = local_crontab(day_of_week="1", hour="7", minute="30")
    assert monday(dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC))  # Monday 2 March, 07:30 local
    assert not monday(dt.datetime(2026, 3, 2, 23, 30, tzinfo=dt.UTC))
