"""Nothing personal in the server log: uvicorn's access lines keep the path, not the query.

A search for a household (``/api/households/search?q=张三``) or a leader's reason would
otherwise be written to the log in clear; the audit log (which an admin reads, and which
cannot be changed) is where reads are recorded.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"


class PathOnly(logging.Filter):
    """Drop the query string from uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn logs '%s - "%s %s HTTP/%s" %d' with (client, method, path, version, status)
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def keep_queries_out_of_the_log() -> None:
    """Install :class:`PathOnly` on uvicorn's access logger (once)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, PathOnly) for f in logger.filters):
        logger.addFilter(PathOnly())
