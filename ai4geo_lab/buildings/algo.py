"""Footprint heights (LOD0 → LOD1): per-building statistics of nDSM and DTM, without a loop over buildings."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio.features
from affine import Affine

from ai4geo_lab.errors import ConfigError, InvalidInputError


def grouped_percentile(labels: np.ndarray, values: np.ndarray, n_labels: int, q: float) -> np.ndarray:
    """Percentile ``q`` (linear interpolation, as ``np.percentile``) of ``values`` per label 1..n_labels.

    Pixels of label 0 and non-finite values are ignored; labels with no value get NaN. Returns an array of
    length ``n_labels`` (index i is label i + 1).
    """
    lab = labels.ravel()
    val = values.ravel()
    keep = (lab > 0) & np.isfinite(val)
    lab, val = lab[keep].astype(np.int64), val[keep].astype(np.float64)
    out = np.full(n_labels, np.nan)
    if lab.size == 0:
        return out
    order = np.lexsort((val, lab))
    lab, val = lab[order], val[order]
    counts = np.bincount(lab, minlength=n_labels + 1)[1:]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    pos = (counts[has] - 1) * (q / 100.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.ceil(pos).astype(np.int64)
    v_lo, v_hi = val[starts[has] + lo], val[starts[has] + hi]
    out[has] = v_lo + (v_hi - v_lo) * (pos - lo)
    return out


def footprint_heights(
    footprints: gpd.GeoDataFrame,
    ndsm: np.ndarray,
    dtm: np.ndarray,
    transform: Affine,
    percentile: float = 90.0,
    all_touched: bool = False,
    outlier_margin_m: float | None = 6.0,
) -> gpd.GeoDataFrame:
    """A copy of ``footprints`` with ``height``, ``base_elevation`` and ``n_pixels``.

    ``height`` is the ``percentile`` of the nDSM over the pixels whose centre lies in the footprint (NaN
    ignored), after dropping pixels more than ``outlier_margin_m`` above the building's median (matching
    blunders, a taller neighbour's facade; a pitched roof rises less than that above its median; None keeps
    all); ``base_elevation`` is the median DTM there, ``n_pixels`` the number of those pixels. Footprints
    must be in the rasters' CRS; where footprints overlap, the later row takes the shared pixels. A footprint
    without a valid pixel gets NaN.
    """
    h = np.asarray(ndsm, dtype=np.float64)
    g = np.asarray(dtm, dtype=np.float64)
    if h.ndim != 2 or h.shape != g.shape:
        raise InvalidInputError(f"nDSM {h.shape} and DTM {g.shape} must be 2D arrays of the same shape",
                                "read both on the same grid")
    if not 0.0 <= percentile <= 100.0:
        raise ConfigError(f"percentile must be within [0, 100], got {percentile}")
    out = footprints.copy()
    n = len(out)
    if n == 0:
        for col, dtype in (("height", "f8"), ("base_elevation", "f8"), ("n_pixels", "i8")):
            out[col] = np.array([], dtype=dtype)
        return out
    shapes = [(geom, i + 1) for i, geom in enumerate(out.geometry)
              if geom is not None and not geom.is_empty]
    labels = np.zeros(h.shape, dtype=np.int32)
    if shapes:
        labels = rasterio.features.rasterize(shapes, out_shape=h.shape, transform=transform, fill=0,
                                             dtype="int32", all_touched=all_touched)
    if outlier_margin_m is not None:
        median = np.concatenate([[np.nan], grouped_percentile(labels, h, n, 50.0)])
        h = np.where(h > median[labels] + outlier_margin_m, np.nan, h)
    out["height"] = grouped_percentile(labels, h, n, percentile)
    out["base_elevation"] = grouped_percentile(labels, g, n, 50.0)
    out["n_pixels"] = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(np.int64)
    return out


def building_models(
    footprints: gpd.GeoDataFrame,
    ndsm: np.ndarray,
    dtm: np.ndarray,
    transform: Affine,
    percentile: float = 90.0,
    outlier_margin_m: float | None = 6.0,
    erode_px: float = 1.0,
    complexity_penalty: float | None = None,
    min_rise_m: float | None = None,
) -> gpd.GeoDataFrame:
    """LOD0–LOD2 attributes of every footprint: LOD1 ``height`` and ``base_elevation`` (see
    :func:`footprint_heights`), ``area_m2``, and the LOD2 roof fitted to the surface height above the base
    (nDSM + DTM − ``base_elevation``: a flat roof on sloping ground stays flat) inside the footprint shrunk by
    ``erode_px`` pixels (:func:`~ai4geo_lab.buildings.roofs.fit_roof`): ``roof_type``,
    ``ridge_direction_deg``, ``eave_height``, ``ridge_height``, ``roof_rmse_m``, ``roof_confidence`` and
    ``roof_planes`` (JSON). Footprints without enough valid pixels get roof type ``unknown`` and NaNs.
    """
    from shapely.geometry import Polygon

    from ai4geo_lab.buildings import roofs

    out = footprint_heights(footprints, ndsm, dtm, transform, percentile=percentile,
                            outlier_margin_m=outlier_margin_m)
    h = np.asarray(ndsm, dtype=np.float64) + np.asarray(dtm, dtype=np.float64)  # the DSM
    gsd = math.sqrt(abs(transform.a * transform.e - transform.b * transform.d))
    kwargs: dict[str, Any] = {}
    if complexity_penalty is not None:
        kwargs["complexity_penalty"] = complexity_penalty
    if min_rise_m is not None:
        kwargs["min_rise_m"] = min_rise_m
    cols: dict[str, list] = {k: [] for k in ("roof_type", "ridge_direction_deg", "eave_height", "ridge_height",
                                             "roof_rmse_m", "roof_confidence", "roof_planes")}
    for geom, base in zip(out.geometry, out["base_elevation"], strict=True):
        fit = None
        poly = max(geom.geoms, key=lambda p: p.area) if hasattr(geom, "geoms") else geom
        if isinstance(poly, Polygon) and not poly.is_empty:
            rows, cc = roofs.pixels_in(poly, transform, h.shape, erode_m=erode_px * gsd)
            x, y = transform @ (cc + 0.5, rows + 0.5)  # type: ignore[operator]  # affine maps arrays too
            z = h[rows, cc] - base
            if np.isfinite(z).sum() >= 4:
                fit = roofs.fit_roof(poly, np.asarray(x), np.asarray(y), z, **kwargs)
        if fit is None:
            for k, v in zip(cols, ("unknown", math.nan, math.nan, math.nan, math.nan, 0.0, ""), strict=True):
                cols[k].append(v)
            continue
        for k, v in zip(cols, (fit.roof_type, fit.ridge_direction_deg, fit.eave_height, fit.ridge_height,
                               fit.rmse, fit.confidence, fit.planes_json()), strict=True):
            cols[k].append(v)
    for k, v in cols.items():
        out[k] = v
    out["area_m2"] = out.geometry.area
    return out
