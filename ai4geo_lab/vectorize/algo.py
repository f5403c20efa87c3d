"""Building masks to footprint polygons, and their regularisation to right-angled outlines."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio.features
import shapely
from affine import Affine
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
IOU_SLACK = 0.01


def pixel_size(transform: Affine) -> float:
    """Ground size of one pixel (the geometric mean of its two sides, in map units)."""
    return math.sqrt(abs(transform.a * transform.e - transform.b * transform.d))


def _binary(mask: np.ndarray) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise InvalidInputError(f"the mask must be a 2D array, got shape {arr.shape}")
    return np.nan_to_num(arr.astype(np.float64)) > 0 if arr.dtype.kind == "f" else arr.astype(bool)


def raw_polygons(mask: np.ndarray, transform: Affine) -> list[Polygon]:
    """Exact pixel-edge polygons (holes included) of the 4-connected components of a 0/1 mask."""
    binary = _binary(mask)
    if not binary.any():
        return []
    return [shape(geom) for geom, _ in rasterio.features.shapes(
        binary.astype(np.uint8), mask=binary, connectivity=4, transform=transform)]


def finish_polygons(raw: list[Polygon], tol: float, min_area_m2: float, crs: Any = None) -> gpd.GeoDataFrame:
    """Small holes dropped, outlines simplified at ``tol``, specks dropped, exteriors counter-clockwise."""
    polys: list[Polygon] = []
    for geom in raw:
        # a canonical ring (no collinear vertex, fixed start) simplifies the same however it was pieced together
        geom = shapely.normalize(geom.simplify(0))
        poly = simplify_polygon(_drop_small_holes(geom, min_area_m2), tol)
        if isinstance(poly, Polygon) and not poly.is_empty and poly.area >= min_area_m2:
            polys.append(orient(poly, 1.0))
    return gpd.GeoDataFrame({"area_m2": np.array([p.area for p in polys], dtype=np.float64)},
                            geometry=polys, crs=crs)


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
    tol = pixel_size(transform) if simplify_m is None else float(simplify_m)
    return finish_polygons(raw_polygons(mask, transform), tol, min_area_m2, crs)


def merge_tile_polygons(parts: list[Polygon], grid_size: float) -> list[Polygon]:
    """Union of the polygons that share an edge or an area (pieces of one object cut by tile borders).

    Polygons touching at a corner only stay apart (4-connectivity). Coordinates are snapped to
    ``grid_size`` first, so that the pieces' common edges coincide exactly.
    """
    if not parts:
        return []
    geoms = shapely.set_precision(np.asarray(parts, dtype=object), grid_size)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a):
        inter = shapely.intersection(geoms[a], geoms[b])
        shared = (shapely.area(inter) > 0) | (shapely.length(inter) > 0)
        a, b = a[shared], b[shared]
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(geoms)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    out: list[Polygon] = []
    for group in np.split(np.argsort(label, kind="stable"), np.flatnonzero(np.diff(np.sort(label))) + 1):
        merged = geoms[group[0]] if len(group) == 1 else shapely.union_all(geoms[group], grid_size=grid_size)
        out.extend(p for p in getattr(merged, "geoms", [merged]) if isinstance(p, Polygon) and not p.is_empty)
    return out


def vectorize_tiles(
    tiles: list[tuple[np.ndarray, Affine]],
    min_area_m2: float = 25.0,
    simplify_m: float | None = None,
    crs: Any = None,
) -> gpd.GeoDataFrame:
    """Polygons of a mask given as tiles (``(array, transform)`` pairs of one pixel grid, overlapping or not).

    Each tile is vectorised exactly (pixel edges); pieces of one building cut by tile borders are merged
    (:func:`merge_tile_polygons`), duplicates from overlaps disappear in the union; only then are holes,
    simplification and the minimum area applied, so the result is that of :func:`mask_to_polygons` on the
    whole mask: no seams, no duplicates.
    """
    if not tiles:
        return finish_polygons([], 0.0, min_area_m2, crs)
    gsd = pixel_size(tiles[0][1])
    raw = [p for arr, transform in tiles for p in raw_polygons(arr, transform)]
    merged = merge_tile_polygons(raw, grid_size=gsd / 1000.0)
    tol = gsd if simplify_m is None else float(simplify_m)
    return finish_polygons(merged, tol, min_area_m2, crs)


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


def _snap_ring(coords: np.ndarray, tolerance: float, raw: np.ndarray | None = None,
               snap_angle_deg: float = SNAP_ANGLE_DEG) -> np.ndarray | None:
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
    kind[(ang <= snap_angle_deg) | (ang >= 180.0 - snap_angle_deg)] = "h"
    kind[np.abs(ang - 90.0) <= snap_angle_deg] = "v"
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


def _fit_rectangle(poly: Polygon, angle: float) -> Polygon | None:
    """The rectangle at ``angle`` (degrees) whose four sides are fitted to ``poly``'s outline.

    In the rectangle's frame, every edge of the outline is assigned to the nearest side of its bounding
    box; each side is placed at the length-weighted mean offset of its edges' midpoints (a pixel staircase
    averages out on the true edge). None if a side gets no edge or the rectangle collapses.
    """
    centre = (poly.centroid.x, poly.centroid.y)
    xy = _rotate(np.asarray(poly.exterior.coords)[:, :2], -angle, centre)
    mid = (xy[:-1] + xy[1:]) / 2
    w = np.hypot(*(xy[1:] - xy[:-1]).T)
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    dist = np.c_[mid[:, 0] - x0, x1 - mid[:, 0], mid[:, 1] - y0, y1 - mid[:, 1]]
    side = np.argmin(dist, axis=1)
    coord = np.c_[mid[:, 0], mid[:, 0], mid[:, 1], mid[:, 1]]
    pos = []
    for k in range(4):
        sel = side == k
        if not sel.any() or w[sel].sum() <= 0:
            return None
        pos.append(float(np.sum(w[sel] * coord[sel, k]) / w[sel].sum()))
    left, right, bottom, top = pos
    if right - left <= 0 or top - bottom <= 0:
        return None
    ring = np.array([[left, bottom], [right, bottom], [right, top], [left, top]])
    return orient(Polygon(_rotate(ring, angle, centre)), 1.0)


def regularize_polygon(poly: Polygon, tolerance_m: float, rectangularity: float = 0.85,
                       snap_angle_deg: float = SNAP_ANGLE_DEG, min_iou: float = MIN_REGULARIZED_IOU) -> Polygon:
    """A right-angled version of a footprint.

    Candidates: if the polygon (without holes) fills at least ``rectangularity`` of its minimum rotated
    rectangle, a rectangle at that orientation with its sides fitted to the outline; and the outline
    simplified at ``tolerance_m`` (and at 1.5 and 2 × ``tolerance_m``), its edges within ``snap_angle_deg``
    of the dominant orientation or its perpendicular snapped to them. Of the valid candidates whose IoU with
    the input is ≥ ``min_iou``, the one with the fewest vertices among those within 0.01 of the best IoU.
    Failing all, the simplified input.
    """
    if poly.is_empty or not isinstance(poly, Polygon) or poly.area <= 0:
        return poly
    simplified = simplify_polygon(poly, tolerance_m)
    candidates = []
    if not poly.interiors:
        rect = shapely.oriented_envelope(poly)
        if isinstance(rect, Polygon) and rect.area > 0 and poly.area / rect.area >= rectangularity:
            c = np.asarray(rect.exterior.coords)
            fitted = _fit_rectangle(poly, math.degrees(math.atan2(c[1, 1] - c[0, 1], c[1, 0] - c[0, 0])))
            if fitted is not None and fitted.is_valid:
                candidates.append((fitted, _iou(fitted, poly)))
    # a ragged outline may need more simplification before it squares up: try coarser tolerances too and keep
    # the simplest result that fits the input almost as well as the best one
    for factor in REGULARIZE_TOLERANCE_FACTORS:
        coarse = simplified if factor == 1.0 else simplify_polygon(poly, factor * tolerance_m)
        snapped = _snap_polygon(poly, coarse, factor * tolerance_m, snap_angle_deg, min_iou)
        if snapped is not None:
            candidates.append((snapped, _iou(snapped, poly)))
    candidates = [(c, iou) for c, iou in candidates if iou >= min_iou]
    if not candidates:
        return orient(simplified, 1.0)
    best_iou = max(iou for _, iou in candidates)
    fits = [c for c, iou in candidates if iou >= best_iou - IOU_SLACK]
    return min(fits, key=lambda c: len(c.exterior.coords) + sum(len(r.coords) for r in c.interiors))


def _snap_polygon(poly: Polygon, simplified: Polygon, tolerance: float, snap_angle_deg: float = SNAP_ANGLE_DEG,
                  min_iou: float = MIN_REGULARIZED_IOU) -> Polygon | None:
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
    snapped_rings = [_snap_ring(frame(s), tolerance, None if r is None else frame(r), snap_angle_deg)
                     for s, r in zip(simple_rings, raw_rings, strict=True)]
    if snapped_rings[0] is None:
        return None
    ext, *holes = (_rotate(r[:, :2], angle, centre) if r is not None else None for r in snapped_rings)
    snapped = Polygon(ext, [h for h in holes if h is not None])
    snapped = shapely.remove_repeated_points(snapped, 1e-9 * max(1.0, math.sqrt(poly.area)))
    snapped = snapped.simplify(0)  # drop collinear vertices
    if (not isinstance(snapped, Polygon) or snapped.is_empty or not snapped.is_valid
            or _iou(snapped, poly) < min_iou):
        return None
    return orient(snapped, 1.0)


def remove_overlaps(polys: list[Polygon], before: list[Polygon]) -> list[Polygon]:
    """``polys`` with every overlap between two of them given to one only.

    The overlap goes to the polygon whose unregularised outline (``before``, same order) covered more of it;
    the other loses it (keeping its largest part, valid). Only polygons are cut, and never by more than half
    their area (that is a duplicate, not a neighbour). Polygons without overlap are returned unchanged.
    """
    geoms = np.asarray(polys, dtype=object)
    if len(geoms) < 2:
        return list(polys)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="overlaps")
    keep = a < b
    out = list(polys)
    for i, j in zip(a[keep], b[keep], strict=True):
        if not (isinstance(out[i], Polygon) and isinstance(out[j], Polygon)):
            continue
        inter = out[i].intersection(out[j])
        if inter.area <= 0:
            continue
        loser = j if before[i].intersection(inter).area >= before[j].intersection(inter).area else i
        cut = shapely.make_valid(out[loser].difference(out[i if loser == j else j]))
        parts = [p for p in getattr(cut, "geoms", [cut]) if isinstance(p, Polygon) and p.area > 0]
        if parts and max(p.area for p in parts) >= 0.5 * out[loser].area:
            out[loser] = orient(max(parts, key=lambda p: p.area), 1.0)
    return out


def regularize(gdf: gpd.GeoDataFrame, tolerance_m: float, rectangularity: float = 0.85,
               snap_angle_deg: float = SNAP_ANGLE_DEG, min_iou: float = MIN_REGULARIZED_IOU,
               remove_overlap: bool = True) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` with every (multi)polygon regularised by :func:`regularize_polygon`, valid, and
    (``remove_overlap``) without overlaps between neighbours (:func:`remove_overlaps`)."""

    def one(geom: Any) -> Any:
        if isinstance(geom, Polygon):
            reg = regularize_polygon(geom, tolerance_m, rectangularity, snap_angle_deg, min_iou)
            return reg if reg.is_valid else shapely.make_valid(reg)
        if isinstance(geom, MultiPolygon):
            return shapely.union_all([regularize_polygon(p, tolerance_m, rectangularity, snap_angle_deg, min_iou)
                                      for p in geom.geoms])
        return geom

    out = gdf.copy()
    geoms = [one(g) for g in gdf.geometry]
    if remove_overlap:
        geoms = remove_overlaps(geoms, list(gdf.geometry))
    out[out.geometry.name] = geoms
    if "area_m2" in out.columns:
        out["area_m2"] = out.geometry.area
    return out
