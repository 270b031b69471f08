"""The demo's accounts that a person signs in with: one per role, all in one corner of the city
(洛龙区 › 寇店镇 › 寇店村), plus a citizen. Printed by `sizhi serve` and listed in the README."""

from __future__ import annotations

from dataclasses import dataclass

from sizhi.accounts.models import Role

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
