"""One errors module: every error class lives in gisgrid.errors and has its own HTTP status."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import gisgrid
from gisgrid import errors
from gisgrid.api.errors import STATUS, status_of


def _all_error_classes() -> set[type[errors.GisgridError]]:
    # import every module, so that a class defined anywhere in the package is seen
    for info in pkgutil.walk_packages(gisgrid.__path__, prefix="gisgrid."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    found: set[type[errors.GisgridError]] = set()
    todo: list[type[errors.GisgridError]] = [errors.GisgridError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_lives_in_the_errors_module() -> None:
    elsewhere = sorted(
        f"{c.__module__}.{c.__qualname__}"
        for c in _all_error_classes()
        if c.__module__ != "gisgrid.errors"
    )
    assert elsewhere == []


def test_every_error_class_has_its_own_http_status() -> None:
    missing = sorted(c.__qualname__ for c in _all_error_classes() if c not in STATUS)
    assert missing == []
    assert set(STATUS) <= _all_error_classes()


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.StoreConstraintError("duplicate key"), 422),
        (errors.StoreError("cannot connect"), 503),
        (errors.UnknownAreaError("no village 430623999999"), 404),
        (errors.NotFoundError("no household"), 404),
        (errors.UnknownLayerError("no layer"), 404),
        (errors.ConflictError("id exists"), 409),
        (errors.OfflineAssetError("no local copy"), 500),
        (errors.LocateError("swapped", code="swapped"), 422),
        (errors.ConfigError("bad option"), 400),
        (errors.EditRefusedError("adds an overlap", problems=[]), 422),
        (errors.ChangeSetConflictError("changed meanwhile", detail={}), 409),
    ],
)
def test_status_of_follows_meaning(exc: errors.GisgridError, status: int) -> None:
    assert status_of(exc) == status


def test_exit_codes_are_the_documented_ones() -> None:
    documented = {0, 2, 3, 4, 5, 6, 7}
    codes = {c.exit_code for c in _all_error_classes() if c is not errors.GisgridError}
    assert codes <= documented
