"""Early warnings (预警): detectors that read new cases and the case flow, and the services that
raise an Alert once and tell the command centre.

Detectors
- high-risk content (`risk_draft`): the active RiskTerm rows matched on the cleaned title and
  description (white space removed, negated hits such as "没有裂缝" skipped), plus, when a
  classifier model is active, its label when it is one of SIZHI_ALERT_CLASSIFIER_LABELS;
- repeat complainants (`repeat_reporter_draft`, `repeat_chain_draft`): a named reporter with
  REPEAT_REPORTER_MIN or more cases within REPEAT_WINDOW (at most one alert per reporter per
  window), or a case whose repeat_of chain is REPEAT_CHAIN_MIN or more links long (not while an
  alert on an earlier link of the chain waits to be acknowledged);
- spikes (`find_spikes`, `detect_spikes`): per town and top-level category, the count of the
  last 24 hours against the previous 28 days' daily counts: a spike when the count is at least
  SPIKE_MINIMUM and above mean + 3·sd.

When
- `scan_new_cases()` reads the case events (上报 and 立案) written since its high-water mark and
  runs every case detector on their cases; the worker runs it every minute, and
  `scan_after_commit()` queues a run the moment a report is committed;
- `detect_spikes()` runs every ten minutes.

Raising (`raise_alert`) is idempotent: the Alert table has one unique constraint per (kind, case)
and one per (kind, town, category, day), so a scan repeated, or run by two workers at once,
raises nothing twice and tells nobody twice. Secretary-mailbox letters (书记信箱) are confidential:
no detector ever reads them, counts them or links to them.

Who is told (`recipients`): the dispatchers of the centre that manages the place (the case's
current level; the town for a spike; the lowest staffed centre above when that one has none)
and the leaders whose scope holds it: an inbox message each, and an SMS when the severity is high.
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sizhi.accounts.models import ADMIN_ROLES, DISPATCHER_ROLES, Membership, Role, User
from sizhi.accounts.selectors import active_memberships
from sizhi.cases.models import Case, CaseEvent, Category
from sizhi.cases.text import clean_text
from sizhi.cases.transitions import choose_dispatchers, dispatcher_memberships, dispatchers_for
from sizhi.cases.workflow import CaseAction, Channel
from sizhi.insight.lexicon import NEGATION_WINDOW, NEGATIONS
from sizhi.insight.models import Alert, AlertCursor, AlertKind, AlertSeverity, RiskKind, RiskTerm
from sizhi.notify.services import notify_users
from sizhi.ops.nudge import nudge
from sizhi.regions.models import Region, RegionLevel

logger = logging.getLogger("sizhi.insight.alerts")

AnyUser = User | AnonymousUser | None

# --- tunables ------------------------------------------------------------------------------------

REPEAT_WINDOW = timedelta(days=30)
REPEAT_REPORTER_MIN = 3
REPEAT_REPORTER_HIGH = 5
REPEAT_CHAIN_MIN = 2
REPEAT_CHAIN_HIGH = 4
# Channels through which a person complains in their own name. A grid worker files many patrol
# reports a month, and a device or another system is nobody's complaint.
COMPLAINT_CHANNELS = frozenset({Channel.APP, Channel.HOTLINE})

SPIKE_WINDOW = timedelta(hours=24)
SPIKE_BASELINE_DAYS = 28
SPIKE_MINIMUM = 5
SPIKE_SIGMAS = 3.0

SEVERITY_HIGH_WEIGHT = 8
SEVERITY_MEDIUM_WEIGHT = 5

# Classifier labels that are a risk in themselves (the labels of the public 12345 message set;
# a model trained on this city's cases labels by category code instead). Settings may replace it.
DEFAULT_CLASSIFIER_LABELS: dict[str, str] = {"劳动和社会保障": RiskKind.WAGE_ARREARS}
DEFAULT_CLASSIFIER_CONFIDENCE = 0.8

CURSOR_NAME = "case_events"
SCANNED_ACTIONS = (CaseAction.SUBMIT, CaseAction.REGISTER)
# The first scan of a fresh installation reads this far back, not the whole history.
FIRST_SCAN_LOOKBACK = timedelta(days=1)
# Ids below the high-water mark that held no committed event when a scan passed them are read
# again for this long: a transaction that took its id before the mark but committed after the
# scan is still seen. Longer than any request may hold a transaction open.
OVERLAP = timedelta(minutes=10)
# Gaps kept at most (the newest): real ones are the handful of transactions in flight; more means
# rows were deleted or rolled back in bulk, which no late commit can fill.
MAX_GAPS = 10_000
SCAN_BATCH = 500
# Seconds between a report's commit and the scan it queues; the reports of those seconds share it.
SCAN_DELAY = 2

_WHITESPACE = re.compile(r"\s+")
_CLAUSE_BREAK = re.compile(r"[，,。.！!？?；;：:、\n（）()“”\"'…]")


# --- drafts --------------------------------------------------------------------------------------


@dataclass
class AlertDraft:
    """What a detector found; raise_alert turns it into one Alert row."""

    kind: str
    severity: str
    reason: str
    region_code: str
    case: Case | None = None
    category: Category | None = None
    day: date | None = None  # for alerts without a case
    data: dict[str, Any] = field(default_factory=dict)


def severity_for_weight(weight: int) -> str:
    if weight >= SEVERITY_HIGH_WEIGHT:
        return AlertSeverity.HIGH
    if weight >= SEVERITY_MEDIUM_WEIGHT:
        return AlertSeverity.MEDIUM
    return AlertSeverity.LOW


def _confidential(case: Case) -> bool:
    return case.channel == Channel.MAILBOX


# --- high-risk content ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    term: str
    kind: str
    weight: int


@dataclass(frozen=True)
class TermHit:
    term: str
    kind: str
    weight: int
    position: int

    @property
    def kind_label(self) -> str:
        return str(RiskKind(self.kind).label) if self.kind in RiskKind.values else self.kind


def active_terms() -> list[Term]:
    """The active lexicon, heaviest first."""
    return [
        Term(term, kind, weight)
        for term, kind, weight in RiskTerm.objects.filter(is_active=True)
        .order_by("-weight", "term")
        .values_list("term", "kind", "weight")
    ]


def _squeeze(text: str) -> str:
    return _WHITESPACE.sub("", clean_text(text))


def _negated(text: str, at: int) -> bool:
    """A negation in the same clause, within NEGATION_WINDOW characters before the hit; a
    one-character one ("无", "未") only right before it."""
    window = _CLAUSE_BREAK.split(text[max(0, at - NEGATION_WINDOW):at])[-1]
    for word in NEGATIONS:
        if len(word) == 1:
            if window.endswith(word):
                return True
        elif word in window:
            return True
    return False


def match_terms(text: str, terms: Iterable[Term]) -> list[TermHit]:
    """Every term that occurs in the text at least once without a negation before it, heaviest
    first, then in the order they appear."""
    squeezed = _squeeze(text)
    hits: dict[str, TermHit] = {}
    for t in terms:
        needle = _squeeze(t.term)
        if not needle or needle in hits:
            continue
        start = squeezed.find(needle)
        while start != -1:
            if not _negated(squeezed, start):
                hits[needle] = TermHit(needle, t.kind, t.weight, start)
                break
            start = squeezed.find(needle, start + 1)
    return sorted(hits.values(), key=lambda h: (-h.weight, h.position, h.term))


def _classifier_hint(case: Case) -> tuple[str, float, str] | None:
    """(label, confidence, risk kind) when the active classifier's label is a risk in itself."""
    labels: Mapping[str, str] = getattr(settings, "SIZHI_ALERT_CLASSIFIER_LABELS", DEFAULT_CLASSIFIER_LABELS)
    if not labels:
        return None
    minimum = float(getattr(settings, "SIZHI_ALERT_CLASSIFIER_CONFIDENCE", DEFAULT_CLASSIFIER_CONFIDENCE))
    # Imported here: the classifier pulls in numpy and scikit-learn, which a plain scan without
    # a model does not need.
    from sizhi.insight.services import suggest_category

    try:
        prediction = suggest_category(title=case.title, detail=case.description)
    except Exception:  # a suggestion is advice: a broken model must not stop the scan
        logger.exception("classifier failed on case %s", case.pk)
        return None
    if prediction is None or prediction.label not in labels or prediction.confidence < minimum:
        return None
    return prediction.label, prediction.confidence, labels[prediction.label]


def risk_draft(case: Case, terms: Sequence[Term] | None = None) -> AlertDraft | None:
    if _confidential(case):
        return None
    hits = match_terms(f"{case.title}\n{case.description}", active_terms() if terms is None else terms)
    hint = _classifier_hint(case)
    if not hits and hint is None:
        return None
    parts: list[str] = []
    if hits:
        words = "、".join(
            _("‘%(term)s’（%(kind)s）") % {"term": h.term, "kind": h.kind_label} for h in hits[:5]
        )
        parts.append(_("命中高风险词：%(words)s") % {"words": words})
    if hint is not None:
        parts.append(
            _("智能分类为“%(label)s”（置信度 %(confidence)d%%）")
            % {"label": hint[0], "confidence": round(hint[1] * 100)}
        )
    severity = severity_for_weight(max(h.weight for h in hits)) if hits else AlertSeverity.LOW
    return AlertDraft(
        kind=AlertKind.RISK, severity=severity, reason="；".join(parts), region_code=case.region_code,
        case=case, category=case.category,
        data={
            "terms": [{"term": h.term, "kind": h.kind, "weight": h.weight} for h in hits],
            **({"classifier": {"label": hint[0], "confidence": round(hint[1], 3), "kind": hint[2]}} if hint else {}),
        },
    )


# --- repeat complaints ---------------------------------------------------------------------------


def repeat_reporter_draft(case: Case) -> AlertDraft | None:
    """A named reporter's REPEAT_REPORTER_MIN-th (or later) case within REPEAT_WINDOW; once per
    reporter per window, so a person writing every day does not flood the centre."""
    if _confidential(case) or case.is_anonymous or case.reporter_id is None or case.channel not in COMPLAINT_CHANNELS:
        return None
    since = case.created_at - REPEAT_WINDOW
    recent = Case.objects.filter(
        reporter_id=case.reporter_id, is_anonymous=False, channel__in=list(COMPLAINT_CHANNELS),
        created_at__gte=since, created_at__lte=case.created_at,
    )
    count = recent.count()
    if count < REPEAT_REPORTER_MIN:
        return None
    already = Alert.objects.filter(
        kind=AlertKind.REPEAT_REPORTER, case__reporter_id=case.reporter_id, case__created_at__gte=since
    ).exclude(case=case)
    if already.exists():
        return None
    days = REPEAT_WINDOW.days
    return AlertDraft(
        kind=AlertKind.REPEAT_REPORTER,
        severity=AlertSeverity.HIGH if count >= REPEAT_REPORTER_HIGH else AlertSeverity.MEDIUM,
        reason=_("同一反映人 %(days)d 天内反映 %(count)d 件（含本件），请关注其诉求是否得到解决。")
        % {"days": days, "count": count},
        region_code=case.region_code, case=case, category=case.category,
        data={"count": count, "days": days},
    )


def repeat_chain(case: Case, limit: int = 50) -> list[Case]:
    """The earlier cases this one repeats, nearest first (repeat_of, its repeat_of, …), up to
    the first secretary-mailbox letter or a link seen before. Two queries however long the chain:
    the links are followed in the database (WITH RECURSIVE, on PostgreSQL and SQLite alike)."""
    if case.repeat_of_id is None:
        return []
    table = connection.ops.quote_name(Case._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH RECURSIVE link(id, repeat_of_id, channel, depth) AS (
                    SELECT id, repeat_of_id, channel, 1 FROM {table} WHERE id = %s
                    UNION ALL
                    SELECT c.id, c.repeat_of_id, c.channel, link.depth + 1
                    FROM {table} c JOIN link ON c.id = link.repeat_of_id
                    WHERE link.depth < %s AND link.channel <> %s
                )
                SELECT id, channel FROM link ORDER BY depth""",  # noqa: S608 - the table name is the model's own
            [case.repeat_of_id, limit, Channel.MAILBOX],
        )
        links = cursor.fetchall()
    ids: list[int] = []
    seen = {case.pk}
    for pk, channel in links:
        if channel == Channel.MAILBOX or pk in seen:
            break
        ids.append(pk)
        seen.add(pk)
    found = Case.objects.in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def repeat_chain_draft(case: Case) -> AlertDraft | None:
    if _confidential(case) or case.repeat_of_id is None:
        return None
    chain = repeat_chain(case)
    if len(chain) < REPEAT_CHAIN_MIN:
        return None
    # One open alert per chain: while the centre has not acknowledged the alert on an earlier
    # link, a further repeat adds nothing it does not know; after that, a new repeat is news.
    if Alert.objects.filter(
        kind=AlertKind.REPEAT_CHAIN, case__in=chain, acknowledged_at__isnull=True
    ).exists():
        return None
    return AlertDraft(
        kind=AlertKind.REPEAT_CHAIN,
        severity=AlertSeverity.HIGH if len(chain) >= REPEAT_CHAIN_HIGH else AlertSeverity.MEDIUM,
        reason=_("重复件：同一问题已第 %(n)d 次反映（最早 %(first)s），前案未能解决。")
        % {"n": len(chain) + 1, "first": chain[-1].number},
        region_code=case.region_code, case=case, category=case.category,
        data={"chain": [c.number for c in chain]},
    )


# --- raising and telling -------------------------------------------------------------------------


def _place_prefixes(region_code: str) -> list[str]:
    return [region_code[:n] for n in (4, 6, 9, 12)]


def leaders_for(region_code: str) -> list[User]:
    return [
        m.user for m in Membership.objects.filter(
            is_active=True, role=Role.LEADER, scope__prefix__in=_place_prefixes(region_code)
        ).select_related("user")
    ]


def recipients(alert: Alert) -> list[User]:
    if alert.case is not None:
        dispatchers = dispatchers_for(alert.case)
    else:
        dispatchers = choose_dispatchers(dispatcher_memberships(alert.region_code), RegionLevel.TOWN)
    users = {u.pk: u for u in [*dispatchers, *leaders_for(alert.region_code)] if u.is_active}
    return list(users.values())


def _subject(alert: Alert) -> str:
    if alert.case is not None:
        return _("【预警·%(kind)s】%(number)s %(title)s") % {
            "kind": alert.get_kind_display(), "number": alert.case.number, "title": alert.case.title,
        }
    place = alert.region.name if alert.region else alert.region_code
    category = alert.category.name if alert.category else ""
    return _("【预警·%(kind)s】%(place)s %(category)s") % {
        "kind": alert.get_kind_display(), "place": place, "category": category,
    }


def notify_alert(alert: Alert) -> int:
    return notify_users(
        users=recipients(alert), subject=_subject(alert)[:200], body=alert.reason,
        link=reverse("alerts:detail", args=[alert.pk]), sms=alert.severity == AlertSeverity.HIGH,
    )


def raise_alert(draft: AlertDraft, *, now: datetime | None = None) -> tuple[Alert, bool]:
    """The alert for this draft's subject: created and told about once, or the existing one."""
    if draft.case is not None:
        if _confidential(draft.case):
            raise ValueError("secretary-mailbox letters are never raised as alerts")
        lookup: dict[str, Any] = {"kind": draft.kind, "case": draft.case}
    else:
        lookup = {
            "kind": draft.kind, "case": None, "region_code": draft.region_code,
            "category": draft.category, "day": draft.day,
        }
    existing = Alert.objects.filter(**lookup).first()
    if existing is not None:
        return existing, False
    region = (
        draft.case.region if draft.case is not None else Region.objects.filter(code=draft.region_code).first()
    )
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=draft.kind, severity=draft.severity, reason=draft.reason[:1000],
                region_code=draft.region_code, region=region, case=draft.case, category=draft.category,
                day=draft.day, data=draft.data, created_at=now or timezone.now(),
            )
            notify_alert(alert)
    except IntegrityError:
        # Another scan raised it between our look and our insert.
        existing = Alert.objects.filter(**lookup).first()
        if existing is None:
            raise
        return existing, False
    return alert, True


CASE_DETECTORS = ("risk", "repeat_reporter", "repeat_chain")


def scan_case(case: Case, *, terms: Sequence[Term] | None = None) -> list[Alert]:
    """Run every case detector on one case and raise what they find; returns the new alerts.
    A secretary-mailbox letter is skipped whole."""
    if _confidential(case):
        return []
    drafts = [risk_draft(case, terms), repeat_reporter_draft(case), repeat_chain_draft(case)]
    raised: list[Alert] = []
    for draft in drafts:
        if draft is None:
            continue
        alert, created = raise_alert(draft)
        if created:
            raised.append(alert)
    return raised


# --- the scan of new cases -----------------------------------------------------------------------


@dataclass
class ScanResult:
    cases: int = 0
    alerts: list[Alert] = field(default_factory=list)
    last_id: int = 0


def scan_new_cases(*, now: datetime | None = None) -> ScanResult:
    """Scan the cases of every report (上报) and registration (立案) event written since the
    stored high-water mark, plus those of the gaps below it (see _gaps_below); move the mark on.
    Each event is read once, so a scan costs what was written since the last one, whatever the
    intake rate. Scans in several workers take turns on the cursor row."""
    now = now or timezone.now()
    AlertCursor.objects.get_or_create(name=CURSOR_NAME)
    with transaction.atomic():
        cursor = AlertCursor.objects.select_for_update().get(name=CURSOR_NAME)
        first = cursor.last_id == 0
        gaps = {int(pk): seen for pk, seen in cursor.gaps if datetime.fromisoformat(seen) >= now - OVERLAP}
        if first:
            window = Q(created_at__gte=now - FIRST_SCAN_LOOKBACK)
        else:
            window = Q(id__gt=cursor.last_id) | Q(id__in=list(gaps))
        events = (
            CaseEvent.objects.filter(window, action__in=list(SCANNED_ACTIONS))
            .exclude(case__channel=Channel.MAILBOX)
            .order_by("id")
            .values_list("id", "case_id")
        )
        result = ScanResult(last_id=cursor.last_id)
        terms = active_terms()
        seen: set[int] = set()
        batch: list[int] = []

        def flush() -> None:
            for case in Case.objects.filter(pk__in=batch).select_related("region", "category").order_by("id"):
                result.alerts.extend(scan_case(case, terms=terms))
                result.cases += 1
            batch.clear()

        for event_id, case_id in events.iterator(chunk_size=SCAN_BATCH):
            result.last_id = max(result.last_id, event_id)
            gaps.pop(event_id, None)
            if case_id in seen:
                continue
            seen.add(case_id)
            batch.append(case_id)
            if len(batch) >= SCAN_BATCH:
                flush()
        if batch:
            flush()
        if first:
            # Nothing read (a quiet first week): start from the newest event there is.
            newest = CaseEvent.objects.aggregate(m=Max("id"))["m"] or 0
            result.last_id = max(result.last_id, newest)
        else:
            stamp = now.isoformat()
            gaps.update((pk, stamp) for pk in _gaps_below(cursor.last_id, result.last_id))
        cursor.last_id = result.last_id
        cursor.gaps = sorted([pk, seen_at] for pk, seen_at in gaps.items())[-MAX_GAPS:]
        cursor.save(update_fields=["last_id", "gaps", "updated_at"])
    return result


def _gaps_below(low: int, high: int) -> list[int]:
    """Event ids in (low, high] that no committed event holds yet. On PostgreSQL an id is taken
    when the row is inserted, so a transaction still open when the scan passed it commits below
    the mark later; the next scans read those ids again for OVERLAP (then they were rolled back)."""
    if high <= low:
        return []
    present = set(CaseEvent.objects.filter(id__gt=low, id__lte=high).values_list("id", flat=True))
    return [pk for pk in range(low + 1, high + 1) if pk not in present]


def scan_after_commit() -> None:
    """Queue a scan for right after the current transaction commits (or now, outside one).
    cases.services.report_submit calls this so a report is scanned within seconds."""
    transaction.on_commit(_enqueue_scan)


def _enqueue_scan() -> None:
    # Imported late: the task module needs the configured queue.
    from sizhi.insight.tasks_alerts import alerts_scan_now

    # One scan per SCAN_DELAY however many reports arrive (ops.nudge); each reads what was
    # written since the last one.
    nudge(alerts_scan_now, key="alerts-scan", delay=SCAN_DELAY)


# --- spikes --------------------------------------------------------------------------------------


GroupKey = tuple[str, int]  # (town prefix, top-level category id)


@dataclass(frozen=True)
class Spike:
    town_prefix: str
    category_id: int
    count: int
    mean: float
    sd: float
    threshold: float


def spike_threshold(daily_counts: Sequence[int], *, sigmas: float = SPIKE_SIGMAS) -> tuple[float, float, float]:
    """(mean, population sd, mean + sigmas·sd) of the baseline's daily counts."""
    counts = list(daily_counts) or [0]
    mean = statistics.fmean(counts)
    sd = statistics.pstdev(counts)
    return mean, sd, mean + sigmas * sd


def find_spikes(
    current: Mapping[GroupKey, int],
    history: Mapping[GroupKey, Sequence[int]],
    *,
    minimum: int = SPIKE_MINIMUM,
    days: int = SPIKE_BASELINE_DAYS,
) -> list[Spike]:
    """Groups whose count in the window is at least `minimum` and above their baseline's
    mean + 3·sd. A group missing from `history` had no case in the baseline (all zeros)."""
    spikes: list[Spike] = []
    for key, count in sorted(current.items()):
        if count < minimum:
            continue
        daily = list(history.get(key, ()))
        daily += [0] * (days - len(daily))
        mean, sd, threshold = spike_threshold(daily[:days])
        if count > threshold:
            spikes.append(Spike(key[0], key[1], count, mean, sd, threshold))
    return spikes


def top_level_categories() -> dict[int, int]:
    """Category id → id of its top-level ancestor (itself at the top)."""
    parents = dict(Category.objects.values_list("id", "parent_id"))
    roots: dict[int, int] = {}
    for cid in parents:
        root, seen = cid, {cid}
        while parents.get(root) is not None and parents[root] not in seen:
            root = parents[root]
            seen.add(root)
        roots[cid] = root
    return roots


def town_prefix(region_code: str) -> str | None:
    """The 9-digit town part of a case's code, or None for a case not placed in a town yet."""
    if len(region_code) < 9 or region_code[6:9] == "000":
        return None
    return region_code[:9]


def spike_counts(now: datetime) -> tuple[Counter[GroupKey], dict[GroupKey, list[int]]]:
    """Counts per (town, top-level category): of the last 24 hours, and of each of the 28
    24-hour windows before it (index 0 the most recent). Letters and cases without a category
    or a town are not counted."""
    window_start = now - SPIKE_WINDOW
    since = window_start - SPIKE_WINDOW * SPIKE_BASELINE_DAYS
    roots = top_level_categories()
    current: Counter[GroupKey] = Counter()
    history: dict[GroupKey, list[int]] = defaultdict(lambda: [0] * SPIKE_BASELINE_DAYS)
    rows = (
        Case.objects.filter(created_at__gte=since, created_at__lt=now, category__isnull=False)
        .exclude(channel=Channel.MAILBOX)
        .values_list("region_code", "category_id", "created_at")
    )
    for code, category_id, created_at in rows.iterator(chunk_size=5000):
        town = town_prefix(code)
        if town is None or category_id not in roots:
            continue
        key = (town, roots[category_id])
        if created_at >= window_start:
            current[key] += 1
        else:
            index = int((window_start - created_at) / SPIKE_WINDOW)
            if 0 <= index < SPIKE_BASELINE_DAYS:
                history[key][index] += 1
    return current, dict(history)


def spike_draft(
    spike: Spike, *, day: date, towns: Mapping[str, Region], categories: Mapping[int, Category]
) -> AlertDraft:
    town = towns.get(spike.town_prefix)
    category = categories[spike.category_id]
    town_code = spike.town_prefix + "000"
    high = spike.count >= 2 * max(spike.threshold, SPIKE_MINIMUM)
    return AlertDraft(
        kind=AlertKind.SPIKE,
        severity=AlertSeverity.HIGH if high else AlertSeverity.MEDIUM,
        reason=_(
            "%(town)s“%(category)s”类案件 24 小时内新增 %(count)d 件，近 %(days)d 天日均 %(mean).1f 件，"
            "预警线为日均加 3 倍标准差（%(threshold).1f 件），且不少于 %(minimum)d 件。"
        ) % {
            "town": town.name if town else town_code, "category": category.name, "count": spike.count,
            "days": SPIKE_BASELINE_DAYS, "mean": spike.mean, "threshold": spike.threshold, "minimum": SPIKE_MINIMUM,
        },
        region_code=town.code if town else town_code, category=category, day=day,
        data={
            "count": spike.count, "mean": round(spike.mean, 3), "sd": round(spike.sd, 3),
            "threshold": round(spike.threshold, 3), "minimum": SPIKE_MINIMUM,
        },
    )


def detect_spikes(*, now: datetime | None = None) -> list[Alert]:
    """Raise an alert for each (town, top-level category) spiking now; once per group per day."""
    now = now or timezone.now()
    current, history = spike_counts(now)
    spikes = find_spikes(current, history)
    if not spikes:
        return []
    towns = {
        r.prefix: r for r in Region.objects.filter(
            level=RegionLevel.TOWN, prefix__in=[s.town_prefix for s in spikes]
        )
    }
    categories = Category.objects.in_bulk([s.category_id for s in spikes])
    day = timezone.localtime(now).date()
    raised: list[Alert] = []
    for spike in spikes:
        alert, created = raise_alert(spike_draft(spike, day=day, towns=towns, categories=categories), now=now)
        if created:
            raised.append(alert)
    return raised


# --- reading -------------------------------------------------------------------------------------


def scope_prefixes(user: AnyUser) -> list[str]:
    """Region prefixes of the user's non-admin memberships (grid workers: their village)."""
    return sorted({
        m.scope.prefix for m in active_memberships(user) if m.role not in ADMIN_ROLES and m.scope is not None
    })


def _prefix_q(prefixes: Iterable[str], field_name: str = "region_code") -> Q | None:
    combined: Q | None = None
    for prefix in prefixes:
        q = Q(**{f"{field_name}__startswith": prefix})
        combined = q if combined is None else combined | q
    return combined


def alerts_for_user(user: AnyUser, *, kind: str | None = None, acknowledged: bool | None = None) -> QuerySet[Alert]:
    """Alerts whose place lies in one of the user's scopes; none for admins and citizens."""
    scope = _prefix_q(scope_prefixes(user))
    if scope is None:
        return Alert.objects.none()
    qs = Alert.objects.filter(scope)
    if kind and kind in AlertKind.values:
        qs = qs.filter(kind=kind)
    if acknowledged is not None:
        qs = qs.filter(acknowledged_at__isnull=not acknowledged)
    return qs.select_related("case", "category", "region", "acknowledged_by")


def can_acknowledge(user: AnyUser, alert: Alert) -> bool:
    """The people alerts are raised to: dispatchers and leaders whose scope holds the place."""
    return any(
        (m.role in DISPATCHER_ROLES or m.role == Role.LEADER)
        and m.scope is not None and alert.region_code.startswith(m.scope.prefix)
        for m in active_memberships(user)
    )


def alert_acknowledge(*, alert: Alert, user: User) -> bool:
    """Mark the alert as seen to; False when someone already had (the first one stays)."""
    if not can_acknowledge(user, alert):
        raise PermissionError("not allowed to acknowledge this alert")
    now = timezone.now()
    done = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_by=user, acknowledged_at=now
    )
    if done:
        alert.acknowledged_by, alert.acknowledged_at = user, now
    return bool(done)
