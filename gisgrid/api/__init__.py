"""The web app and HTTP API (FastAPI)."""

from __future__ import annotations

from gisgrid.api.main import create_app

__all__ = ["create_app"]
