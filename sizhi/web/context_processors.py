from typing import Any

from django.conf import settings
from django.http import HttpRequest

from sizhi.accounts.selectors import is_staff_member
from sizhi.accounts.views import console_url
from sizhi.settingsui.permissions import can_work_callbacks


def platform(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "SIZHI_TILE_URL": settings.SIZHI_TILE_URL,
        "SIZHI_TILE_ATTRIBUTION": settings.SIZHI_TILE_ATTRIBUTION,
        "SIZHI_MAP_CENTER": settings.SIZHI_MAP_CENTER,
        # A callable, so that the membership query runs only on pages that ask.
        "is_staff_member": lambda: is_staff_member(user),
        "console_url": console_url,
        "nav_can_callbacks": lambda: can_work_callbacks(user),
    }
