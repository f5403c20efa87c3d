"""``config`` (version, base map, workspace) and ``outlines`` (the offline base map)."""

from __future__ import annotations

import tornado.web

from ai4geo_lab.server.base import BaseHandler, json_errors


class ConfigHandler(BaseHandler):
    """GET: the version, the base map tiles and the workspace."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab import __version__
        from ai4geo_lab.aoi import workspace_dir

        cfg = self.ai4geo["config"]
        self.reply({"version": __version__, "tile_url": cfg.tile_url, "tile_attribution": cfg.tile_attribution,
                    "workspace": str(workspace_dir(cfg.workspace))})


class OutlinesHandler(BaseHandler):
    """Country outlines for the offline base map."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.geo.outlines import country_outlines_geojson

        text = await self.call(country_outlines_geojson)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "max-age=86400")
        self.finish(text)
