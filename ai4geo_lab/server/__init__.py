"""The Jupyter server extension: REST handlers under ``BASE_URL/ai4geo/`` for the Lab extension.

The handlers (one module per resource: catalog, aois, clusters, recipes, steps, maps, config; URLs in routes)
only translate HTTP to the core API (:mod:`ai4geo_lab.catalog`, :mod:`ai4geo_lab.aoi`, :mod:`ai4geo_lab.cluster`,
:mod:`ai4geo_lab.recipes`, :mod:`ai4geo_lab.pipeline`, :mod:`ai4geo_lab.maps`); every request body is a pydantic
model. Configuration (``jupyter_server_config.py`` or the command line): ``c.Ai4geoLab.workspace``,
``c.Ai4geoLab.tile_url``, ``c.Ai4geoLab.tile_attribution``, ``c.Ai4geoLab.recipes_dir``.
"""

from __future__ import annotations

from typing import Any

from traitlets import Unicode
from traitlets.config import Configurable

DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


class Ai4geoLab(Configurable):
    """Settings of the ai4geo_lab server extension."""

    workspace = Unicode(None, allow_none=True, config=True,
                        help="The ai4geo workspace (saved AOIs, inventory, downloads); default: $AI4GEO_WORKSPACE, "
                             "else ~/ai4geo-workspace — the same one kernels use.")
    tile_url = Unicode(DEFAULT_TILE_URL, config=True,
                       help="Base map tile URL template ({z}/{x}/{y}); empty for the offline map only. When tiles "
                            "cannot be loaded the panel falls back to the offline map by itself.")
    tile_attribution = Unicode("© OpenStreetMap contributors", config=True, help="Attribution of the tiles.")
    recipes_dir = Unicode(None, allow_none=True, config=True,
                          help="Folder of notebook templates for the launcher (default: the packaged recipes).")


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "ai4geo_lab.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from ai4geo_lab.server.routes import setup_handlers

    settings = Ai4geoLab(parent=serverapp)
    setup_handlers(serverapp, settings)
    _warm_up(settings.workspace)
    serverapp.log.info("ai4geo_lab server extension loaded (REST under %sai4geo/)", serverapp.base_url)


def _warm_up(workspace: str | None) -> None:
    """Set up the catalogue gateway and import the map's tile reader, each in a background thread, so the search
    panel's first requests and a map's first tiles answer quickly (importing rio-tiler alone takes a second)."""
    import threading
    from contextlib import suppress

    def catalogue() -> None:
        with suppress(Exception):  # a failure shows, with its message, at the panel's first request
            from ai4geo_lab.catalog import providers

            providers(workspace)

    def tiles() -> None:
        with suppress(Exception):  # likewise at the first tile (a missing rio-tiler is named there)
            from ai4geo_lab.maps.rasters import warm_up

            warm_up()

    for name, target in (("catalogue", catalogue), ("tiles", tiles)):
        threading.Thread(target=target, name=f"ai4geo-warm-up-{name}", daemon=True).start()


# the older name Jupyter Server also looks for
load_jupyter_server_extension = _load_jupyter_server_extension
