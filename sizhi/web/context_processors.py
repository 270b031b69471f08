from typing import Any

from django.conf import settings
from django.http import HttpRequest


def platform(request: HttpRequest) -> dict[str, Any]:
    return {
        "SIZHI_TILE_URL": settings.SIZHI_TILE_URL,
        "SIZHI_TILE_ATTRIBUTION": settings.SIZHI_TILE_ATTRIBUTION,
        "SIZHI_MAP_CENTER": settings.SIZHI_MAP_CENTER,
    }
