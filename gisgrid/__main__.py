"""``python -m gisgrid`` runs the gisgrid command."""

from __future__ import annotations

from gisgrid.cli import app

app()
