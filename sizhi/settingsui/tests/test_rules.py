"""The responsibility matrix pages: list and filters, create/edit/delete through units.services,
CSV import (every bad line named, nothing imported) and export (round trip, formula-safe), and
the "try it" box answering with units.matrix.resolve."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sizhi.cases.models import Category
from sizhi.conftest import World
from sizhi.regions.models import RegionLevel
from sizhi.settingsui.matrix_csv import rules_to_csv
from sizhi.units.models import HandlingUnit, ResponsibilityRule, UnitKind
from sizhi.units.services import CSV_COLUMNS, rule_save

HEADER = ",".join(CSV_COLUMNS) + "\n"


def upload(client: Client, text: str | bytes, name: str = "matrix.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(reverse("settingsui:rules_import"), {"file": SimpleUploadedFile(name, data, "text/csv")})


def rule_keys() -> set[tuple[str, str, str, str, str, tuple[str, ...]]]:
    return {
        (r.category.code, r.level, r.region.code if r.region else "", r.lead_unit_name, r.lead_unit_kind,
         tuple(r.assist_unit_names))
        for r in ResponsibilityRule.objects.select_related("category", "region")
    }


# --- create, edit, delete ------------------------------------------------------------------------


def test_admin_creates_a_rule_and_sees_it_in_the_list(world: World, admin: Client) -> None:
    response = admin.post(reverse("settingsui:rule_create"), {
        "category": world.category.pk, "level": "district", "region": "410302",
        "lead_unit_name": "老城区城市管理局", "assist_unit_names": "老城区社会治理指挥中心\n老城区社会治理指挥中心",
        "is_active": "on",
    })
    assert response.status_code == 302 and response["Location"] == reverse("settingsui:rules")
    rule = ResponsibilityRule.objects.get()
    assert (rule.category, rule.level, rule.region, rule.lead_unit_name, rule.assist_unit_names) == (
        world.category, "district", world.district_a, "老城区城市管理局", ["老城区社会治理指挥中心"]
    )
    page = admin.get(reverse("settingsui:rules"))
    assert "老城区城市管理局" in page.content.decode() and "规则已添加" in page.content.decode()


def test_rule_form_explains_what_is_wrong(world: World, admin: Client) -> None:
    response = admin.post(reverse("settingsui:rule_create"), {
        "category": world.category.pk, "level": "district", "region": "41030200100",  # 11 digits
    })
    html = response.content.decode()
    assert response.status_code == 400
    assert "区划代码应为 4、6、9 或 12 位数字" in html and "请填写主办单位名称或选择单位类型" in html
    response = admin.post(reverse("settingsui:rule_create"), {
        "category": world.category.pk, "level": "town", "region": "410302001001", "lead_unit_kind": "command_centre",
    })
    assert response.status_code == 400 and "适用区域不能低于承办层级" in response.content.decode()
    response = admin.post(reverse("settingsui:rule_create"), {
        "category": world.category.pk, "level": "town", "region": "999999", "lead_unit_kind": "command_centre",
    })
    assert response.status_code == 400 and "区划代码“999999”不存在" in response.content.decode()
    assert not ResponsibilityRule.objects.exists()


def test_creating_a_rule_that_exists_is_refused_rather_than_replacing_it(world: World, admin: Client) -> None:
    rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    response = admin.post(reverse("settingsui:rule_create"), {
        "category": world.category.pk, "level": "district", "lead_unit_kind": "command_centre", "is_active": "on",
    })
    assert response.status_code == 400 and "已有相同类别、承办层级和适用区域的规则" in response.content.decode()
    assert ResponsibilityRule.objects.get().lead_unit_name == "老城区城市管理局"


def test_admin_edits_a_rule_and_moving_it_replaces_the_old_line(world: World, admin: Client) -> None:
    rule = rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    url = reverse("settingsui:rule_edit", args=[rule.pk])
    page = admin.get(url)
    assert 'value="老城区城市管理局"' in page.content.decode()
    response = admin.post(url, {
        "category": world.category.pk, "level": "village", "lead_unit_kind": "village_committee",
    })
    assert response.status_code == 302
    saved = ResponsibilityRule.objects.get()
    assert (saved.level, saved.lead_unit_name, saved.lead_unit_kind, saved.is_active) == (
        "village", "", "village_committee", False
    )


def test_editing_onto_another_rules_key_is_refused(world: World, admin: Client) -> None:
    first = rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    second = rule_save(category=world.category, level=RegionLevel.TOWN, lead_unit_kind=UnitKind.COMMAND_CENTRE)
    response = admin.post(reverse("settingsui:rule_edit", args=[second.pk]), {
        "category": world.category.pk, "level": "district", "lead_unit_kind": "command_centre",
    })
    assert response.status_code == 400
    assert set(ResponsibilityRule.objects.values_list("pk", "level")) == {(first.pk, "district"), (second.pk, "town")}


def test_admin_deletes_a_rule(world: World, admin: Client) -> None:
    rule = rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    response = admin.post(reverse("settingsui:rule_delete", args=[rule.pk]))
    assert response.status_code == 302 and not ResponsibilityRule.objects.exists()
    assert admin.post(reverse("settingsui:rule_delete", args=[rule.pk])).status_code == 404
    assert admin.get(reverse("settingsui:rule_delete", args=[rule.pk])).status_code == 405


def test_list_filters_by_category_level_and_region(world: World, admin: Client) -> None:
    roads = world.category.parent
    assert roads is not None
    water = Category.objects.get(code="water-drain")
    rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    rule_save(category=world.category, level=RegionLevel.TOWN, region=world.district_a, lead_unit_kind="command_centre")
    rule_save(category=water, level=RegionLevel.VILLAGE, lead_unit_kind="village_committee")

    def listed(**params: Any) -> int:
        response = admin.get(reverse("settingsui:rules"), params)
        assert response.status_code == 200
        return response.content.decode().count('data-testid="rule-row"')

    assert listed() == 3
    assert listed(category=roads.pk) == 2  # a parent includes its sub-categories
    assert listed(level="village") == 1
    assert listed(region="410302") == 1
    response = admin.get(reverse("settingsui:rules"), {"region": "abc", "level": "nonsense"})
    assert response.status_code == 200 and response.content.decode().count('data-testid="rule-row"') == 3
    assert "区划代码应为 4、6、9 或 12 位数字" in response.content.decode()


def test_list_reads_a_fixed_number_of_queries(world: World, admin: Client) -> None:
    for code in ("roads-bridge", "roads-damage", "water-drain", "water-supply"):
        rule_save(category=Category.objects.get(code=code), level=RegionLevel.TOWN, region=world.district_a,
                  lead_unit_kind="command_centre")
    admin.get(reverse("settingsui:rules"))
    with CaptureQueriesContext(connection) as few:
        admin.get(reverse("settingsui:rules"))
    for code in ("sanitation-garbage", "sanitation-toilet", "environment-air", "environment-noise"):
        rule_save(category=Category.objects.get(code=code), level=RegionLevel.TOWN, region=world.district_b,
                  lead_unit_kind="command_centre")
    with CaptureQueriesContext(connection) as more:
        admin.get(reverse("settingsui:rules"))
    assert len(more) == len(few)


# --- CSV import ----------------------------------------------------------------------------------


def test_a_bad_file_names_every_bad_line_and_imports_nothing(world: World, admin: Client) -> None:
    rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="原有单位")
    text = HEADER + "\n".join([
        "roads-damage,town,,西关街道综治中心,,",            # line 2: fine
        "no-such-category,town,,某单位,,",                  # line 3: unknown category
        "roads-bridge,province,,某单位,,",                  # line 4: bad level
        "roads-bridge,town,999999999,某单位,,",             # line 5: unknown region
        "roads-bridge,town,,,,",                            # line 6: no lead unit
        "roads-bridge,town,410302001001,某单位,,",          # line 7: region below the level
        "roads-damage,town,,另一个单位,,",                  # line 8: same rule as line 2
        "roads-bridge,city,,单位,nonsense,",                # line 9: unknown kind
        "roads-bridge,district,,单位\u200b名,,",            # line 10: invisible character
        "roads-bridge,village,," + "长" * 101 + ",,",      # line 11: longer than the column
        "water-drain,town,,西关街道综治中心,,",            # line 12: fine
    ]) + "\n"
    response = upload(admin, text)
    assert response.status_code == 400
    html = response.content.decode()
    errors = [e.split("</li>")[0] for e in html.split('data-testid="import-error">')[1:]]
    lines = [int(e.split("第 ")[1].split(" 行")[0]) for e in errors]
    assert lines == sorted(lines) and set(lines) == {3, 4, 5, 6, 7, 8, 9, 10, 11}
    assert "no-such-category" in html and "与第 2 行的类别、层级和区域重复" in html
    assert "未导入任何规则" in html
    assert rule_keys() == {("roads-damage", "district", "", "原有单位", "", ())}


def test_a_line_only_this_app_objects_to_still_rolls_back_the_service_import(world: World, admin: Client) -> None:
    text = HEADER + "roads-damage,town,,西关街道综治中心,,\nroads-bridge,town,410302001001,某单位,,\n"
    response = upload(admin, text)
    assert response.status_code == 400 and "第 3 行" in response.content.decode()
    assert not ResponsibilityRule.objects.exists()


def test_a_good_file_imports_its_rules(world: World, admin: Client) -> None:
    text = HEADER + "\n".join([
        "roads-damage,village,,,village_committee,",
        "roads-damage,district,410302,老城区城市管理局,,老城区社会治理指挥中心|西关街道综治中心",
        "water-drain,town,,,command_centre,",
    ]) + "\n"
    response = upload(admin, ("\ufeff" + text).encode("utf-8"))
    assert response.status_code == 302
    assert rule_keys() == {
        ("roads-damage", "village", "", "", "village_committee", ()),
        ("roads-damage", "district", "410302000000", "老城区城市管理局", "",
         ("老城区社会治理指挥中心", "西关街道综治中心")),
        ("water-drain", "town", "", "", "command_centre", ()),
    }
    assert "已导入 3 条规则" in admin.get(reverse("settingsui:rules")).content.decode()


def test_a_gbk_file_from_excel_is_read(world: World, admin: Client) -> None:
    text = HEADER + "roads-damage,district,,老城区城市管理局,,\n"
    assert upload(admin, text.encode("gb18030")).status_code == 302
    assert ResponsibilityRule.objects.get().lead_unit_name == "老城区城市管理局"


def test_files_that_are_not_csv_text_are_refused_cleanly(world: World, admin: Client) -> None:
    cases = [
        (b"", "文件是空的"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\xfd", "无法识别文件编码"),
        ((HEADER + "roads-damage,town,,a\x00b,,\n").encode(), "空字符"),
        (b"foo,bar\n1,2\n", "缺少列"),
        ((HEADER + 'roads-damage,town,,"' + "x" * 200_000 + '",,\n').encode(), "CSV 格式错误"),
        (("x" * (1024 * 1024 + 1)).encode(), "不能超过 1 MB"),
    ]
    for data, message in cases:
        response = upload(admin, data)
        assert response.status_code == 400, message
        assert message in response.content.decode(), message
    assert admin.post(reverse("settingsui:rules_import"), {}).status_code == 400
    assert not ResponsibilityRule.objects.exists()


# --- CSV export ----------------------------------------------------------------------------------


def test_export_round_trips_through_import(world: World, admin: Client) -> None:
    parent = world.category.parent
    assert parent is not None
    rule_save(category=parent, level=RegionLevel.VILLAGE, lead_unit_kind=UnitKind.VILLAGE_COMMITTEE)
    rule_save(category=world.category, level=RegionLevel.DISTRICT, region=world.district_a,
              lead_unit_name="老城区城市管理局", assist_unit_names=["老城区社会治理指挥中心", "西关街道综治中心"])
    rule_save(category=world.category, level=RegionLevel.TOWN, lead_unit_name="=HYPERLINK(\"http://x\")")
    before = rule_keys()
    response = admin.get(reverse("settingsui:rules_export"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == CSV_COLUMNS and len(rows) == 4
    ResponsibilityRule.objects.all().delete()
    assert upload(admin, text).status_code == 302
    assert rule_keys() == before


def test_export_cells_never_start_a_formula(world: World) -> None:
    HandlingUnit.objects.create(name="+Unit", kind=UnitKind.DEPARTMENT, region=world.district_a)
    rule = rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="@SUM(A1)",
                     assist_unit_names=["-1+2", "+Unit"])
    rows = list(csv.reader(io.StringIO(rules_to_csv([rule]).lstrip("\ufeff"))))
    for cell in rows[1]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert rows[1][3] == "'@SUM(A1)" and rows[1][5] == "'-1+2|+Unit"


def test_export_follows_the_filters_and_leaves_inactive_rules_out(world: World, admin: Client) -> None:
    rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局")
    rule_save(category=world.category, level=RegionLevel.TOWN, lead_unit_kind="command_centre", is_active=False)
    rule_save(category=world.category, level=RegionLevel.VILLAGE, lead_unit_kind="village_committee")
    text = admin.get(reverse("settingsui:rules_export")).content.decode()
    assert len(text.strip().splitlines()) == 3
    text = admin.get(reverse("settingsui:rules_export"), {"level": "village"}).content.decode()
    assert len(text.strip().splitlines()) == 2 and "village_committee" in text


# --- try it --------------------------------------------------------------------------------------


def test_try_it_shows_the_unit_and_level_the_matrix_resolves(world: World, admin: Client) -> None:
    rule_save(category=world.category, level=RegionLevel.VILLAGE, lead_unit_kind=UnitKind.VILLAGE_COMMITTEE)
    rule_save(category=world.category, level=RegionLevel.DISTRICT, lead_unit_name="老城区城市管理局",
              assist_unit_names=["老城区社会治理指挥中心"])
    url = reverse("settingsui:rule_try")
    html = admin.get(url, {"category": str(world.category.pk), "region": "410302001001"}).content.decode()
    assert f'data-unit="{world.village_a1_committee.pk}"' in html and 'data-level="village"' in html
    # 周公庙社区 has no committee: the case goes up to the district's department, with its assistant.
    html = admin.get(url, {"category": str(world.category.pk), "region": "410302001002"}).content.decode()
    assert f'data-unit="{world.district_a_dept.pk}"' in html and 'data-level="district"' in html
    assert "老城区社会治理指挥中心" in html
    html = admin.get(url, {"category": str(world.category.pk), "region": "410303001001"}).content.decode()
    assert 'data-testid="try-none"' in html


def test_try_it_with_bad_input_explains_and_does_not_fail(world: World, admin: Client) -> None:
    url = reverse("settingsui:rule_try")
    pk = str(world.category.pk)
    for params in ({"category": "x", "region": "410302001001"}, {"category": pk, "region": "4103x"},
                   {"category": pk, "region": "\x00"}, {"category": pk, "region": ""},
                   {"category": "99999999999999999999999", "region": "410302"}):
        response = admin.get(url, params)
        assert response.status_code == 400, params
        assert 'data-testid="try-result"' not in response.content.decode()
    response = admin.get(url, {"category": str(world.category.pk), "region": "４１０３０２００１００１"})  # full-width
    assert response.status_code == 200 and 'data-testid="try-result"' in response.content.decode()
