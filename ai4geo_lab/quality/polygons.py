"""Polygon quality: how close predicted outlines are to reference outlines, matched one to one.

PoLiS (Avbelj et al., 2015): the mean distance from each polygon's vertices to the other's boundary, averaged
both ways. C-IoU (Zorzi et al., 2022): IoU × (1 − |N_pred − N_ref| / (N_pred + N_ref)), which penalises too
many or too few vertices. N-ratio: N_pred / N_ref. Orientation error: the difference of the dominant edge
directions (modulo 90°). Max tangent-angle error (after Girard et al., 2021): the largest difference between the
predicted outline's direction and that of the nearest reference edge, along the predicted edges.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry


def vertices(geom: BaseGeometry) -> np.ndarray:
    """Distinct vertices of a polygon's rings (closing vertices dropped), as an (n, 2) array."""
    rings = []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in [poly.exterior, *poly.interiors]:
            rings.append(np.asarray(ring.coords)[:-1])
    return np.concatenate(rings) if rings else np.empty((0, 2))


def polis(a: BaseGeometry, b: BaseGeometry) -> float:
    """PoLiS distance between two polygons (map units)."""
    va, vb = vertices(a), vertices(b)
    if not len(va) or not len(vb):
        return math.nan
    da = shapely.distance(shapely.points(va), b.boundary).mean()
    db = shapely.distance(shapely.points(vb), a.boundary).mean()
    return float(0.5 * da + 0.5 * db)


def dominant_orientation(geom: BaseGeometry) -> float:
    """Dominant edge direction in degrees in [0, 90), weighted by edge length (angles doubled mod 90°)."""
    angles, weights = [], []
    for poly in getattr(geom, "geoms", [geom]):
        c = np.asarray(poly.exterior.coords)
        d = np.diff(c, axis=0)
        angles.append(np.arctan2(d[:, 1], d[:, 0]))
        weights.append(np.hypot(d[:, 0], d[:, 1]))
    a, w = np.concatenate(angles), np.concatenate(weights)
    z = np.sum(w * np.exp(4j * a))  # period 90° → 4θ
    return float(np.degrees(np.angle(z) / 4) % 90)


def orientation_error(a: BaseGeometry, b: BaseGeometry) -> float:
    """Smallest difference of dominant orientations (degrees, 0–45)."""
    d = abs(dominant_orientation(a) - dominant_orientation(b)) % 90
    return float(min(d, 90 - d))


def _segments(geom: BaseGeometry) -> np.ndarray:
    """Every ring edge of a polygon as a row (x0, y0, x1, y1), zero-length edges dropped."""
    rows = []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in [poly.exterior, *poly.interiors]:
            c = np.asarray(ring.coords)[:, :2]
            rows.append(np.c_[c[:-1], c[1:]])
    seg = np.concatenate(rows) if rows else np.empty((0, 4))
    return seg[np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]) > 0]


def max_tangent_angle_error(pred: BaseGeometry, ref: BaseGeometry, step: float = 0.5) -> float:
    """Largest difference (degrees, 0–90) between the direction of the predicted outline and that of the
    nearest reference edge, at points every ``step`` map units along the middle half of each predicted edge.

    Sampling the middle of the edges keeps a corner's neighbourhood, where the nearest reference edge may be
    the perpendicular one, from counting as a 90° error.
    """
    ps, rs = _segments(pred), _segments(ref)
    if not len(ps) or not len(rs):
        return math.nan
    d = ps[:, 2:] - ps[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    n = np.maximum(1, np.ceil(0.5 * length / step)).astype(np.int64)
    edge = np.repeat(np.arange(len(ps)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    frac = 0.25 + 0.5 * (k + 0.5) / n[edge]
    pts = ps[edge, :2] + frac[:, None] * d[edge]
    lines = shapely.linestrings(rs.reshape(-1, 2, 2))
    nearest = shapely.STRtree(lines).query_nearest(shapely.points(pts), all_matches=False)[1]
    pa = np.arctan2(d[edge, 1], d[edge, 0])
    rd = rs[:, 2:] - rs[:, :2]
    ra = np.arctan2(rd[nearest, 1], rd[nearest, 0])
    diff = np.abs(pa - ra) % math.pi
    return float(np.degrees(np.max(np.minimum(diff, math.pi - diff))))


def pair_metrics(pred: BaseGeometry, ref: BaseGeometry) -> dict[str, float]:
    """IoU, PoLiS, C-IoU, N-ratio and orientation error of one predicted and one reference polygon."""
    inter = pred.intersection(ref).area
    union = pred.union(ref).area
    iou = inter / union if union else math.nan
    n_p, n_r = len(vertices(pred)), len(vertices(ref))
    return {
        "iou": iou,
        "polis": polis(pred, ref),
        "c_iou": iou * (1 - abs(n_p - n_r) / (n_p + n_r)) if n_p + n_r else math.nan,
        "n_ratio": n_p / n_r if n_r else math.nan,
        "orientation_error_deg": orientation_error(pred, ref),
        "max_tangent_error_deg": max_tangent_angle_error(pred, ref),
        "centroid_dx": pred.centroid.x - ref.centroid.x,
        "centroid_dy": pred.centroid.y - ref.centroid.y,
    }


def polygon_table(matches: pd.DataFrame, pred: gpd.GeoDataFrame, ref: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per matched pair (from :func:`~ai4geo_lab.metrics.match_polygons`) with its metrics."""
    rows = [{"pred": m.pred, "ref": m.ref, **pair_metrics(pred.geometry.loc[m.pred], ref.geometry.loc[m.ref])}
            for m in matches.itertuples()]
    cols = ["pred", "ref", "iou", "polis", "c_iou", "n_ratio", "orientation_error_deg", "max_tangent_error_deg",
            "centroid_dx", "centroid_dy"]
    return pd.DataFrame(rows, columns=cols)


def polygon_scores(pred: gpd.GeoDataFrame, ref: gpd.GeoDataFrame, min_iou: float = 0.5) -> dict[str, float]:
    """Means over one-to-one matched pairs of IoU, PoLiS, C-IoU, N-ratio and max tangent-angle error, with
    the numbers of predicted, reference and matched polygons."""
    from ai4geo_lab.metrics import match_polygons

    table = polygon_table(match_polygons(pred, ref, min_iou), pred, ref)
    out: dict[str, float] = {"n_pred": len(pred), "n_ref": len(ref), "n_matched": len(table)}
    for col in ("iou", "polis", "c_iou", "n_ratio", "max_tangent_error_deg"):
        out[col] = float(table[col].mean()) if len(table) else math.nan
    return out
