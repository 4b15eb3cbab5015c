"""群众上报: a resident reports an incident through the public form, and follows it with a code.

Residents have no accounts. A report is routed to its grid like any other
(:func:`gisgrid.services.incidents.incident_frames`), its case begins with the ``report``
step of the reserved actor :data:`~gisgrid.analysis.cases.PUBLIC_REPORTER`, and the
:mod:`~gisgrid.layers.public_reports` row keeps the hash of the tracking code's secret and
the contact phone: the three rows in one store transaction. The time is the server's.

The tracking code is ``<incident id>-<secret>``: the secret is 14 characters drawn at random
from 31 that cannot be mistaken for one another (about 69 bits); only its SHA-256 is stored,
so neither an id nor the store gives the code away, and guessing one is hopeless. What a code
shows (:func:`track`) is the kind, the stage and its dates: never the description, the notes,
the people or the position.

How many reports are accepted is counted from the audit log (each accepted report writes one
``public_report`` line with the client's address), per address and for everyone together,
as the sign-in limit counts failures: the limit holds across processes and restarts.
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import pandas as pd

from gisgrid.analysis.cases import PUBLIC_REPORTER, Stage, stage_of, steps_of
from gisgrid.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    Problem,
    RateLimitedError,
    ValidationError,
)
from gisgrid.layers import get_layer, kinds
from gisgrid.services.accounts import record_access, retry_after, secret_hash
from gisgrid.services.incidents import LOCAL_TIME, NewIncident, incident_frames
from gisgrid.settings import PublicReportSettings
from gisgrid.stores.base import Store
from gisgrid.stores.ledger import Ledger

#: the audit action of an accepted report (what the rate limit counts)
AUDIT_ACTION = "public_report"
#: the secret's alphabet: no 0/o, 1/l/i
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
SECRET_CHARS = 14
#: a tracking code as typed or linked: an incident id, a dash, the secret
CODE_PATTERN = rf"^[A-Za-z0-9_-]{{1,40}}-[{_ALPHABET}]{{{SECRET_CHARS}}}$"
NOT_FOUND = "查询码无效，没有对应的上报 / no report with this tracking code"


@dataclass(frozen=True)
class PublicReport:
    """What a resident sends.

    Attributes
    ----------
    lon, lat
        Where (WGS84 degrees), already checked to lie in the county.
    kind
        One of the kinds the form offers (:func:`public_kinds`).
    description
        What happened, in the resident's words.
    contact_phone
        Digits only, or ``None``.
    """

    lon: float
    lat: float
    kind: str
    description: str
    contact_phone: str | None = None


@dataclass(frozen=True)
class Submitted:
    """A stored report: the code to give the resident (shown once, never stored)."""

    code: str
    incident_id: str
    reported_at: dt.datetime
    grid_code: str | None


@dataclass(frozen=True)
class Tracking:
    """What a tracking code shows: the kind, the stage and dates, nothing else."""

    kind: str
    kind_zh: str
    stage: Stage
    stage_zh: str
    reported_at: dt.datetime
    #: when the case last moved (its last step)
    updated_at: dt.datetime
    #: when it was finished (closed or not accepted), else ``None``
    finished_at: dt.datetime | None


def public_kinds(settings: PublicReportSettings) -> list[str]:
    """The kinds the form offers, in the order of the incident kinds.

    Raises
    ------
    ConfigError
        ``GISGRID_PUBLIC_KINDS`` names something that is no incident kind (or nothing).
    """
    unknown = sorted(set(settings.kinds) - set(kinds.INCIDENT_KINDS))
    if unknown or not settings.kinds:
        raise ConfigError(
            f"GISGRID_PUBLIC_KINDS must name incident kinds ({', '.join(kinds.INCIDENT_KINDS)}); "
            f"unknown: {', '.join(unknown) or '(none given)'}"
        )
    return [k for k in kinds.INCIDENT_KINDS if k in settings.kinds]


def check_rate(
    ledger: Ledger,
    *,
    address: str | None,
    settings: PublicReportSettings,
    now: dt.datetime | None = None,
) -> None:
    """Refuse one more report from ``address`` when it, or everyone, reported too much lately.

    Raises
    ------
    RateLimitedError
        With the seconds to wait (the API's ``Retry-After``).
    """
    now = now or dt.datetime.now(dt.UTC)
    waits = []
    limits: Sequence[tuple[dt.timedelta, int, str | None]] = [
        (dt.timedelta(hours=1), settings.max_per_hour, None),
    ]
    if address is not None:
        limits = [
            (dt.timedelta(minutes=settings.window_minutes), settings.max_per_address, address),
            *limits,
        ]
    for window, most, who in limits:
        since = now - window
        made = ledger.count_audit(action=AUDIT_ACTION, outcome="ok", since=since, address=who)
        if made >= most:
            waits.append(
                retry_after(
                    ledger, action=AUDIT_ACTION, outcome="ok", since=since, window=window,
                    now=now, excess=made - most + 1, address=who,
                )
            )  # fmt: skip
    if waits:
        wait = max(waits)
        raise RateLimitedError(
            f"上报过于频繁，请 {math.ceil(wait / 60)} 分钟后再试 / too many reports: "
            f"try again in {wait} s",
            retry_after=wait,
        )


def new_code(incident_id: str) -> tuple[str, str]:
    """A fresh tracking code for ``incident_id`` and the hash of its secret."""
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_CHARS))
    return f"{incident_id}-{secret}", secret_hash(secret)


def submit_report(
    store: Store,
    report: PublicReport,
    *,
    grid_code: str | None,
    address: str | None,
    settings: PublicReportSettings,
) -> Submitted:
    """Check the rate, then store the incident, its ``report`` step and the public report row
    in one transaction, and audit it (anonymous, with the client's address).

    Parameters
    ----------
    store
        Where it goes (its ledger counts and audits).
    report
        What the resident sent.
    grid_code
        The level-3 grid it is routed to (``None``: in the county but in no grid).
    address
        The client's network address.
    settings
        The limits and the kinds offered.

    Raises
    ------
    RateLimitedError
        Too many reports from this address or from everyone lately; nothing is written.
    ValidationError
        The report breaks a rule of the layers (a kind not offered is one); nothing is written.
    """
    if report.kind not in public_kinds(settings):
        raise ValidationError(
            "incidents",
            [Problem(0, None, "kind", f"residents report one of {', '.join(settings.kinds)}")],
        )
    check_rate(store.ledger, address=address, settings=settings)
    now = dt.datetime.now(LOCAL_TIME).replace(microsecond=0)
    frames = incident_frames(
        NewIncident(
            lon=report.lon,
            lat=report.lat,
            kind=report.kind,
            grid_code=grid_code,
            reported_at=now,
            description=report.description,
        ),
        reporter=PUBLIC_REPORTER,
    )
    incident_id = str(frames["incidents"]["id"].iat[0])
    code, hashed = new_code(incident_id)
    row = pd.DataFrame(
        [{"incident_id": incident_id, "code_hash": hashed, "contact_phone": report.contact_phone}]
    )
    frames["public_reports"] = get_layer("public_reports").validate(row)

    def id_is_new(current: Store) -> None:
        if current.count("incidents", where={"id": incident_id}):
            raise ConflictError(f"incident {incident_id} already exists")

    store.write(frames, mode="append", check=id_is_new)
    record_access(
        store.ledger,
        None,
        AUDIT_ACTION,
        target=incident_id,
        detail={"kind": report.kind, "grid_code": grid_code},
        address=address,
    )
    return Submitted(
        code=code, incident_id=incident_id, reported_at=now.replace(tzinfo=None),
        grid_code=grid_code,
    )  # fmt: skip


def track(store: Store, code: str) -> Tracking:
    """What ``code`` shows of its report: kind, stage, dates.

    Raises
    ------
    NotFoundError
        No report has this code (a wrong secret answers exactly as an unknown id).
    """
    incident_id, _, secret = code.rpartition("-")
    found = store.read("public_reports", where={"incident_id": incident_id or "-"})
    if not len(found):
        secret_hash(secret)  # as long as a known id with a wrong secret
        raise NotFoundError(NOT_FOUND)
    stored = str(found["code_hash"].iat[0])
    if not hmac.compare_digest(stored.encode(), secret_hash(secret).encode()):
        raise NotFoundError(NOT_FOUND)
    incident = store.read("incidents", where={"id": incident_id})
    if not len(incident):
        raise NotFoundError(NOT_FOUND)
    row = incident.iloc[0]
    steps = steps_of(store.read("case_steps", where={"incident_id": incident_id}))
    start = None if steps and steps[0].action == "report" else cast(Stage, str(row["status"]))
    stage = stage_of(steps, start=start)
    assert stage is not None
    reported = pd.Timestamp(row["reported_at"]).to_pydatetime()
    updated = steps[-1].at if steps else reported
    kind = str(row["kind"])
    return Tracking(
        kind=kind,
        kind_zh=kinds.label(kinds.INCIDENT_KINDS, kind, "zh"),
        stage=stage,
        stage_zh=kinds.CASE_STATUSES[stage].zh,
        reported_at=reported,
        updated_at=updated,
        finished_at=updated if stage in ("closed", "rejected") else None,
    )


__all__ = [
    "AUDIT_ACTION",
    "CODE_PATTERN",
    "PublicReport",
    "Submitted",
    "Tracking",
    "check_rate",
    "new_code",
    "public_kinds",
    "submit_report",
    "track",
]
