"""Rule-based land cover from a 4-band image (R, G, B, NIR) and the nDSM: pure functions on one tile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from ai4geo_lab.landcover.classes import LANDCOVER_CLASSES, NODATA

CODE = {name: code for code, (name, _) in LANDCOVER_CLASSES.items()}


def ndvi(red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """Normalised difference vegetation index, NaN where undefined."""
    red, nir = red.astype(np.float32), nir.astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (nir - red) / (nir + red)
    out[~np.isfinite(out)] = np.nan
    return out


@dataclass(frozen=True)
class LandcoverRules:
    """Thresholds of the decision rules (reflectance 0–1, heights in metres)."""

    ndvi_veg: float = 0.3       # NDVI from which a pixel is vegetation
    height_obj: float = 2.5     # height above ground of trees and buildings
    water_nir_max: float = 0.08  # water is dark in the near infrared...
    water_ndvi_max: float = 0.0  # ...and has a negative NDVI
    grey_max: float = 0.2       # |R − B| / mean(R, G, B) below this is grey (roads, paving)


def majority_filter(classes: np.ndarray, size: int) -> np.ndarray:
    """Each pixel takes the most frequent class of its ``size × size`` neighbourhood (nodata kept)."""
    codes = [c for c in np.unique(classes) if c != NODATA]
    if size < 2 or len(codes) < 2:
        return classes
    counts = np.stack([uniform_filter((classes == c).astype(np.float32), size) for c in codes])
    out = np.asarray(codes, dtype=classes.dtype)[np.argmax(counts, axis=0)]
    out[classes == NODATA] = NODATA
    return out


def rule_based_landcover(image: np.ndarray, ndsm: np.ndarray, params: LandcoverRules | None = None,
                         majority: int = 3) -> np.ndarray:
    """Classes of :data:`~ai4geo_lab.landcover.classes.LANDCOVER_CLASSES` from reflectance and height.

    Water: dark in NIR with negative NDVI; vegetation (NDVI ≥ ndvi_veg): tree when tall, grass otherwise;
    other tall objects: building; other flat surfaces: road when grey, bare soil otherwise.
    """
    p = params or LandcoverRules()
    red, green, blue, nir = (image[i].astype(np.float32) for i in range(4))
    v = ndvi(red, nir)
    tall = np.nan_to_num(ndsm, nan=0.0) >= p.height_obj
    with np.errstate(invalid="ignore", divide="ignore"):
        grey = np.abs(red - blue) / ((red + green + blue) / 3) < p.grey_max
    out = np.full(red.shape, CODE["bare soil"], np.uint8)
    out[grey] = CODE["road"]
    out[tall] = CODE["building"]
    veg = v >= p.ndvi_veg
    out[veg & tall] = CODE["tree"]
    out[veg & ~tall] = CODE["grass"]
    out[(nir < p.water_nir_max) & (v < p.water_ndvi_max) & ~tall] = CODE["water"]
    out[~np.isfinite(v) | ~np.isfinite(ndsm)] = NODATA
    return majority_filter(out, majority)
