"""The default risk lexicon (高风险词库): words in a report that call for the command centre's
attention at once. Data, not code: the data migration seeds RiskTerm rows from this list and
staff change the rows (weights, new terms, switching one off) without a release.

Each entry is (term, kind, weight). The weight (1–10) sets the alert's severity: the highest
weight among a report's hits decides (alerts.severity_for_weight). Terms are matched as plain
substrings of the cleaned title and description, with white space removed, so "不 想 活" is
caught too; a hit right after a negation ("没有裂缝", "并非要跳楼") does not count.
"""

from __future__ import annotations

from typing import Final

SUICIDE: Final = "suicide"
VIOLENCE: Final = "violence"
GROUP_PROTEST: Final = "group_protest"
WAGE_ARREARS: Final = "wage_arrears"
SAFETY_HAZARD: Final = "safety_hazard"
OTHER: Final = "other"

KINDS: Final = (SUICIDE, VIOLENCE, GROUP_PROTEST, WAGE_ARREARS, SAFETY_HAZARD, OTHER)

DEFAULT_LEXICON: Final[tuple[tuple[str, str, int], ...]] = (
    # 轻生: any hint that a person may harm themselves is raised at once.
    ("轻生", SUICIDE, 10),
    ("不想活", SUICIDE, 10),
    ("活不下去", SUICIDE, 10),
    ("自杀", SUICIDE, 10),
    ("寻死", SUICIDE, 10),
    ("跳楼", SUICIDE, 10),
    ("跳河", SUICIDE, 10),
    ("喝农药", SUICIDE, 10),
    ("割腕", SUICIDE, 10),
    ("一死了之", SUICIDE, 10),
    # 暴力 / 民转刑: threats that a dispute may turn violent (DOMAIN §4).
    ("砍死", VIOLENCE, 10),
    ("杀了他", VIOLENCE, 10),
    ("弄死", VIOLENCE, 10),
    ("同归于尽", VIOLENCE, 10),
    ("报复", VIOLENCE, 8),
    ("持刀", VIOLENCE, 9),
    ("动刀", VIOLENCE, 9),
    ("打伤", VIOLENCE, 7),
    ("家暴", VIOLENCE, 8),
    ("家庭暴力", VIOLENCE, 8),
    ("泼汽油", VIOLENCE, 10),
    ("放火", VIOLENCE, 9),
    # 群体性事件
    ("集体上访", GROUP_PROTEST, 9),
    ("联名上访", GROUP_PROTEST, 8),
    ("进京上访", GROUP_PROTEST, 9),
    ("越级上访", GROUP_PROTEST, 8),
    ("堵路", GROUP_PROTEST, 7),
    ("堵门", GROUP_PROTEST, 7),
    ("拉横幅", GROUP_PROTEST, 7),
    ("打横幅", GROUP_PROTEST, 7),
    ("聚集", GROUP_PROTEST, 6),
    ("静坐", GROUP_PROTEST, 7),
    ("围堵", GROUP_PROTEST, 7),
    # 欠薪: near the Spring Festival these turn into group protests quickly.
    ("讨薪", WAGE_ARREARS, 6),
    ("欠薪", WAGE_ARREARS, 6),
    ("拖欠工资", WAGE_ARREARS, 6),
    ("拖欠工钱", WAGE_ARREARS, 6),
    ("不发工资", WAGE_ARREARS, 6),
    ("农民工工资", WAGE_ARREARS, 5),
    # 安全隐患: dangers to life that cannot wait for the normal time limit.
    ("塌方", SAFETY_HAZARD, 8),
    ("坍塌", SAFETY_HAZARD, 8),
    ("垮塌", SAFETY_HAZARD, 8),
    ("滑坡", SAFETY_HAZARD, 8),
    ("裂缝", SAFETY_HAZARD, 4),
    ("燃气泄漏", SAFETY_HAZARD, 9),
    ("煤气泄漏", SAFETY_HAZARD, 9),
    ("天然气泄漏", SAFETY_HAZARD, 9),
    ("漏气", SAFETY_HAZARD, 6),
    ("漏电", SAFETY_HAZARD, 7),
    ("电线裸露", SAFETY_HAZARD, 6),
    ("溺水", SAFETY_HAZARD, 8),
    ("起火", SAFETY_HAZARD, 7),
    ("着火", SAFETY_HAZARD, 7),
    ("爆炸", SAFETY_HAZARD, 9),
    ("中毒", SAFETY_HAZARD, 8),
    ("危房", SAFETY_HAZARD, 7),
    # 其他
    ("走失", OTHER, 6),
    ("无人照料", OTHER, 5),
)

# Words right before a hit that deny it: "没有裂缝", "并非要跳楼", "未发现漏电".
NEGATIONS: Final = ("没有", "并没", "并非", "不是", "不会", "并未", "未发现", "未见", "无")
# How far before a hit a negation may stand (characters): "没有发现裂缝" still denies it.
NEGATION_WINDOW: Final = 4
