"""The demo's accounts that a person signs in with: one per role, all in one corner of the city
(洛龙区 › 寇店镇 › 寇店村), plus a citizen. Printed by `sizhi serve` and listed in the README."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sizhi.accounts.models import Role

if TYPE_CHECKING:
    from sizhi.accounts.models import User
    from sizhi.regions.models import Region

# One documented password for every demo account; the demo is for a laptop, never for production.
DEMO_PASSWORD = "sizhi-demo-2026"  # noqa: S105

DEMO_DISTRICT_CODE = "410311000000"  # 洛龙区
DEMO_TOWN_CODE = "410311194000"  # 寇店镇
DEMO_VILLAGE_CODE = "410311194200"  # 寇店村
DEMO_CITIZEN_PHONE = "13903790001"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str  # a Role value, or "citizen"
    name: str
    where: str

    @property
    def role_label(self) -> str:
        return "群众" if self.role == "citizen" else str(Role(self.role).label)


DEMO_LOGINS: tuple[DemoLogin, ...] = (
    DemoLogin("grid_worker", Role.GRID_WORKER, "赵文静", "寇店村 第1网格（专职网格员）"),
    DemoLogin("village_cadre", Role.VILLAGE_CADRE, "孙卫东", "寇店村村民委员会"),
    DemoLogin("party_secretary", Role.PARTY_SECRETARY, "李振华", "寇店村党支部（兼第1网格网格长）"),
    DemoLogin("town_dispatcher", Role.TOWN_DISPATCHER, "周海燕", "寇店镇综治中心"),
    DemoLogin("department_handler", Role.DEPARTMENT_HANDLER, "吴志强", "洛龙区城市管理局"),
    DemoLogin("district_dispatcher", Role.DISTRICT_DISPATCHER, "郑丽娟", "洛龙区社会治理指挥中心"),
    DemoLogin("city_dispatcher", Role.CITY_DISPATCHER, "王国强", "洛阳市社会治理指挥中心"),
    DemoLogin("leader", Role.LEADER, "陈宏伟", "洛阳市（只读）"),
    DemoLogin("system_admin", Role.SYSTEM_ADMIN, "冯晓东", "系统管理"),
    DemoLogin("security_admin", Role.SECURITY_ADMIN, "韩雪梅", "安全管理"),
    DemoLogin("audit_admin", Role.AUDIT_ADMIN, "曹新民", "审计"),
    DemoLogin("grid_worker2", Role.GRID_WORKER, "马秀英", "寇店村 第2网格（兼职网格员）"),
    DemoLogin(DEMO_CITIZEN_PHONE, "citizen", "王建国", "寇店村村民，用手机号登录"),
)


def logins_table() -> str:
    """The demo logins as aligned text lines, for the console."""
    width = max(len(login.username) for login in DEMO_LOGINS)
    lines = [
        f"  {login.username.ljust(width)}  {login.role_label}，{login.name}，{login.where}" for login in DEMO_LOGINS
    ]
    lines.append(f"  密码（全部账号）：{DEMO_PASSWORD}")
    return "\n".join(lines)


def demo_citizen_username(i: int) -> str:
    """The account name of the i-th demo citizen (0-based). Never the phone number: usernames
    appear on staff pages, where phones stay masked. Citizens sign in with the phone itself."""
    return f"demo-citizen-{i + 1:03d}"


# --- residents (居民) of the demo grid -----------------------------------------------------------
# ID numbers are generated with a correct check digit but are obviously not anyone's: county code
# 410399 does not exist (洛阳市 has no county 99) and every birthday is a 1 January. Phones use the
# 1380379 block the demo never gives to an account.
DEMO_ID_REGION = "410399"
DEMO_RESIDENTS: tuple[tuple[str, str, str, int, str, bool], ...] = (
    # door, name, relation, birth year, phone ("" = none), party member
    ("寇店村一组 12 号", "王守田", "户主", 1956, "13803790101", True),
    ("寇店村一组 12 号", "刘桂香", "配偶", 1958, "", False),
    ("寇店村一组 12 号", "王小军", "子", 1984, "13803790102", False),
    ("寇店村二组 3 号", "孙玉兰", "户主", 1949, "", False),
    ("寇店村二组 3 号", "孙建业", "子", 1975, "13803790103", True),
    ("寇店村三组 27 号", "赵红梅", "户主", 1990, "13803790104", False),
)


def demo_id_number(birth_year: int, seq: int) -> str:
    from sizhi.privacy.idcards import check_digit

    first17 = f"{DEMO_ID_REGION}{birth_year:04d}0101{seq:03d}"
    return first17 + check_digit(first17)


def load_demo_residents(*, grid_worker: User) -> int:
    """Register the demo residents in the grid worker's grid through the privacy service, as
    the register page would (validated, encrypted, audited). Returns how many."""
    from sizhi.privacy.services import resident_register
    from sizhi.regions.models import Household

    membership = grid_worker.memberships.filter(role=Role.GRID_WORKER, grid__isnull=False).first()
    if membership is None or membership.grid is None:
        return 0
    homes: dict[str, Household] = {}
    for seq, (door, name, relation, born, phone, party) in enumerate(DEMO_RESIDENTS, start=901):
        if door not in homes:
            homes[door] = Household.objects.create(grid=membership.grid, door=door, head_name=name)
        resident_register(
            actor=grid_worker, household=homes[door], name=name, relation=relation,
            id_number=demo_id_number(born, seq), phone=phone, is_party_member=party,
        )
    return len(DEMO_RESIDENTS)


def delete_demo_residents(city: Region) -> None:
    """Remove the households (and with them the residents) in the demo city's grids."""
    from sizhi.cases.models import Case
    from sizhi.privacy.models import UnmaskRecord
    from sizhi.regions.models import Household, Resident
    from sizhi.regions.selectors import region_scope_q

    homes = Household.objects.filter(region_scope_q(city, "grid__region_code"))
    # The records of who looked at the demo's numbers go with the demo (they name demo accounts).
    residents = [str(pk) for pk in Resident.objects.filter(household__in=homes).values_list("pk", flat=True)]
    cases = [str(pk) for pk in Case.objects.filter(region_scope_q(city, "region_code")).values_list("pk", flat=True)]
    UnmaskRecord.objects.filter(target_type="regions.resident", target_id__in=residents).delete()
    UnmaskRecord.objects.filter(target_type="cases.case", target_id__in=cases).delete()
    homes.delete()
