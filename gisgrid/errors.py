"""Domain errors. The CLI turns them into messages and exit codes, the API into HTTP statuses.

Every error gisgrid raises on purpose is a :class:`GisgridError`; anything else is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


class GisgridError(Exception):
    """Base of all errors gisgrid raises on purpose."""

    #: exit code of the ``gisgrid`` command for this kind of error
    exit_code: int = 1


class ConfigError(GisgridError):
    """A setting, option or store URL is wrong."""

    exit_code = 2


class UnknownLayerError(GisgridError):
    """A layer name that no layer module declares."""

    exit_code = 2


class InputFileError(GisgridError):
    """An input file cannot be read at all (missing, unreadable, not a vector file)."""

    exit_code = 3


@dataclass(frozen=True)
class Problem:
    """One problem found in one feature of an input.

    Parameters
    ----------
    index
        Zero-based position of the feature in the input (``None`` for the whole input).
    feature
        The feature's key (code or id) when it has one.
    field
        The column at fault, ``"geometry"`` for the geometry, ``None`` for the whole input.
    message
        What is wrong, in plain words.
    """

    index: int | None
    feature: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.index is not None:
            where.append(f"feature #{self.index + 1}")
        if self.feature:
            where.append(f"({self.feature})")
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = " ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "feature": self.feature,
            "field": self.field,
            "message": self.message,
        }


class ValidationError(GisgridError):
    """An input violates its layer's declaration; nothing was written.

    Parameters
    ----------
    layer
        Name of the layer being validated.
    problems
        Every problem found (validation does not stop at the first).
    """

    exit_code = 4
    shown = 20

    def __init__(self, layer: str, problems: list[Problem]) -> None:
        self.layer = layer
        self.problems = problems
        lines = [f"{layer}: {len(problems)} problem(s) in the input, nothing was written"]
        lines += [f"  - {p}" for p in problems[: self.shown]]
        if len(problems) > self.shown:
            lines.append(f"  … and {len(problems) - self.shown} more")
        super().__init__("\n".join(lines))


class StoreError(GisgridError):
    """The store cannot be opened, read or written."""

    exit_code = 5


class NotFoundError(GisgridError):
    """A code, id or layer asked for does not exist in the store."""

    exit_code = 6
