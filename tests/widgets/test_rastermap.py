"""Rasters on an ipyleaflet map without a tile server: bounded PNG overlays at the right place."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform_bounds

from ai4geo_lab.widgets import raster_map, raster_overlay


@pytest.mark.parametrize("kind", ["hillshade", "ndsm", "ortho"])
def test_overlay_covers_the_raster_and_is_small(small_city, kind):
    from matplotlib import image as mpimg

    path = small_city.truth("date1", "dsm")
    lay = raster_overlay(path, kind, max_px=64)
    with rasterio.open(path) as src:
        w, s, e, n = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    (s2, w2), (n2, e2) = lay.bounds
    px = 1.05 * max(e - w, n - s) / 64  # one overlay pixel
    assert abs(s2 - s) < px and abs(n2 - n) < px and abs(w2 - w) < px and abs(e2 - e) < px
    assert lay.url.startswith("data:image/png;base64,")
    rgba = mpimg.imread(io.BytesIO(base64.b64decode(lay.url.split(",", 1)[1])))
    assert max(rgba.shape[:2]) <= 64 and rgba.shape[2] == 4
    assert rgba[..., 3].mean() > 0.9  # the truth DSM is full: (almost) nothing transparent
    assert np.ptp(rgba[..., :3]) > 0.2  # not a flat image


def test_map_has_no_tile_layer(small_city):
    from ipyleaflet import ImageOverlay, TileLayer

    m = raster_map([raster_overlay(small_city.truth("date1", "dsm"), "ndsm", max_px=32)],
                   footprints={"city": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}})
    assert not any(isinstance(layer, TileLayer) for layer in m.layers)
    assert sum(isinstance(layer, ImageOverlay) for layer in m.layers) == 1
