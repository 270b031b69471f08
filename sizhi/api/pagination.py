"""`page` / `page_size` pagination with `count`, `next`, `previous` and `results`, the same on
every list of the API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest

from sizhi.api.schemas import PageQuery

M = TypeVar("M", bound=Model)


def _page_url(request: HttpRequest, page: int) -> str:
    params = request.GET.copy()
    params["page"] = str(page)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


def paginate(
    request: HttpRequest,
    items: QuerySet[M] | Sequence[M],
    query: PageQuery,
    serialize: Callable[[M], Any],
) -> dict[str, Any]:
    """One page of `items`. A page past the end is empty (with `previous` pointing back) rather
    than an error, so that a list that shrank while a client paged through it stays readable."""
    count = items.count() if isinstance(items, QuerySet) else len(items)
    offset = (query.page - 1) * query.page_size
    rows = list(items[offset : offset + query.page_size]) if offset < count else []
    has_next = offset + query.page_size < count
    previous_page = min(query.page - 1, max((count - 1) // query.page_size + 1, 1))
    return {
        "count": count,
        "next": _page_url(request, query.page + 1) if has_next else None,
        "previous": _page_url(request, previous_page) if query.page > 1 else None,
        "results": [serialize(row) for row in rows],
    }
