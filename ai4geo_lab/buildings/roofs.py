"""LOD2 roofs: flat, shed, gable and hip models fitted to the heights inside a footprint, and their faces.

Pure functions on arrays and shapely geometries (no I/O). A roof is the lower envelope of a few planes above
the ground: one plane for flat and shed roofs, two for a gable (meeting at the ridge), four for a hip. Planes
are ``z = a + b·(x − x0) + c·(y − y0)`` (metres above the building's base) around a local origin ``(x0, y0)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from affine import Affine
from shapely import affinity
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from ai4geo_lab.errors import InvalidInputError

ROOF_TYPES = ("flat", "shed", "gable", "hip")
#: number of free parameters of each model (a shed is a free plane; gable and hip: eave level and slope)
N_PARAMS = {"flat": 1, "gable": 2, "hip": 2, "shed": 3}
#: a model with more parameters must lower the fit RMSE by this fraction per extra parameter to be chosen
COMPLEXITY_PENALTY = 0.08
#: a sloped roof rising less than this (m) over the footprint is called flat
MIN_RISE_M = 0.5
#: vertices of roof faces are snapped to this grid (m): CityJSON's default scale
GRID_M = 0.001


@dataclass
class RoofFit:
    """A fitted roof: type, frame, planes (relative to the base), heights and fit quality."""

    roof_type: str
    x0: float
    y0: float
    planes: list[tuple[float, float, float]]
    ridge_direction_deg: float  # azimuth-free map angle of the ridge (or of the slope for a shed), [0, 180)
    eave_height: float
    ridge_height: float
    rmse: float
    confidence: float
    n_pixels: int
    rmse_by_type: dict[str, float] = field(default_factory=dict)

    def height_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Roof height above the base at map points: the lower envelope of the planes."""
        x = np.asarray(x, dtype=np.float64) - self.x0
        y = np.asarray(y, dtype=np.float64) - self.y0
        return np.min([a + b * x + c * y for a, b, c in self.planes], axis=0)

    def planes_json(self) -> str:
        """The frame and planes as a JSON string (for a GeoPackage column)."""
        return json.dumps({"x0": self.x0, "y0": self.y0, "planes": [list(map(float, p)) for p in self.planes]})


def roof_from_json(text: str) -> tuple[float, float, list[tuple[float, float, float]]]:
    """``(x0, y0, planes)`` from :meth:`RoofFit.planes_json`."""
    d = json.loads(text)
    return float(d["x0"]), float(d["y0"]), [(float(a), float(b), float(c)) for a, b, c in d["planes"]]


def building_frame(poly: Polygon) -> tuple[float, float, float, float, float]:
    """``(cx, cy, angle_deg, half_length, half_width)`` of a footprint's minimum rotated rectangle, its long
    axis at ``angle_deg`` (map angle, counter-clockwise from east)."""
    rect = shapely.oriented_envelope(poly)
    c = np.asarray(rect.exterior.coords)[:4] if isinstance(rect, Polygon) else np.asarray(poly.exterior.coords)[:4]
    e1, e2 = c[1] - c[0], c[2] - c[1]
    l1, l2 = float(np.hypot(*e1)), float(np.hypot(*e2))
    long_edge = e1 if l1 >= l2 else e2
    angle = math.degrees(math.atan2(long_edge[1], long_edge[0])) % 180.0
    centre = c.mean(axis=0)
    return float(centre[0]), float(centre[1]), angle, max(l1, l2) / 2, min(l1, l2) / 2


def _candidate_planes(roof_type: str, coef: np.ndarray, angle: float, hl: float, hw: float,
                      ridge_along_long: bool = True) -> list[tuple[float, float, float]]:
    """Planes (a, b, c) in local map coordinates of a model with coefficients ``coef`` in the building frame."""
    t = math.radians(angle)
    cu, su = math.cos(t), math.sin(t)  # u = x·cos + y·sin (along), v = −x·sin + y·cos (across)
    du, dv = np.array([cu, su]), np.array([-su, cu])
    if roof_type == "flat":
        return [(float(coef[0]), 0.0, 0.0)]
    if roof_type == "shed":
        a, bu, bv = coef
        g = bu * du + bv * dv
        return [(float(a), float(g[0]), float(g[1]))]
    if roof_type == "gable":
        r, s = coef  # z = r − s·|across the ridge|
        d = dv if ridge_along_long else du
        return [(float(r), float(-s * d[0]), float(-s * d[1])), (float(r), float(s * d[0]), float(s * d[1]))]
    e, s = coef  # hip: z = e + s·min(hw − |v|, hl − |u|)
    return [(float(e + s * hw), float(-s * dv[0]), float(-s * dv[1])),
            (float(e + s * hw), float(s * dv[0]), float(s * dv[1])),
            (float(e + s * hl), float(-s * du[0]), float(-s * du[1])),
            (float(e + s * hl), float(s * du[0]), float(s * du[1]))]


def _robust_lstsq(A: np.ndarray, z: np.ndarray, iterations: int = 2) -> tuple[np.ndarray, float, np.ndarray]:
    """Least squares with residuals beyond 3 robust sigmas (at least 0.3 m) dropped and the fit redone."""
    keep = np.ones(len(z), dtype=bool)
    coef = np.linalg.lstsq(A, z, rcond=None)[0]
    for _ in range(iterations):
        res = z - A @ coef
        sigma = max(0.3, 1.4826 * float(np.median(np.abs(res - np.median(res)))))
        new = np.abs(res) <= 3 * sigma
        if new.sum() < A.shape[1] + 2 or np.array_equal(new, keep):
            break
        keep = new
        coef = np.linalg.lstsq(A[keep], z[keep], rcond=None)[0]
    res = z[keep] - A[keep] @ coef
    return coef, float(np.sqrt(np.mean(res * res))), keep


def fit_roof(poly: Polygon, x: np.ndarray, y: np.ndarray, z: np.ndarray,
             complexity_penalty: float = COMPLEXITY_PENALTY, min_rise_m: float = MIN_RISE_M,
             types: tuple[str, ...] = ROOF_TYPES) -> RoofFit:
    """The roof model that best explains heights ``z`` (above the base) at map points ``(x, y)`` inside ``poly``.

    Each of ``types`` is fitted by robust least squares in the footprint's frame (:func:`building_frame`):
    flat ``z = e``; shed, a free plane; gable ``z = r − s·|d|`` with the ridge along the long or the short axis
    through the centre; hip ``z = e + s·min(hw − |v|, hl − |u|)``. Gable and hip need ``s > 0`` and a rise of
    at least ``min_rise_m``, a shed a rise of at least ``min_rise_m`` too. The chosen model minimises
    ``RMSE · (1 + complexity_penalty · (k − 1))`` (k: its number of parameters). ``confidence`` (0–1) is how
    much better that score is than the runner-up's (relative gap × 5, capped at 1).
    """
    x, y, z = (np.asarray(a, dtype=np.float64).ravel() for a in (x, y, z))
    ok = np.isfinite(z)
    x, y, z = x[ok], y[ok], z[ok]
    if len(z) < 4:
        raise InvalidInputError(f"a roof needs at least 4 height samples inside the footprint, got {len(z)}",
                                "use a finer DSM or a larger footprint")
    cx, cy, angle, hl, hw = building_frame(poly)
    t = math.radians(angle)
    dx, dy = x - cx, y - cy
    u = dx * math.cos(t) + dy * math.sin(t)
    v = -dx * math.sin(t) + dy * math.cos(t)
    one = np.ones_like(z)
    designs: dict[str, tuple[np.ndarray, str, bool]] = {
        "flat": (one[:, None], "flat", True),
        "shed": (np.c_[one, u, v], "shed", True),
        "gable": (np.c_[one, -np.abs(v)], "gable", True),
        "gable_short": (np.c_[one, -np.abs(u)], "gable", False),
        "hip": (np.c_[one, np.minimum(hw - np.abs(v), hl - np.abs(u))], "hip", True),
    }
    fits: dict[str, tuple[float, list[tuple[float, float, float]], str, float]] = {}
    rmse_by_type: dict[str, float] = {}
    for key, (A, kind, along) in designs.items():
        if kind not in types:
            continue
        coef, rmse, _ = _robust_lstsq(A, z)
        planes = _candidate_planes(kind, coef, angle, hl, hw, along)
        if kind == "gable":
            rise = coef[1] * (hw if along else hl)
        elif kind == "hip":
            rise = coef[1] * hw
        elif kind == "shed":
            rise = math.hypot(coef[1] * 2 * hl, coef[2] * 2 * hw)
        else:
            rise = 0.0
        if kind != "flat" and (rise < min_rise_m or (kind in ("gable", "hip") and coef[1] <= 0)):
            continue
        if kind == "gable":
            ridge = angle if along else angle + 90.0
        elif kind == "shed":
            ridge = math.degrees(math.atan2(planes[0][2], planes[0][1])) + 90.0  # contour lines of the slope
        else:
            ridge = angle
        score = rmse * (1 + complexity_penalty * (N_PARAMS[kind] - 1))
        fits[key] = (score, planes, kind, ridge % 180.0)
        rmse_by_type[kind] = min(rmse, rmse_by_type.get(kind, math.inf))
    if not fits:  # only possible when "flat" is not among the types and nothing sloped fits
        coef, rmse, _ = _robust_lstsq(one[:, None], z)
        fits["flat"] = (rmse, [(float(coef[0]), 0.0, 0.0)], "flat", angle % 180.0)
        rmse_by_type["flat"] = rmse
    ranked = sorted(fits.values(), key=lambda f: f[0])
    score, planes, kind, ridge = ranked[0]
    second = next((f[0] for f in ranked[1:] if f[2] != kind), None)
    confidence = 1.0 if second is None or second <= 0 else float(np.clip(5 * (second - score) / second, 0, 1))
    fit = RoofFit(kind, cx, cy, planes, ridge, 0.0, 0.0, rmse_by_type[kind], confidence, len(z), rmse_by_type)
    # eave and ridge heights: the roof's lowest and highest points over the footprint's outline and ridges
    heights = fit.height_at(*_roof_sample_points(poly, fit))
    fit.eave_height, fit.ridge_height = float(np.min(heights)), float(np.max(heights))
    return fit


def _roof_sample_points(poly: Polygon, fit: RoofFit) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the roof faces (where the envelope's extremes lie)."""
    pts = np.concatenate([np.asarray(f.exterior.coords) for f, _ in roof_faces(poly, fit.x0, fit.y0, fit.planes)])
    return pts[:, 0], pts[:, 1]


def _half_plane(poly_bounds: tuple[float, float, float, float], n: np.ndarray, d: float) -> Polygon:
    """The part of a box around ``poly_bounds`` where ``n · p + d ≤ 0`` (a convex polygon, maybe empty)."""
    minx, miny, maxx, maxy = poly_bounds
    pad = max(maxx - minx, maxy - miny) + 1.0
    ring = np.array([[minx - pad, miny - pad], [maxx + pad, miny - pad], [maxx + pad, maxy + pad],
                     [minx - pad, maxy + pad]])
    out = []
    for i in range(4):  # Sutherland–Hodgman against one line
        p, q = ring[i], ring[(i + 1) % 4]
        fp, fq = n @ p + d, n @ q + d
        if fp <= 0:
            out.append(p)
        if fp * fq < 0:
            out.append(p + (q - p) * (fp / (fp - fq)))
    return Polygon(out) if len(out) >= 3 else Polygon()


def roof_faces(poly: Polygon, x0: float, y0: float,
               planes: list[tuple[float, float, float]]) -> list[tuple[Polygon, int]]:
    """The roof's faces over ``poly``: ``(face, plane index)`` where each plane is the lowest.

    Faces are snapped to a 1 mm grid and noded together, so neighbouring faces share their vertices (no
    T-junctions); exteriors are counter-clockwise.
    """
    poly = shapely.set_precision(orient(poly, 1.0), GRID_M)
    if len(planes) == 1:
        return [(poly, 0)]
    local = affinity.translate(poly, -x0, -y0)
    regions = []
    for k, (ak, bk, ck) in enumerate(planes):
        region = local
        for j, (aj, bj, cj) in enumerate(planes):
            if j != k:
                region = region.intersection(_half_plane(local.bounds, np.array([bk - bj, ck - cj]), ak - aj))
        region = affinity.translate(region, x0, y0)
        if region.area > 0:
            regions.append(region)
    lines = shapely.union_all([r.boundary for r in regions] + [poly.boundary], grid_size=GRID_M)
    # polygonize also fills the footprint's holes (courtyards): keep only the faces inside the footprint
    faces = [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
             if f.area > GRID_M ** 2 and poly.contains(f.representative_point())]
    # ridges and hips meet the outline's corners only up to rounding: move face vertices within a few
    # millimetres of a corner onto it
    corners = np.concatenate([np.asarray(r.coords)[:-1] for r in (poly.exterior, *poly.interiors)])

    def snapped(ring: np.ndarray) -> np.ndarray | None:
        d = np.hypot(ring[:, None, 0] - corners[None, :, 0], ring[:, None, 1] - corners[None, :, 1])
        near = d.min(axis=1) < 5 * GRID_M
        ring = np.where(near[:, None], corners[d.argmin(axis=1)], ring)
        keep = np.r_[True, np.any(np.diff(ring, axis=0) != 0, axis=1)]
        ring = ring[keep]
        if len(ring) > 1 and np.array_equal(ring[0], ring[-1]):
            ring = ring[:-1]
        return ring if len(ring) >= 3 else None

    out = []
    for f in faces:
        ext = snapped(np.asarray(f.exterior.coords)[:-1, :2])
        if ext is None:
            continue
        holes = [h for h in (snapped(np.asarray(r.coords)[:-1, :2]) for r in f.interiors) if h is not None]
        f = Polygon(ext, holes)
        if f.is_empty or f.area <= GRID_M ** 2:
            continue
        f = orient(f, 1.0)
        p = f.representative_point()
        heights = [a + b * (p.x - x0) + c * (p.y - y0) for a, b, c in planes]
        out.append((f, int(np.argmin(heights))))
    return out


def pixels_in(poly: Polygon, transform: Affine, shape: tuple[int, int],
              erode_m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels whose centres lie in ``poly`` shrunk by ``erode_m`` (the whole polygon
    when shrinking leaves too few pixels)."""
    import rasterio.features
    import rasterio.windows

    for geom in ((poly.buffer(-erode_m, join_style="mitre"), poly) if erode_m > 0 else (poly,)):
        if geom.is_empty:
            continue
        win = rasterio.windows.from_bounds(*geom.bounds, transform=transform).round_offsets().round_lengths()
        r0, c0 = max(0, int(win.row_off) - 1), max(0, int(win.col_off) - 1)
        r1 = min(shape[0], int(win.row_off + win.height) + 2)
        c1 = min(shape[1], int(win.col_off + win.width) + 2)
        if r1 <= r0 or c1 <= c0:
            continue
        sub = rasterio.features.geometry_mask([geom], (r1 - r0, c1 - c0),
                                              transform @ Affine.translation(c0, r0), invert=True)
        rows, cols = np.nonzero(sub)
        if len(rows) >= 8 or geom is poly:
            return rows + r0, cols + c0
    return np.empty(0, np.int64), np.empty(0, np.int64)
