"""Map settings from ``GISGRID_*`` environment variables (CLI options override them).

* ``GISGRID_TILES``: the default basemap: ``none`` (default), ``osm``, ``tianditu`` or
  ``custom``;
* ``GISGRID_TIANDITU_KEY``: the Tianditu (天地图) key the ``tianditu`` basemap needs;
* ``GISGRID_TILES_URL`` and ``GISGRID_TILES_ATTRIBUTION``: the ``custom`` basemap, e.g. a
  tile server on the county intranet (``http://10.1.2.3/tiles/{z}/{x}/{y}.png``).
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class MapSettings(BaseSettings):
    """Basemap settings."""

    model_config = SettingsConfigDict(env_prefix="GISGRID_", extra="ignore")

    tiles: str = "none"
    tianditu_key: str | None = None
    tiles_url: str | None = None
    tiles_attribution: str = ""


__all__ = ["MapSettings"]
