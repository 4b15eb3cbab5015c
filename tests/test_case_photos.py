"""Photos on the steps of cases: kept beside the layers, checked by type and size, named by
the steps, read back only by those who read household records, never changed.

The little county of the conftest (E001 and E003 in the first village, E002 in the second
township), on a GeoPackage (photos in ``NAME.photos.sqlite``) and on PostGIS (table
``case_photos``, migration 0011).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from accounts import make_account
from conftest import V1, raw_frame
from fastapi.testclient import TestClient
from images import png

from gisgrid.analysis.cases import Actor
from gisgrid.api import create_app
from gisgrid.errors import NotFoundError, PhotoError, StoreConstraintError
from gisgrid.layers import LAYERS
from gisgrid.roles import Role
from gisgrid.services.cases import case_of, take_step
from gisgrid.services.photos import media_type_of
from gisgrid.stores.base import Store
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import AuditQuery
from gisgrid.stores.photos import sha256_of
from gisgrid.stores.sqlite_photos import photos_path

WANG = Actor("grid-wang", Role.GRID, in_area=True)
NOON = dt.datetime(2024, 3, 2, 12, 0)


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64) + b"\xff\xd9"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(32)


@pytest.fixture
def store(any_store: Store) -> Store:
    """The little county in a store of each kind."""
    any_store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    return any_store


def _url(store: Store, request: pytest.FixtureRequest) -> str:
    return str(store.path) if store.path else request.getfixturevalue("pg_url")


def test_magic_bytes_tell_the_type():
    assert media_type_of(png()) == "image/png"
    assert media_type_of(JPEG) == "image/jpeg"
    assert media_type_of(WEBP) == "image/webp"
    assert media_type_of(b"GIF89a" + bytes(20)) is None
    assert media_type_of(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert media_type_of(b"") is None


def test_a_photo_is_kept_once_per_incident_and_only_found_with_it(store: Store):
    data = png()
    first = store.case_photos.put("E001", media_type="image/png", data=data, uploaded_by="a")
    again = store.case_photos.put("E001", media_type="image/png", data=data, uploaded_by="b")
    assert first == again  # idempotent: the first upload stands
    assert (first.sha256, first.size, first.uploaded_by) == (sha256_of(data), len(data), "a")
    other = store.case_photos.put("E003", media_type="image/png", data=data, uploaded_by="c")
    assert other.incident_id == "E003" and other.sha256 == first.sha256
    got = store.case_photos.get("E001", first.sha256)
    assert got.data == data and got.ref.media_type == "image/png"
    assert [p.sha256 for p in store.case_photos.list("E001")] == [first.sha256]
    assert store.case_photos.list("E002") == []
    with pytest.raises(NotFoundError):
        store.case_photos.get("E002", first.sha256)
    with pytest.raises(StoreConstraintError):
        store.case_photos.put("E001", media_type="image/gif", data=b"GIF89a", uploaded_by="a")  # type: ignore[arg-type]
    with pytest.raises(StoreConstraintError):
        store.case_photos.put("E001", media_type="image/png", data=b"", uploaded_by="a")


def test_photos_are_append_only_in_the_database_itself(
    store: Store, request: pytest.FixtureRequest
):
    data = png()
    store.case_photos.put("E001", media_type="image/png", data=data, uploaded_by="a")
    if store.path is not None:
        side = photos_path(store.path)
        assert side.stat().st_mode & 0o777 == 0o600
        assert b"IDAT" not in store.path.read_bytes()  # never in the GeoPackage
        with contextlib.closing(sqlite3.connect(side)) as con:
            for statement in (
                "UPDATE case_photos SET uploaded_by = 'mallory'",
                "UPDATE case_photos SET data = x'00'",
                "DELETE FROM case_photos",
            ):
                with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                    con.execute(statement)
    else:
        import psycopg

        with psycopg.connect(request.getfixturevalue("pg_url")) as conn:
            for statement in (
                "UPDATE gisgrid.case_photos SET uploaded_by = 'mallory'",
                "DELETE FROM gisgrid.case_photos",
                "TRUNCATE gisgrid.case_photos",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    conn.execute(statement)
                conn.rollback()
    assert store.case_photos.get("E001", sha256_of(data)).data == data


def test_a_step_names_its_photos_and_a_photo_of_another_incident_is_refused(store: Store):
    mine = store.case_photos.put("E001", media_type="image/png", data=png(), uploaded_by="w")
    theirs = store.case_photos.put(
        "E003", media_type="image/jpeg", data=JPEG, uploaded_by="w"
    ).sha256
    before = store.read("case_steps")
    for photos, why in (
        ([theirs], "not uploaded for incident E001"),
        (["0" * 64], "not uploaded"),
        ([mine.sha256, mine.sha256], "twice"),
        (["not-a-hash"], "SHA-256"),
        ([mine.sha256] * 7, "at most 6"),
    ):
        with pytest.raises(PhotoError, match=why):
            take_step(store, store, "E001", action="accept", caller=WANG, now=NOON, photos=photos)
    pd.testing.assert_frame_equal(before, store.read("case_steps"))  # no row written
    case = take_step(
        store, store, "E001", action="accept", caller=WANG, now=NOON, photos=[mine.sha256]
    )
    assert case.steps[-1].photos == (mine.sha256,)
    stored = store.read("case_steps", where={"incident_id": "E001"}).sort_values("seq")
    assert stored["photos"].tolist()[-1] == mine.sha256 and stored["photos"].isna().sum() == 2
    assert case_of(store, "E001", caller=WANG, now=NOON).steps[-1].photos == (mine.sha256,)


def test_a_geopackage_stored_before_photos_takes_a_step_with_them(tmp_path: Path):
    """A GeoPackage whose case_steps were written before the field existed gets it on the
    next step, its rows kept."""
    store = GeoPackageStore(tmp_path / "old.gpkg")
    store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    old = store.read("case_steps").drop(columns="photos")
    pyogrio.write_dataframe(old, store.path, layer="case_steps", driver="GPKG")
    fields = pyogrio.read_info(store.path, layer="case_steps")["fields"]
    assert "photos" not in list(fields)
    shot = store.case_photos.put("E001", media_type="image/png", data=png(), uploaded_by="w")
    take_step(store, store, "E001", action="accept", caller=WANG, now=NOON, photos=[shot.sha256])
    steps = store.read("case_steps").sort_values("seq")
    assert steps["action"].tolist() == ["report", "dispatch", "accept"]
    assert steps["photos"].tolist()[:2] == [None, None] or steps["photos"].iloc[:2].isna().all()
    assert steps["photos"].iloc[2] == shot.sha256


@pytest.fixture
def client_of(
    store: Store, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("GISGRID_CASE_PHOTO_MAX_BYTES", "4096")
    with TestClient(create_app(store=_url(store, request)), base_url="https://testserver") as c:
        yield c


def test_photos_through_the_api_uploaded_named_read_back_scoped_and_audited(
    store: Store, client_of: TestClient
):
    c = client_of
    wang = make_account(store, "grid", V1 + "001001", username="grid-wang")
    li = make_account(store, "village", V1, username="village-li")
    far = make_account(store, "township", "430623902")
    planner = make_account(store, "planner", V1)
    viewer = make_account(store, "viewer", V1)
    leader = make_account(store, "leader", "430623")
    data = png()

    def upload(who, body: bytes, kind: str = "image/png", incident: str = "E001"):
        return c.post(
            f"/api/incidents/{incident}/photos",
            content=body,
            headers={**who.headers, "Content-Type": kind},
        )

    r = upload(wang, data)
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo == {
        "sha256": sha256_of(data),
        "media_type": "image/png",
        "size": len(data),
        "url": f"/api/incidents/E001/photos/{sha256_of(data)}",
    }
    assert upload(wang, data).json() == photo  # the same bytes again: the same photo
    # refused: wrong bytes for the type, a type not taken, nothing, too big, not one's area
    for body, kind, status in (
        (b"GIF89a" + bytes(40), "image/png", 415),
        (JPEG, "image/png", 415),
        (data, "image/gif", 415),
        (data, "application/octet-stream", 415),
        (b"", "image/png", 422),
        (b"\xff\xd8\xff" + bytes(5000), "image/jpeg", 413),
    ):
        r = upload(wang, body, kind)
        assert r.status_code == status, (kind, r.text)
        assert r.headers["content-type"] == "application/json"
        assert r.json()["error"]["message"]
    assert upload(far, data).status_code == 404
    assert upload(planner, data).status_code == 403
    assert upload(viewer, data).status_code == 403

    def chunks() -> Iterator[bytes]:
        yield b"\xff\xd8\xff"
        for _ in range(10):
            yield bytes(1000)

    r = c.post(
        "/api/incidents/E001/photos",
        content=chunks(),
        headers={**wang.headers, "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 413 and "content-length" not in {k.lower() for k in r.request.headers}
    assert [p.sha256 for p in store.case_photos.list("E001")] == [photo["sha256"]]

    # a step names it; another incident's photo is refused and writes nothing
    other = upload(li, JPEG, "image/jpeg", incident="E003").json()["sha256"]
    steps = "/api/incidents/E001/steps"
    r = c.post(steps, json={"action": "accept", "photos": [other]}, headers=wang.headers)
    assert r.status_code == 422 and "E001" in r.json()["error"]["message"]
    assert store.count("case_steps", where={"incident_id": "E001"}) == 2
    too_many = {"action": "accept", "photos": [photo["sha256"]] * 7}
    assert c.post(steps, json=too_many, headers=wang.headers).status_code == 422
    r = c.post(
        steps,
        json={"action": "accept", "photos": [photo["sha256"]], "after": 2},
        headers=wang.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["steps"][-1]["photos"] == [{"sha256": photo["sha256"], "url": photo["url"]}]
    # the photo is personal: not listed, nor served, without household records
    for who in (planner, viewer):
        shown = c.get("/api/incidents/E001/case", headers=who.headers).json()
        assert shown["steps"][-1]["photos"] == []
        assert c.get(photo["url"], headers=who.headers).status_code == 403
    assert c.get(photo["url"], headers=far.headers).status_code == 404
    assert c.get(photo["url"], headers=leader.headers).status_code == 403  # no reason given
    # a photo is read only as a photo of its incident
    elsewhere = f"/api/incidents/E003/photos/{photo['sha256']}"
    assert c.get(elsewhere, headers=li.headers).status_code == 404
    assert c.get(f"/api/incidents/E001/photos/{other}", headers=li.headers).status_code == 404
    r = c.get(photo["url"], headers=li.headers)
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in r.headers["cache-control"] and "private" in r.headers["cache-control"]
    r = c.get(photo["url"], headers=leader.headers, params={"reason": "核查案件办理（测试）"})
    assert r.status_code == 200 and r.content == data
    served = store.ledger.audit(AuditQuery(action="case_photo_read"))
    assert sorted(e.entry.actor for e in served) == sorted(["village-li", leader.username])
    assert all(e.entry.target == "E001" for e in served)
    uploads = store.ledger.audit(AuditQuery(action="case_photo_upload"))
    assert {e.entry.actor for e in uploads} == {"grid-wang", "village-li"}
