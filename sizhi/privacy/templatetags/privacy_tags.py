"""{% reporter_unmask_link case %}: on the case page, a link to read the reporter's full phone
number (after a purpose and a reason) for the staff who may."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from sizhi.cases.models import Case
from sizhi.privacy.permissions import can_unmask_case_reporter, may_use_register

register = template.Library()


@register.simple_tag(takes_context=True)
def reporter_unmask_link(context: dict[str, Any], case: Case) -> SafeString | str:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not can_unmask_case_reporter(user, case):
        return ""
    return format_html(
        # The space inside the <small>: the masked label itself stays exactly as it was.
        '<small class="unmask-link"> <a href="{}" data-testid="reporter-unmask-link">{}</a></small>',
        reverse("privacy:case_reporter", args=[case.pk]), _("查看完整号码"),
    )


@register.simple_tag(takes_context=True)
def residents_nav_link(context: dict[str, Any], nav: str = "") -> SafeString | str:
    """The console navigation's entry to the resident register, for those who keep it."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not may_use_register(user):
        return ""
    current = ' class="is-current" aria-current="page"' if nav == "residents" else ""
    return format_html(
        '<a href="{}" id="nav-residents" data-testid="nav-residents"{}>{}</a>',
        reverse("privacy:search"), mark_safe(current), _("居民信息"),  # noqa: S308 - a constant attribute string
    )
