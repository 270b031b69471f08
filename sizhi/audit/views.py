"""The audit admin's pages: the log (filtered, newest first), one record, and "verify now".

Everyone but an active audit admin gets 404 (not 403: the pages do not admit to existing), and
the middleware records that refusal. Reading the log is itself recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from sizhi.audit import chain, selectors
from sizhi.audit.codes import ACTIONS, action_label
from sizhi.audit.forms import AuditFilterForm
from sizhi.audit.models import AuditRecord, Result
from sizhi.audit.permissions import can_read_audit
from sizhi.audit.services import audit

ViewFunc = Callable[..., HttpResponseBase]
PAGE_SIZE = 50


def audit_admin_only(view: ViewFunc) -> ViewFunc:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not can_read_audit(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 else 1


@require_safe
@never_cache
@audit_admin_only
def log_view(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    status = 200
    page = None
    chart: dict[str, Any] | None = None
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        f = form.to_filter() if form.is_bound else selectors.AuditFilter()
        page = Paginator(selectors.records(f), PAGE_SIZE).get_page(_page_number(request))
        chart = selectors.daily_counts(f, today=timezone.localdate())
    rows = [(r, action_label(r.action)) for r in page.object_list] if page else []
    if page is not None:
        # Recorded after the page was read, so the list shows the log as it was when opened.
        audit("audit.log_view", request=request, detail={"page": page.number, "filtered": form.is_bound})
    context = {
        "nav": "audit_log", "form": form, "page": page, "rows": rows, "chart": chart,
        "known_actions": sorted(ACTIONS.items()),
    }
    return render(request, "audit/log.html", context, status=status)


@require_safe
@never_cache
@audit_admin_only
def record_view(request: HttpRequest, seq: int) -> HttpResponse:
    record = get_object_or_404(AuditRecord, seq=seq)
    values = {name: getattr(record, name) for name in chain.HASHED_FIELDS}
    hash_ok = chain.record_hash(values) == record.hash
    previous = AuditRecord.objects.filter(seq=seq - 1).values_list("hash", flat=True).first()
    link_ok = (previous == record.prev_hash) if seq > 1 else record.prev_hash == chain.GENESIS_HASH
    audit("audit.record_view", request=request, target=record)
    context = {
        "nav": "audit_log", "record": record, "action_label": action_label(record.action),
        "hash_ok": hash_ok, "link_ok": link_ok, "has_previous": previous is not None or seq == 1,
        "detail_items": sorted(record.detail.items()) if isinstance(record.detail, dict) else [],
    }
    return render(request, "audit/record.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
@audit_admin_only
def verify_view(request: HttpRequest) -> HttpResponse:
    report = None
    if request.method == "POST":
        report = chain.verify_chain()
        audit(
            "audit.verify", request=request, result=Result.OK if report.ok else Result.FAILED,
            detail={"records": report.records, "problems": report.problem_count},
        )
    seq, last_hash = chain.head()
    context = {"nav": "audit_verify", "report": report, "head_seq": seq, "head_hash": last_hash}
    return render(request, "audit/verify.html", context)
