"""Chinese text helpers shared by hot-issue detection and duplicate suggestion: normalisation,
tokens (jieba words, character n-grams), small TF vectors with cosine, and a place extractor.

Nothing here touches the database, so everything is testable on plain strings.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# --- normalisation -----------------------------------------------------------------------------

_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# "伊景园·滨河苑", "伊景园.滨河苑": a dot between two Chinese characters joins one name.
_NAME_DOT = re.compile(r"(?<=[\u4e00-\u9fff])[·•．.・](?=[\u4e00-\u9fff])")
_SPACES = re.compile(r"\s+")
_CJK = "\u4e00-\u9fff"
# Runs that can hold a word: Chinese characters, letters and digits. Everything else separates.
_RUN = re.compile(rf"[{_CJK}A-Za-z0-9]+")


def normalise(text: str | None) -> str:
    """Full-width letters and digits become ASCII (NFKC: "３号线" = "3号线"), invisible
    characters go, name-joining dots go, whitespace collapses."""
    value = unicodedata.normalize("NFKC", text or "")
    value = _INVISIBLE.sub("", value)
    value = _NAME_DOT.sub("", value)
    return _SPACES.sub(" ", value).strip()


def runs(text: str) -> list[str]:
    return _RUN.findall(text)


# --- tokens ------------------------------------------------------------------------------------


def _wordset(text: str) -> frozenset[str]:
    """Word lists below are written as whitespace-separated blocks: easier to read and extend."""
    return frozenset(text.split())


# Words that say nothing about the subject of a message: forms of address, politeness, and the
# verbs every complaint starts with. They would otherwise make unrelated messages look alike.
STOPWORDS = _wordset(
    """
    的 了 是 在 和 与 及 或 也 都 就 还 又 很 太 更 最 把 被 让 给 从 向 对 为 于 由 将 等 这 那 其 此 该
    我 我们 你 你们 他 他们 她 它 它们 自己 大家 有 没有 无 不 没 要 会 能 可 可以 应该 已经 一直 现在
    请 请问 您好 你好 谢谢 感谢 尊敬 领导 书记 市长 县长 区长 局长 主任 政府 相关 有关 部门 单位 问题 情况
    反映 投诉 举报 咨询 建议 希望 请求 恳请 要求 关于 一下 如何 怎么 什么 为什么 何时 是否 能否 多少
    一个 一些 这个 那个 这样 那样 这些 那些 因为 所以 但是 而且 如果 然后 并且 以及 目前 今年 去年
    非常 严重 特别 十分 真的 实在 强烈 坚决 市民 居民 业主 群众 老百姓 本人 您 啊 吗 呢 吧 呀 ！ ？
    """
)

_jieba_lock = threading.Lock()
_jieba: Any = None
_word_tags: dict[str, str] | None = None


def _tokenizer() -> Any:
    """jieba's shared tokenizer, initialised once; its dictionary takes a second to load."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.dt.initialize()
                _jieba = jieba.dt
    return _jieba


def _tags() -> dict[str, str]:
    """Part-of-speech tag of every dictionary word (jieba's dict.txt): a table lookup, much
    cheaper than running the POS tagger on every message."""
    global _word_tags
    if _word_tags is None:
        with _jieba_lock:
            if _word_tags is None:
                import jieba.posseg

                _word_tags = jieba.posseg.dt.word_tag_tab
    return _word_tags


def cut(text: str) -> list[str]:
    """jieba segmentation of each run separately, so punctuation never glues words together."""
    tokenizer = _tokenizer()
    out: list[str] = []
    for run in runs(text):
        out.extend(tokenizer.lcut(run))
    return out


def words(text: str) -> list[str]:
    """Content words: jieba tokens minus stop words and single Chinese characters."""
    return [w for w in cut(text) if w not in STOPWORDS and (len(w) > 1 or w.isascii())]


def char_ngrams(text: str, n: int = 2) -> list[str]:
    """Overlapping character n-grams inside each run (no n-gram spans punctuation)."""
    out: list[str] = []
    for run in runs(text.lower()):
        if len(run) < n:
            if run:
                out.append(run)
            continue
        out.extend(run[i : i + n] for i in range(len(run) - n + 1))
    return out


def tf_vector(tokens: Iterable[str]) -> dict[str, float]:
    """Sublinear term frequencies, L2-normalised: a long message that repeats itself does not
    outweigh a short one."""
    counts = Counter(tokens)
    vec = {t: 1.0 + math.log(c) for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {t: v / norm for t, v in vec.items()} if norm else {}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two L2-normalised sparse vectors."""
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


# --- places ------------------------------------------------------------------------------------


class PlaceKind:
    ADMIN = "admin"  # city, district, county (A市, A5区, 老城区)
    TOWN = "town"  # town, township, street office (暮云街道, 黄花镇)
    VILLAGE = "village"  # village, community (广胜村, 丽发新城社区)
    ESTATE = "estate"  # housing estate, building, compound (魅力之城小区, 伊景园滨河苑)
    ROAD = "road"  # road, street, lane, bridge, line (劳动东路, 地铁3号线)
    FACILITY = "facility"  # school, hospital, park, market, station (广益实验中学)


# Kinds specific enough that two messages naming different ones are about different places.
FINE_KINDS = frozenset({PlaceKind.VILLAGE, PlaceKind.ESTATE, PlaceKind.FACILITY})

# The suffix says what kind of place a name is. Longest suffixes first, so "小区" wins over "区".
_SUFFIX_KIND: dict[str, str] = {
    **dict.fromkeys(["街道", "镇", "乡"], PlaceKind.TOWN),
    **dict.fromkeys(["社区", "新村", "村"], PlaceKind.VILLAGE),
    **dict.fromkeys(
        ["小区", "花园", "家园", "公寓", "新城", "山庄", "公馆", "广场", "大厦", "商城", "华庭", "国际城",
         "苑", "庭", "府", "邸", "湾", "城", "园"],
        PlaceKind.ESTATE,
    ),
    **dict.fromkeys(["大道", "大街", "高速", "隧道", "大桥", "路", "街", "巷", "桥", "号线", "线"], PlaceKind.ROAD),
    **dict.fromkeys(
        ["小学", "中学", "学校", "学院", "大学", "幼儿园", "医院", "卫生院", "公园", "市场", "菜市场", "地铁站",
         "车站", "高铁站", "火车站", "汽车站", "工业园", "产业园"],
        PlaceKind.FACILITY,
    ),
}
_SUFFIXES = sorted(_SUFFIX_KIND, key=len, reverse=True)
_SUFFIX_RE = re.compile("|".join(_SUFFIXES))
_SUFFIXES_BY_LAST: dict[str, tuple[str, ...]] = {
    last: tuple(x for x in _SUFFIXES if x[-1] == last) for last in {x[-1] for x in _SUFFIXES}
}
# Suffixes that may follow a complete name and still belong to it: "魅力之城" + "小区".
_TRAILING = ("小区", "社区", "花园", "家园", "公寓", "山庄", "广场")

# Administrative units. The competition data is pseudonymised ("A市", "A5区", "A8县市"); a
# deployment passes its real division names (洛阳市, 老城区, 西关街道 …) as `gazetteer`.
_ADMIN_CODE = re.compile(r"[A-Z]\d{0,2}(?:县市|市|区|县)")
# Development zones cut across districts: for grouping they are as coarse as a street office.
_ZONE = re.compile(r"(?:经开|高新|开发|经济技术开发|高新技术产业开发|新)区")
_PROVINCES = (
    "西地省", "河南省", "河北省", "山东省", "山西省", "陕西省", "湖南省", "湖北省", "安徽省", "江苏省", "浙江省",
    "江西省", "福建省", "广东省", "广西", "四川省", "贵州省", "云南省", "甘肃省", "青海省", "辽宁省", "吉林省",
    "黑龙江省", "海南省", "台湾省", "内蒙古", "宁夏", "新疆", "西藏", "北京市", "天津市", "上海市", "重庆市",
)

# A place name's first word is never one of these; they are where the sentence before it ends
# ("我是居住在…", "提高民办幼儿园…", "由于旺旺西路…").
_LEADING_JUNK = _wordset(
    """
    我 我们 你 他 她 是 在 的 了 和 与 及 或 对 从 向 到 把 被 让 给 于 由 为 将 往 去 来 住 离 近 至 经 过 沿
    居住 位于 地处 坐落 座落 来自 就是 就在 属于 投诉 反映 举报 关于 请问 咨询 建议 希望 要求 请求 恳请 请
    附近 旁边 周边 对面 门口 楼下 里面 一名 一个 一家 一所 一条 一下 目前 现在 后来 由于 因为 所以 如果
    多次 每天 今天 昨天 严重 强烈 坚决 反对 提高 解决 处理 使用 建设 修建 规划 整治 要求 还有 以及 原
    部分 全部 所有 整个 这里 那里 哪里 这边 那边 区 栋 号 楼 期 层 室 座 单元 组 段 侧 旁 边 内 外 里 上 下
    住在 搬进 入住 购买 买了 途经 前往 到达 开发 改造 安置 拆迁 推行 加快 停 走 进 出 买 卖 靠近 紧邻 毗邻
    集体 全体 广大 物业 公司 集团 开发商 影响 点在
    """
)
# POS tags (jieba dictionary) of words a place name never contains: prepositions, conjunctions,
# particles, pronouns, adverbs, numerals, localisers, interjections, idioms, organisations.
# Verbs and time words only when common: the dictionary tags rare name parts oddly (可可/v, 东来/t).
_STOP_TAGS = frozenset({"p", "c", "u", "uj", "ul", "uz", "ug", "uv", "ud", "r", "d", "y", "e", "o", "m", "mq",
                        "q", "f", "l", "i", "nt"})
_COMMON_TAGS = frozenset({"v", "vd", "ad"})
# Words that do not make a place specific: "配套幼儿园", "民办幼儿园", "公交站" name a kind of
# place, not one place.
_GENERIC = _wordset(
    """
    配套 民办 公办 公立 私立 普惠 普惠型 普惠性 实验 附属 附小 附中 中心 便民 便民服务 公交 地铁 城市 农村 乡村
    老旧 附近 周边 该 本 这 这个 这所 那个 所在 市直 全市 各 各个 有关 相关 新建 在建 大型 小型 学校 居民 安置
    拆迁 商品 职工 物业 开发 市政 政府
    马路 大马路 泥巴 水泥 小 大 老 新 东 南 西 北 中 上 下 前 后 内 外 省 市 区 县 镇 村 街 路 公共 城区 主城
    高速 道路 公路 小区 社区 楼盘 项目 本地 当地 周围 沿线 两侧 全县 全区 全省 省城 城里 重点 示范 第一 一
    工作 移交 同一 好差 地区 附属 房地产 隔壁 整个 我家 我们 他们 所属 附属 对应 周边 高层 多层 别墅 商业 住宅
    国际 东路 西路 南路 北路 中路 一路 二路 三路 大道 新城
    """
)
_DEMONSTRATIVE = re.compile(r"^[这那该此每各某哪本][一二两几条个所家座栋处片]?$")
_NOT_PLACES = frozenset({"马路", "大马路", "小马路", "公路", "道路", "一路", "沿路", "半路", "上路", "进城", "出城",
                         "城镇", "乡镇", "村镇"})
# A name that jieba did not know and that starts with one of these began a character early
# ("此长望路", "南到金霞苑"); a known word such as 向阳 or 和平 keeps its first character.
_FUNCTION_CHARS = frozenset("此对从到在向往由至经沿过与和及跟于把被让给离靠该本这那每各某同原的了是我你他她途横")
_NUMERALS = frozenset("一二三四五六七八九十")
_JOINERS = frozenset({"之"})  # 魅力之城, 东方之珠: a particle inside a name
_MAX_NAME = 6  # characters before the suffix: a longer run is a sentence, not a name
# Proper-noun tags: a dictionary word with one of these may end a place name however common it is.
_PROPER_TAGS = frozenset({"ns", "nr", "nrt", "nz", "nt", "j"})
# Everyday words ending in a suffix character (政府, 农村, 道路, 公里, 校园) are not place names;
# "common" means this many occurrences in jieba's dictionary corpus.
_COMMON_FREQ = 100


@dataclass(frozen=True)
class Place:
    name: str  # as written, e.g. "万科魅力之城小区"
    kind: str  # PlaceKind
    key: str  # comparison form: the name without its generic suffix, e.g. "万科魅力之城"
    start: int  # offset in the normalised text, to keep the order of mention


def _key(name: str, kind: str) -> str:
    if kind in FINE_KINDS:
        for suffix in _TRAILING:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                return name[: -len(suffix)]
    return name


def keys_match(a: str, b: str) -> bool:
    """Two place keys name the same place: equal, or one holds the other ("魅力之城" and
    "万科魅力之城"); a two-character key only matches a name that adds a suffix to it ("丽发" and
    "丽发新城", not "松雅" and "松雅湖")."""
    if a == b:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= 3 and short in long:
        return True
    if len(short) == 2 and long.startswith(short) and long[2:] in _SUFFIX_KIND:
        return True
    # "星沙四区凉塘路" and "星沙凉塘路": a prefix picked up from the sentence differs, the name
    # at the end agrees. The shared ending must hold two characters of name besides the suffix
    # ("凉塘" + "路"), so "劳动东路" and "韶山东路" stay apart.
    common = 0
    while common < len(short) and short[-1 - common] == long[-1 - common]:
        common += 1
    ending = short[len(short) - common :]
    suffix = _place_suffix(ending, {}, {}) or ""
    stem = ending[: len(ending) - len(suffix)]
    return len(stem) >= 2 and stem not in _GENERIC and stem[-2:] not in _GENERIC


def _place_suffix(token: str, tags: Mapping[str, str], freq: Mapping[str, int]) -> str | None:
    """The place suffix a token ends with, unless the token is an everyday word (政府, 农村)."""
    for suffix in _SUFFIXES_BY_LAST.get(token[-1:], ()):
        if token.endswith(suffix):
            if token != suffix and freq.get(token, 0) >= _COMMON_FREQ and tags.get(token) not in _PROPER_TAGS:
                return None
            return suffix
    return None


def _name_like(token: str, tags: Mapping[str, str], freq: Mapping[str, int]) -> bool:
    if token in _JOINERS:
        return True
    if token in _LEADING_JUNK or token in _SUFFIX_KIND or _DEMONSTRATIVE.match(token):
        return False
    tag = tags.get(token)
    if tag in _STOP_TAGS or (tag in _COMMON_TAGS and freq.get(token, 0) >= _COMMON_FREQ * 10):
        return False
    return bool(_RUN.fullmatch(token)) and not token.isdigit()


def _is_specific(name_tokens: list[str], *, fused: bool = False) -> bool:
    """Two characters of the name are neither generic words nor digits: "配套幼儿园" and
    "公交站" name a kind of place, "广益实验中学" names one. `fused`: jieba read the last
    stem and its suffix as one new word ("裕园"), which makes even a one-character stem a name."""
    rest = [t for t in name_tokens if t not in _GENERIC and not t.isdigit()]
    if fused and len(rest) == 1 and len(name_tokens) == 1:
        return True
    if any(t.isdigit() for t in name_tokens):  # 3号线, 19号公馆
        return bool(rest)
    # Two stray single characters ("好/差/学校") are a sentence fragment, not a name.
    return sum(len(t) for t in rest) >= 2 and any(len(t) >= 2 for t in rest)


def _places_in_run(run: str, offset: int, out: list[Place]) -> None:
    tokenizer = _tokenizer()
    tags, freq = _tags(), tokenizer.FREQ
    tokens: list[str] = tokenizer.lcut(run)
    starts: list[int] = []
    pos = 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok)
    last: tuple[Place, int, int] | None = None  # the place found last, its first and last token
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        suffix = _place_suffix(tok, tags, freq)
        if suffix is None or tok[: -len(suffix)] in _LEADING_JUNK or tok in _NOT_PLACES or tok.endswith("政府"):
            i += 1
            continue
        before = run[starts[i] + len(tok) - len(suffix) - 1 : starts[i] + len(tok) - len(suffix)]
        if suffix == "线" and before not in _NUMERALS:  # 东六线 is a road, 热线 and 沿线 are not
            i += 1
            continue
        kind = _SUFFIX_KIND[suffix]
        end = i
        while end + 1 < len(tokens) and tokens[end + 1] in _TRAILING:  # 魅力之城 + 小区
            end += 1
        if end + 1 < len(tokens) and _SUFFIX_KIND.get(tokens[end + 1]) == PlaceKind.TOWN:
            end += 1  # 丁字湾 + 街道 is a street office, not an estate
            kind = PlaceKind.TOWN
        first = i
        merge = False
        while first > 0:
            prev = tokens[first - 1]
            if last is not None and last[2] == first - 1:
                # Right after another place: "伊景园" + "滨河苑" is one estate, while "劳动东路" +
                # "魅力之城" and "学士街道" + "裕园小区" are two places.
                merge = last[0].kind == PlaceKind.ESTATE and kind == PlaceKind.ESTATE
                break
            if first == i and suffix in ("号线", "线") and (prev.isdigit() or prev[-1] in _NUMERALS):
                first -= 1  # 3号线, 东六线: the numeral is part of the name whatever its tag
                continue
            if not _name_like(prev, tags, freq):
                break
            if starts[i] + len(tok) - len(suffix) - starts[first - 1] > _MAX_NAME:
                break
            first -= 1
        name_tokens = tokens[first:i] + ([tok[: -len(suffix)]] if len(tok) > len(suffix) else [])
        if merge and last is not None:
            out.remove(last[0])
            first = last[1]
            name_tokens = tokens[first:i] + name_tokens
        lead = 0
        if name_tokens and name_tokens[0][:1] in _FUNCTION_CHARS and name_tokens[0] not in freq:
            lead = 1
            name_tokens = [name_tokens[0][1:], *name_tokens[1:]]
        fused = len(tok) > len(suffix) and tok not in freq
        numbered = suffix == "线" and bool(name_tokens) and name_tokens[-1][-1:] in _NUMERALS
        if (numbered and "".join(name_tokens)[:1] not in _NUMERALS) or _is_specific(name_tokens, fused=fused):
            name = run[starts[first] + lead : starts[end] + len(tokens[end])]
            place = Place(name=name, kind=kind, key=_key(name, kind), start=offset + starts[first] + lead)
            out.append(place)
            last = (place, first, end)
        i = end + 1


@functools.lru_cache(maxsize=8)
def _admin_pattern(gazetteer: tuple[str, ...]) -> re.Pattern[str]:
    names = sorted({*gazetteer, *_PROVINCES}, key=len, reverse=True)
    return re.compile("|".join([re.escape(n) for n in names if n] + [_ZONE.pattern, _ADMIN_CODE.pattern]))


def extract_places(text: str, *, gazetteer: Iterable[str] = ()) -> list[Place]:
    """Place names in order of mention: administrative units matched by pattern and by the
    optional gazetteer of real division names (a name ending in 街道/镇/乡 is a town, in 村/社区
    a village), then names ending in a place suffix.

    A name's left edge is a jieba word boundary, never a verb, adverb, pronoun or particle, so
    "我是居住在A3区学士街道裕园小区的居民" gives A3区, 学士街道, 裕园小区 and nothing else.
    """
    text = normalise(text)
    found: list[Place] = []
    admin_spans: list[tuple[int, int]] = []
    for m in _admin_pattern(tuple(sorted(set(gazetteer)))).finditer(text):
        name = m.group()
        suffix = _place_suffix(name, {}, {})
        if _ZONE.fullmatch(name):
            kind = PlaceKind.TOWN
        elif suffix and _SUFFIX_KIND[suffix] in (PlaceKind.TOWN, PlaceKind.VILLAGE):
            kind = _SUFFIX_KIND[suffix]
        else:
            kind = PlaceKind.ADMIN
        admin_spans.append((m.start(), m.end()))
        found.append(Place(name=name, kind=kind, key=_key(name, kind), start=m.start()))
    # Cut the text at administrative names so jieba cannot glue "A市" onto the next word.
    chars = list(text)
    for s, e in admin_spans:
        for k in range(s, e):
            chars[k] = " "
    masked = "".join(chars)
    for m in _RUN.finditer(masked):
        run = m.group()
        # Segment only a window around each suffix: a name is at most _MAX_NAME characters
        # before its suffix, and segmenting whole paragraphs would cost most of the time.
        windows: list[list[int]] = []
        for hit in _SUFFIX_RE.finditer(run):
            lo, hi = max(0, hit.start() - _MAX_NAME - 3), min(len(run), hit.end() + 4)
            if windows and lo <= windows[-1][1]:
                windows[-1][1] = hi
            else:
                windows.append([lo, hi])
        for lo, hi in windows:
            _places_in_run(run[lo:hi], m.start() + lo, found)
    found.sort(key=lambda p: p.start)
    return found
