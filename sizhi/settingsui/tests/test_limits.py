"""Time limits (办理时限): the category × priority table, edit, add, delete; the default rows can
be edited but never deleted; the table shows what cases.deadlines.limits_for answers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from sizhi.cases.deadlines import limits_for
from sizhi.cases.limits import time_limit_delete, time_limit_save
from sizhi.cases.models import Category, TimeLimit
from sizhi.cases.workflow import Priority
from sizhi.conftest import World
from sizhi.settingsui.forms import category_tree
from sizhi.settingsui.views import _effective_limits


def test_the_page_lists_the_rows_and_the_effective_table(world: World, admin: Client) -> None:
    time_limit_save(category=world.category, priority=Priority.NORMAL, sign_hours=Decimal("3"), handle_days=4)
    html = admin.get(reverse("settingsui:limits")).content.decode()
    assert html.count('data-testid="limit-row"') == TimeLimit.objects.count()
    assert html.count('data-testid="limit-matrix-row"') == Category.objects.count()
    assert html.count('data-testid="limit-delete"') == TimeLimit.objects.filter(category__isnull=False).count()


def test_the_table_agrees_with_limits_for_in_every_cell(world: World) -> None:
    time_limit_save(category=world.category.parent, priority=Priority.URGENT, sign_hours="1.5", handle_days=3)
    time_limit_save(category=world.category, priority=Priority.NORMAL, sign_hours="3", handle_days=4)
    TimeLimit.objects.filter(category__isnull=True, priority=Priority.EMERGENCY).delete()  # built-in fallback
    categories = list(category_tree())
    for category, cells in _effective_limits(categories, list(TimeLimit.objects.all())):
        for priority, cell in zip(Priority.values, cells, strict=True):
            expected = limits_for(category, priority)
            assert (float(cell.sign_hours), cell.handle_days) == (expected.sign_hours, expected.handle_days)


def test_admin_edits_a_default_row(world: World, admin: Client) -> None:
    row = TimeLimit.objects.get(category__isnull=True, priority=Priority.NORMAL)
    response = admin.post(reverse("settingsui:limit_edit", args=[row.pk]), {"sign_hours": "6.5", "handle_days": "7"})
    assert response.status_code == 302
    assert limits_for(None, Priority.NORMAL).sign_hours == 6.5
    assert limits_for(world.category, Priority.NORMAL).handle_days == 7


def test_admin_adds_a_category_limit_and_then_deletes_it(world: World, admin: Client) -> None:
    response = admin.post(reverse("settingsui:limit_create"), {
        "category": world.category.pk, "priority": "urgent", "sign_hours": "1", "handle_days": "2",
    })
    assert response.status_code == 302
    row = TimeLimit.objects.get(category=world.category, priority="urgent")
    assert limits_for(world.category, "urgent").handle_days == 2
    again = admin.post(reverse("settingsui:limit_create"), {
        "category": world.category.pk, "priority": "urgent", "sign_hours": "5", "handle_days": "5",
    })
    assert again.status_code == 400 and "已存在" in again.content.decode()
    assert admin.post(reverse("settingsui:limit_delete", args=[row.pk])).status_code == 302
    assert not TimeLimit.objects.filter(pk=row.pk).exists()


def test_default_rows_cannot_be_deleted(world: World, admin: Client) -> None:
    row = TimeLimit.objects.get(category__isnull=True, priority=Priority.NORMAL)
    response = admin.post(reverse("settingsui:limit_delete", args=[row.pk]), follow=True)
    assert "默认时限不能删除" in response.content.decode()
    assert TimeLimit.objects.filter(pk=row.pk).exists()
    with pytest.raises(ValidationError):
        time_limit_delete(limit=row)


@pytest.mark.parametrize(("hours", "days"), [
    ("0", "5"), ("-1", "5"), ("abc", "5"), ("NaN", "5"), ("1e400", "5"), ("1000", "5"), ("1.25", "5"),
    ("4", "0"), ("4", "366"), ("4", "1.5"), ("4", "99999999999999999999"), ("4\x00", "5"), ("", ""),
])
def test_bad_numbers_are_explained(world: World, admin: Client, hours: str, days: str) -> None:
    row = TimeLimit.objects.get(category__isnull=True, priority=Priority.NORMAL)
    response = admin.post(reverse("settingsui:limit_edit", args=[row.pk]), {"sign_hours": hours, "handle_days": days})
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    row.refresh_from_db()
    assert (row.sign_hours, row.handle_days) == (Decimal("4"), 5)


def test_the_service_checks_what_a_form_might_not(world: World) -> None:
    for kwargs in ({"priority": "nonsense"}, {"sign_hours": "0"}, {"sign_hours": "NaN"}, {"handle_days": 0},
                   {"handle_days": True}, {"handle_days": 400}):
        arguments = {"category": None, "priority": "normal", "sign_hours": "4", "handle_days": 5, **kwargs}
        with pytest.raises(ValidationError):
            time_limit_save(**arguments)  # type: ignore[arg-type]
    saved = time_limit_save(category=None, priority="normal", sign_hours="2.34", handle_days=3)
    assert saved.sign_hours == Decimal("2.3") and TimeLimit.objects.filter(category__isnull=True).count() == 3
