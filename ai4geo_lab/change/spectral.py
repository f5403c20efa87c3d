"""2D change between two dates of imagery: index differences, change-vector magnitude, automatic thresholds.

Pure functions on in-memory arrays. A typical use::

    d = index_difference(before, after, ["red", "green", "blue", "nir"], "ndvi")   # after − before
    t = otsu_threshold(np.abs(d))
    mask = clean_mask(np.abs(d) > t, min_area_px=20)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.ndimage import binary_closing, binary_opening

from ai4geo_lab.errors import ConfigError, InvalidInputError
from ai4geo_lab.geo.masks import remove_small_components
from ai4geo_lab.landcover.features import common_band_names, spectral_indices

DIRECTIONS = ("both", "decrease", "increase")


def otsu_threshold(values: np.ndarray, bins: int = 256, sample: int | None = 1_000_000, seed: int = 0) -> float:
    """The threshold that maximises the between-class variance of ``values`` (Otsu, 1979); NaN ignored.

    At most ``sample`` values are used (drawn at random) so that large rasters stay cheap.
    """
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise InvalidInputError("no finite value to threshold", "check the inputs' nodata and overlap")
    if sample and v.size > sample:
        v = np.random.default_rng(seed).choice(v, sample, replace=False)
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return hi
    hist, edges = np.histogram(v, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centres)
    with np.errstate(invalid="ignore", divide="ignore"):
        m0 = s0 / w0
        m1 = (s0[-1] - s0) / w1
        between = w0 * w1 * (m0 - m1) ** 2
    between[~np.isfinite(between)] = -1
    # empty bins between two modes tie: take the middle of the best plateau
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    run = best[: np.argmax(np.diff(np.append(best, best[-1] + 2)) > 1) + 1]
    return float((edges[run[0] + 1] + edges[run[-1] + 1]) / 2)


def index_difference(before: np.ndarray, after: np.ndarray, band_names: Sequence[str],
                     index: str = "ndvi") -> np.ndarray:
    """``index(after) − index(before)`` for two images (B, H, W) of the same bands (NaN where undefined)."""
    if before.shape != after.shape:
        raise InvalidInputError(f"the two dates differ in shape: {before.shape} and {after.shape}",
                                "resample both onto one grid")
    names = common_band_names(band_names)
    if index in names:
        i = names.index(index)
        return (after[i].astype(np.float32) - before[i].astype(np.float32))
    a, _ = spectral_indices(after, names, [index])
    b, _ = spectral_indices(before, names, [index])
    return a[0] - b[0]


def change_vector(before: np.ndarray, after: np.ndarray, normalise: bool = True) -> np.ndarray:
    """Magnitude of the change vector over all bands (change vector analysis), NaN where a band is.

    With ``normalise``, each band's difference is divided by its robust spread (1.4826 × MAD) first, so that
    no band dominates by its range alone.
    """
    if before.shape != after.shape:
        raise InvalidInputError(f"the two dates differ in shape: {before.shape} and {after.shape}")
    d = after.astype(np.float32) - before.astype(np.float32)
    if normalise:
        flat = d.reshape(d.shape[0], -1)
        with np.errstate(all="ignore"):
            med = np.nanmedian(flat, axis=1)
            mad = 1.4826 * np.nanmedian(np.abs(flat - med[:, None]), axis=1)
        mad = np.where(np.isfinite(mad) & (mad > 0), mad, 1.0).astype(np.float32)
        d = (d - med[:, None, None].astype(np.float32)) / mad[:, None, None]
    return np.sqrt(np.sum(d * d, axis=0))


def clean_mask(mask: np.ndarray, min_area_px: int = 20, opening: int = 1, closing: int = 1) -> np.ndarray:
    """A change mask without specks: closing then opening by squares of side 2·n+1, small components dropped."""
    out = np.asarray(mask, bool)
    if closing:
        out = binary_closing(out, structure=np.ones((2 * closing + 1,) * 2, bool), border_value=0)
    if opening:
        out = binary_opening(out, structure=np.ones((2 * opening + 1,) * 2, bool))
    return remove_small_components(out, min_area_px)


def threshold_change(diff: np.ndarray, direction: str = "both", threshold: float | None = None,
                     method: str = "otsu", k: float = 3.0) -> tuple[np.ndarray, float]:
    """The change mask of a difference image and the threshold used.

    ``direction``: ``decrease`` flags ``diff ≤ −t``, ``increase`` flags ``diff ≥ t``, ``both`` flags
    ``|diff| ≥ t``. Without an explicit ``threshold``, ``method`` chooses it: ``otsu`` on the values in that
    direction, or ``sigma`` (median + k × robust spread of |diff|).
    """
    if direction not in DIRECTIONS:
        raise ConfigError(f"unknown direction '{direction}'", f"choose one of {', '.join(DIRECTIONS)}")
    d = np.asarray(diff, np.float32)
    signed = {"both": np.abs(d), "decrease": -d, "increase": d}[direction]
    if threshold is None:
        if method == "otsu":
            vals = signed[np.isfinite(signed)]
            if direction != "both":
                vals = vals[vals > 0]  # the other direction is no change at all
            threshold = otsu_threshold(vals) if vals.size else float("inf")
        elif method == "sigma":
            a = np.abs(d[np.isfinite(d)])
            med = float(np.median(a)) if a.size else 0.0
            threshold = med + k * 1.4826 * float(np.median(np.abs(a - med))) if a.size else float("inf")
        else:
            raise ConfigError(f"unknown threshold method '{method}'", "choose 'otsu' or 'sigma'")
    with np.errstate(invalid="ignore"):
        mask = np.isfinite(signed) & (signed >= threshold)
    return mask, float(threshold)


def pair_features(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Features of a pair of dates for a learned change classifier: both dates and their difference."""
    if before.shape != after.shape:
        raise InvalidInputError(f"the two dates differ in shape: {before.shape} and {after.shape}")
    return np.concatenate([before, after, after - before]).astype(np.float32)


def from_to(before: np.ndarray, after: np.ndarray, nodata: int = 0) -> np.ndarray:
    """Post-classification comparison: ``before × 256 + after`` where the class changed, 0 elsewhere (uint16)."""
    b = np.asarray(before).astype(np.uint16)
    a = np.asarray(after).astype(np.uint16)
    out = np.where((b != a) & (b != nodata) & (a != nodata), b * 256 + a, 0)
    return out.astype(np.uint16)


def from_to_table(codes: np.ndarray, names: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """Pixel counts of each from → to transition of a :func:`from_to` raster, largest first."""
    vals, counts = np.unique(codes[codes > 0], return_counts=True)
    names = names or {}
    rows = [{"from": int(v) // 256, "to": int(v) % 256, "from_name": names.get(int(v) // 256, str(int(v) // 256)),
             "to_name": names.get(int(v) % 256, str(int(v) % 256)), "pixels": int(c)} for v, c in zip(vals, counts,
                                                                                                     strict=True)]
    return sorted(rows, key=lambda r: -r["pixels"])
