"""Building masks to footprint polygons, and their regularisation to right-angled outlines."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio.features
import shapely
from affine import Affine
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.polygon import orient

from ai4geo_lab.errors import InvalidInputError

#: edges within this angle (degrees) of the dominant directions are snapped to them
SNAP_ANGLE_DEG = 20.0
#: a regularised outline must overlap its input at least this much (IoU), or the input is kept
MIN_REGULARIZED_IOU = 0.8
#: regularisation is tried at these multiples of the tolerance...
REGULARIZE_TOLERANCE_FACTORS = (1.0, 1.5, 2.0)
#: ...and the simplest result whose IoU with the input is within this of the best one is kept
IOU_SLACK = 0.03


def pixel_size(transform: Affine) -> float:
    """Ground size of one pixel (the geometric mean of its two sides, in map units)."""
    return math.sqrt(abs(transform.a * transform.e - transform.b * transform.d))


def mask_to_polygons(
    mask: np.ndarray,
    transform: Affine,
    min_area_m2: float = 25.0,
    simplify_m: float | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Polygons of the 4-connected components of a 0/1 mask, in map coordinates.

    Holes (courtyards) are kept, except those smaller than ``min_area_m2``. Outlines are simplified by
    Douglas–Peucker at ``simplify_m`` (default: one pixel; 0 disables it), then polygons smaller than
    ``min_area_m2`` dropped. Columns: ``geometry`` (exterior counter-clockwise) and ``area_m2``.
    """
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise InvalidInputError(f"the mask must be a 2D array, got shape {arr.shape}")
    binary = np.nan_to_num(arr.astype(np.float64)) > 0 if arr.dtype.kind == "f" else arr.astype(bool)
    tol = pixel_size(transform) if simplify_m is None else float(simplify_m)
    polys: list[Polygon] = []
    if binary.any():
        raw = [shape(geom) for geom, _ in rasterio.features.shapes(
            binary.astype(np.uint8), mask=binary, connectivity=4, transform=transform)]
        for geom in raw:
            poly = simplify_polygon(_drop_small_holes(geom, min_area_m2), tol)
            if not poly.is_empty and poly.area >= min_area_m2:
                polys.append(orient(poly, 1.0))
    gdf = gpd.GeoDataFrame({"area_m2": np.array([p.area for p in polys], dtype=np.float64)},
                           geometry=polys, crs=crs)
    return gdf


def _roll_ring(ring: Any) -> np.ndarray:
    """A closed ring's coordinates starting half-way round."""
    c = np.asarray(ring.coords)[:-1]
    c = np.roll(c, -(len(c) // 2), axis=0)
    return np.vstack([c, c[:1]])


def simplify_polygon(poly: Polygon, tolerance: float) -> Polygon:
    """Douglas–Peucker simplification of a polygon that does not keep a spurious vertex at the rings' start.

    Douglas–Peucker always keeps a ring's first point; a second pass on rings started half-way round drops it
    when it is not a corner.
    """
    if tolerance <= 0 or poly.is_empty:
        return poly
    first = poly.simplify(tolerance, preserve_topology=True)
    if not isinstance(first, Polygon) or first.is_empty:
        return first
    rolled = Polygon(_roll_ring(first.exterior), [_roll_ring(r) for r in first.interiors])
    second = rolled.simplify(tolerance, preserve_topology=True)
    return second if isinstance(second, Polygon) and second.is_valid and not second.is_empty else first


def _drop_small_holes(poly: Polygon, min_area: float) -> Polygon:
    """The polygon without its holes smaller than ``min_area``."""
    if not poly.interiors:
        return poly
    holes = [ring for ring in poly.interiors if Polygon(ring).area >= min_area]
    return Polygon(poly.exterior, holes) if len(holes) != len(poly.interiors) else poly


def dominant_angle(poly: Polygon) -> float:
    """Main edge orientation in degrees, in [0, 90): the length-weighted mean of edge angles mod 90°."""
    rings = [poly.exterior, *poly.interiors]
    coords = [np.asarray(r.coords) for r in rings]
    vec = np.concatenate([np.diff(c, axis=0) for c in coords])
    length = np.hypot(vec[:, 0], vec[:, 1])
    theta = np.arctan2(vec[:, 1], vec[:, 0])
    # angles are 90°-periodic: average them on the circle after multiplying by 4
    s, c = np.sum(length * np.sin(4 * theta)), np.sum(length * np.cos(4 * theta))
    return float(np.degrees(np.arctan2(s, c) / 4)) % 90.0


def _rotate(xy: np.ndarray, angle_deg: float, origin: tuple[float, float]) -> np.ndarray:
    """Points rotated by ``angle_deg`` (counter-clockwise) about ``origin``."""
    t = math.radians(angle_deg)
    c, s = math.cos(t), math.sin(t)
    d = xy - origin
    return np.c_[c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]] + origin


def _edge_moments(simple: np.ndarray, raw: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per edge of the simplified ring: (weight, weighted midpoint sum) of the raw boundary it replaces.

    ``simple`` and ``raw`` are open rings (no closing point) and ``simple``'s vertices a subset of ``raw``'s;
    without ``raw``, or if they do not match, the simplified edges themselves are used.
    """
    nxt = np.roll(simple, -1, axis=0)
    length = np.hypot(*(nxt - simple).T)
    fallback = length, length[:, None] * (simple + nxt) / 2
    if raw is None or len(raw) < len(simple):
        return fallback
    where = {tuple(p): i for i, p in enumerate(raw)}
    idx = [where.get(tuple(p)) for p in simple]
    if any(i is None for i in idx):
        return fallback
    a = np.asarray(idx, dtype=np.int64)
    b = np.roll(a, -1)
    if np.any(np.diff((a - a[0]) % len(raw)) <= 0):  # not in the raw ring's order
        return fallback
    seg_len = np.hypot(*(np.roll(raw, -1, axis=0) - raw).T)
    seg_mom = seg_len[:, None] * (raw + np.roll(raw, -1, axis=0)) / 2
    n = len(raw)
    cw = np.r_[0.0, np.cumsum(seg_len)]
    cm = np.vstack([np.zeros((1, 2)), np.cumsum(seg_mom, axis=0)])
    wrap = b <= a  # the edge runs past the end of the raw ring
    w = np.where(wrap, cw[n] - cw[a] + cw[b], cw[b] - cw[a])
    m = np.where(wrap[:, None], cm[n] - cm[a] + cm[b], cm[b] - cm[a])
    if np.any(w <= 0):
        return fallback
    return w, m


def _snap_ring(coords: np.ndarray, tolerance: float, raw: np.ndarray | None = None) -> np.ndarray | None:
    """Snap the edges of a closed ring (axis-aligned frame) to horizontal/vertical lines; None if degenerate.

    Near-horizontal edges become lines y = c, near-vertical ones x = c, where c is the length-weighted mean
    of the raw boundary (``raw``, the unsimplified ring, when given) that the edge (or run of consecutive
    edges of one orientation) replaces. Oblique edges keep their own line, or are dropped when shorter than
    twice ``tolerance`` or a quarter of their shorter neighbour (corner cuts), and so are snapped steps
    shorter than twice ``tolerance`` between two parallel edges (pixel jogs). Vertices are the
    intersections of consecutive lines.
    """
    pts = coords[:-1]
    keep = np.hypot(*(np.roll(pts, -1, axis=0) - pts).T) > 0
    pts = pts[keep]
    n = len(pts)
    if n < 3:
        return None
    weight, moment = _edge_moments(pts, None if raw is None else raw[:-1])
    nxt = np.roll(pts, -1, axis=0)
    vec = nxt - pts
    length = np.hypot(vec[:, 0], vec[:, 1])
    ang = np.degrees(np.arctan2(vec[:, 1], vec[:, 0])) % 180.0
    kind = np.full(n, "d")
    kind[(ang <= SNAP_ANGLE_DEG) | (ang >= 180.0 - SNAP_ANGLE_DEG)] = "h"
    kind[np.abs(ang - 90.0) <= SNAP_ANGLE_DEG] = "v"
    # short oblique edges are corner cuts left by the simplification: their neighbours meet instead
    shorter_neighbour = np.minimum(np.roll(length, 1), np.roll(length, -1))
    keep = (kind != "d") | ((length >= 2 * tolerance) & (length >= 0.25 * shorter_neighbour))
    if keep.sum() >= 3:
        pts, vec, length, kind = pts[keep], vec[keep], length[keep], kind[keep]
        weight, moment = weight[keep], moment[keep]
        n = len(pts)
    # short steps between two parallel snapped edges are pixel jogs: drop them so that the two edges merge
    prev_kind, next_kind = np.roll(kind, 1), np.roll(kind, -1)
    jog = (prev_kind == next_kind) & (prev_kind != kind) & (prev_kind != "d") & (
        length < np.where(kind == "d", 4 * tolerance, 2 * tolerance))
    if jog.any() and (~jog).sum() >= 4:
        pts, vec, length, kind = pts[~jog], vec[~jog], length[~jog], kind[~jog]
        weight, moment = weight[~jog], moment[~jog]
        n = len(pts)
    # start at an edge whose kind differs from the previous one, so that runs do not wrap around
    change = np.flatnonzero(kind != np.roll(kind, 1))
    start = int(change[0]) if len(change) else 0
    order = np.roll(np.arange(n), -start)
    lines: list[tuple[np.ndarray, np.ndarray]] = []  # (point, unit direction)
    i = 0
    while i < n:
        k = order[i]
        if kind[k] == "d":
            lines.append((pts[k], vec[k] / length[k]))
            i += 1
            continue
        j = i
        while j < n and kind[order[j]] == kind[k]:
            j += 1
        run = order[i:j]
        point = moment[run].sum(axis=0) / weight[run].sum()
        lines.append((point, np.array([1.0, 0.0]) if kind[k] == "h" else np.array([0.0, 1.0])))
        i = j
    if len(lines) < 3:
        return None
    out = []
    for idx in range(len(lines)):
        (p1, d1), (p2, d2) = lines[idx - 1], lines[idx]
        cross = d1[0] * d2[1] - d1[1] * d2[0]
        if abs(cross) < 1e-6:
            out.append((p1 + p2) / 2)  # parallel: a step of zero length, keep a point between
            continue
        t = ((p2[0] - p1[0]) * d2[1] - (p2[1] - p1[1]) * d2[0]) / cross
        out.append(p1 + t * d1)
    ring = np.asarray(out)
    if len(ring) < 3 or not np.all(np.isfinite(ring)):
        return None
    return np.vstack([ring, ring[:1]])


def _iou(a: Polygon, b: Polygon) -> float:
    union = a.union(b).area
    return a.intersection(b).area / union if union > 0 else 0.0


def regularize_polygon(poly: Polygon, tolerance_m: float, rectangularity: float = 0.85) -> Polygon:
    """A right-angled version of a footprint.

    If the polygon (without holes) fills at least ``rectangularity`` of its minimum rotated rectangle: that
    rectangle, shrunk about its centre to the polygon's area. Otherwise: the outline simplified at
    ``tolerance_m`` (and at 1.5 and 2 × ``tolerance_m``), its edges within 20° of the dominant orientation or
    its perpendicular snapped to them; of the valid results whose IoU with the input is ≥ 0.8, the one with
    the fewest vertices among those within 0.03 of the best IoU. Failing all, the simplified input.
    """
    if poly.is_empty or not isinstance(poly, Polygon) or poly.area <= 0:
        return poly
    simplified = simplify_polygon(poly, tolerance_m)
    if not poly.interiors:
        rect = shapely.oriented_envelope(poly)
        if isinstance(rect, Polygon) and rect.area > 0 and poly.area / rect.area >= rectangularity:
            # the enclosing rectangle is too large by the outline's ragged edge: shrink it to equal area
            k = math.sqrt(poly.area / rect.area)
            rect = affinity.scale(rect, k, k, origin=rect.centroid)
            if _iou(rect, poly) >= MIN_REGULARIZED_IOU:
                return orient(rect, 1.0)
    # a ragged outline may need more simplification before it squares up: try coarser tolerances too and keep
    # the simplest result that fits the input almost as well as the best one
    candidates = []
    for factor in REGULARIZE_TOLERANCE_FACTORS:
        coarse = simplified if factor == 1.0 else simplify_polygon(poly, factor * tolerance_m)
        snapped = _snap_polygon(poly, coarse, factor * tolerance_m)
        if snapped is not None:
            candidates.append((snapped, _iou(snapped, poly)))
    if not candidates:
        return orient(simplified, 1.0)
    best_iou = max(iou for _, iou in candidates)
    fits = [c for c, iou in candidates if iou >= best_iou - IOU_SLACK]
    return min(fits, key=lambda c: len(c.exterior.coords) + sum(len(r.coords) for r in c.interiors))


def _snap_polygon(poly: Polygon, simplified: Polygon, tolerance: float) -> Polygon | None:
    """``simplified`` with its edges snapped to its dominant directions (offsets fitted on ``poly``'s
    boundary); None if that gives an invalid polygon or one whose IoU with ``poly`` is below 0.8."""
    if not isinstance(simplified, Polygon) or simplified.is_empty:
        return None
    angle = dominant_angle(simplified)
    centre = (poly.centroid.x, poly.centroid.y)

    def frame(ring: Any) -> np.ndarray:
        return _rotate(np.asarray(ring.coords)[:, :2], -angle, centre)

    raw_rings = [poly.exterior, *poly.interiors]
    simple_rings = [simplified.exterior, *simplified.interiors]
    if len(raw_rings) != len(simple_rings):  # cannot pair raw and simplified rings: use the simplified only
        raw_rings = [None] * len(simple_rings)
    snapped_rings = [_snap_ring(frame(s), tolerance, None if r is None else frame(r))
                     for s, r in zip(simple_rings, raw_rings, strict=True)]
    if snapped_rings[0] is None:
        return None
    ext, *holes = (_rotate(r[:, :2], angle, centre) if r is not None else None for r in snapped_rings)
    snapped = Polygon(ext, [h for h in holes if h is not None])
    snapped = shapely.remove_repeated_points(snapped, 1e-9 * max(1.0, math.sqrt(poly.area)))
    snapped = snapped.simplify(0)  # drop collinear vertices
    if (not isinstance(snapped, Polygon) or snapped.is_empty or not snapped.is_valid
            or _iou(snapped, poly) < MIN_REGULARIZED_IOU):
        return None
    return orient(snapped, 1.0)


def regularize(gdf: gpd.GeoDataFrame, tolerance_m: float, rectangularity: float = 0.85) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` with every (multi)polygon regularised by :func:`regularize_polygon`."""

    def one(geom: Any) -> Any:
        if isinstance(geom, Polygon):
            return regularize_polygon(geom, tolerance_m, rectangularity)
        if isinstance(geom, MultiPolygon):
            return shapely.union_all([regularize_polygon(p, tolerance_m, rectangularity) for p in geom.geoms])
        return geom

    out = gdf.copy()
    out[out.geometry.name] = [one(g) for g in gdf.geometry]
    if "area_m2" in out.columns:
        out["area_m2"] = out.geometry.area
    return out
