"""The sample city's truth, as arrays and polygons: terrain, roads, water, buildings, trees, land cover.

Pure functions of a random generator: no file I/O here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from affine import Affine
from rasterio.features import rasterize
from scipy.ndimage import find_objects
from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import unary_union

from ai4geo_lab.landcover.classes import LANDCOVER_CLASSES

CRS = "EPSG:32631"
CENTRE = (374000.0, 4829000.0)
ROOF_TYPES = ("flat", "shed", "gable", "hip")
CODES = {name: code for code, (name, _) in LANDCOVER_CLASSES.items()}


@dataclass(frozen=True)
class Building:
    """One building: its footprint, frame (for roof shapes), heights and roof type."""

    building_id: int
    shape: str
    polygon: Polygon
    centre: tuple[float, float]
    angle_deg: float
    length: float  # along the building's own x axis (ridge direction)
    width: float
    eave_height: float
    roof_rise: float
    roof_type: str
    colour: int  # index into the roof palette

    @property
    def height(self) -> float:
        """Height of the top of the roof above the ground floor."""
        return self.eave_height + (0.0 if self.roof_type == "flat" else self.roof_rise)


@dataclass(frozen=True)
class Tree:
    """One tree: crown centre, radius, height, and the group it belongs to (groups are cleared together)."""

    x: float
    y: float
    radius: float
    height: float
    group: int


@dataclass
class Scene:
    """The truth of one date."""

    transform: Affine
    shape: tuple[int, int]
    dtm: np.ndarray
    dsm: np.ndarray
    landcover: np.ndarray
    buildings: list[Building]
    trees: list[Tree]
    building_base: dict[int, float]
    building_ids: np.ndarray  # raster of building_id (0: none)
    roads: Polygon
    water: Polygon
    soil: Polygon


def make_grid(size_m: float, gsd: float) -> tuple[Affine, tuple[int, int]]:
    """North-up grid of the city, centred near :data:`CENTRE` and aligned on whole metres."""
    n = round(size_m / gsd)
    x0 = math.floor(CENTRE[0] - size_m / 2)
    y1 = math.floor(CENTRE[1] + size_m / 2)
    return Affine(gsd, 0, x0, 0, -gsd, y1), (n, n)


def pixel_xy(transform: Affine, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Map coordinates of the pixel centres."""
    rows, cols = shape
    x = transform.c + (np.arange(cols) + 0.5) * transform.a
    y = transform.f + (np.arange(rows) + 0.5) * transform.e
    return np.meshgrid(x, y)


def terrain(rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gentle relief: a tilted plane plus a few long waves (10–25 m of range over a few hundred metres)."""
    x0, y0 = x.mean(), y.mean()
    z = 150.0 + rng.uniform(-0.02, 0.02) * (x - x0) + rng.uniform(-0.02, 0.02) * (y - y0)
    for _ in range(3):
        wavelength = rng.uniform(300, 900)
        angle = rng.uniform(0, math.pi)
        phase = rng.uniform(0, 2 * math.pi)
        amp = rng.uniform(1.5, 4.0)
        z = z + amp * np.sin(2 * math.pi * ((x - x0) * math.cos(angle) + (y - y0) * math.sin(angle)) / wavelength
                             + phase)
    return z.astype(np.float32)


def road_network(rng: np.random.Generator, bounds: tuple[float, float, float, float]) -> Polygon:
    """Two families of streets at varied angles, 8–15 m wide."""
    minx, miny, maxx, _maxy = bounds
    size = maxx - minx
    base = rng.uniform(-20, 20)
    lines = []
    for family, angle in ((0, base), (1, base + 90 + rng.uniform(-12, 12))):
        n = max(1, int(size / rng.uniform(150, 220)))
        for k in range(n):
            offset = (k + 0.5) / n * size + rng.uniform(-0.1, 0.1) * size / n
            a = math.radians(angle + rng.uniform(-6, 6))
            cx = minx + (offset if family == 0 else size / 2)
            cy = miny + (size / 2 if family == 0 else offset)
            # family 0 runs roughly north-south through (cx, cy), family 1 roughly east-west
            dx, dy = (math.sin(a), math.cos(a)) if family == 0 else (math.cos(a), math.sin(a))
            line = LineString([(cx - dx * size, cy - dy * size), (cx + dx * size, cy + dy * size)])
            lines.append(line.buffer(rng.uniform(4, 7.5), cap_style="flat"))
    return unary_union(lines).intersection(box(*bounds))


def building_polygon(shape: str, length: float, width: float, rng: np.random.Generator) -> Polygon:
    """A footprint in the building's own frame, centred on the origin, long axis along x."""
    L, W = length / 2, width / 2
    if shape == "rectangle":
        return box(-L, -W, L, W)
    t = max(6.0, width * rng.uniform(0.35, 0.5))  # wing thickness
    if shape == "L":
        return unary_union([box(-L, -W, L, -W + t), box(-L, -W, -L + t, W)])
    if shape == "T":
        return unary_union([box(-L, W - t, L, W), box(-t / 2, -W, t / 2, W)])
    if shape == "U":
        return unary_union([box(-L, -W, L, -W + t), box(-L, -W, -L + t, W), box(L - t, -W, L, W)])
    if shape == "courtyard":
        return box(-L, -W, L, W).difference(box(-L + t, -W + t, L - t, W - t))
    raise ValueError(shape)


def place_buildings(rng: np.random.Generator, bounds: tuple[float, float, float, float], blocked: Polygon,
                    road_angle: float, count: int, first_id: int = 1, max_tries: int = 4000) -> list[Building]:
    """Buildings of varied shapes, sizes, angles, heights and roofs, off roads, water and each other."""
    minx, miny, maxx, maxy = bounds
    area = box(minx + 6, miny + 6, maxx - 6, maxy - 6)
    out: list[Building] = []
    taken = blocked
    tries = 0
    while len(out) < count and tries < max_tries:
        tries += 1
        kind = rng.choice(["rectangle", "rectangle", "rectangle", "L", "T", "U", "courtyard"])
        tower = kind == "rectangle" and rng.random() < 0.08
        if tower:
            length, width = rng.uniform(14, 24), rng.uniform(12, 18)
        elif kind in ("U", "courtyard"):
            length, width = rng.uniform(30, 60), rng.uniform(24, 40)
        elif kind in ("L", "T"):
            length, width = rng.uniform(20, 40), rng.uniform(16, 30)
        else:
            length, width = rng.uniform(8, 40), rng.uniform(8, 20)
        angle = road_angle + rng.choice([0.0, 90.0]) + rng.uniform(-25, 25)
        cx, cy = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        poly = affinity.translate(affinity.rotate(building_polygon(kind, length, width, rng), angle, origin=(0, 0)),
                                  cx, cy)
        if not area.contains(poly) or poly.buffer(4.0).intersects(taken):
            continue
        eave = rng.uniform(30, 60) if tower else float(np.clip(rng.lognormal(math.log(11), 0.4), 3.0, 28.0))
        roof = rng.choice(ROOF_TYPES, p=[0.4, 0.15, 0.25, 0.2]) if kind == "rectangle" and not tower else (
            rng.choice(["flat", "shed"], p=[0.8, 0.2]))
        rise = float(min(rng.uniform(2.0, 5.0), width * 0.4)) if roof != "flat" else 0.0
        out.append(Building(first_id + len(out), str(kind), poly, (cx, cy), float(angle), length, width,
                            float(eave), rise, str(roof), int(rng.integers(0, 5))))
        taken = taken.union(poly)
    return out


def roof_surface(b: Building, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Roof height above the eave at map points (x, y) inside a building."""
    if b.roof_type == "flat":
        return np.zeros_like(x)
    a = math.radians(b.angle_deg)
    dx, dy = x - b.centre[0], y - b.centre[1]
    u = dx * math.cos(a) + dy * math.sin(a)   # along the long axis
    v = -dx * math.sin(a) + dy * math.cos(a)  # across
    hl, hw = b.length / 2, b.width / 2
    if b.roof_type == "shed":
        return b.roof_rise * np.clip((v + hw) / (2 * hw), 0, 1)
    if b.roof_type == "gable":
        return b.roof_rise * np.clip(1 - np.abs(v) / hw, 0, 1)
    # hip: the distance to the nearest eave, as a fraction of the half width
    return b.roof_rise * np.clip(np.minimum(hw - np.abs(v), hl - np.abs(u)) / hw, 0, 1)


def place_trees(rng: np.random.Generator, roads: Polygon, blocked: Polygon, bounds: tuple[float, ...],
                first_group: int = 1) -> list[Tree]:
    """Street trees along road edges and clumps in open spaces."""
    trees: list[Tree] = []
    taken = blocked
    group = first_group
    edges = roads.boundary
    edge_lines = list(getattr(edges, "geoms", [edges]))
    for line in edge_lines:
        start = rng.uniform(0, 10)
        spacing = rng.uniform(9, 13)
        d = start
        n_in_group = 0
        while d < line.length:
            p = line.interpolate(d)
            q = line.interpolate(min(d + 0.5, line.length))
            norm = math.hypot(q.x - p.x, q.y - p.y) or 1.0
            nx, ny = -(q.y - p.y) / norm, (q.x - p.x) / norm
            r = rng.uniform(2.5, 4.5)
            for side in (1.0, -1.0):
                tx = p.x + side * nx * (r + 1.5) + rng.uniform(-0.5, 0.5)
                ty = p.y + side * ny * (r + 1.5) + rng.uniform(-0.5, 0.5)
                cand = Point(tx, ty).buffer(r)
                if not cand.intersects(taken) and box(*bounds).contains(cand):
                    trees.append(Tree(tx, ty, r, float(rng.uniform(6, 12)), group))
                    taken = taken.union(cand.buffer(1.0))
                    n_in_group += 1
                    if n_in_group >= 6:
                        group, n_in_group = group + 1, 0
                    break
            d += spacing
        group += 1
    minx, miny, maxx, maxy = bounds
    for _ in range(int((maxx - minx) * (maxy - miny) / 40000) + 2):
        cx, cy = rng.uniform(minx + 20, maxx - 20), rng.uniform(miny + 20, maxy - 20)
        added = 0
        for _ in range(12):
            x, y = cx + rng.normal(0, 10), cy + rng.normal(0, 10)
            r = rng.uniform(3, 6)
            cand = Point(x, y).buffer(r)
            if cand.intersects(taken) or not box(*bounds).contains(cand):
                continue
            trees.append(Tree(x, y, r, float(rng.uniform(8, 15)), group))
            taken = taken.union(cand.buffer(0.5))
            added += 1
        group += 1 if added else 0
    return trees


def compose(transform: Affine, shape: tuple[int, int], dtm: np.ndarray, roads: Polygon, water: Polygon,
            soil: Polygon, buildings: list[Building], trees: list[Tree]) -> Scene:
    """Burn everything into DSM, DTM and land-cover rasters (rasters and polygons agree by construction)."""
    x, y = pixel_xy(transform, shape)
    dtm = dtm.copy()
    lc = np.full(shape, CODES["grass"], np.uint8)

    def burn(geom, value=1) -> np.ndarray:
        if geom is None or geom.is_empty:
            return np.zeros(shape, bool)
        return rasterize([(geom, value)], out_shape=shape, transform=transform, fill=0, dtype="uint8") > 0

    lc[burn(soil)] = CODES["bare soil"]
    lc[burn(roads)] = CODES["road"]
    wmask = burn(water)
    if wmask.any():
        level = float(dtm[wmask].min()) - 0.5
        dtm[wmask] = level
        lc[wmask] = CODES["water"]
    dsm = dtm.copy()
    for t in trees:
        c0, r0 = (t.x - t.radius - transform.c) / transform.a, (t.y + t.radius - transform.f) / transform.e
        c1, r1 = (t.x + t.radius - transform.c) / transform.a, (t.y - t.radius - transform.f) / transform.e
        win: tuple[slice, slice] | None = (slice(max(0, int(r0)), max(0, min(shape[0], int(r1) + 2))),
                                           slice(max(0, int(c0)), max(0, min(shape[1], int(c1) + 2))))
        r2 = ((x[win] - t.x) ** 2 + (y[win] - t.y) ** 2) / t.radius**2
        inside = r2 < 1
        if not inside.any():
            continue
        crown = dtm[win][inside] + t.height * (0.45 + 0.55 * np.sqrt(1 - r2[inside]))
        dsm[win][inside] = np.maximum(dsm[win][inside], crown)
        lc[win][inside] = CODES["tree"]
    ids = np.zeros(shape, np.int32)
    if buildings:
        ids = rasterize([(b.polygon, b.building_id) for b in buildings], out_shape=shape, transform=transform,
                        fill=0, dtype="int32")
    base: dict[int, float] = {}
    windows = find_objects(ids)
    for b in buildings:
        win = windows[b.building_id - 1] if b.building_id <= len(windows) else None
        if win is None:
            continue
        inside = ids[win] == b.building_id
        base[b.building_id] = float(dtm[win][inside].min())
        dsm[win][inside] = base[b.building_id] + b.eave_height + roof_surface(b, x[win][inside], y[win][inside])
        lc[win][inside] = CODES["building"]
    return Scene(transform, shape, dtm.astype(np.float32), dsm.astype(np.float32), lc, buildings, trees, base, ids,
                 roads, water, soil)


def make_scene(rng: np.random.Generator, size_m: float, gsd: float) -> tuple[Scene, dict]:
    """The first date's scene and what the second date needs to evolve it."""
    transform, shape = make_grid(size_m, gsd)
    x, y = pixel_xy(transform, shape)
    bounds = (transform.c, transform.f + shape[0] * transform.e, transform.c + shape[1] * transform.a, transform.f)
    dtm = terrain(rng, x, y)
    roads = road_network(rng, bounds)
    cx, cy = rng.uniform(bounds[0] + 0.2 * size_m, bounds[2] - 0.2 * size_m), rng.uniform(
        bounds[1] + 0.2 * size_m, bounds[3] - 0.2 * size_m)
    water = affinity.rotate(affinity.scale(Point(cx, cy).buffer(1.0), rng.uniform(0.04, 0.06) * size_m,
                                           rng.uniform(0.025, 0.04) * size_m), rng.uniform(0, 180))
    water = water.difference(roads.buffer(6))
    soil = unary_union([affinity.scale(Point(rng.uniform(bounds[0], bounds[2]), rng.uniform(bounds[1], bounds[3]))
                                       .buffer(1.0), rng.uniform(10, 25), rng.uniform(8, 20))
                        for _ in range(max(2, int(size_m / 150)))]).difference(roads).difference(water)
    count = int(80 * (size_m / 600) ** 2) + 3
    road_angle = float(rng.uniform(-20, 20))
    buildings = place_buildings(rng, bounds, unary_union([roads, water.buffer(3)]), road_angle, count)
    trees = place_trees(rng, roads, unary_union([roads, water, *[b.polygon.buffer(1.5) for b in buildings]]), bounds)
    scene = compose(transform, shape, dtm, roads, water, soil, buildings, trees)
    return scene, {"bounds": bounds, "terrain": dtm, "road_angle": road_angle}


def evolve(rng: np.random.Generator, scene: Scene, ctx: dict) -> tuple[Scene, dict[str, list]]:
    """The same city a year later: demolished, new and raised buildings, cleared tree groups."""
    ids = [b.building_id for b in scene.buildings]
    n = len(ids)
    k = max(3, n // 12)
    order = rng.permutation(ids)
    demolished = set(int(i) for i in order[:k])
    raised = set(int(i) for i in order[k:2 * k])
    kept: list[Building] = []
    for b in scene.buildings:
        if b.building_id in demolished:
            continue
        if b.building_id in raised:
            b = replace(b, eave_height=b.eave_height + float(rng.uniform(6, 15)))
        kept.append(b)
    soil = unary_union([scene.soil, *[b.polygon for b in scene.buildings if b.building_id in demolished]])
    groups = sorted({t.group for t in scene.trees})
    sizes = {g: sum(t.group == g for t in scene.trees) for g in groups}
    candidates = [g for g in groups if sizes[g] >= 2]
    cleared = set(int(g) for g in rng.permutation(candidates)[:max(2, len(candidates) // 8)])
    trees = [t for t in scene.trees if t.group not in cleared]
    blocked = unary_union([scene.roads, scene.water.buffer(3), *[b.polygon for b in scene.buildings],
                           *[Point(t.x, t.y).buffer(t.radius + 1) for t in scene.trees]])
    new = place_buildings(rng, ctx["bounds"], blocked, ctx["road_angle"], k, first_id=max(ids, default=0) + 1)
    after = compose(scene.transform, scene.shape, ctx["terrain"], scene.roads, scene.water, soil, kept + new, trees)
    return after, {"demolished": sorted(demolished), "raised": sorted(raised),
                   "new": [b.building_id for b in new], "cleared_groups": sorted(cleared)}


def change_raster(before: Scene, after: Scene, changes: dict[str, list]) -> np.ndarray:
    """Pixel truth of change: 1 demolished, 2 new, 3 raised building, 4 cleared trees (0 none)."""
    out = np.zeros(before.shape, np.uint8)
    tree_before = before.landcover == CODES["tree"]
    tree_after = after.landcover == CODES["tree"]
    out[tree_before & ~tree_after & (after.building_ids == 0)] = 4
    out[np.isin(before.building_ids, changes["demolished"])] = 1
    out[np.isin(after.building_ids, changes["raised"])] = 3
    out[np.isin(after.building_ids, changes["new"])] = 2
    return out
