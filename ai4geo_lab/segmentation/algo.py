"""Building masks by thresholds: elevated (nDSM), not vegetated (NDVI), cleaned by morphology.

A baseline that needs no training; a learned segmenter can replace it behind the same output (uint8 0/1).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ai4geo_lab.errors import ConfigError, InvalidInputError
from ai4geo_lab.geo.masks import remove_small_components


def ndsm_threshold_mask(
    ndsm: np.ndarray,
    ndvi: np.ndarray | None = None,
    min_height: float = 2.5,
    max_ndvi: float = 0.3,
    opening_px: int = 1,
    min_area_px: int = 30,
) -> np.ndarray:
    """Building mask: nDSM ≥ ``min_height`` and NDVI ≤ ``max_ndvi``, opened, small blobs removed.

    ``opening_px`` is the half-side of the square used for the morphological opening (0: none);
    ``min_area_px`` the smallest 4-connected component kept. NaN in either input gives 0.
    Returns a uint8 array of 0/1 of the shape of ``ndsm``.
    """
    height = np.asarray(ndsm, dtype=np.float64)
    if height.ndim != 2:
        raise InvalidInputError(f"the nDSM must be a 2D array, got shape {height.shape}")
    if opening_px < 0 or min_area_px < 0:
        raise ConfigError(f"opening_px ({opening_px}) and min_area_px ({min_area_px}) must be ≥ 0")
    with np.errstate(invalid="ignore"):
        mask = height >= min_height  # NaN compares False
        if ndvi is not None:
            veg = np.asarray(ndvi, dtype=np.float64)
            if veg.shape != height.shape:
                raise InvalidInputError(f"NDVI shape {veg.shape} differs from nDSM shape {height.shape}",
                                        "read both on the same grid")
            mask &= veg <= max_ndvi
    if opening_px > 0:
        # a square element keeps right-angled corners (a disk would round them off)
        mask = ndimage.binary_opening(mask, structure=np.ones((2 * opening_px + 1,) * 2, dtype=bool))
    mask = remove_small_components(mask, min_area_px)
    return mask.astype(np.uint8)
