"""``gisgrid users``, ``tokens``, ``audit``, the demo's accounts and ``serve``'s refusal.

The account commands run in process with typer's CliRunner (hidden prompts need its input);
the demo runs as the real command, twice, on the smallest sample county.
"""

from __future__ import annotations

import getpass
import json
import os
import stat
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from gisgrid import cli
from gisgrid.errors import AuthenticationError
from gisgrid.roles import ROLES, Role
from gisgrid.services import accounts
from gisgrid.services.cases import case_summaries, work_list
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import AuditQuery, Ledger

Run = Callable[..., subprocess.CompletedProcess[str]]

PASSWORD = "Dongting-lake-42"
COUNTY, TOWNSHIP, VILLAGE = "430623", "430623101", "430623101201"
LEVEL3 = "430623101201003002"
ACTOR = f"cli:{getpass.getuser()}"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "county.gpkg"


@pytest.fixture
def gisgrid(store: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """``gisgrid(*args, input=None)``: the command in process, on ``store``."""
    for name in ("GISGRID_STORE", "GISGRID_AUTH_MIN_PASSWORD_LENGTH", "GISGRID_AUTH_TOKEN_DAYS"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"})
    # rich fixes a console's width from COLUMNS when it is made, at import: a pytest-xdist
    # worker has COLUMNS=80 then, so the runner's COLUMNS alone would not reach the tables
    for console in (cli.out, cli.err):
        monkeypatch.setattr(console, "width", 250)

    def run(*args: str | Path, input: str | None = None) -> Result:
        return runner.invoke(cli.app, [*map(str, args), "--store", str(store)], input=input)

    return run


def ledger_of(store: Path) -> Ledger:
    return GeoPackageStore(store).ledger


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def refused(result: Result, code: int) -> str:
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.output}"
    assert "error:" in result.stderr
    return " ".join(result.stderr.split())


def add(store: Path, username: str = "li.ming", role: Role = Role.VILLAGE, area: str = VILLAGE,
        **options: Any) -> None:  # fmt: skip
    accounts.add_account(
        ledger_of(store), username=username, display_name="李明", role=role, area=area,
        password=PASSWORD, actor="test", **options,
    )  # fmt: skip


def signs_in(store: Path, username: str, password: str) -> bool:
    try:
        accounts.sign_in(ledger_of(store), username, password, address=None)
    except AuthenticationError:
        return False
    return True


# --- users add ---------------------------------------------------------------------------------


def test_add_with_a_generated_password(gisgrid: Callable[..., Result], store: Path) -> None:
    result = ok(gisgrid("users", "add", "li.ming", "--role", "grid", "--area", LEVEL3,
                        "--name", "李明", "--phone", "100 2264 9384", "--generate"))  # fmt: skip
    password = result.stdout.strip().splitlines()[-1]
    assert "shown only this once" in result.stderr
    assert len(password) >= 16 and signs_in(store, "li.ming", password)
    account = ledger_of(store).account("li.ming")
    assert account is not None
    assert (account.display_name, account.role, account.area, account.phone) == (
        "李明", Role.GRID, LEVEL3, "10022649384",
    )  # fmt: skip
    [entry] = [r.entry for r in ledger_of(store).audit(AuditQuery(action="account_add"))]
    assert entry.actor == ACTOR and password not in repr(entry)


def test_add_asks_for_the_password_twice_hidden(
    gisgrid: Callable[..., Result], store: Path
) -> None:
    result = ok(gisgrid("users", "add", "li.ming", "--role", "village", "--area", VILLAGE,
                        input=f"{PASSWORD}\n{PASSWORD}\n"))  # fmt: skip
    assert PASSWORD not in result.output
    assert "repeat" in result.output
    assert signs_in(store, "li.ming", PASSWORD)


@pytest.mark.parametrize("from_stdin", [False, True])
def test_add_reads_the_password_file(
    gisgrid: Callable[..., Result], store: Path, tmp_path: Path, from_stdin: bool
) -> None:
    secret = tmp_path / "pw.txt"
    secret.write_text(f"{PASSWORD}\nignored second line\n", encoding="utf-8")
    if from_stdin:
        result = gisgrid("users", "add", "li.ming", "--role", "viewer", "--area", TOWNSHIP,
                         "--password-file", "-", input=secret.read_text())  # fmt: skip
    else:
        result = gisgrid("users", "add", "li.ming", "--role", "viewer", "--area", TOWNSHIP,
                         "--password-file", secret)  # fmt: skip
    assert PASSWORD not in ok(result).output
    assert signs_in(store, "li.ming", PASSWORD)


def test_a_password_is_never_a_command_line_argument(gisgrid: Callable[..., Result]) -> None:
    for option in ("--password", "-p"):
        result = gisgrid("users", "add", "li.ming", "--role", "admin", "--area", COUNTY,
                         option, PASSWORD)  # fmt: skip
        assert result.exit_code == 2  # click's usage error: no such option


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["wang", "--role", "chief", "--area", COUNTY], 2, "unknown role"),
        (["wang", "--role", "township", "--area", COUNTY], 2, "not a county code"),
        (["wang", "--role", "grid", "--area", VILLAGE], 2, "not a village code"),
        (["wang", "--role", "village", "--area", "12345"], 2, "is no county"),
        (["Wang Fang", "--role", "admin", "--area", COUNTY], 2, "3-32 characters"),
        (["wang", "--role", "admin", "--area", COUNTY, "--generate", "--password-file", "x"], 2,
         "exclude each other"),
        (["wang", "--role", "admin", "--area", COUNTY, "--password-file", "none.txt"], 3,
         "cannot read the password file"),
        (["wang", "--role", "admin", "--area", COUNTY, "--password-file", "weak.txt"], 4,
         "two kinds of characters"),
        (["li.ming", "--role", "admin", "--area", COUNTY, "--generate"], 4, "exists already"),
    ],
)  # fmt: skip
def test_add_refuses(
    gisgrid: Callable[..., Result],
    store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    words: str,
) -> None:
    add(store)
    (tmp_path / "weak.txt").write_text("aaaaaaaaaaaaaaaa\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    message = refused(gisgrid("users", "add", *args), code)
    assert words in message
    assert "aaaaaaaaaaaaaaaa" not in message
    assert [a.username for a in ledger_of(store).accounts()] == ["li.ming"]


# --- users list, set-role, disable, enable, reset-password -------------------------------------


def test_list_shows_every_account(gisgrid: Callable[..., Result], store: Path) -> None:
    add(store)
    add(store, "zhang.wei", Role.GRID, LEVEL3, phone="10022649384")
    ok(gisgrid("users", "disable", "zhang.wei"))
    text = ok(gisgrid("users", "list")).stdout
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    assert {"li.ming", "zhang.wei"} <= set(rows)
    assert "village 村（社区）书记" in rows["li.ming"] and VILLAGE in rows["li.ming"]
    assert "停用" not in rows["li.ming"]
    zhang = rows["zhang.wei"]
    assert "grid 网格员" in zhang and LEVEL3 in zhang and "10022649384" in zhang
    assert "停用 yes" in zhang
    assert "$argon2" not in text


def test_set_role(gisgrid: Callable[..., Result], store: Path) -> None:
    add(store)
    ok(gisgrid("users", "set-role", "li.ming", "township", TOWNSHIP))
    account = ledger_of(store).account("li.ming")
    assert account is not None and (account.role, account.area) == (Role.TOWNSHIP, TOWNSHIP)
    assert "not a village code" in refused(gisgrid("users", "set-role", "li.ming", "township",
                                                   VILLAGE), 2)  # fmt: skip
    refused(gisgrid("users", "set-role", "nobody", "viewer", COUNTY), 6)


def test_disable_and_enable(gisgrid: Callable[..., Result], store: Path) -> None:
    add(store)
    ok(gisgrid("users", "disable", "li.ming"))
    assert not signs_in(store, "li.ming", PASSWORD)
    ok(gisgrid("users", "enable", "li.ming"))
    assert signs_in(store, "li.ming", PASSWORD)
    refused(gisgrid("users", "disable", "nobody"), 6)
    refused(gisgrid("users", "enable", "nobody"), 6)
    changes = ledger_of(store).audit(AuditQuery(action="account_change", newest_first=False))
    assert [(r.entry.actor, r.entry.detail["disabled"]) for r in changes] == [
        (ACTOR, True), (ACTOR, False),
    ]  # fmt: skip


def test_reset_password(gisgrid: Callable[..., Result], store: Path, tmp_path: Path) -> None:
    add(store)
    result = ok(gisgrid("users", "reset-password", "li.ming", "--generate"))
    new = result.stdout.strip().splitlines()[-1]
    assert result.stdout.count(new) == 1
    assert signs_in(store, "li.ming", new) and not signs_in(store, "li.ming", PASSWORD)
    (tmp_path / "pw").write_text("Another-good-one-7\n", encoding="utf-8")
    result = ok(gisgrid("users", "reset-password", "li.ming", "--password-file", tmp_path / "pw"))
    assert "Another-good-one-7" not in result.output
    assert signs_in(store, "li.ming", "Another-good-one-7")
    result = ok(gisgrid("users", "reset-password", "li.ming", input="Third-pass-word-9\n" * 2))
    assert signs_in(store, "li.ming", "Third-pass-word-9")
    refused(gisgrid("users", "reset-password", "nobody", "--generate"), 6)


# --- tokens ------------------------------------------------------------------------------------


def test_tokens_create_list_revoke(gisgrid: Callable[..., Result], store: Path) -> None:
    add(store)
    result = ok(gisgrid("tokens", "create", "li.ming", "--name", "nightly", "--days", "7"))
    value = result.stdout.strip()
    assert value.startswith("ggt_") and len(value) == 47
    assert "shown only now" in result.stderr and value not in result.stderr
    caller = accounts.caller_from_token(ledger_of(store), value, address=None)
    assert caller is not None and caller.account.username == "li.ming"
    listed = ok(gisgrid("tokens", "list")).stdout
    assert value not in listed
    assert value[:12] in listed and "nightly" in listed and "有效 valid" in listed
    assert ok(gisgrid("tokens", "list", "li.ming")).stdout.count(value[:12]) == 1
    [token] = ledger_of(store).tokens()
    ok(gisgrid("tokens", "revoke", str(token.id)))
    assert accounts.caller_from_token(ledger_of(store), value, address=None) is None
    assert "已撤销 revoked" in ok(gisgrid("tokens", "list")).stdout
    refused(gisgrid("tokens", "revoke", "9999"), 6)
    refused(gisgrid("tokens", "list", "nobody"), 6)
    refused(gisgrid("tokens", "create", "nobody", "--name", "x"), 6)
    refused(gisgrid("tokens", "create", "li.ming", "--name", " "), 2)


def test_no_token_for_a_disabled_account(gisgrid: Callable[..., Result], store: Path) -> None:
    add(store)
    ok(gisgrid("users", "disable", "li.ming"))
    assert "disabled" in refused(gisgrid("tokens", "create", "li.ming", "--name", "x"), 7)
    assert ledger_of(store).tokens() == []


# --- audit -------------------------------------------------------------------------------------


def test_audit_reads_the_log_with_filters(gisgrid: Callable[..., Result], store: Path) -> None:
    add(store)
    ledger = ledger_of(store)
    accounts.sign_in(ledger, "li.ming", PASSWORD, address="10.0.0.5")
    with pytest.raises(AuthenticationError):
        accounts.sign_in(ledger, "li.ming", "Wrong-password-1", address="10.0.0.6")

    rows = json.loads(ok(gisgrid("audit", "--json")).stdout)
    assert [r["action"] for r in rows] == ["sign_in", "sign_in", "account_add"]  # newest first
    assert {"id", "at", "actor", "role", "address", "target", "reason", "detail"} <= set(rows[0])
    failed = json.loads(ok(gisgrid("audit", "--json", "--outcome", "failed")).stdout)
    assert [(r["actor"], r["address"]) for r in failed] == [("li.ming", "10.0.0.6")]
    by_address = json.loads(ok(gisgrid("audit", "--json", "--address", "10.0.0.5")).stdout)
    assert [r["outcome"] for r in by_address] == ["ok"]
    assert len(json.loads(ok(gisgrid("audit", "--json", "--user", "test")).stdout)) == 1
    assert len(json.loads(ok(gisgrid("audit", "--json", "--action", "sign_in")).stdout)) == 2
    assert len(json.loads(ok(gisgrid("audit", "--json", "--limit", "1")).stdout)) == 1
    assert json.loads(ok(gisgrid("audit", "--json", "--since", "2999-01-01")).stdout) == []
    assert (
        json.loads(ok(gisgrid("audit", "--json", "--until", "2000-01-01T00:00+08:00")).stdout) == []
    )
    table = ok(gisgrid("audit")).stdout
    assert "account_add" in table and "10.0.0.6" in table
    assert "--outcome" in refused(gisgrid("audit", "--outcome", "bad"), 2)
    assert "--since" in refused(gisgrid("audit", "--since", "yesterday"), 2)
    assert "Wrong-password-1" not in table


# --- serve -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False),
     ("10.0.0.5", False), ("county-gis.local", False), ("localhost.example.com", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert cli.is_loopback(host) is loopback


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, filled_store: GeoPackageStore) -> list[str]:
    """The hosts uvicorn was started on (it is not started really)."""
    import uvicorn

    hosts: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, *, host, **kw: hosts.append(host))
    return hosts


def test_serve_beyond_loopback_needs_an_enabled_admin(
    served: list[str], filled_store: GeoPackageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GISGRID_STORE", raising=False)
    runner = CliRunner(env={"COLUMNS": "250"})

    def serve(host: str) -> Result:
        return runner.invoke(cli.app, ["serve", "--store", str(filled_store.path), "--host", host])

    result = serve("0.0.0.0")
    assert result.exit_code == 2, result.output
    assert "no enabled admin account" in " ".join(result.stderr.split())
    assert served == []
    ok(serve("127.0.0.1"))
    assert served == ["127.0.0.1"]
    add(filled_store.path, "root", Role.ADMIN, COUNTY)
    accounts.set_disabled(filled_store.ledger, "root", disabled=True, actor="test")
    assert serve("10.0.0.5").exit_code == 2
    accounts.set_disabled(filled_store.ledger, "root", disabled=False, actor="test")
    ok(serve("0.0.0.0"))
    assert served == ["127.0.0.1", "0.0.0.0"]


def test_serve_with_workers_starts_them_from_the_factory_with_the_options_in_the_environment(
    filled_store: GeoPackageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--workers N``: uvicorn imports ``gisgrid.api.main:app_from_settings`` in each of N
    processes, which read the store and the access log from the environment; the admin
    check still comes first."""
    import uvicorn

    from gisgrid.api.main import app_from_settings

    calls: list[tuple[object, dict[str, object]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setenv("GISGRID_STORE", "elsewhere.gpkg")  # --store wins, and is passed on
    monkeypatch.setenv("GISGRID_WEB_ACCESS_LOG", "false")
    runner = CliRunner(env={"COLUMNS": "250"})
    serve = ["serve", "--store", str(filled_store.path), "--workers", "3"]
    result = runner.invoke(cli.app, [*serve, "--host", "0.0.0.0"])
    assert result.exit_code == 2 and calls == [], result.output  # no admin: refused first
    ok(runner.invoke(cli.app, [*serve, "--access-log"]))
    (app, kw), *_ = calls
    assert app == "gisgrid.api.main:app_from_settings"
    assert kw["workers"] == 3 and kw["factory"] is True and kw["host"] == "127.0.0.1"
    assert os.environ["GISGRID_STORE"] == str(filled_store.path)
    assert os.environ["GISGRID_WEB_ACCESS_LOG"] == "true"
    built = app_from_settings()  # what each worker does (the store opens in the lifespan)
    assert any(m.cls.__name__ == "AccessLog" for m in built.user_middleware)
    ok(runner.invoke(cli.app, ["serve", "--store", str(filled_store.path)]))
    assert calls[1][1]["workers"] == 1 and calls[1][1]["factory"] is False
    assert not isinstance(calls[1][0], str)  # one process: the app itself
    assert runner.invoke(cli.app, [*serve[:-1], "0"]).exit_code == 2


# --- the demo's accounts -----------------------------------------------------------------------


def test_demo_makes_one_account_per_role_with_new_passwords_each_run(
    run_gisgrid: Run, tmp_path: Path
) -> None:
    from gisgrid.sample.accounts import read_demo_accounts

    store = tmp_path / "county.gpkg"
    path = tmp_path / "county.demo-accounts.txt"
    runs = []
    for _ in range(2):
        done = run_gisgrid("demo", "--households", "5000", "--store", store, "--out", "maps")
        assert done.returncode == 0, done.stderr
        assert f"demo accounts (one per role) and their passwords written to {path}" in (
            done.stdout
        )
        assert "演示账户" in done.stdout
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        runs.append(read_demo_accounts(path))
        assert runs[-1][0].password not in done.stdout + done.stderr
    first, second = runs
    assert [a.role for a in second] == list(Role)  # one line per role
    assert len({a.username for a in second}) == len(Role)
    assert all(a.password != b.password for a, b in zip(first, second, strict=True))
    ledger = ledger_of(store)
    assert len(ledger.accounts()) == len(Role)
    grids = GeoPackageStore(store).read("grids", where={"level": 3})
    for made in second:
        signed = accounts.sign_in(ledger, made.username, made.password, address=None)
        account = signed.caller.account
        assert (account.role, account.area) == (made.role, made.area)
        assert ROLES[account.role].label_zh in path.read_text(encoding="utf-8")
        assert area_exists(GeoPackageStore(store), made.area)
    for old in first:
        with pytest.raises(AuthenticationError):
            accounts.sign_in(ledger, old.username, old.password, address=None)
    worker = next(a for a in second if a.role == Role.GRID)
    assert worker.phone is not None
    grid = grids[grids["code"] == worker.area]
    assert len(grid) == 1 and str(grid["responsible_phone"].iloc[0]) == worker.phone
    village = next(a for a in second if a.role == Role.VILLAGE)
    assert worker.area.startswith(village.area)
    # the grid worker, village secretary and township officer are the sample's actors of
    # their areas: the cases dispatched to that grid's worker are the demo worker's own
    assert (worker.username, village.username) == (f"gw-{worker.area}", f"vs-{village.area}")
    summaries = case_summaries(GeoPackageStore(store))
    mine = work_list(summaries, me=worker.username, mine=True)
    assert mine and all(c.grid_code == worker.area for c in mine)
    staffed = set(grids.loc[grids["responsible_phone"].notna(), "code"])
    per_worker = Counter(c.assignee for c in work_list(summaries, me=""))
    assert len(mine) == max(per_worker[f"gw-{g}"] for g in staffed)  # no staffed grid busier


def area_exists(store: GeoPackageStore, area: str) -> bool:
    if len(area) == 6:
        return True
    layer = {9: "townships", 12: "villages"}.get(len(area), "grids")
    return area in set(store.read(layer, columns=["code"])["code"])


def test_imports_exports_and_assignments_by_the_command_are_in_the_audit_log(
    gisgrid: Callable[..., Result],
    store: Path,
    tmp_path: Path,
    write_input: Callable[..., Path],
) -> None:
    for layer in ("townships", "villages", "grids", "households"):
        # the little county's villages without level-2 grids are gaps to the boundary checks
        ok(gisgrid("import", layer, write_input(layer), "--allow-findings"))
    ok(gisgrid("assign"))
    ok(gisgrid("export", "households", tmp_path / "out.geojson"))
    log = ledger_of(store).audit(AuditQuery(actor=ACTOR, limit=20, newest_first=False))
    seen = [(e.entry.action, e.entry.target) for e in log]
    assert seen == [
        ("import", "townships"),
        ("import", "villages"),
        ("import", "grids"),
        ("assign", "grid_code"),  # the points follow the imported grids at once
        ("import", "households"),
        ("assign", "grid_code"),
        ("export", "households"),
    ]
    households = GeoPackageStore(store).count("households")
    assert log[4].entry.detail["features"] == households
    assert log[-1].entry.detail == {
        "file": "out.geojson",
        "format": "geojson",
        "features": households,
    }


def test_a_refused_import_leaves_no_audit_line(
    gisgrid: Callable[..., Result], store: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature"}]}')
    assert gisgrid("import", "townships", bad).exit_code != 0
    assert ledger_of(store).audit(AuditQuery(action="import")) == []
