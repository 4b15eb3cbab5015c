"""The demo's accounts: one per role for the sample county, each with a generated password.

In a store of several counties (the sample prefecture) the county's roles (admin, leader,
planner, viewer) get the prefecture, and each county also has its own admin and leader
(``demo-admin-<county>``, ``demo-leader-<county>``).

``gisgrid demo`` calls :func:`make_demo_accounts` after writing the county, and
:func:`write_demo_accounts` puts the passwords in a file only the user may read. There is
never a fixed default password: every run draws new ones (and so a re-run replaces them).
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from gisgrid import codes
from gisgrid.analysis.assign import in_force
from gisgrid.errors import ConfigError, NotFoundError
from gisgrid.roles import ROLES, Role
from gisgrid.services import accounts
from gisgrid.services.cases import case_summaries
from gisgrid.stores.base import Store

#: the lines of the accounts file that are not accounts start with this
COMMENT = "#"


@dataclass(frozen=True)
class DemoAccount:
    """One demo account and its password, as written to the accounts file."""

    username: str
    role: Role
    area: str
    password: str
    phone: str | None = None


@dataclass(frozen=True)
class _Areas:
    county: str
    #: every county of the store, in code order
    counties: tuple[str, ...]
    township: str
    village: str
    grid: str
    grid_phone: str


def net_username(role: Role, area: str) -> str:
    """The username of the demo account of ``role``: the sample county's actors are named
    after the net (``gw-<grid>`` the grid worker, ``vs-<village>`` the village secretary,
    ``tw-<township>`` the township officer; :func:`gisgrid.sample.extras.case_histories`),
    so the demo's grid worker finds the cases dispatched to them; the county's roles are
    ``demo-<role>``."""
    prefix = {Role.GRID: "gw", Role.VILLAGE: "vs", Role.TOWNSHIP: "tw"}.get(role)
    return f"demo-{role.value}" if prefix is None else f"{prefix}-{area}"


def _demo_areas(store: Store) -> _Areas:
    """The areas of the demo accounts: the level-3 grid (in force today) with a responsible
    person's phone whose grid worker has the most open cases (the first by code on a tie,
    or when there are no cases), its village and township, and the county."""
    grids = store.read(
        "grids",
        where={"level": 3},
        columns=["code", "level", "responsible_phone", "valid_from", "valid_to"],
    )
    grids = in_force(grids)
    staffed = grids[grids["responsible_phone"].notna()].sort_values("code")
    if staffed.empty:
        raise NotFoundError("no level-3 grid with a responsible person's phone in the store")
    open_cases = Counter(
        c.assignee for c in case_summaries(store) if c.escalation.due is not None and c.assignee
    )
    busiest = max(
        range(len(staffed)),
        key=lambda i: (open_cases[net_username(Role.GRID, str(staffed["code"].iloc[i]))], -i),
    )
    counties = tuple(sorted({codes.county_of(str(c)) for c in grids["code"]}))
    staffed = staffed.iloc[[busiest]]
    grid = str(staffed["code"].iloc[0])
    return _Areas(
        county=codes.county_of(grid),
        counties=counties,
        township=codes.township_of(grid),
        village=codes.village_of(grid),
        grid=grid,
        grid_phone=accounts.normalise_phone(str(staffed["responsible_phone"].iloc[0])),
    )


def make_demo_accounts(store: Store, *, actor: str) -> list[DemoAccount]:
    """Create (or, when they exist, reset) one account per role for the sample county.

    The admin, leader, planner and viewer get the county; the township officer, the village
    secretary and the grid worker the township, village and level-3 grid of the staffed grid
    with the most open cases (:func:`_demo_areas`), named as the sample's actors of that
    grid (:func:`net_username`) so the cases dispatched there are theirs; the grid worker
    is also linked by the responsible person's phone (to every grid the person is
    responsible for).
    Every password is new; an existing account is enabled and given its demo role and area
    again, which ends its sessions.
    """
    areas = _demo_areas(store)
    several = len(areas.counties) > 1
    top = codes.prefecture_of(areas.county) if several else areas.county
    plan: list[tuple[Role, str, str | None]] = [
        (Role.ADMIN, top, None),
        (Role.LEADER, top, None),
        (Role.TOWNSHIP, areas.township, None),
        (Role.VILLAGE, areas.village, None),
        (Role.GRID, areas.grid, areas.grid_phone),
        (Role.PLANNER, top, None),
        (Role.VIEWER, top, None),
    ]
    if several:
        plan += [(role, c, None) for c in areas.counties for role in (Role.ADMIN, Role.LEADER)]
    ledger = store.ledger
    made = []
    for role, area, phone in plan:
        username = net_username(role, area)
        if several and codes.kind_of(area) == "county":
            username = f"{username}-{area}"
        if ledger.account(username) is None:
            password = accounts.generate_password()
            accounts.add_account(
                ledger,
                username=username,
                display_name=f"演示{ROLES[role].label_zh}",
                role=role,
                area=area,
                password=password,
                phone=phone,
                actor=actor,
            )
        else:
            accounts.set_role(ledger, username, role=role, area=area, phone=phone, actor=actor)
            accounts.set_disabled(ledger, username, disabled=False, actor=actor)
            _, password = accounts.reset_password(ledger, username, password=None, actor=actor)
        made.append(DemoAccount(username, role, area, password, phone))
    return made


def demo_accounts_path(store: Store, *, fallback_dir: Path) -> Path:
    """Where the accounts file goes: beside a GeoPackage (``<stem>.demo-accounts.txt``),
    else in ``fallback_dir`` (a database has no folder of its own)."""
    if store.path is not None:
        return store.path.with_name(f"{store.path.stem}.demo-accounts.txt")
    return fallback_dir / "demo-accounts.txt"


def write_demo_accounts(path: Path, made: list[DemoAccount], *, store_url: str) -> Path:
    """Write the accounts and their passwords to ``path``, readable by the user only (0600).

    The file is created with its mode (never world-readable for an instant), an existing
    one is truncated and set to 0600 again, and a symbolic link is refused.
    """
    lines = [
        f"{COMMENT} gisgrid 演示账户 demo accounts · {store_url}",
        f"{COMMENT} {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · 请妥善保管 keep this file "
        "private; each `gisgrid demo` writes new passwords",
        f"{COMMENT} 角色 role\t用户名 username\t密码 password\t区域 area\t电话 phone\t角色名称",
    ]
    lines += [
        "\t".join(
            (a.role.value, a.username, a.password, a.area, a.phone or "", ROLES[a.role].label_zh)
        )
        for a in made
    ]
    text = "\n".join(lines) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        fd = os.open(path, flags, 0o600)
        try:
            os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise ConfigError(f"cannot write the demo accounts to {path}: {exc}") from exc
    return path


def read_demo_accounts(path: Path) -> list[DemoAccount]:
    """The accounts of a file :func:`write_demo_accounts` wrote (tests and scripts)."""
    made = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(COMMENT):
            role, username, password, area, phone, _label = line.split("\t")
            made.append(DemoAccount(username, Role(role), area, password, phone or None))
    return made
