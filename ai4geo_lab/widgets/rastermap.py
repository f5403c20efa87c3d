"""Rasters (hillshade, nDSM, ortho) on an ipyleaflet map from the kernel, without a tile server.

Each raster is read at a bounded size (COG overviews make that cheap for large files), warped to Web Mercator,
coloured and sent to the browser as one PNG image overlay; the map's base is the offline one by default (country
outlines and a graticule, :mod:`ai4geo_lab.widgets.basemap`), so it works offline and in any Jupyter set-up.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

from ai4geo_lab.geo.raster import open_raster, raster_read_errors
from ai4geo_lab.geo.relief import hillshade

Kind = Literal["hillshade", "ndsm", "dsm", "ortho", "mask"]


def _read_small(path: Path, max_px: int) -> tuple[np.ndarray, Any, Any]:
    """The raster warped to EPSG:3857 with at most ``max_px`` pixels on its longer side (NaN nodata)."""
    with open_raster(path, georeferenced=True) as src:
        dst_t, w, h = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height, *src.bounds)
        scale = max(1.0, max(w, h) / max_px)
        w, h = max(1, math.ceil(w / scale)), max(1, math.ceil(h / scale))
        dst_t = dst_t * dst_t.scale(scale, scale)
        out = np.full((h, w), np.nan, np.float32)
        # integer rasters without nodata (masks, 8-bit images) have no NaN to declare
        src_nodata = src.nodata if src.nodata is not None else (np.nan if src.dtypes[0].startswith("float") else None)
        with raster_read_errors(path):
            reproject(rasterio.band(src, 1), out, src_nodata=src_nodata, dst_transform=dst_t, dst_crs="EPSG:3857",
                      dst_nodata=np.nan, resampling=Resampling.bilinear)
    return out, dst_t, (w, h)


def colourise(data: np.ndarray, kind: Kind, gsd: float, vmin: float | None = None,
              vmax: float | None = None) -> np.ndarray:
    """RGBA uint8 image of a raster: grey hillshade, coloured heights, a stretched grey ortho, or a mask (pixels
    ≥ 0.5 in translucent red, the rest clear); nodata is clear."""
    from matplotlib import colormaps

    valid = np.isfinite(data)
    rgba = np.zeros((*data.shape, 4), np.uint8)
    if not valid.any():
        return rgba
    if kind == "mask":
        on = valid & (np.nan_to_num(data) >= 0.5)
        rgba[on] = (228, 26, 28, 170)
        return rgba
    if kind == "hillshade":
        filled = np.where(valid, data, np.nanmedian(data))
        grey = np.clip(hillshade(filled, gsd), 0, 1)
        rgba[..., :3] = (grey[..., None] * 255).astype(np.uint8)
    else:
        lo = vmin if vmin is not None else float(np.nanpercentile(data, 1 if kind != "ndsm" else 0))
        hi = vmax if vmax is not None else float(np.nanpercentile(data, 99))
        x = np.clip((np.nan_to_num(data, nan=lo) - lo) / max(hi - lo, 1e-6), 0, 1)
        if kind == "ortho":
            rgba[..., :3] = (x[..., None] * 255).astype(np.uint8)
        else:
            rgba[...] = (colormaps["viridis" if kind == "ndsm" else "terrain"](x) * 255).astype(np.uint8)
    rgba[..., 3] = np.where(valid, 255, 0)
    return rgba


def png_data_url(rgba: np.ndarray) -> str:
    """A ``data:image/png`` URL of an RGBA array."""
    from matplotlib import image as mpimg

    buf = io.BytesIO()
    mpimg.imsave(buf, rgba, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def raster_overlay(path: str | Path, kind: Kind = "hillshade", max_px: int = 1024, name: str | None = None,
                   opacity: float = 1.0, vmin: float | None = None, vmax: float | None = None) -> Any:
    """An ipyleaflet ``ImageOverlay`` of a raster file, coloured by ``kind``, embedded as a PNG (no tile server)."""
    from ipyleaflet import ImageOverlay

    path = Path(path)
    data, t, (w, h) = _read_small(path, max_px)
    with open_raster(path) as src:
        gsd = abs(src.res[0]) * (src.width / max(w, 1))
    rgba = colourise(data, kind, gsd, vmin, vmax)
    west, south, east, north = transform_bounds("EPSG:3857", "EPSG:4326", t.c, t.f + h * t.e, t.c + w * t.a, t.f)
    return ImageOverlay(url=png_data_url(rgba), bounds=((south, west), (north, east)), opacity=opacity,
                        name=name or f"{path.stem} ({kind})")


def raster_map(layers: list[Any], footprints: dict[str, Any] | None = None, basemap: Any = None,
               height: str = "480px") -> Any:
    """An ipyleaflet map of image overlays (and optional GeoJSON footprints by name), fitted to them.

    ``basemap`` is None by default: the offline base (country outlines and a graticule; no tile server is
    contacted); pass ``"osm"``, a tile URL template or an ipyleaflet basemap to add tiles instead.
    """
    from ipyleaflet import GeoJSON, LayersControl, Map

    from ai4geo_lab.widgets.basemap import add_base

    bounds = [lay.bounds for lay in layers]
    south = min(b[0][0] for b in bounds)
    west = min(b[0][1] for b in bounds)
    north = max(b[1][0] for b in bounds)
    east = max(b[1][1] for b in bounds)
    m = Map(center=((south + north) / 2, (west + east) / 2), zoom=16, basemap={}, scroll_wheel_zoom=True,
            layout={"height": height})
    for lay in list(m.layers):
        m.remove(lay)
    add_base(m, basemap)
    for lay in layers:
        m.add(lay)
    for name, geom in (footprints or {}).items():
        data = geom if isinstance(geom, dict) else geom.__geo_interface__
        if data.get("type") not in ("Feature", "FeatureCollection"):
            data = {"type": "Feature", "properties": {"name": name}, "geometry": data}
        m.add(GeoJSON(data=data, name=name, style={"color": "#e4572e", "weight": 2, "fillOpacity": 0.0}))
    m.add(LayersControl(position="topright"))
    m.fit_bounds([[south, west], [north, east]])
    return m
