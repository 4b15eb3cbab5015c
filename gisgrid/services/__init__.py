"""Writes to a store, one module per kind of change: each takes the store and a typed input,
checks it, and writes it in one transaction.

The web app and the command line call these; they never build or write layer rows
themselves.
"""

from __future__ import annotations
