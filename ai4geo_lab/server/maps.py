"""Products of the root folder on a map: ``tiles/{z}/{x}/{y}.png``, ``raster/info``, ``raster/value``,
``vector`` and ``stac/layers``.

Each request names its file by ``path`` (relative to the server's root, kept inside it) and may give ``kind``
(auto, height, classes, probability, mask, image) and ``legend`` (a built-in land-cover legend); the work is
:mod:`ai4geo_lab.maps`'.
"""

from __future__ import annotations

import math
from pathlib import Path

import tornado.web

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.server.base import BaseHandler, json_errors


class _RasterHandler(BaseHandler):
    """The file, kind and legend a request names."""

    def arg(self, name: str) -> str:
        """A required query argument (missing: 400)."""
        value = self.get_query_argument(name, None)
        if value is None:
            raise InvalidInputError(f"the request has no '{name}'", f"add ?{name}=… to the URL")
        return value

    def number(self, name: str) -> float:
        """A numeric query argument."""
        text = self.arg(name)
        try:
            value = float(text)
        except ValueError:
            raise InvalidInputError(f"'{name}' is not a number: {text!r}", f"give {name} in decimal degrees") from None
        if not math.isfinite(value):
            raise InvalidInputError(f"'{name}' is not a finite number", f"give {name} in decimal degrees")
        return value

    def raster(self) -> tuple[Path, str, str | None]:
        """``(path inside the root, kind, legend)`` of the request."""
        from ai4geo_lab.geo.paths import confine

        path = confine(self.root_dir, self.arg("path"))
        return path, self.get_query_argument("kind", "auto"), self.get_query_argument("legend", None) or None


class TileHandler(_RasterHandler):
    """GET ``tiles/{z}/{x}/{y}.png?path=…&kind=…``: a Web-Mercator PNG tile (transparent outside the raster)."""

    @tornado.web.authenticated
    @json_errors
    async def get(self, z: str, x: str, y: str) -> None:
        from ai4geo_lab.maps import raster_tile

        path, kind, legend = self.raster()
        png = await self.call(raster_tile, path, int(z), int(x), int(y), kind, legend)
        self.set_header("Cache-Control", "private, max-age=3600")  # the map adds the file's version to the URL
        self.finish(png, set_content_type="image/png")


class RasterInfoHandler(_RasterHandler):
    """GET ``raster/info?path=…``: bounds (EPSG:4326), CRS, size, bands, dtype, kind, value range, legend."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.geo.paths import relative_to
        from ai4geo_lab.maps import raster_info

        path, kind, legend = self.raster()
        info = await self.call(raster_info, path, kind, legend)
        self.reply({"path": relative_to(self.root_dir, path), **info})


class RasterValueHandler(_RasterHandler):
    """GET ``raster/value?path=…&lon=…&lat=…``: the value at a point (None outside or on nodata)."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.maps import raster_value

        path, kind, legend = self.raster()
        self.reply(await self.call(raster_value, path, self.number("lon"), self.number("lat"), kind, legend))


class VectorHandler(_RasterHandler):
    """GET ``vector?path=…``: a vector file (GeoPackage, GeoJSON, FlatGeobuf, Shapefile; any CRS) as GeoJSON in
    EPSG:4326 with rounded coordinates, gzipped when the client accepts it."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.geo.paths import confine
        from ai4geo_lab.maps import vector_layer

        path = confine(self.root_dir, self.arg("path"))
        _, packed = await self.call(vector_layer, path)
        self.set_header("Cache-Control", "private, no-cache")
        self.set_header("Vary", "Accept-Encoding")
        if "gzip" in self.request.headers.get("Accept-Encoding", ""):
            self.set_header("Content-Encoding", "gzip")
            self.finish(packed, set_content_type="application/geo+json")
        else:
            import gzip

            self.finish(gzip.decompress(packed), set_content_type="application/geo+json")


class StacLayersHandler(_RasterHandler):
    """GET ``stac/layers?path=…``: the raster and vector layers of the products a STAC catalogue (or collection, or
    item) inside the root lists, with its title; links and assets outside the root are left out, not read."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.geo.paths import confine
        from ai4geo_lab.maps import catalogue_layers

        path = confine(self.root_dir, self.arg("path"))
        with self.without_server_paths():
            self.reply(await self.call(catalogue_layers, self.root_dir, path))
