"""Who may see which case, as data: role × case (by its relation to the role) → allowed.

The test world (sizhi/conftest.py) plus the objects built by tests/conftest.py:

    a1          grid A1-1 (金业路社区, 西关街道, 老城区): inside every "A" role; the citizen's own report
    a2          grid A2-1 (周公庙社区, 西关街道): outside grid worker A and the village cadre, inside town A
    b1          grid B1-1 (唐宫路社区, 王城路街道, 西工区): outside every "A" role
    b_dept      grid B1-1, assigned to 老城区城市管理局: the department handler's unit, outside his scope
    other_city  郑州市 (another city, no grid): outside even the city dispatcher and the city leader

A role's row lists the cases it may see; every other case must be a 404 (or, where the channel
itself is closed to the role, a 401/403/redirect that shows nothing of it) on EVERY channel:
console detail, list, search and queue, dashboard counts, the dashboard's drill-down list and case
map, the monthly circular .xlsx export, photo URLs (console and API), the JSON API (detail, list,
search, "my cases", photo), actions by changed id (console and API) and Open311.
Administrators see no case at all (三权分立).

The console itself (CONSOLE_PAGES, every page and data URL behind the staff-only guards) answers
each role as its row's `console` says, before it looks at any object: working staff are let in,
the three administrators get 404 (the console does not admit to existing for them, as the audit,
system and security pages do not for anyone but their own admin; the refusal is audited),
citizens the 403 page that says it is for staff, and anonymous visitors the login form (401 for
the pages' JSON).
"""

from __future__ import annotations

from dataclasses import dataclass

CASES: tuple[str, ...] = ("a1", "a2", "b1", "b_dept", "other_city")


# How the staff-only console answers a role (Row.console).
OPEN = "open"  # let in; what it then shows is the case matrix's business
HIDDEN = "hidden"  # 404, and an audit record of the refusal
FORBIDDEN = "forbidden"  # the 403 page
LOGIN = "login"  # a redirect to the login form (pages), 401 (the pages' JSON)


@dataclass(frozen=True)
class Row:
    role: str  # a user name from the test world (or "anonymous")
    relation: str  # what the row exercises, for the reader and the test id
    staff: bool  # works in the console (the console and the staff API are open to it)
    sees: frozenset[str]
    console: str


def _row(role: str, relation: str, sees: set[str], *, staff: bool = True, console: str = OPEN) -> Row:
    return Row(role, relation, staff, frozenset(sees), console)


MATRIX: tuple[Row, ...] = (
    _row("grid_worker", "grid worker of grid A1-1 (cases of grid B are outside)", {"a1"}),
    _row("grid_worker_b", "grid worker of grid B1-1 (cases of grid A are outside)", {"b1", "b_dept"}),
    _row("village_cadre", "village cadre of 金业路社区 (other villages outside)", {"a1"}),
    _row("town_dispatcher", "town dispatcher of 西关街道: its subtree", {"a1", "a2"}),
    _row("town_dispatcher_b", "town dispatcher of 王城路街道: its subtree", {"b1", "b_dept"}),
    _row("district_dispatcher", "district dispatcher of 老城区: its subtree", {"a1", "a2"}),
    _row("city_dispatcher", "city dispatcher of 洛阳市: not another city", {"a1", "a2", "b1", "b_dept"}),
    _row("department_handler", "department handler: its district, plus what is assigned to its unit",
         {"a1", "a2", "b_dept"}),
    _row("leader", "city leader of 洛阳市: not another city", {"a1", "a2", "b1", "b_dept"}),
    _row("leader_b", "district leader of 西工区: not 老城区", {"b1", "b_dept"}),
    _row("leader_zz", "leader of 郑州市, the other city: nothing of 洛阳", {"other_city"}),
    _row("system_admin", "system administrator: no case content", set(), console=HIDDEN),
    _row("security_admin", "security administrator: no case content", set(), console=HIDDEN),
    _row("audit_admin", "audit administrator: no case content", set(), console=HIDDEN),
    _row("citizen", "citizen who reported a1 (by API and tracking code only)", {"a1"}, staff=False,
         console=FORBIDDEN),
    _row("citizen2", "another citizen", set(), staff=False, console=FORBIDDEN),
    _row("anonymous", "visitor who is not signed in", set(), staff=False, console=LOGIN),
)

ADMIN_ROLES = frozenset({"system_admin", "security_admin", "audit_admin"})

# An id no object has: the guards answer before any lookup, and staff who are let in get a 404.
MISSING = 987_654_321


@dataclass(frozen=True)
class ConsolePage:
    name: str  # URL name
    kwargs: tuple[tuple[str, str | int], ...] = ()
    method: str = "get"
    query: tuple[tuple[str, str], ...] = ()
    json: bool = False  # data for the pages' own scripts: errors are JSON, no login redirect
    staff_status: int | None = 200  # what every OPEN row gets; None: a narrower rule of its own app


PK = (("pk", MISSING),)
BBOX = (("bbox", "112.3,34.5,112.6,34.8"),)

# Every page and data URL behind the staff-only guards (cases.views.staff_required,
# views_command.command_staff, insight's staff_page and staff_json, privacy's register_required).
CONSOLE_PAGES: tuple[ConsolePage, ...] = (
    ConsolePage("cases:queue"),
    ConsolePage("cases:list"),
    ConsolePage("cases:detail", PK, staff_status=404),
    ConsolePage("cases:photo", (("pk", MISSING), ("attachment_id", MISSING)), staff_status=404),
    ConsolePage("cases:act", (("pk", MISSING), ("action", "accept")), method="post", staff_status=404),
    ConsolePage("command:ranking"),
    ConsolePage("command:ranking_xlsx"),
    ConsolePage("command:figure_cases", (("kind", "unit"), ("pk", MISSING), ("metric", "total")), staff_status=404),
    ConsolePage("command:summons"),
    ConsolePage("command:circular"),
    ConsolePage("command:circular_xlsx"),
    ConsolePage("command:supervision_list"),
    ConsolePage("command:supervision_new"),
    ConsolePage("command:supervision_respond", PK, staff_status=404),
    ConsolePage("insight:dashboard"),
    ConsolePage("insight:data", json=True),
    ConsolePage("insight:cases"),
    ConsolePage("insight:map"),
    ConsolePage("insight:map_grids", query=BBOX, json=True),
    ConsolePage("insight:map_points", query=BBOX, json=True),
    ConsolePage("insight:screen"),
    ConsolePage("alerts:list"),
    ConsolePage("alerts:detail", PK, staff_status=404),
    ConsolePage("alerts:acknowledge", PK, method="post", staff_status=404),
    ConsolePage("alerts:briefings"),
    ConsolePage("alerts:briefing", PK, staff_status=404),
    ConsolePage("alerts:briefing_pdf", PK, staff_status=404),
    ConsolePage("alerts:briefing_xlsx", PK, staff_status=404),
    ConsolePage("privacy:case_reporter", PK, staff_status=404),
    # The resident register is for the grass-roots roles only (privacy.permissions).
    ConsolePage("privacy:search", staff_status=None),
    ConsolePage("privacy:new", staff_status=None),
    ConsolePage("privacy:detail", PK, staff_status=None),
    ConsolePage("privacy:unmask", PK, method="post", staff_status=None),
)

# Open311 is the public read of the platform by design (GeoReport v2): every case that is not
# confidential (secretary-mailbox letters) answers to anyone, with no reporter data. Its matrix is
# therefore by case, not by role.
OPEN311_PUBLIC: frozenset[str] = frozenset(CASES)


def row(role: str) -> Row:
    return next(r for r in MATRIX if r.role == role)
