"""Every error gisgrid raises on purpose, in one module.

Each class carries its ``gisgrid`` exit code; the API maps each class to an HTTP status in
one table (:data:`gisgrid.api.errors.STATUS`, which a test proves covers every class here).
Anything that is not a :class:`GisgridError` is a bug.

=====  =====================================================================================
exit   meaning
=====  =====================================================================================
2      bad option, setting, store URL, CRS, map option or unknown layer
3      an input file cannot be read at all
4      the input has problems, or the store refused the data; nothing was written
5      the store cannot be read or written (or another process is writing it)
6      something asked for is not in the store (a code, an id, level-3 grids)
7      not signed in, or the account may not do this (role, area, disabled)
=====  =====================================================================================
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


class UnknownLayerError(ConfigError):
    """A layer name that no layer module declares."""


class CrsError(ConfigError, ValueError):
    """A CRS name or a frame's CRS that gisgrid cannot use."""


class MapOptionError(ConfigError):
    """A map option that is not allowed (kind, indicator, tiles, language)."""


class AssignmentInputError(GisgridError):
    """Points or grids that cannot be joined (wrong CRS, wrong geometry type)."""

    exit_code = 2


class LocateError(GisgridError):
    """A point that cannot be located: out of range, swapped, or outside the county.

    Parameters
    ----------
    message
        What is wrong, in plain words.
    code
        A stable machine-readable reason (``out_of_range``, ``swapped``, ``outside``, …).
    """

    exit_code = 2

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


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


class ImportRefusedError(ValidationError):
    """A file refused by an import: every problem by row (or feature) and column as the file
    has them, Chinese first; nothing was written.

    Parameters
    ----------
    layer
        The layer imported into.
    problems
        The problems (positions and column names of the layer, as :class:`ValidationError`).
    lines
        The same problems as the user reads them, one line each (``第5行「户主姓名」：…``).
    dry_run
        Found by ``--dry-run`` (nothing would have been written either way).
    notes
        What the reading found that the user should know (the encoding detected, the CRS,
        addresses matched), said after the problems.
    """

    shown = 200

    def __init__(
        self,
        layer: str,
        problems: list[Problem],
        *,
        lines: list[str],
        dry_run: bool = False,
        notes: tuple[str, ...] = (),
    ) -> None:
        GisgridError.__init__(self)
        self.layer = layer
        self.problems = problems
        self.lines = lines
        head = "试运行：" if dry_run else ""
        text = [
            f"{head}{layer}：文件中有 {len(lines)} 个问题，未写入任何数据 "
            f"({len(lines)} problem(s) in the file, nothing was written)"
        ]
        text += [f"  - {line}" for line in lines[: self.shown]]
        if len(lines) > self.shown:
            text.append(
                f"  … 另有 {len(lines) - self.shown} 个 (and {len(lines) - self.shown} more)"
            )
        text += [f"note: {note}" for note in notes]
        self.args = ("\n".join(text),)


class StoreError(GisgridError):
    """The store cannot be opened, read or written."""

    exit_code = 5


class StoreConstraintError(GisgridError):
    """The store refused the data: a rule of its schema (key, reference, validity).

    The data broke a rule, the store itself is fine: this is not a :class:`StoreError`.
    """

    exit_code = 4


class ConflictError(GisgridError):
    """A key that already exists (e.g. an incident id)."""

    exit_code = 4


class GridEditError(GisgridError):
    """A grid edit that cannot be made as drawn: a line that does not cut the grid in two,
    grids to merge that are not adjacent siblings, an outline that swallows a neighbour.

    The message names why (Chinese first, then English); nothing was changed.
    """

    exit_code = 4


class EditRefusedError(GridEditError):
    """A grid edit (or a change set submitted or approved) that would add problems to the
    net: an overlap, a gap, a grid outside its parent, a code or value off the rules.

    Parameters
    ----------
    message
        What was refused (Chinese first, then English).
    problems
        Each problem as a JSON-ready mapping (kind, codes, message_zh, message, a GeoJSON
        geometry where it is, area_m2): the editor draws them on the map.
    """

    def __init__(self, message: str, *, problems: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.problems = problems


class ChangeSetConflictError(ConflictError):
    """A change set that cannot go on because the village changed meanwhile, or another
    change set of it is under review.

    Parameters
    ----------
    message
        What happened (Chinese first, then English).
    detail
        JSON-ready: ``changed_since`` (the change sets published since the draft began,
        with their grid codes) and ``pending`` (change sets under review).
    """

    def __init__(self, message: str, *, detail: dict[str, object]) -> None:
        super().__init__(message)
        self.detail = detail


class PayloadTooLargeError(GisgridError):
    """A request body larger than the web server accepts (``GISGRID_WEB_MAX_*_BYTES``)."""

    exit_code = 4


class UnsupportedMediaTypeError(GisgridError):
    """An upload whose bytes are not of a type accepted (a case photo: JPEG, PNG or WebP), or
    whose declared type is not what its bytes are."""

    exit_code = 4


class PhotoError(GisgridError):
    """A case photo that cannot be taken: an empty upload, or a step naming a photo that
    was not uploaded for its incident. Nothing was written."""

    exit_code = 4


class OfflineAssetError(GisgridError):
    """A map needs a script or style sheet that has no local copy, or links outside.

    An installation fault, never the caller's: the API answers 500.
    """

    exit_code = 5


class NotFoundError(GisgridError):
    """A code, id or layer asked for does not exist in the store."""

    exit_code = 6


class UnknownAreaError(NotFoundError):
    """An unknown township, village or grid code was asked for (a page, a map, a report)."""


class AuthenticationError(GisgridError):
    """No valid sign-in: no session or token, an expired one, or a wrong password.

    The message never says whether the username or the password was wrong.
    """

    exit_code = 7


class RateLimitedError(AuthenticationError):
    """Too many failed sign-ins for an account or from an address: wait and try again."""

    #: seconds until the next attempt may succeed (the API's ``Retry-After``)
    retry_after: int = 60

    def __init__(self, message: str, *, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BusyError(GisgridError):
    """The server has as many heavy requests running and waiting as it takes: try again
    after ``retry_after`` seconds (the web app answers 503 with ``Retry-After``)."""

    exit_code = 5
    retry_after: int = 5

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ForbiddenError(GisgridError):
    """Signed in, but the role or area of the account does not allow this."""

    exit_code = 7


class CsrfError(ForbiddenError):
    """A state-changing request of a browser session without its CSRF token."""


class ReasonRequiredError(ForbiddenError):
    """The role reads household records only with a stated reason, which is recorded."""
