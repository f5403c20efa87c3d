"""Binary mask clean-up shared by the capabilities that threshold rasters."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: 4-connectivity, the same as the vectoriser's, so that a component here is one polygon there.
FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)


def remove_small_components(mask: np.ndarray, min_area_px: int) -> np.ndarray:
    """Drop the 4-connected components of a boolean mask smaller than ``min_area_px`` pixels."""
    if min_area_px <= 1 or not mask.any():
        return mask
    labels, _ = ndimage.label(mask, structure=FOUR_CONNECTED)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_area_px
    keep[0] = False
    return keep[labels]
