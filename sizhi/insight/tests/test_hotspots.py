"""Hot issues: places found in Chinese text, messages grouped into one problem at one place,
the heat index, and the `sizhi hotspots detect` command."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from sizhi.insight.hotspots import Message, detect_hot_issues, heat_index
from sizhi.insight.management.commands.hotspots import OUTPUT_COLUMNS, parse_time
from sizhi.insight.textsim import PlaceKind, extract_places, keys_match

HOT_MESSAGES = Path(settings.PROJECT_DIR).parent / "shared" / "data" / "teddycup2020" / "hot_messages.csv"
T0 = datetime(2019, 8, 1, 9, 0)


def msg(mid: str, title: str, detail: str, *, day: int = 0, user: str = "", likes: int = 0) -> Message:
    return Message(id=mid, title=title, detail=detail, time=T0 + timedelta(days=day, hours=int(mid[-1:] or 0)),
                   likes=likes, user=user or f"u{mid}")


# Three people about the restaurants under one estate, two about one village road, one question
# about housing loans, and the same complaint as the first three at another estate.
HAND_MADE = [
    msg("n1", "A市A5区金桂花园小区楼下烧烤店油烟噪音扰民",
        "金桂花园小区3栋楼下的烧烤店每天营业到凌晨两点，油烟直排，噪音很大。", day=0, likes=3),
    msg("n2", "金桂花园小区底层餐馆深夜噪音扰民", "A5区金桂花园小区一楼餐馆半夜还在营业，吵得睡不着。", day=2),
    msg("n3", "投诉A5区金桂花园小区临街门店油烟扰民", "金桂花园小区临街门店油烟太大，窗户都不敢开。", day=5),
    msg("r1", "A7县柳林村村道路面塌陷", "A7县黄花镇柳林村通往镇上的村道路面塌陷，出现大坑，车辆无法通行。", day=1),
    msg("r2", "柳林村道路坑洼严重，请修路", "黄花镇柳林村的村道坑坑洼洼，下雨天积水，路面破损，车辆通行困难。", day=4),
    msg("u1", "咨询A市公积金贷款额度", "想了解公积金贷款最高额度是多少，需要准备哪些材料。", day=3),
    msg("x1", "A5区银杏家园小区楼下烧烤店油烟噪音扰民", "银杏家园小区楼下烧烤店油烟很大，半夜还很吵。", day=3),
]


# --- places --------------------------------------------------------------------------------------


def places(text: str, **kwargs: object) -> list[tuple[str, str]]:
    return [(p.name, p.kind) for p in extract_places(text, **kwargs)]  # type: ignore[arg-type]


def test_places_stop_at_the_words_before_a_name() -> None:
    assert places("我是居住在A市A3区学士街道裕园小区的居民") == [
        ("A市", PlaceKind.ADMIN), ("A3区", PlaceKind.ADMIN), ("学士街道", PlaceKind.TOWN),
        ("裕园小区", PlaceKind.ESTATE),
    ]


def test_road_and_estate_next_to_each_other_are_two_places() -> None:
    found = extract_places("A5区劳动东路魅力之城小区底层餐馆油烟扰民")
    assert [(p.name, p.kind) for p in found] == [
        ("A5区", PlaceKind.ADMIN), ("劳动东路", PlaceKind.ROAD), ("魅力之城小区", PlaceKind.ESTATE),
    ]
    # The comparison key drops the generic "小区", so "魅力之城" and "万科魅力之城" meet.
    assert found[-1].key == "魅力之城"


def test_two_estate_names_in_a_row_are_one_estate() -> None:
    assert places("投诉A市伊景园滨河苑捆绑车位销售") == [("A市", PlaceKind.ADMIN), ("伊景园滨河苑", PlaceKind.ESTATE)]


def test_town_and_village() -> None:
    assert places("A7县黄花镇金鼎村水泥路、自来水到户的问题") == [
        ("A7县", PlaceKind.ADMIN), ("黄花镇", PlaceKind.TOWN), ("金鼎村", PlaceKind.VILLAGE),
    ]


def test_numbered_county_road_is_a_road() -> None:
    assert ("东六线", PlaceKind.ROAD) in places("问问A市经开区东六线以西泉塘昌和商业中心以南的有关规划")


@pytest.mark.parametrize("text", [
    "请A市提高民办幼儿园的师资待遇水平",  # a kind of school, not one school
    "关于A市公交站点名称变更的建议",
    "A市人民政府办公厅",  # 政府 ends in 府 but is no estate
    "热线电话打不通",  # 线 only after a numeral
    "我家住在农村，出门都是大马路",
])
def test_generic_words_are_not_places(text: str) -> None:
    assert [p for p in extract_places(text) if p.kind != PlaceKind.ADMIN] == []


def test_gazetteer_names_real_divisions_by_level() -> None:
    found = places("洛阳市老城区西关街道金业路社区路灯不亮", gazetteer=["洛阳市", "老城区", "西关街道", "金业路社区"])
    assert found == [
        ("洛阳市", PlaceKind.ADMIN), ("老城区", PlaceKind.ADMIN), ("西关街道", PlaceKind.TOWN),
        ("金业路社区", PlaceKind.VILLAGE),
    ]


@pytest.mark.parametrize(("a", "b", "same"), [
    ("魅力之城", "万科魅力之城", True),
    ("丽发", "丽发新城", True),  # "丽发小区" and "丽发新城"
    ("星沙四区凉塘路", "星沙凉塘路", True),  # a prefix from the sentence differs, the road agrees
    ("劳动东路", "韶山东路", False),
    ("辉煌国际城", "明发国际城", False),
    ("松雅", "松雅湖", False),
    ("金桂花园", "银杏家园", False),
])
def test_place_keys_match(a: str, b: str, same: bool) -> None:
    assert keys_match(a, b) is same
    assert keys_match(b, a) is same


# --- grouping -------------------------------------------------------------------------------------


def test_hand_made_messages_group_into_one_problem_per_place() -> None:
    issues = detect_hot_issues(HAND_MADE)

    groups = [sorted(i.ids) for i in issues]
    assert groups[0] == ["n1", "n2", "n3"]
    assert groups[1] == ["r1", "r2"]
    assert sorted(groups[2:]) == [["u1"], ["x1"]]
    assert [i.rank for i in issues] == [1, 2, 3, 4]
    assert issues[0].heat > issues[1].heat > issues[2].heat


def test_same_complaint_at_another_estate_stays_apart() -> None:
    issues = detect_hot_issues(HAND_MADE)
    noise = next(i for i in issues if "n1" in i.ids)
    assert "x1" not in noise.ids


def test_issue_fields_describe_the_group() -> None:
    issues = detect_hot_issues(HAND_MADE)
    noise, road = issues[0], issues[1]

    assert noise.size == 3 and noise.reports == 3 and noise.reporters == 3 and noise.likes == 3
    assert noise.first_time == HAND_MADE[0].time
    assert noise.last_time == HAND_MADE[2].time
    assert "金桂花园小区" in noise.place and "A5区" in noise.place
    assert noise.label.startswith("A市A5区金桂花园小区 ")
    assert "油烟" in noise.label or "噪音" in noise.label
    assert "柳林村" in road.place and "柳林村" in road.label


def test_top_limits_the_list() -> None:
    assert [i.rank for i in detect_hot_issues(HAND_MADE, top=2)] == [1, 2]
    assert detect_hot_issues([]) == []


def test_different_problems_at_one_estate_are_different_issues() -> None:
    messages = [
        msg("a1", "金桂花园小区楼下烧烤店油烟扰民", "金桂花园小区楼下烧烤店油烟很大。", day=0),
        msg("a2", "金桂花园小区餐馆油烟太大", "金桂花园小区一楼餐馆油烟直排，熏得开不了窗。", day=1),
        msg("b1", "金桂花园小区楼板开裂", "金桂花园小区多户楼板和墙面开裂，担心房屋质量。", day=1),
        msg("b2", "金桂花园小区墙面开裂严重", "金桂花园小区交房一年墙面开裂，房屋质量堪忧。", day=2),
    ]
    groups = sorted(sorted(i.ids) for i in detect_hot_issues(messages))
    assert groups == [["a1", "a2"], ["b1", "b2"]]


def test_far_apart_in_time_without_a_place_are_different_issues() -> None:
    messages = [
        msg("a1", "公积金贷款额度太低", "公积金贷款额度太低，买房不够用。", day=0),
        msg("a2", "公积金贷款额度太低了", "公积金贷款额度太低，希望提高。", day=1),
        msg("b1", "公积金贷款额度太低", "公积金贷款额度太低，买房不够用。", day=300),
    ]
    groups = sorted(sorted(i.ids) for i in detect_hot_issues(messages))
    assert groups == [["a1", "a2"], ["b1"]]


def test_coordinates_split_and_join_like_places() -> None:
    def at(mid: str, lat: float, lng: float) -> Message:
        return Message(id=mid, title="路灯不亮", detail="这一段路灯晚上不亮，走路很危险。", time=T0, lat=lat, lng=lng)

    issues = detect_hot_issues([at("a", 34.6050, 112.4050), at("b", 34.6055, 112.4052), at("c", 34.7050, 112.5050)])
    assert sorted(sorted(i.ids) for i in issues) == [["a", "b"], ["c"]]


def test_exact_copies_count_as_one_report() -> None:
    original = msg("c1", "金桂花园小区楼下烧烤店油烟扰民", "金桂花园小区楼下烧烤店油烟很大。", user="p1")
    copy = Message(id="c2", title=original.title, detail=original.detail, time=original.time, user="p2")
    other = msg("c3", "金桂花园小区烧烤店油烟扰民严重", "金桂花园小区楼下烧烤油烟熏人。", day=1, user="p3")
    issue = detect_hot_issues([original, copy, other])[0]
    assert issue.size == 3 and issue.reports == 2 and issue.reporters == 2


# --- heat -----------------------------------------------------------------------------------------


def test_heat_formula() -> None:
    base = heat_index(reports=3, reporters=3, likes=0, active_days=1, age_days=0)
    assert base == pytest.approx(3.0)
    # A writer writing again adds half, likes add their logarithm.
    assert heat_index(reports=4, reporters=3, likes=0, active_days=1, age_days=0) == pytest.approx(3.5)
    assert heat_index(reports=3, reporters=3, likes=99, active_days=1, age_days=0) == pytest.approx(
        3 + 4.605170186, rel=1e-6
    )
    # Spread over days raises it, age lowers it to no less than half.
    assert heat_index(reports=3, reporters=3, likes=0, active_days=10, age_days=0) > base
    assert heat_index(reports=3, reporters=3, likes=0, active_days=1, age_days=60) == pytest.approx(0.75 * base)
    assert heat_index(reports=3, reporters=3, likes=0, active_days=1, age_days=10_000) > 0.5 * base - 1e-9


def test_more_people_outweigh_many_likes_on_one_message() -> None:
    crowd = heat_index(reports=20, reporters=20, likes=0, active_days=10, age_days=0)
    liked = heat_index(reports=1, reporters=1, likes=2000, active_days=1, age_days=0)
    assert crowd > liked


# --- the real messages (teddycup2020, read where it lies; never copied) -------------------------------


def real_messages(limit: int) -> list[Message]:
    with HOT_MESSAGES.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))[:limit]
    return [
        Message(id=r["id"], title=r["title"], detail=r["detail"], time=parse_time(r["time"]),
                likes=int(r["likes"] or 0), user=r["user"])
        for r in rows
    ]


@pytest.mark.skipif(not HOT_MESSAGES.exists(), reason="../shared/data/teddycup2020/hot_messages.csv is not here")
def test_real_slice_finds_the_known_issues_quickly() -> None:
    messages = real_messages(500)
    by_id = {m.id: m for m in messages}
    extract_places("预热：加载分词词典")  # jieba's dictionary loads once per process

    started = time.process_time()
    issues = detect_hot_issues(messages)
    elapsed = time.process_time() - started

    assert elapsed < 5.0
    assert sum(i.size for i in issues) == 500
    first, second = issues[0], issues[1]
    # Bundled parking spaces at 伊景园滨河苑, and the concrete plant next to 丽发新城.
    assert "伊景园滨河苑" in first.label
    assert all(any(k in by_id[x].title + by_id[x].detail for k in ("滨河苑", "广铁")) for x in first.ids)
    assert "丽发新城" in second.label
    assert all("搅拌" in by_id[x].title + by_id[x].detail for x in second.ids)


# --- the command ----------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> None:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))


HEADER = ["id", "user", "title", "time", "detail", "likes", "extra"]


def hand_made_rows() -> list[list[str]]:
    return [HEADER] + [
        [m.id, m.user, m.title, m.time.strftime("%Y/%m/%d %H:%M:%S"), m.detail, str(m.likes), "x"] for m in HAND_MADE
    ]


def test_command_writes_the_ranked_issues(tmp_path: Path) -> None:
    data, out = tmp_path / "messages.csv", tmp_path / "issues.csv"
    write_csv(data, hand_made_rows())
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("hotspots", "detect", "--data", str(data), "--top", "2", "--out", str(out),
                 stdout=stdout, stderr=stderr)

    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == OUTPUT_COLUMNS == ["rank", "heat", "label", "place", "first_time", "last_time", "size", "ids"]
    assert len(rows) == 3
    assert rows[1][0] == "1" and rows[1][6] == "3"
    assert sorted(rows[1][7].split(";")) == ["n1", "n2", "n3"]
    assert rows[1][4] == "2019-08-01 10:00:00"
    assert float(rows[1][1]) > float(rows[2][1])
    # The top issues are printed too; progress goes to stderr.
    assert "金桂花园小区" in stdout.getvalue() and len(stdout.getvalue().splitlines()) == 2
    assert "完成" in stderr.getvalue()


def test_command_reports_bad_rows_by_line_and_reads_gbk(tmp_path: Path) -> None:
    rows = hand_made_rows()
    rows.insert(2, ["bad1", "u", "标题", "昨天下午", "内容", "0", ""])  # line 3: no usable time
    rows.insert(4, ["", "u", "标题", "2019/8/1", "内容", "0", ""])  # line 5: no id
    rows.append(["n1", "u", "重复的编号", "2019/8/1", "内容", "0", ""])  # line 11: id again
    data = tmp_path / "gbk.csv"
    write_csv(data, rows, encoding="gbk")
    stdout, stderr = io.StringIO(), io.StringIO()

    call_command("hotspots", "detect", "--data", str(data), "--top", "5", stdout=stdout, stderr=stderr)

    err = stderr.getvalue()
    assert "第 3 行：时间无法识别" in err
    assert "第 5 行：缺少 id" in err
    assert "第 11 行：id n1 重复" in err
    assert "读入 7 条留言" in err
    assert "金桂花园小区" in stdout.getvalue()


def test_command_rejects_a_file_without_the_needed_columns(tmp_path: Path) -> None:
    data = tmp_path / "wrong.csv"
    write_csv(data, [["编号", "内容"], ["1", "路灯不亮"]])
    with pytest.raises(CommandError, match="缺少列"):
        call_command("hotspots", "detect", "--data", str(data), stdout=io.StringIO(), stderr=io.StringIO())


def test_command_with_a_missing_file_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="无法读取文件"):
        call_command("hotspots", "detect", "--data", str(tmp_path / "nope.csv"),
                     stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.parametrize(("text", "expected"), [
    ("2019/2/28 11:25:05", datetime(2019, 2, 28, 11, 25, 5)),
    ("2019-12-15 12:32:11", datetime(2019, 12, 15, 12, 32, 11)),
    ("2019/09/05 12:29", datetime(2019, 9, 5, 12, 29)),
    ("2019-08-01", datetime(2019, 8, 1)),
    ("2019-08-01T08:30:00", datetime(2019, 8, 1, 8, 30)),
])
def test_parse_time_accepts_export_formats(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected
