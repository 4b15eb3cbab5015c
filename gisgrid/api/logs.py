"""Nothing personal in the server log: uvicorn's access lines keep the path, not the query.

A search for a household (``/api/households/search?q=张三``) or a leader's reason would
otherwise be written to the log in clear; the audit log (which an admin reads, and which
cannot be changed) is where reads are recorded. A resident's tracking code in a path
(``/report/<incident id>-<secret>``) keeps its incident id and loses its secret.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
#: the secret half of a tracking code in the paths of residents' reports
_TRACKING = re.compile(r"^(/report/|/api/public/reports/)([^/]*-)[^/-]+$")


def loggable_path(path: str) -> str:
    """``path`` as the access log may keep it: no query, no tracking code's secret."""
    path = path.split("?", 1)[0]
    return _TRACKING.sub(r"\1\2…", path)


class PathOnly(logging.Filter):
    """Drop the query string (and a tracking code's secret) from uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn logs '%s - "%s %s HTTP/%s" %d' with (client, method, path, version, status)
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], loggable_path(args[2]), args[3], args[4])
        return True


def keep_queries_out_of_the_log() -> None:
    """Install :class:`PathOnly` on uvicorn's access logger (once)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, PathOnly) for f in logger.filters):
        logger.addFilter(PathOnly())
