"""Reads the citizen pages need that no domain app offers yet: the category picker, the grid
outlines of a map view, and the photos a reporter may see."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import QuerySet
from django.utils.functional import Promise

from sizhi.cases.models import Attachment, AttachmentKind, Case, Category
from sizhi.regions.models import Grid

ChoiceGroup = tuple[str, list[tuple[str, str]]]
Choice = tuple[str, str] | ChoiceGroup


def category_choices(blank_label: str | Promise) -> list[Choice]:
    """Active categories as a two-level choice list: each top-level category is a group of its
    active children; a top-level category without children is a choice itself. One query."""
    rows = list(Category.objects.filter(is_active=True).order_by("order", "code").values("pk", "name", "parent_id"))
    children: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        if row["parent_id"] is not None:
            children[row["parent_id"]].append((str(row["pk"]), row["name"]))
    choices: list[Choice] = [("", str(blank_label))]
    # A child of an inactive parent is not offered: the parent's row is not among the active ones.
    for row in rows:
        if row["parent_id"] is None:
            kids = children.get(row["pk"])
            choices.append((row["name"], kids) if kids else (str(row["pk"]), row["name"]))
    return choices


def grids_in_bbox(
    min_lng: float, min_lat: float, max_lng: float, max_lat: float, *, limit: int
) -> tuple[list[Grid], bool]:
    """Grids whose bounding box meets the given box, at most `limit` of them, and whether
    more exist. Only the columns a map outline needs are read."""
    qs = (
        Grid.objects.filter(max_lng__gte=min_lng, min_lng__lte=max_lng, max_lat__gte=min_lat, min_lat__lte=max_lat)
        .select_related("village")
        .only("pk", "name", "boundary", "village__name")
        .order_by("code")
    )
    grids = list(qs[: limit + 1])
    return grids[:limit], len(grids) > limit


def report_photos(case: Case) -> QuerySet[Attachment]:
    """The photos the reporter sent; handling photos are for staff."""
    return Attachment.objects.filter(case=case, kind=AttachmentKind.REPORT).order_by("created_at", "id")
