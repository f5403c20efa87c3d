"""Small rasters in UTM for the map tests: a DSM with a nodata corner, a land-cover raster, a mask, an image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

UTM = "EPSG:32631"
ORIGIN = (500_000.0, 4_800_000.0)  # about 3.0° E, 43.35° N


def need_rio_tiler() -> None:
    """Skip without rio-tiler (a runtime dependency), except under CI where it must be installed."""
    try:
        import rio_tiler  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("rio-tiler is not installed")
        pytest.skip("rio-tiler is not installed (pip install rio-tiler)")


def write_products(folder: Path) -> dict[str, Path]:
    """dsm.tif (float32, 100–160 m, nodata −9999 in the upper-left 20 px), landcover.tif (codes 1–4 in vertical
    stripes, 0 = nodata in the top 50 rows), change.tif (0/1) and ortho.tif (RGB uint16), 400 × 400 px at 1 m."""
    from affine import Affine

    from ai4geo_lab.geo.raster import write_raster

    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:400, 0:400]
    t = Affine(1.0, 0.0, ORIGIN[0], 0.0, -1.0, ORIGIN[1])
    dsm = (100 + xx * 0.1 + yy * 0.05).astype(np.float32)
    dsm[:20, :20] = -9999.0
    classes = (1 + xx // 100).astype(np.uint8)
    classes[:50] = 0
    change = ((xx > 200) & (yy > 200)).astype(np.uint8)
    rgb = np.stack([xx * 100, yy * 100, np.full_like(xx, 5000)]).astype(np.uint16)
    return {
        "dsm": write_raster(folder / "dsm.tif", dsm, t, UTM, nodata=-9999.0),
        "landcover": write_raster(folder / "landcover.tif", classes, t, UTM, nodata=0),
        "change": write_raster(folder / "change.tif", change, t, UTM),
        "ortho": write_raster(folder / "ortho.tif", rgb, t, UTM, band_names=["red", "green", "blue"]),
    }


@pytest.fixture
def products(tmp_path: Path) -> dict[str, Path]:
    """The small rasters of :func:`write_products`, in tmp_path."""
    return write_products(tmp_path / "products")
