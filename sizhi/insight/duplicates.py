"""并案 suggestions: open cases that look like the same problem at the same place.

`similar_open_cases` asks the database for a bounded set of candidates (open, recent, inside a
bounding box, never a secretary-mailbox letter) and hands them to `score_candidates`, a pure
function: distance by haversine, wording by the cosine of character-bigram vectors of title and
description, a small boost for the same category. A dispatcher sees the suggestions and decides;
nothing here merges anything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from sizhi.accounts.models import User
from sizhi.cases.models import Case, Category
from sizhi.cases.permissions import case_scope_q
from sizhi.cases.workflow import OPEN_STATUSES, Channel
from sizhi.insight import textsim

EARTH_RADIUS_M = 6371008.8
MAX_CANDIDATES = 500  # newest first: a bounded query whatever the density of cases
MIN_TEXT_SIMILARITY = 0.25  # below this two descriptions are about different things
CATEGORY_BOOST = 0.10
# Letters to the party secretary are confidential: never offered as someone else's duplicate.
CONFIDENTIAL_CHANNELS = frozenset({Channel.MAILBOX})

# Politeness and complaint boilerplate shared by unrelated reports ("尊敬的领导您好，希望尽快解决").
_BOILERPLATE = re.compile(
    "|".join(sorted((w for w in textsim.STOPWORDS if len(w) > 1), key=len, reverse=True))
    + "|尽快|处理|解决|谢谢|您好|麻烦"
)


@dataclass(frozen=True)
class Suggestion:
    case_id: int
    score: float
    distance_m: float
    reason: str


@dataclass(frozen=True)
class Candidate:
    """The few fields of an open case the scorer needs."""

    case_id: int
    title: str
    description: str
    lat: float
    lng: float
    category_id: int | None = None
    number: str = ""


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def bounding_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) enclosing the circle, for an indexable prefilter;
    the exact distance is checked afterwards."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    # Near the poles a degree of longitude shrinks to nothing: fall back to all longitudes.
    cos_lat = math.cos(math.radians(lat))
    dlng = 180.0 if cos_lat < 1e-6 else min(180.0, math.degrees(radius_m / (EARTH_RADIUS_M * cos_lat)))
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


def text_vector(text: str) -> dict[str, float]:
    """Character bigrams of the text without boilerplate: robust to jieba's mistakes on new
    names and typos, and cheap enough for hundreds of candidates per report."""
    cleaned = _BOILERPLATE.sub(" ", textsim.normalise(text))
    return textsim.tf_vector(textsim.char_ngrams(cleaned, 2))


def score_candidates(
    *,
    text: str,
    lat: float,
    lng: float,
    candidates: Iterable[Candidate],
    category_id: int | None = None,
    radius_m: float = 250.0,
    limit: int = 5,
    min_text_similarity: float = MIN_TEXT_SIMILARITY,
) -> list[Suggestion]:
    """Rank candidates that are within `radius_m` and worded alike, best first.

    score = text cosine x (1 - 0.3 x distance / radius) + 0.10 for the same category (at most
    1): wording decides, nearness breaks ties, a matching category helps a borderline pair.
    """
    query = text_vector(text)
    if not query:
        return []
    out: list[Suggestion] = []
    for c in candidates:
        distance = haversine_m(lat, lng, c.lat, c.lng)
        if distance > radius_m:
            continue
        similarity = textsim.cosine(query, text_vector(f"{c.title}\n{c.description}"))
        if similarity < min_text_similarity:
            continue
        same_category = category_id is not None and c.category_id == category_id
        score = similarity * (1.0 - 0.3 * distance / radius_m) + (CATEGORY_BOOST if same_category else 0.0)
        reason = f"相距约 {distance:.0f} 米，描述相似度 {similarity:.2f}" + ("，同一类别" if same_category else "")
        out.append(Suggestion(case_id=c.case_id, score=round(min(score, 1.0), 3), distance_m=round(distance, 1),
                              reason=reason))
    out.sort(key=lambda s: (-s.score, s.distance_m, s.case_id))
    return out[:limit]


def candidate_cases(
    *,
    lat: float,
    lng: float,
    radius_m: float,
    days: int,
    exclude_case_id: int | None = None,
    visible_to: User | AnonymousUser | None = None,
    now: datetime | None = None,
) -> list[Candidate]:
    """Open, recent, nearby, non-confidential cases: one bounded query (status, creation time
    and a latitude/longitude box, newest first, at most MAX_CANDIDATES rows)."""
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius_m)
    since = (now or timezone.now()) - timedelta(days=days)
    qs = Case.objects.filter(
        status__in=list(OPEN_STATUSES),
        created_at__gte=since,
        lat__gte=min_lat, lat__lte=max_lat, lng__gte=min_lng, lng__lte=max_lng,
    ).exclude(channel__in=list(CONFIDENTIAL_CHANNELS))
    if any(f.name == "is_confidential" for f in Case._meta.get_fields()):
        qs = qs.filter(**{"is_confidential": False})
    if exclude_case_id is not None:
        qs = qs.exclude(pk=exclude_case_id)
    if visible_to is not None:
        # A dispatcher is only shown cases they could open: suggestions must not reveal others.
        scope = case_scope_q(visible_to)
        if scope is None:
            return []
        qs = qs.filter(scope)
    rows = qs.order_by("-created_at", "-id").values_list(
        "pk", "title", "description", "lat", "lng", "category_id", "number"
    )[:MAX_CANDIDATES]
    return [
        Candidate(case_id=pk, title=title, description=description, lat=c_lat, lng=c_lng,
                  category_id=category_id, number=number)
        for pk, title, description, c_lat, c_lng, category_id, number in rows
        if c_lat is not None and c_lng is not None  # always true inside the box; for the type checker
    ]


def similar_open_cases(
    *,
    text: str,
    lat: float | None,
    lng: float | None,
    category: Category | int | None = None,
    exclude_case_id: int | None = None,
    radius_m: float = 250,
    days: int = 30,
    limit: int = 5,
    visible_to: User | AnonymousUser | None = None,
) -> list[Suggestion]:
    """Open cases that may be the same problem as `text` at (lat, lng), best first.

    Without a location there is nothing to compare against, so nothing is suggested. Pass
    `visible_to` when the list is shown to a staff member, so it stays within their scope.
    """
    if lat is None or lng is None or not (text or "").strip():
        return []
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        return []
    category_id = category.pk if isinstance(category, Category) else category
    candidates = candidate_cases(
        lat=lat, lng=lng, radius_m=radius_m, days=days, exclude_case_id=exclude_case_id, visible_to=visible_to
    )
    return score_candidates(
        text=text, lat=lat, lng=lng, candidates=candidates, category_id=category_id, radius_m=radius_m, limit=limit
    )
