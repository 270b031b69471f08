"""The in-app inbox, for citizens and staff alike."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from sizhi.accounts.selectors import is_staff_member
from sizhi.notify.selectors import inbox_for_user, unread_count
from sizhi.notify.services import inbox_mark_read


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    page = Paginator(inbox_for_user(request.user), 20).get_page(request.GET.get("page"))  # type: ignore[arg-type]
    base = "cases/console_base.html" if is_staff_member(request.user) else "web/base.html"
    return render(
        request, "notify/inbox.html",
        {"page": page, "unread": unread_count(request.user), "base_template": base, "nav": "inbox"},  # type: ignore[arg-type]
    )


@login_required
@require_POST
def mark_read(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("id", "")
    inbox_mark_read(user=request.user, notification_id=int(raw) if raw.isdigit() else None)  # type: ignore[arg-type]
    target = request.POST.get("next", "")
    # Only links inside this site: an open redirect would let a message lure people elsewhere.
    if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("notify:inbox")
    return HttpResponseRedirect(target)
