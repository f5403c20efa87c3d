"""ndsm_threshold_mask on small synthetic rasters with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ai4geo_lab.errors import ConfigError, InvalidInputError
from ai4geo_lab.geo.masks import remove_small_components
from ai4geo_lab.segmentation.algo import ndsm_threshold_mask


def scene() -> np.ndarray:
    """40×40 nDSM: a 10×12 building of 8 m, a 2×2 chimney-sized blob of 5 m, a 1 m wall."""
    h = np.zeros((40, 40))
    h[5:15, 5:17] = 8.0
    h[30:32, 30:32] = 5.0
    h[20:30, 2] = 1.0
    return h


def test_threshold_keeps_the_building_only() -> None:
    mask = ndsm_threshold_mask(scene(), min_area_px=10)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    expected = np.zeros((40, 40), dtype=np.uint8)
    expected[5:15, 5:17] = 1
    np.testing.assert_array_equal(mask, expected)


def test_vegetation_is_removed_by_ndvi() -> None:
    h = scene()
    ndvi = np.full(h.shape, 0.1)
    ndvi[5:15, 5:11] = 0.7  # left half of the block is a tree crown
    mask = ndsm_threshold_mask(h, ndvi, min_area_px=10)
    assert mask[5:15, 5:11].sum() == 0
    assert mask[5:15, 11:17].sum() == 60


def test_nan_gives_zero_and_threshold_is_inclusive() -> None:
    h = np.full((12, 12), 2.5)
    h[0, 0] = np.nan
    ndvi = np.zeros_like(h)
    ndvi[11, 11] = np.nan
    mask = ndsm_threshold_mask(h, ndvi, opening_px=0, min_area_px=0)
    assert mask[0, 0] == 0 and mask[11, 11] == 0
    assert mask.sum() == 144 - 2


def test_opening_removes_thin_lines() -> None:
    h = np.zeros((30, 30))
    h[10:20, 10:20] = 6.0
    h[15, 20:29] = 6.0  # a 1-pixel-wide arm
    mask = ndsm_threshold_mask(h, opening_px=1, min_area_px=0)
    assert mask[15, 22:29].sum() == 0
    assert mask[12:18, 12:18].all()


def test_min_area_is_in_pixels_and_4_connected() -> None:
    m = np.zeros((10, 10), dtype=bool)
    m[0:3, 0:3] = True  # 9 px
    m[5, 5] = m[6, 6] = True  # diagonal: two 1-px components
    out = remove_small_components(m, 2)
    assert out[0:3, 0:3].all() and not out[5, 5] and not out[6, 6]
    assert remove_small_components(m, 10).sum() == 0


def test_bad_inputs_are_reported() -> None:
    with pytest.raises(InvalidInputError):
        ndsm_threshold_mask(np.zeros((5, 5)), np.zeros((4, 5)))
    with pytest.raises(InvalidInputError):
        ndsm_threshold_mask(np.zeros(5))
    with pytest.raises(ConfigError):
        ndsm_threshold_mask(np.zeros((5, 5)), opening_px=-1)
