"""Hot issues (热点问题挖掘): group citizens' messages by subject, place and time into issues and
rank the issues by a heat index.

The core is a plain function over plain records (`detect_hot_issues`): no database, so the
command, a periodic job and the tests all call the same code.

Method
1. Places. Every message's places come from its title (and, when the title names no specific
   place, from the first two its text names): administrative units (A市, A5区), towns and
   zones (暮云街道, 经开区), specific places (estates, villages, schools, markets: 魅力之城小区,
   广胜村) and roads (劳动东路, 东六线). A number naming something ("58车贷", "204公交")
   places a city-wide issue the same way. Coordinates, when given, count as places too.
2. Subject. TF-IDF over jieba words of the title and character bigrams of title and text, with
   the place names cut out, so that "the same words at another estate" is not mistaken for the
   same place, and "the same estate, another problem" is not mistaken for the same problem.
   A small lexicon of problem kinds (noise, smoke, school places, handover, …) says what a
   message complains about in a way the wording alone does not.
3. Pair score = subject cosine
     + same_place_bonus when both name the same specific place (or lie within `near_m`) and
       complain about the same kind of problem (a related kind earns `family_share` of it; no
       kind in common earns it only as far as the wording is alike),
     + same_road_bonus likewise for the same road, same_town_bonus for the same town;
   damped by exp(-(gap - window) / window) beyond the time window; and -conflict_penalty when
   the two name different specific places, districts or roads, or lie further than `far_m`.
   Pairs less alike than `min_subject` are left out (score 0): memory stays linear.
4. Average-linkage agglomerative clustering on that sparse graph (`average_linkage`), merging
   while the mean pair score between two groups is at least `link_threshold`: a message joins
   an issue only if it is close to the issue's messages on average, so one ambiguous message
   cannot chain two problems together, and one message at another place pulls hard against it.
5. Heat per issue (`heat_index`), rank, and a label from the issue's places and the subject of
   its most central title.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
from scipy import sparse

from sizhi.insight import textsim
from sizhi.insight.textsim import FINE_KINDS, Place, PlaceKind

DAY = 86400.0


@dataclass(frozen=True)
class Message:
    """One citizen message (or case) as the detector sees it."""

    id: str
    title: str
    detail: str
    time: datetime
    likes: int = 0
    user: str = ""
    lat: float | None = None
    lng: float | None = None
    region: str = ""  # e.g. a village code; two different regions never share an issue


@dataclass(frozen=True)
class HotIssue:
    rank: int
    heat: float
    label: str
    place: str
    first_time: datetime
    last_time: datetime
    size: int
    ids: list[str]
    reports: int  # messages after removing exact copies
    reporters: int
    likes: int


@dataclass(frozen=True)
class Settings:
    # Pair-score parts. Tuned on the 2020 Teddy Cup hot-issue messages (4,326 real messages).
    link_threshold: float = 0.42  # average pair score needed to stay in one issue
    same_place_bonus: float = 0.45  # the same estate, village or school (and kind of problem)
    same_road_bonus: float = 0.15  # the same road when neither names something finer
    alike_subject: float = 0.15  # without a kind of problem in common, the bonuses need this much
    family_share: float = 0.9  # share of the bonuses for related kinds (smoke and noise)
    same_town_bonus: float = 0.04
    word_weight: float = 0.55  # jieba words of the title vs character bigrams of title + text
    title_repeat: int = 2  # the title counts this many times in the bigram block
    detail_chars: int = 300  # only the start of a long message is read for its subject
    detail_place_chars: int = 160  # and only its first lines for a place …
    detail_places: int = 2  # … of which the first two specific ones
    window_days: float = 45.0  # pairs further apart in time than this are damped …
    place_window_days: float = 60.0  # … or this, when they name the same place
    near_m: float = 300.0  # coordinates this close count as the same place
    far_m: float = 2000.0  # and this far apart as different places
    min_subject: float = 0.10  # pairs less alike than this are not even scored
    conflict_penalty: float = 0.5  # score of a pair naming different places
    # Heat.
    half_life_days: float = 60.0


DEFAULT_SETTINGS = Settings()

# Kinds of problem, as words a citizen uses for them. Two messages at one estate are one issue when
# they complain about the same kind of thing (the smoke, the noise and the late opening hours of
# the restaurants downstairs), not when one is about the smoke and the other about school places.
# A message may have several kinds; one in common is enough.
_PROBLEM_KINDS: dict[str, str] = {
    "noise": "噪音|噪声|扰民|太吵|吵闹|音响|喇叭|广场舞|分贝|隔音|轰鸣",
    "smoke": "油烟|烧烤|排烟|烟道|异味|臭味|臭气|气味|恶臭|熏",
    "pollution": "粉尘|灰尘|扬尘|污染|渣土|尘土|污水|排污|偷排",
    "shops": "商铺|门面|门店|餐馆|饭店|餐饮|夜宵|烧烤|摊贩|摆摊|底商|商户|KTV|ktv|麻将|酒吧|棋牌|住改商|小吃店",
    "works": "施工|工地|搅拌|打桩|违建|违章|搭建|加建|私建",
    "quality": "质量|开裂|裂缝|渗水|漏水|墙面|楼板|空鼓|发霉|沉降",
    "school": "入学|学位|就读|上学|学校|小学|中学|幼儿园|生源|划片|学区",
    "parking": "车位|停车|车库",
    "property": "物业|业委会|维修基金|电梯",
    "sales": "捆绑|售楼|购房|房价|精装|首付|定金|认筹|摇号|捂盘|虚假宣传|降价|车位销售",
    "handover": "交房|延期交付|逾期交付|房产证|不动产证|办证",
    "traffic": "拥堵|公交|地铁|红绿灯|信号灯|路面|修路|通行|限行|交通|站点|出入口|堵车",
    "utilities": "停水|停电|水压|供水|供电|燃气|天然气|供暖|自来水|水费|电费|断水|断电",
    "demolition": "拆迁|征收|征地|安置|补偿|棚改|旧城改造|旧改",
    "sanitation": "垃圾|环卫|卫生|厕所|下水道|化粪池|蚊虫",
    "money": "诈骗|集资|跑路|P2P|p2p|立案|经侦|退款|欠款|拖欠|讨薪|工资|退费",
    "planning": "规划|调规|高压线|变电站|基站|选址|改造|动工|开工|启动|建成|修建|改扩建",
    "safety": "消防|安全隐患|隐患|危险",
    "greening": "绿化|树木|草坪|砍树|毁绿",
}
_PROBLEM_RE = [(1 << bit, re.compile(words)) for bit, words in enumerate(_PROBLEM_KINDS.values())]
# Kinds that citizens mix when describing one problem: the restaurant downstairs is "smoke",
# "noise" and "shops" at once, a concrete plant is "works", "noise" and "pollution".
_PROBLEM_FAMILIES = [
    {"noise", "smoke", "pollution", "shops", "works"},
    {"demolition", "planning"},
]
_KIND_BIT = {kind: 1 << bit for bit, kind in enumerate(_PROBLEM_KINDS)}
_FAMILY_MASKS = [sum(_KIND_BIT[k] for k in family) for family in _PROBLEM_FAMILIES]


def _problem_kinds(title: str, detail: str) -> int:
    """Bit mask of the problem kinds a message names: in its title, or failing that its text."""
    for text in (title, detail):
        mask = 0
        for bit, pattern in _PROBLEM_RE:
            if pattern.search(text):
                mask |= bit
        if mask:
            return mask
    return 0


# A number followed by a name ("58车贷", "107国道", "204公交") identifies a lender, road or bus
# line; years and quantities ("2019年", "30米", "12栋") do not.
_IDENTIFIER = re.compile(r"(?<![0-9A-Za-z.])(\d{2,5})([\u4e00-\u9fff]{2})")
_YEAR = re.compile(r"(?:19|20)\d\d")
_UNIT_CHARS = frozenset("年月日号栋楼层单万元块个期天次岁米户人多余分小周届名位套平度倍条家所项台辆")

_LEADING_VERBS = re.compile(
    r"^(?:关于|投诉|举报|反映|咨询|建议|请求|恳请|请问|希望|强烈要求|要求|请|问问|再次|紧急|求助|求|急)+"
)


@dataclass
class _Prepared:
    index: int
    msg: Message
    title: str
    places: list[Place]  # title places, or start-of-text places when the title has none
    fine: set[str] = field(default_factory=set)
    roads: set[str] = field(default_factory=set)
    towns: set[str] = field(default_factory=set)
    districts: set[str] = field(default_factory=set)
    subject_title: str = ""  # the title with its places cut out
    subject_detail: str = ""  # the start of the text, likewise
    kinds: int = 0  # _problem_kinds bit mask
    identifiers: set[str] = field(default_factory=set)  # "58车贷", "205路公"
    copy_of: int = -1  # index of the first identical message (same text, same minute), or its own


# --- preparation -------------------------------------------------------------------------------


def _is_district(name: str) -> bool:
    # Districts and counties divide the city; "A市" or the province say nothing about where in it.
    return name.endswith(("区", "县", "县市"))


def _prepare(messages: Sequence[Message], settings: Settings, gazetteer: Iterable[str]) -> list[_Prepared]:
    gaz = tuple(gazetteer)
    out: list[_Prepared] = []
    seen: dict[tuple[str, str, str], int] = {}
    for idx, msg in enumerate(messages):
        title = textsim.normalise(msg.title)
        detail = textsim.normalise(msg.detail)
        places = textsim.extract_places(title, gazetteer=gaz)
        if not any(p.kind in FINE_KINDS or p.kind == PlaceKind.ROAD for p in places):
            # The title names no specific place: take the first ones the text names (a letter
            # listing nine estates is about its first one or two, not all nine).
            lead = textsim.extract_places(detail[: settings.detail_place_chars], gazetteer=gaz)
            specific = [p for p in lead if p.kind in FINE_KINDS or p.kind == PlaceKind.ROAD]
            keep = {id(p) for p in specific[: settings.detail_places]}
            places += [p for p in lead if id(p) in keep or p.kind == PlaceKind.TOWN
                       or (p.kind == PlaceKind.ADMIN and not places)]
        item = _Prepared(index=idx, msg=msg, title=title, places=places)
        for p in places:
            if p.kind in FINE_KINDS:
                item.fine.add(p.key)
            elif p.kind == PlaceKind.ROAD:
                item.roads.add(p.key)
            elif p.kind == PlaceKind.TOWN:
                item.towns.add(p.key)
            elif _is_district(p.key):
                item.districts.add(p.key)
        # The subject is what is left once the places are cut out.
        names = sorted({p.name for p in places}, key=len, reverse=True)
        item.subject_title, item.subject_detail = title, detail[: settings.detail_chars]
        for name in names:
            item.subject_title = item.subject_title.replace(name, " ")
            item.subject_detail = item.subject_detail.replace(name, " ")
        item.kinds = _problem_kinds(title, detail[: settings.detail_chars])
        item.identifiers = {
            num + word for num, word in _IDENTIFIER.findall(item.subject_title)
            if not _YEAR.fullmatch(num) and word[0] not in _UNIT_CHARS
        }
        key = (title, detail, msg.time.strftime("%Y%m%d%H%M"))
        item.copy_of = seen.setdefault(key, idx)
        out.append(item)
    return out


def _tfidf(docs: list[list[str]]) -> sparse.csr_matrix:
    """Sublinear TF times smooth IDF, rows L2-normalised."""
    vocab: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, tokens in enumerate(docs):
        for tok, count in Counter(tokens).items():
            c = vocab.setdefault(tok, len(vocab))
            rows.append(r)
            cols.append(c)
            vals.append(1.0 + math.log(count))
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(docs), max(len(vocab), 1)), dtype=np.float64)
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    idf = np.log((1 + len(docs)) / (1 + df)) + 1.0
    matrix = matrix @ sparse.diags(idf)
    norms = np.sqrt(matrix.multiply(matrix).sum(axis=1)).A1
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def _subject_matrix(items: list[_Prepared], settings: Settings) -> sparse.csr_matrix:
    word_docs = [textsim.words(it.subject_title) for it in items]
    gram_docs = [
        textsim.char_ngrams(it.subject_title) * settings.title_repeat + textsim.char_ngrams(it.subject_detail)
        for it in items
    ]
    words = _tfidf(word_docs) * math.sqrt(settings.word_weight)
    grams = _tfidf(gram_docs) * math.sqrt(1.0 - settings.word_weight)
    return sparse.csr_matrix(sparse.hstack([words, grams]))


# --- pair relations ----------------------------------------------------------------------------


def _key_incidence(sets: list[set[str]]) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """(own, expanded): message x key incidence, and the same with every key widened to the keys
    it matches (textsim.keys_match), so `own @ expanded.T > 0` means "some place in common".
    Candidates come from an index of substrings (containment) and of endings (same name after
    a different prefix), so only plausible pairs of keys are compared."""
    keys = sorted(set().union(*sets)) if sets else []
    index = {k: i for i, k in enumerate(keys)}
    # Which keys contain which: index every key by its substrings, then look each key up.
    by_sub: dict[str, list[int]] = defaultdict(list)
    by_end: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        subs = {k[a:b] for a in range(len(k)) for b in range(a + 2, len(k) + 1)}
        for sub in subs:
            by_sub[sub].append(i)
        for a in range(len(k) - 2):
            by_end[k[a:]].append(i)
    widen: dict[int, set[int]] = {}
    for i, k in enumerate(keys):
        candidates = set(by_sub.get(k, []))
        for a in range(len(k) - 2):
            candidates.update(by_end.get(k[a:], []))
        widen[i] = {j for j in candidates if textsim.keys_match(k, keys[j])} | {i}
    own_r: list[int] = []
    own_c: list[int] = []
    exp_r: list[int] = []
    exp_c: list[int] = []
    for r, s in enumerate(sets):
        expanded: set[int] = set()
        for k in s:
            own_r.append(r)
            own_c.append(index[k])
            expanded |= widen[index[k]]
        exp_r.extend([r] * len(expanded))
        exp_c.extend(expanded)
    shape = (len(sets), max(len(keys), 1))
    own = sparse.csr_matrix((np.ones(len(own_r)), (own_r, own_c)), shape=shape)
    exp = sparse.csr_matrix((np.ones(len(exp_r)), (exp_r, exp_c)), shape=shape)
    return own, exp


def _incidence(sets: list[set[str]]) -> sparse.csr_matrix:
    index: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    for r, values in enumerate(sets):
        for v in values:
            rows.append(r)
            cols.append(index.setdefault(v, len(index)))
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(sets), max(len(index), 1)))


def _usable_identifiers(items: list[_Prepared]) -> list[set[str]]:
    """Identifiers that recur in a few titles only: one that many messages share ("12345热线")
    names a channel, not a problem."""
    counts = Counter(x for it in items for x in it.identifiers)
    most = max(3, int(len(items) * 0.005))
    return [{x for x in it.identifiers if 2 <= counts[x] <= most} for it in items]


def _pairs_in(own: sparse.csr_matrix, exp: sparse.csr_matrix) -> sparse.csr_matrix:
    """Upper-triangle pairs of messages sharing a matching key (a boolean sparse matrix)."""
    common = own @ exp.T
    common = common + common.T
    return sparse.csr_matrix(sparse.triu(common, k=1) > 0)


def _lookup(matrix: sparse.csr_matrix, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return np.asarray(matrix[i, j]).ravel() > 0 if len(i) else np.zeros(0, dtype=bool)


def _haversine(lat1: np.ndarray, lng1: np.ndarray, lat2: np.ndarray, lng2: np.ndarray) -> np.ndarray:
    la1, la2 = np.radians(lat1), np.radians(lat2)
    dlat = la2 - la1
    dlng = np.radians(lng2) - np.radians(lng1)
    a = np.sin(dlat / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin(dlng / 2) ** 2
    return np.asarray(2 * 6371000.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


def _pair_scores(items: list[_Prepared], settings: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scored pairs (i < j): every pair whose subjects are at all alike, and every pair naming
    the same place. All other pairs score 0 and are left out, which keeps memory linear in the
    number of related pairs rather than quadratic in the number of messages."""
    n = len(items)
    x = _subject_matrix(items, settings)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    sims: list[np.ndarray] = []
    xt = sparse.csr_matrix(x.T)
    step = max(64, min(1000, 4_000_000 // max(n, 1)))  # a dense block of about 32 MB at most
    for lo in range(0, n, step):
        block = (x[lo : lo + step] @ xt).toarray()
        bi, bj = np.nonzero(block >= settings.min_subject)
        keep = bj > bi + lo
        rows.append(bi[keep] + lo)
        cols.append(bj[keep])
        sims.append(block[bi[keep], bj[keep]])

    fine_own, fine_exp = _key_incidence([it.fine for it in items])
    fine_pairs = _pairs_in(fine_own, fine_exp)
    ident_own = _incidence(_usable_identifiers(items))
    ident_pairs = _pairs_in(ident_own, ident_own)
    geo = np.array([(it.msg.lat, it.msg.lng) if it.msg.lat is not None and it.msg.lng is not None
                    else (np.nan, np.nan) for it in items], dtype=np.float64)
    # Same-place pairs count even with unlike wording: they pull an issue's messages together.
    extra = sparse.coo_matrix(fine_pairs + ident_pairs)
    rows.append(extra.row)
    cols.append(extra.col)
    sims.append(np.full(len(extra.row), -1.0))
    i = np.concatenate(rows).astype(np.int64)
    j = np.concatenate(cols).astype(np.int64)
    sim = np.concatenate(sims)
    # A pair found both ways keeps its real similarity; the -1 marks "not computed yet".
    order = np.lexsort((-sim, j, i))
    i, j, sim = i[order], j[order], sim[order]
    first = np.ones(len(i), dtype=bool)
    first[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
    i, j, sim = i[first], j[first], sim[first]
    missing = sim < 0
    if missing.any():
        sim[missing] = np.asarray(x[i[missing]].multiply(x[j[missing]]).sum(axis=1)).ravel()

    fine_match = _lookup(fine_pairs, i, j)
    road_own, road_exp = _key_incidence([it.roads for it in items])
    road_match = _lookup(_pairs_in(road_own, road_exp), i, j)
    town_own, town_exp = _key_incidence([it.towns for it in items])
    town_match = _lookup(_pairs_in(town_own, town_exp), i, j)
    dist_own, dist_exp = _key_incidence([it.districts for it in items])
    district_match = _lookup(_pairs_in(dist_own, dist_exp), i, j)

    has_fine = np.array([bool(it.fine) for it in items])[[i, j]]
    has_road = np.array([bool(it.roads) for it in items])[[i, j]]
    has_town = np.array([bool(it.towns) for it in items])[[i, j]]
    has_district = np.array([bool(it.districts) for it in items])[[i, j]]
    both = lambda has: has[0] & has[1]  # noqa: E731
    either = lambda has: has[0] | has[1]  # noqa: E731

    # A shared identifier ("58车贷", a bus line number) places a city-wide issue the way an
    # estate places a local one, unless the two name different specific places.
    same_place = fine_match | (_lookup(ident_pairs, i, j) & ~(both(has_fine) & ~fine_match))
    conflict = (both(has_fine) & ~fine_match) | (both(has_district) & ~district_match)
    # Roads decide only when neither message names an estate, village or school: an estate on
    # a road and a shop on the same road may well be one problem.
    same_road = road_match & ~(both(has_fine) & ~fine_match)
    conflict |= both(has_road) & ~road_match & ~either(has_fine)
    conflict |= both(has_town) & ~town_match & ~fine_match & ~road_match
    located = ~np.isnan(geo[:, 0])
    if located.sum() >= 2:
        pair_located = located[i] & located[j]
        d = _haversine(geo[i, 0], geo[i, 1], geo[j, 0], geo[j, 1])
        same_place |= pair_located & (d <= settings.near_m)
        conflict |= pair_located & (d > settings.far_m)
    regions = np.array([it.msg.region for it in items], dtype=object)
    if any(regions):
        conflict |= (regions[i] != regions[j]) & (regions[i] != "") & (regions[j] != "")

    # The place bonus is whole when the two complain about the same kind of problem, and shrinks
    # with their wording otherwise: at one estate, cracked walls and school places are two issues.
    kinds = np.array([it.kinds for it in items], dtype=np.int64)
    same_kind = (kinds[i] & kinds[j]) != 0
    same_family = np.zeros(len(i), dtype=bool)
    for fam in _FAMILY_MASKS:
        same_family |= ((kinds[i] & fam) != 0) & ((kinds[j] & fam) != 0)
    alike = np.where(
        same_kind, 1.0,
        np.where(same_family, settings.family_share, 0.0) + np.minimum(sim / settings.alike_subject, 1.0),
    )
    alike = np.minimum(alike, 1.0)
    score = sim.copy()
    score += settings.same_place_bonus * alike * same_place
    score += settings.same_road_bonus * alike * (same_road & ~same_place)
    score += settings.same_town_bonus * (town_match & ~same_place & ~same_road)
    times = np.array([it.msg.time.timestamp() / DAY for it in items])
    gap = np.abs(times[i] - times[j])
    window = np.where(same_place, settings.place_window_days, settings.window_days)
    # Capped before the time damping: a word-for-word repost months later is not more alike
    # than "the same problem at the same place" is allowed to be.
    score = np.minimum(score, 1.0) * np.exp(-np.maximum(gap - window, 0.0) / window)
    # Different places count against an issue, not merely for nothing: with average linkage
    # one such pair outweighs a weakly similar one.
    score = np.where(conflict & ~same_place, -settings.conflict_penalty, np.minimum(score, 1.0))
    keep = (score >= settings.min_subject) | (score < 0)
    return i[keep], j[keep], score[keep]


def average_linkage(n: int, pairs: Iterable[tuple[int, int, float]], threshold: float) -> list[list[int]]:
    """Agglomerative clustering with average linkage on a sparse similarity graph: repeatedly
    merge the two clusters whose mean pairwise similarity (absent pairs count 0) is highest,
    while it is at least `threshold`. Returns clusters as lists of item indexes."""
    weight: list[dict[int, float]] = [{} for _ in range(n)]
    for a, b, w in pairs:
        if a != b:
            weight[a][b] = weight[a].get(b, 0.0) + w
            weight[b][a] = weight[b].get(a, 0.0) + w
    size = [1] * n
    members: list[list[int]] = [[k] for k in range(n)]
    version = [0] * n
    heap: list[tuple[float, int, int, int, int]] = []
    for a in range(n):
        for b, w in weight[a].items():
            if a < b and w >= threshold:
                heap.append((-w, a, b, 0, 0))
    heapq.heapify(heap)
    while heap:
        neg, a, b, va, vb = heapq.heappop(heap)
        if -neg < threshold:
            break
        if version[a] != va or version[b] != vb or not members[a] or not members[b]:
            continue  # a stale entry: one of the clusters has changed since it was pushed
        big, small = (a, b) if size[a] >= size[b] else (b, a)
        for k, w in weight[small].items():
            del weight[k][small]
            if k != big:
                weight[big][k] = weight[big].get(k, 0.0) + w
                weight[k][big] = weight[k].get(big, 0.0) + w
        weight[small] = {}
        weight[big].pop(small, None)
        size[big] += size[small]
        members[big].extend(members[small])
        members[small] = []
        version[big] += 1
        version[small] += 1
        for k, w in weight[big].items():
            avg = w / (size[big] * size[k])
            if avg >= threshold:
                lo, hi = (big, k) if big < k else (k, big)
                heapq.heappush(heap, (-avg, lo, hi, version[lo], version[hi]))
    return [m for m in members if m]


def _cluster(items: list[_Prepared], settings: Settings) -> list[list[int]]:
    if not items:
        return []
    i, j, score = _pair_scores(items, settings)
    groups = average_linkage(len(items), zip(i.tolist(), j.tolist(), score.tolist(), strict=True),
                             settings.link_threshold)
    # The most central message (highest total similarity within its issue) names the issue.
    strength: dict[tuple[int, int], float] = {}
    for a, b, w in zip(i.tolist(), j.tolist(), score.tolist(), strict=True):
        strength[(a, b)] = w
    for g in groups:
        if len(g) > 1:
            total = {m: sum(strength.get((min(m, o), max(m, o)), 0.0) for o in g if o != m) for m in g}
            g.sort(key=lambda m: (-total[m], items[m].msg.time))
    return groups


# --- heat and labels ---------------------------------------------------------------------------


def heat_index(*, reports: int, reporters: int, likes: int, active_days: int, age_days: float,
               half_life_days: float = DEFAULT_SETTINGS.half_life_days) -> float:
    """Heat of one issue.

        heat = (reporters + 0.5 * (reports - reporters) + ln(1 + likes))
               * (1 + 0.25 * ln(active_days))
               * (0.5 + 0.5 * 2 ** (-age_days / half_life_days))

    - People first: each distinct reporter counts 1; a reporter writing again counts 0.5 more
      (persistence, but one person cannot make an issue hot alone); supporters' likes count
      logarithmically (one click is cheaper than a written report, and a single message with
      a thousand likes should not outrank fifty people who wrote in).
    - Spread: reports on many different days mean a lasting problem rather than one burst
      (ln 1 = 0 for a single day).
    - Recency: an issue last reported `half_life_days` ago keeps 75 % of its heat, an old one
      never falls below half: it may still be unresolved.
    """
    people = reporters + 0.5 * max(reports - reporters, 0) + math.log1p(max(likes, 0))
    spread = 1.0 + 0.25 * math.log(max(active_days, 1))
    recency = 0.5 + 0.5 * 2.0 ** (-max(age_days, 0.0) / half_life_days)
    return people * spread * recency


def _dominant(values: Iterable[str], min_share: float, total: int) -> list[str]:
    counts = Counter(values)
    return [v for v, c in counts.most_common() if c >= max(1.0, min_share * total)]


def _describe(members: list[_Prepared]) -> tuple[str, str]:
    """(label, place) of an issue: its places named by at least a third of its messages, coarse to
    fine, and the subject of its most central title."""
    total = len(members)
    admin_counts: Counter[str] = Counter()
    fine_names: Counter[str] = Counter()
    other_names: Counter[str] = Counter()
    for m in members:
        seen: set[str] = set()
        for p in m.places:
            if p.name in seen:
                continue
            seen.add(p.name)
            if p.kind == PlaceKind.ADMIN:
                admin_counts[p.name] += 1
            elif p.kind in FINE_KINDS:
                fine_names[p.key] += 1
            else:
                other_names[p.name] += 1
    threshold = max(1.0, total / 3)
    cities = [n for n, c in admin_counts.most_common() if c >= threshold and not _is_district(n)][:1]
    districts = [n for n, c in admin_counts.most_common() if c >= threshold and _is_district(n)][:1]
    others = [n for n, c in other_names.most_common() if c >= threshold][:1]
    fine_keys = [k for k, c in fine_names.most_common() if c >= threshold][:1]
    # Show a fine place the way its messages most often write it ("魅力之城小区", not the key).
    fine: list[str] = []
    for key in fine_keys:
        spelled = Counter(p.name for m in members for p in m.places if p.kind in FINE_KINDS and p.key == key)
        fine.append(spelled.most_common(1)[0][0])
    place_parts = cities + districts + others + fine
    where = "".join(cities + districts) + "".join(fine or others)

    # An empty title (a hotline entry, say) is named by the start of its text instead.
    central = members[0].title or textsim.normalise(members[0].msg.detail)[:30]
    subject = central
    for p in sorted(members[0].places, key=lambda p: -len(p.name)):
        subject = subject.replace(p.name, "")
    subject = _LEADING_VERBS.sub("", subject.strip(" ，,。:：-—"))
    subject = subject.strip(" ，,。:：-—“”\"'（）()")
    subject = re.sub(r"^(?:的|在|之|和|与|及)+", "", subject)
    if len(subject) < 4 or not where:
        label = central if not where or where in central else f"{where} {central}"
    else:
        label = f"{where} {subject}"
    return label, " / ".join(place_parts)


def _issue(members: list[_Prepared], now: datetime, settings: Settings) -> HotIssue:
    # An exact copy (same text, same minute, often under another user id) is one report.
    originals = [m for m in members if m.copy_of == m.index]
    reports = len({m.copy_of for m in members})
    reporters = len({m.msg.user or f"#{m.index}" for m in originals}) or 1
    times = sorted(m.msg.time for m in members)
    likes = sum(max(m.msg.likes, 0) for m in members)
    heat = heat_index(
        reports=reports, reporters=reporters, likes=likes, active_days=len({t.date() for t in times}),
        age_days=(now - times[-1]).total_seconds() / DAY, half_life_days=settings.half_life_days,
    )
    label, place = _describe(members)
    return HotIssue(
        rank=0, heat=round(heat, 2), label=label, place=place, first_time=times[0], last_time=times[-1],
        size=len(members), ids=[m.msg.id for m in members], reports=reports, reporters=reporters, likes=likes,
    )


def detect_hot_issues(
    messages: Sequence[Message],
    *,
    top: int | None = None,
    now: datetime | None = None,
    settings: Settings = DEFAULT_SETTINGS,
    gazetteer: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
) -> list[HotIssue]:
    """Group messages into issues and rank them by heat, hottest first.

    `now` is the moment recency is measured from (default: the latest message, which suits an
    export read after the fact); `gazetteer` holds real division names to recognise as places.
    """
    say = progress or (lambda _msg: None)
    if not messages:
        return []
    say(f"读取地点与主题：{len(messages)} 条")
    items = _prepare(messages, settings, gazetteer)
    now = now or max(m.time for m in messages)
    say("聚类")
    groups = _cluster(items, settings)
    say(f"计算热度：{len(groups)} 个问题")
    issues = [_issue([items[i] for i in g], now, settings) for g in groups]
    issues.sort(key=lambda issue: (-issue.heat, issue.first_time))
    if top is not None:
        issues = issues[:top]
    return [replace(issue, rank=r) for r, issue in enumerate(issues, start=1)]
