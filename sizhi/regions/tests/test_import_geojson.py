from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sizhi.regions.importers import import_divisions_file, import_geojson, import_geojson_file
from sizhi.regions.models import Grid, GridSetVersion, Region
from sizhi.regions.services import ImportRejected
from sizhi.regions.tests.factories import Tree, luoyang_file, square

pytestmark = pytest.mark.django_db


def feature(code: str, village: str, geometry: Any, name: str = "第1网格") -> dict[str, Any]:
    return {"type": "Feature", "properties": {"grid_code": code, "name": name, "village_code": village},
            "geometry": geometry}


def collection(*features: dict[str, Any]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False)


def multi(lng: float, lat: float) -> dict[str, Any]:
    return {"type": "MultiPolygon", "coordinates": [square(lng, lat)["coordinates"],
                                                     square(lng + 0.02, lat)["coordinates"]]}


def test_grids_are_created_then_unchanged_then_updated(tree: Tree) -> None:
    text = collection(
        feature("410302001001001", "410302001001", square(112.40, 34.60)),
        feature("410302001001002", "410302001001", multi(112.45, 34.60), name="第2网格"),
    )

    first = import_geojson(text)
    version = GridSetVersion.objects.get().version
    again = import_geojson(text)
    moved = import_geojson(collection(feature("410302001001001", "410302001001", square(112.30, 34.60))))

    assert (first.counts["grid"].created, again.counts["grid"].unchanged, moved.counts["grid"].updated) == (2, 2, 1)
    assert GridSetVersion.objects.get().version == version + 1  # the unchanged re-import did not bump
    grid = Grid.objects.get(code="410302001001001")
    assert (grid.region_code, grid.min_lng, grid.max_lat) == ("410302001001", 112.30, 34.61)
    multi_grid = Grid.objects.get(code="410302001001002")
    assert multi_grid.boundary["type"] == "MultiPolygon" and multi_grid.max_lng == pytest.approx(112.48)


BOWTIE = {"type": "Polygon", "coordinates": [[[112.4, 34.6], [112.41, 34.61], [112.41, 34.6], [112.4, 34.61],
                                               [112.4, 34.6]]]}


@pytest.mark.parametrize(
    ("geometry", "reason"),
    [
        (BOWTIE, "不是有效的多边形"),
        ({"type": "Polygon", "coordinates": [[[34.6, 112.4], [34.6, 112.41], [34.61, 112.41], [34.6, 112.4]]]},
         "超出范围"),
        ({"type": "Point", "coordinates": [112.4, 34.6]}, "Polygon 或 MultiPolygon"),
        ({"type": "Polygon", "coordinates": [[[112.4, 34.6], [112.41, 34.6], [112.41, 34.61], [112.4, 34.61]]]},
         "未闭合"),
        ({"type": "Polygon", "coordinates": [[[112.4, 34.6], [112.41, 34.6], [112.4, 34.6]]]}, "至少需要 4 个点"),
        ({"type": "Polygon", "coordinates": [[["112.4", "34.6"], [112.41, 34.6], [112.41, 34.61], [112.4, 34.6]]]},
         "数组"),
        ({"type": "Polygon", "coordinates": []}, "没有坐标环"),
        ({"type": "MultiPolygon", "coordinates": []}, "没有任何多边形"),
        (None, "Polygon 或 MultiPolygon"),
    ],
)
def test_bad_geometry_is_reported_by_feature_index_and_nothing_is_imported(
    tree: Tree, geometry: Any, reason: str
) -> None:
    text = collection(
        feature("410302001001001", "410302001001", square(112.40, 34.60)),
        feature("410302001001002", "410302001001", geometry),
    )

    with pytest.raises(ImportRejected) as caught:
        import_geojson(text)

    assert [e.source.position for e in caught.value.row_errors] == [1]
    assert reason in caught.value.row_errors[0].message
    assert "features[1]" in str(caught.value.row_errors[0])
    assert not Grid.objects.exists()


def test_every_bad_feature_is_listed(tree: Tree) -> None:
    text = collection(
        feature("410302001001001", "410302001001", square(112.40, 34.60)),
        feature("410302001001001", "410302001001", square(112.41, 34.60)),  # duplicate code
        feature("410303001001001", "410302001001", square(112.42, 34.60)),  # code of another village
        feature("410302001000001", "410302001000", square(112.43, 34.60)),  # a town, not a village
        feature("410302001999001", "410302001999", square(112.44, 34.60)),  # no such village
        {"type": "Feature", "properties": {"name": "无编码"}, "geometry": square(112.45, 34.60)},
        "not a feature",  # type: ignore[arg-type]
    )

    with pytest.raises(ImportRejected) as caught:
        import_geojson(text)

    by_index = {e.source.position: e.message for e in caught.value.row_errors}
    assert sorted(by_index) == [1, 2, 3, 4, 5, 6]
    assert "重复" in by_index[1] and "须以所属村/社区代码" in by_index[2]
    assert "只能建在村/社区下" in by_index[3] and "不存在" in by_index[4] and "缺少属性" in by_index[5]
    assert not Grid.objects.exists()


def test_invalid_json_reports_its_line() -> None:
    with pytest.raises(ImportRejected) as caught:
        import_geojson('{"type": "FeatureCollection",\n "features": [\n}')
    assert caught.value.row_errors[0].source.position == 3


def test_district_boundaries_set_region_centres() -> None:
    import_divisions_file(luoyang_file("luoyang_districts_2023_stats.csv"))

    summary = import_geojson_file(luoyang_file("geo/410300_districts_2021plus.derived.json"))

    assert summary.counts["center"].updated == 14
    laocheng = Region.objects.get(code="410302000000")
    assert (laocheng.center_lat, laocheng.center_lng) == (34.682945, 112.477298)
    assert Region.objects.get(code="410371000000").center_lat is None  # 高新区 has no polygon there
    assert not Grid.objects.exists()


def test_abolished_districts_are_errors_unless_skipped() -> None:
    import_divisions_file(luoyang_file("luoyang_districts_2023_stats.csv"))
    old = luoyang_file("geo/410300_full.datav.json")

    with pytest.raises(ImportRejected) as caught:
        import_geojson_file(old)
    assert {e.source.position for e in caught.value.row_errors} == {4, 6, 14}  # 吉利区, 孟津县, 偃师市
    assert not Region.objects.filter(center_lat__isnull=False).exists()

    summary = import_geojson_file(old, skip_unknown_regions=True)
    assert (summary.skipped, summary.counts["center"].updated) == (3, 12)


def test_region_feature_without_center_uses_a_point_inside_its_polygon(tree: Tree) -> None:
    text = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"adcode": 410302}, "geometry": square(112.40, 34.60)},
    ]})
    import_geojson(text)
    tree.district.refresh_from_db()
    assert 34.60 < tree.district.center_lat < 34.61  # type: ignore[operator]
    assert 112.40 < tree.district.center_lng < 112.41  # type: ignore[operator]


def test_command_imports_grids_and_fails_on_bad_files(tree: Tree, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "grids.geojson"
    good.write_text(collection(feature("410302001001001", "410302001001", square(112.40, 34.60))), encoding="utf-8")
    bad = tmp_path / "bad.geojson"
    bad.write_text(collection(feature("410302001001002", "410302001001", BOWTIE)), encoding="utf-8")

    call_command("regions", "import-geojson", str(good), verbosity=0)
    assert "网格：新增 1" in capsys.readouterr().out
    with pytest.raises(CommandError, match=r"features\[0\]"):
        call_command("regions", "import-geojson", str(bad), verbosity=0)
    with pytest.raises(CommandError, match="无法读取文件"):
        call_command("regions", "import-geojson", str(tmp_path / "missing.geojson"), verbosity=0)
    assert Grid.objects.count() == 1
