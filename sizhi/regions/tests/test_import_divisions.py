from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sizhi.regions.demo import DEMO_DIVISIONS_FILE, load_demo_divisions
from sizhi.regions.importers import import_divisions, import_divisions_file
from sizhi.regions.models import Region, RegionLevel, VillageKind
from sizhi.regions.services import ImportRejected
from sizhi.regions.tests.factories import luoyang_file

pytestmark = pytest.mark.django_db

VILLAGES = "luoyang_villages_2021_stats.csv"


def level_counts() -> Counter[str]:
    return Counter(Region.objects.values_list("level", flat=True))


def snapshot() -> set[tuple[str, str, str, str, str]]:
    return {
        (code, name, level, parent or "", kind)
        for code, name, level, parent, kind in Region.objects.values_list(
            "code", "name", "level", "parent__code", "kind"
        )
    }


def test_villages_file_puts_every_village_under_its_town_and_district() -> None:
    path = luoyang_file(VILLAGES)

    summary = import_divisions_file(path)

    assert level_counts() == {"city": 1, "district": 15, "town": 194, "village": 3228}
    assert summary.counts["village"].created == 3228
    city = Region.objects.get(level=RegionLevel.CITY)
    assert (city.code, city.name, city.prefix) == ("410300000000", "洛阳市", "4103")
    regions = {r.code: r for r in Region.objects.all()}
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3228
    for row in rows:
        village = regions[row["village_code"]]
        town = regions[row["town_code"].ljust(12, "0")]
        district = regions[row["district_code"].ljust(12, "0")]
        assert village.name == row["village_name"] and village.level == RegionLevel.VILLAGE
        assert village.parent_id == town.pk and town.name == row["town_name"]
        assert town.parent_id == district.pk and district.name == row["district_name"]
        assert district.parent_id == city.pk
        assert village.prefix == village.code and town.prefix == town.code[:9] and district.prefix == district.code[:6]
    kinds = Counter(Region.objects.filter(level=RegionLevel.VILLAGE).values_list("kind", flat=True))
    assert kinds == {VillageKind.VILLAGE: 2486, VillageKind.COMMUNITY: 740, "": 2}


def test_reimport_changes_nothing() -> None:
    path = luoyang_file(VILLAGES)
    import_divisions_file(path)
    before = dict(Region.objects.values_list("code", "pk"))

    summary = import_divisions_file(path)

    assert dict(Region.objects.values_list("code", "pk")) == before
    for level, expected in (("city", 1), ("district", 15), ("town", 194), ("village", 3228)):
        counts = summary.counts[level]
        assert (counts.created, counts.updated, counts.unchanged) == (0, 0, expected)


def test_every_shared_format_is_recognised_and_consistent() -> None:
    for name in ("luoyang_districts_2023_stats.csv", "luoyang_towns_2021_stats.csv", VILLAGES):
        import_divisions_file(luoyang_file(name))
    assert level_counts() == {"city": 1, "district": 15, "town": 194, "village": 3228}

    # The 2023 town list adds the streets created since 2021 under their (existing) districts.
    summary = import_divisions_file(luoyang_file("luoyang_towns_2023_stats.csv"))

    assert (summary.counts["town"].created, summary.counts["town"].updated) == (8, 1)
    assert Region.objects.get(code="410308106000").name == "马屯镇"  # renamed from 小浪底镇
    assert Region.objects.get(code="410311012000").name == "李楼街道"
    assert Region.objects.get(code="410311012000").parent.code == "410311000000"  # type: ignore[union-attr]
    assert level_counts()["district"] == 15


def test_towns_2023_alone_names_no_district_so_every_row_is_rejected() -> None:
    path = luoyang_file("luoyang_towns_2023_stats.csv")

    with pytest.raises(ImportRejected) as caught:
        import_divisions_file(path)

    lines = {e.source.position for e in caught.value.row_errors}
    assert lines == set(range(2, 196))
    assert "请先导入上级区划" in caught.value.row_errors[0].message
    assert not Region.objects.exists()


def test_project_fixture_holds_the_same_tree_as_the_shared_files() -> None:
    summary = load_demo_divisions()
    assert level_counts() == {"city": 1, "district": 15, "town": 194, "village": 3228}
    assert summary.counts["village"].created == 3228
    kinds = Counter(Region.objects.filter(level=RegionLevel.VILLAGE).values_list("kind", flat=True))
    assert kinds == {VillageKind.VILLAGE: 2486, VillageKind.COMMUNITY: 740, "": 2}
    fixture_tree = snapshot()

    # Importing the shared source files on top of the fixture finds nothing to change.
    for name in ("luoyang_districts_2023_stats.csv", "luoyang_towns_2021_stats.csv", VILLAGES):
        again = import_divisions_file(luoyang_file(name))
        assert all(c.created == 0 and c.updated == 0 for c in again.counts.values()), name
    assert snapshot() == fixture_tree


def test_a_bad_row_in_the_real_file_reports_its_line_and_imports_nothing(tmp_path: Path) -> None:
    lines = luoyang_file(VILLAGES).read_text(encoding="utf-8").splitlines()
    # Line numbers count the header as line 1.
    lines[999] = lines[999].replace(lines[999].split(",")[0], "41030X001001", 1)
    lines[2000] = ",".join(lines[2000].split(",")[:3])
    bad = tmp_path / "villages.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with pytest.raises(ImportRejected) as caught:
        import_divisions_file(bad)

    assert [e.source.position for e in caught.value.row_errors] == [1000, 2001]
    assert "第 1000 行" in str(caught.value.row_errors[0])
    assert not Region.objects.exists()


HEADER = "village_code,village_name,town_code,town_name,district_code,district_name,type\n"
GOOD = "410302001001,金业路社区居民委员会,410302001,西关街道,410302,老城区,社区/居委会\n"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("41030200100A,甲,410302001,西关街道,410302,老城区,村委会\n", "应为 2 到 12 位数字"),
        ("410303001001,乙,410302001,西关街道,410302,老城区,村委会\n", "不在乡镇"),
        ("410302001002,,410302001,西关街道,410302,老城区,村委会\n", "名称不能为空"),
        ("410302001003,丙,410302001,西关街道,410302,老城区,农场\n", "未知的村/社区类型"),
        ("410302001004,丁,410302001,西关街道\n", "应有 7 列"),
        ("410302001001,金业路社区,410302001,西关街道,410302,老城区,社区/居委会\n", "重复"),
        ("410302001005,戊,410302001,东关街道,410302,老城区,村委会\n", "不一致"),
        ("410302000000,己,410302000,西关街道,410302,老城区,村委会\n", "全为 0"),
    ],
)
def test_bad_rows_are_reported_with_line_numbers(row: str, reason: str) -> None:
    text = HEADER + GOOD + "\n" + row + GOOD.replace("001001,金业路", "001009,某")

    with pytest.raises(ImportRejected) as caught:
        import_divisions(text)

    assert {e.source.position for e in caught.value.row_errors} == {4}, caught.value.row_errors
    assert reason in caught.value.row_errors[0].message
    assert not Region.objects.exists()


def test_unknown_header_is_rejected_on_line_one() -> None:
    with pytest.raises(ImportRejected) as caught:
        import_divisions("编码,名称\n410302,老城区\n")
    assert caught.value.row_errors[0].source.position == 1
    assert "无法识别的表头" in caught.value.row_errors[0].message


def test_gbk_file_with_short_codes_and_city_name_option(tmp_path: Path) -> None:
    path = tmp_path / "towns.csv"
    path.write_bytes("town_code,town_name,district_code,district_name\n410102001,某街道,410102,中原区\n"
                     .encode("gbk"))

    import_divisions_file(path, city_name="郑州市")

    assert Region.objects.get(code="410100000000").name == "郑州市"
    assert Region.objects.get(code="410102001000").parent.name == "中原区"  # type: ignore[union-attr]


def test_unknown_city_without_name_is_rejected() -> None:
    with pytest.raises(ImportRejected) as caught:
        import_divisions("code,name,cityCode,provinceCode\n410102,中原区,4101,41\n")
    assert "市 410100000000 不存在" in caught.value.row_errors[0].message


def test_renamed_village_is_updated() -> None:
    import_divisions(HEADER + GOOD)
    summary = import_divisions(HEADER + GOOD.replace("金业路社区居民委员会", "金业路社区"))
    assert summary.counts["village"].updated == 1
    assert Region.objects.get(code="410302001001").name == "金业路社区"


def test_command_imports_and_reports(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("regions", "import-divisions", str(DEMO_DIVISIONS_FILE), verbosity=0)
    out = capsys.readouterr().out
    assert "村/社区：新增 3228，更新 0，未变 0" in out
    assert Region.objects.count() == 3438


def test_command_fails_with_every_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent_code,kind\n410300000000,洛阳市,city,,\n"
                   "410302000000,老城区,district,410300000000,\n410302001000,,town,410302000000,\n"
                   "410302001001,某村,village,410302001000,farm\n", encoding="utf-8")

    with pytest.raises(CommandError) as caught:
        call_command("regions", "import-divisions", str(bad), verbosity=0)

    message = str(caught.value)
    assert "有 2 处错误" in message and "第 4 行" in message and "第 5 行" in message
    assert not Region.objects.exists()


def test_crlf_and_trailing_empty_columns_from_spreadsheets_are_accepted() -> None:
    text = (HEADER.rstrip("\n") + ",,\r\n" + GOOD.rstrip("\n") + ",,\r\n").replace("\n", "")
    summary = import_divisions(text)
    assert summary.counts["village"].created == 1
