"""The floor view: parse a form-encoded POST, validate five fields, insert one row, answer JSON.

Mounted only when SIZHI_BENCH_FLOOR is on (bench/intake.py turns it on for its own server); it
runs behind the same middleware as every other view, so the benchmark's ratio measures what the
real intake adds on top of Django itself."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sizhi.benchfloor.forms import FloorReportForm


@csrf_exempt
@require_POST
def floor_report(request: HttpRequest) -> JsonResponse:
    form = FloorReportForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    row = form.save()
    return JsonResponse({"id": row.pk}, status=201)
