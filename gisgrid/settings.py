"""Settings read from ``GISGRID_*`` environment variables (and CLI options that override them)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

#: the repository's data/boundaries folder (the package is installed editable from the repo)
REPO_ROOT = Path(__file__).resolve().parent.parent


class StoreSettings(BaseSettings):
    """Where the data lives.

    ``GISGRID_STORE`` is a GeoPackage path (the embedded default) or a ``postgresql://`` URL.
    """

    model_config = SettingsConfigDict(env_prefix="GISGRID_", extra="ignore")

    store: str = "gisgrid.gpkg"


class SampleSettings(BaseSettings):
    """Where the sample county's real boundary data is read from."""

    model_config = SettingsConfigDict(env_prefix="GISGRID_", extra="ignore")

    boundaries_dir: Path = REPO_ROOT / "data" / "boundaries"


def default_store() -> str:
    """The store location from ``GISGRID_STORE`` or the documented default ``./gisgrid.gpkg``."""
    return StoreSettings().store
