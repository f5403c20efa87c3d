"""LOD1 buildings as CityJSON 2.0 documents (plain dicts), and a structural validator for them.

Orientation convention (CityJSON / CityGML): every surface's exterior ring is counter-clockwise seen from
outside the solid (its right-hand normal points outwards), inner rings are clockwise.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from ai4geo_lab.errors import ConfigError

CITYJSON_VERSION = "2.0"
#: vertices are stored as integers of this unit (metres)
DEFAULT_SCALE = 0.001
_SURFACE_TYPES = [{"type": "GroundSurface"}, {"type": "RoofSurface"}, {"type": "WallSurface"}]
_STANDARD_COLUMNS = {"height", "base_elevation"}


def _json_value(value: Any) -> Any:
    """A JSON-friendly version of a cell value (numpy scalars to Python, NaN to None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _prism(poly: Polygon, z0: float, z1: float, add: Any) -> list[list[list[int]]]:
    """Shell (list of surfaces) of the vertical prism over ``poly`` between z0 and z1.

    ``add(x, y, z)`` returns a vertex's index. Surfaces: floor, roof, then one wall per ring edge.
    """
    poly = orient(poly, 1.0)  # exterior CCW, holes CW, seen from above
    rings = [np.asarray(r.coords)[:-1, :2] for r in (poly.exterior, *poly.interiors)]
    bottom = [[add(x, y, z0) for x, y in ring] for ring in rings]
    top = [[add(x, y, z1) for x, y in ring] for ring in rings]
    floor = [list(reversed(r)) for r in bottom]  # seen from below: reversed
    roof = [list(r) for r in top]
    walls = []
    for b, t in zip(bottom, top, strict=True):
        m = len(b)
        # edge a→b of a ring whose outside is on its right: quad (a0, b0, b1, a1) faces outwards
        walls.extend([[[b[i], b[(i + 1) % m], t[(i + 1) % m], t[i]]] for i in range(m)])
    return [floor, roof, *walls]


def _building_id(row_index: Any, row: Any, used: set[str]) -> str:
    for col in ("id", "building_id", "identifier"):
        if col in row and row[col] is not None and str(row[col]) not in ("", "nan"):
            candidate = str(row[col])
            break
    else:
        candidate = f"building_{row_index}"
    ident, k = candidate, 1
    while ident in used:
        ident, k = f"{candidate}_{k}", k + 1
    used.add(ident)
    return ident


def lod1_cityjson(
    buildings: gpd.GeoDataFrame, crs_epsg: int | None, lod: str = "1.2", scale: float = DEFAULT_SCALE
) -> dict:
    """A CityJSON 2.0 document with one ``Building`` per row: a prism (``Solid``) from its footprint.

    Needs columns ``height`` (m above base) and ``base_elevation`` (absolute, missing → 0). Rows without a
    polygon or with a non-finite or non-positive height are left out. A MultiPolygon footprint gives a
    ``MultiSolid``. Courtyards become inner rings of floor and roof plus inner walls. Other columns become
    attributes (``measuredHeight`` is the height). Vertices are integers of ``scale`` metres.
    """
    if crs_epsg is None:
        raise ConfigError("the buildings' CRS has no EPSG code", "reproject them to a CRS with an EPSG code")
    if not lod.startswith("1"):
        raise ConfigError(f"an LOD1 prism cannot be level of detail {lod!r}", "use '1', '1.2' or '1.3'")
    if "height" not in buildings.columns:
        raise ConfigError("the buildings have no 'height' column", "compute it with footprint_heights first")
    index: dict[tuple[int, int, int], int] = {}
    qverts: list[tuple[int, int, int]] = []

    def add(x: float, y: float, z: float) -> int:
        key = (round(x / scale), round(y / scale), round(z / scale))
        if key not in index:
            index[key] = len(qverts)
            qverts.append(key)
        return index[key]

    city_objects: dict[str, Any] = {}
    used: set[str] = set()
    attr_cols = [c for c in buildings.columns if c != buildings.geometry.name and c not in _STANDARD_COLUMNS]
    has_base = "base_elevation" in buildings.columns
    for row_index, row in buildings.iterrows():
        geom = row[buildings.geometry.name]
        height = float(row["height"]) if row["height"] is not None else math.nan
        base = float(row["base_elevation"]) if has_base and row["base_elevation"] is not None else 0.0
        base = base if math.isfinite(base) else 0.0
        if geom is None or geom.is_empty or not math.isfinite(height) or height < scale:
            continue
        geom = shapely.set_precision(geom, scale)  # snap to the vertex grid, keeping the outline valid
        parts = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
        parts = [p for p in parts if isinstance(p, Polygon) and not p.is_empty and p.area > 0]
        if not parts:
            continue
        solids = [[_prism(p, base, base + height, add)] for p in parts]
        values = [[[0, 1] + [2] * (len(s[0]) - 2)] for s in solids]
        if len(solids) == 1:
            geometry = {"type": "Solid", "lod": lod, "boundaries": solids[0],
                        "semantics": {"surfaces": _SURFACE_TYPES, "values": values[0]}}
        else:
            geometry = {"type": "MultiSolid", "lod": lod, "boundaries": solids,
                        "semantics": {"surfaces": _SURFACE_TYPES, "values": values}}
        attributes = {"measuredHeight": round(height, 3), "height": round(height, 3),
                      "baseElevation": round(base, 3)}
        for col in attr_cols:
            if col not in ("id", "building_id"):
                attributes[col] = _json_value(row[col])
        city_objects[_building_id(row_index, row, used)] = {
            "type": "Building", "attributes": attributes, "geometry": [geometry]}

    return _document(city_objects, qverts, scale, crs_epsg)


def _document(city_objects: dict[str, Any], qverts: list[tuple[int, int, int]], scale: float,
              crs_epsg: int) -> dict:
    """The CityJSON document of ``city_objects`` whose vertices are the integer triples ``qverts``."""
    q = np.asarray(qverts, dtype=np.int64).reshape(-1, 3)
    origin = q.min(axis=0) if len(q) else np.zeros(3, dtype=np.int64)
    vertices = (q - origin).tolist()
    translate = [float(v) * scale for v in origin]
    metadata: dict[str, Any] = {"referenceSystem": f"https://www.opengis.net/def/crs/EPSG/0/{int(crs_epsg)}"}
    if len(q):
        lo, hi = q.min(axis=0) * scale, q.max(axis=0) * scale
        metadata["geographicalExtent"] = [float(v) for v in (*lo, *hi)]
    return {
        "type": "CityJSON",
        "version": CITYJSON_VERSION,
        "transform": {"scale": [scale, scale, scale], "translate": translate},
        "metadata": metadata,
        "CityObjects": city_objects,
        "vertices": vertices,
    }


def _lod2_shell(poly: Polygon, base: float, x0: float, y0: float, planes: list[tuple[float, float, float]],
                add: Any) -> tuple[list, list[int]]:
    """Shell of a building with a roof of planes (see :mod:`ai4geo_lab.buildings.roofs`) over ``poly``, and
    the semantic value (0 ground, 1 roof, 2 wall) of each surface.

    Roof faces share their vertices (noded); each wall runs up to the roof along its footprint edge, through
    every roof vertex on that edge (a gable end wall has its apex), so the shell is closed.
    """
    from ai4geo_lab.buildings.roofs import GRID_M, roof_faces

    def z(x: float, y: float) -> float:
        return base + min(a + b * (x - x0) + c * (y - y0) for a, b, c in planes)

    faces = roof_faces(poly, x0, y0, planes)
    poly = shapely.set_precision(orient(poly, 1.0), GRID_M)
    roof = [[[add(x, y, z(x, y)) for x, y in np.asarray(r.coords)[:-1, :2]] for r in (f.exterior, *f.interiors)]
            for f, _ in faces]
    roof_pts = np.unique(np.concatenate([np.asarray(f.exterior.coords)[:, :2] for f, _ in faces]
                                        + [np.asarray(r.coords)[:, :2] for f, _ in faces for r in f.interiors]),
                         axis=0)
    rings = [np.asarray(r.coords)[:-1, :2] for r in (poly.exterior, *poly.interiors)]
    floor = [[add(x, y, base) for x, y in ring][::-1] for ring in rings]
    walls = []
    for ring in rings:
        m = len(ring)
        for i in range(m):
            a, b = ring[i], ring[(i + 1) % m]
            d = b - a
            length2 = float(d @ d)
            t = (roof_pts - a) @ d / length2
            off = np.abs((roof_pts[:, 0] - a[0]) * d[1] - (roof_pts[:, 1] - a[1]) * d[0]) / math.sqrt(length2)
            inner = roof_pts[(t > 1e-9) & (t < 1 - 1e-9) & (off < GRID_M)]
            inner = inner[np.argsort(-((inner - a) @ d))]  # from b back to a
            top = [add(b[0], b[1], z(*b)), *[add(p[0], p[1], z(*p)) for p in inner], add(a[0], a[1], z(*a))]
            walls.append([[add(a[0], a[1], base), add(b[0], b[1], base), *top]])
    surfaces = [floor, *roof, *walls]
    return surfaces, [0] + [1] * len(roof) + [2] * len(walls)


def buildings_cityjson(
    buildings: gpd.GeoDataFrame, crs_epsg: int | None, scale: float = DEFAULT_SCALE, lod1: bool = True,
    lod2: bool = True,
) -> dict:
    """A CityJSON 2.0 document with one ``Building`` per row, with an LOD1.2 prism and an LOD2.2 solid.

    Needs ``height`` and ``base_elevation`` (as :func:`lod1_cityjson`) and, for LOD2, ``roof_planes`` (JSON
    from :func:`~ai4geo_lab.buildings.algo.building_models`); a row without roof planes gets its LOD1 prism
    only. Other columns become attributes (``roofType`` is the roof type). MultiPolygons use their largest part.
    """
    from ai4geo_lab.buildings.roofs import roof_from_json

    if crs_epsg is None:
        raise ConfigError("the buildings' CRS has no EPSG code", "reproject them to a CRS with an EPSG code")
    if "height" not in buildings.columns:
        raise ConfigError("the buildings have no 'height' column", "compute it with building_models first")
    index: dict[tuple[int, int, int], int] = {}
    qverts: list[tuple[int, int, int]] = []

    def add(x: float, y: float, zz: float) -> int:
        key = (round(x / scale), round(y / scale), round(zz / scale))
        if key not in index:
            index[key] = len(qverts)
            qverts.append(key)
        return index[key]

    skip = {buildings.geometry.name, "height", "base_elevation", "roof_planes", "id", "building_id"}
    attr_cols = [c for c in buildings.columns if c not in skip]
    city_objects: dict[str, Any] = {}
    used: set[str] = set()
    for row_index, row in buildings.iterrows():
        geom = row[buildings.geometry.name]
        height = float(row["height"]) if row["height"] is not None else math.nan
        base = float(row.get("base_elevation", 0.0) or 0.0)
        base = base if math.isfinite(base) else 0.0
        if geom is None or geom.is_empty or not math.isfinite(height) or height < scale:
            continue
        poly = max(geom.geoms, key=lambda p: p.area) if hasattr(geom, "geoms") else geom
        poly = shapely.set_precision(poly, scale)
        if not isinstance(poly, Polygon) or poly.is_empty:
            continue
        geometries = []
        if lod1:
            shell = _prism(poly, base, base + height, add)
            geometries.append({"type": "Solid", "lod": "1.2", "boundaries": [shell],
                               "semantics": {"surfaces": _SURFACE_TYPES, "values": [[0, 1] + [2] * (len(shell) - 2)]}})
        planes_text = row.get("roof_planes") if lod2 else None
        if isinstance(planes_text, str) and planes_text:
            x0, y0, planes = roof_from_json(planes_text)
            shell, values = _lod2_shell(poly, base, x0, y0, planes, add)
            geometries.append({"type": "Solid", "lod": "2.2", "boundaries": [shell],
                               "semantics": {"surfaces": _SURFACE_TYPES, "values": [values]}})
        if not geometries:
            continue
        attributes = {"measuredHeight": round(height, 3), "baseElevation": round(base, 3)}
        for col in attr_cols:
            attributes["roofType" if col == "roof_type" else col] = _json_value(row[col])
        city_objects[_building_id(row_index, row, used)] = {
            "type": "Building", "attributes": attributes, "geometry": geometries}
    return _document(city_objects, qverts, scale, crs_epsg)


def _shells(geometry: dict) -> Iterable[tuple[str, list]]:
    """(path, shell) of every shell of a Solid / MultiSolid / CompositeSolid geometry."""
    b = geometry["boundaries"]
    if geometry.get("type") == "Solid":
        yield from ((f"shell {i}", s) for i, s in enumerate(b))
    else:
        for j, solid in enumerate(b):
            yield from ((f"solid {j} shell {i}", s) for i, s in enumerate(solid))


def _signed_volume6(verts: np.ndarray, rings: list[list[int]]) -> float:
    """Six times the signed volume enclosed by closed oriented rings (positive: normals point outwards)."""
    origin = verts[rings[0][0]]
    total = 0.0
    for ring in rings:
        p = verts[ring] - origin  # fan triangles (p0, pi, pi+1); a hole's opposite orientation subtracts
        total += float(np.sum(np.einsum("ij,ij->i", np.repeat(p[:1], len(p) - 2, axis=0),
                                        np.cross(p[1:-1], p[2:]))))
    return total


def _shell_problems(
    where: str, shell: Any, n_vertices: int, verts: np.ndarray | None, exterior: bool
) -> list[str]:
    """Ring, index and watertightness problems of one shell."""
    problems: list[str] = []
    if not isinstance(shell, list) or not shell:
        return [f"{where}: a shell must be a non-empty list of surfaces"]
    edges: Counter[tuple[int, int]] = Counter()
    rings: list[list[int]] = []
    ok = True
    for si, surface in enumerate(shell):
        if not isinstance(surface, list) or not surface:
            problems.append(f"{where} surface {si}: a surface must be a non-empty list of rings")
            ok = False
            continue
        for ri, ring in enumerate(surface):
            if not isinstance(ring, list) or not all(type(v) is int for v in ring):
                problems.append(f"{where} surface {si} ring {ri}: a ring must be a list of integer indices")
                ok = False
                continue
            bad = [v for v in ring if not 0 <= v < n_vertices]
            if bad:
                problems.append(f"{where} surface {si} ring {ri}: vertex index {bad[0]} out of range "
                                f"[0, {n_vertices})")
                ok = False
                continue
            if len(set(ring)) < 3:
                problems.append(f"{where} surface {si} ring {ri}: fewer than 3 distinct vertices")
                ok = False
                continue
            for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
                if a == b:
                    problems.append(f"{where} surface {si} ring {ri}: repeated consecutive vertex {a}")
                    ok = False
                edges[(a, b)] += 1
            rings.append(ring)
    if not ok:
        return problems
    for (a, b), count in sorted(edges.items()):
        if count != 1:
            problems.append(f"{where}: edge {a}→{b} is used {count} times in the same direction "
                            "(inconsistent orientation)")
        elif edges.get((b, a), 0) != 1:
            problems.append(f"{where}: edge {a}→{b} has no opposite edge {b}→{a} (the shell is not closed)")
    if not problems and verts is not None:
        volume6 = _signed_volume6(verts, rings)
        if exterior and volume6 <= 0:
            problems.append(f"{where}: the exterior shell is oriented inwards (its signed volume is ≤ 0)")
        elif not exterior and volume6 >= 0:
            problems.append(f"{where}: an inner shell must be oriented inwards (its signed volume is ≥ 0)")
    return problems


def validate_cityjson(doc: dict) -> list[str]:
    """Problems found by a structural check of a CityJSON 2.0 document (an empty list: none found).

    Checks type and version, integer vertices with a transform, every geometry's vertex indices in range,
    rings of ≥ 3 distinct vertices, every Building with a geometry, each Solid with ≥ 1 shell, closed shells
    (each edge used exactly once in each direction), exterior shells oriented outwards, and that
    ``metadata.geographicalExtent`` matches the vertices. Not a schema validation.
    """
    if not isinstance(doc, dict):
        return [f"a CityJSON document is a JSON object, got {type(doc).__name__}"]
    problems: list[str] = []
    if doc.get("type") != "CityJSON":
        problems.append(f"'type' must be 'CityJSON', got {doc.get('type')!r}")
    if doc.get("version") != CITYJSON_VERSION:
        problems.append(f"'version' must be {CITYJSON_VERSION!r}, got {doc.get('version')!r}")
    vertices = doc.get("vertices")
    verts: np.ndarray | None = None
    if not isinstance(vertices, list):
        problems.append("'vertices' must be a list")
        vertices = []
    elif vertices:
        if not all(isinstance(v, list) and len(v) == 3 and all(type(c) is int for c in v) for v in vertices):
            problems.append("every vertex must be a list of 3 integers")
        else:
            verts = np.asarray(vertices, dtype=np.float64)
    transform = doc.get("transform")
    scale = translate = None
    if (not isinstance(transform, dict) or len(transform.get("scale", [])) != 3
            or len(transform.get("translate", [])) != 3):
        problems.append("'transform' with 3 'scale' and 3 'translate' values is required in CityJSON 2.0")
    else:
        scale, translate = np.asarray(transform["scale"], float), np.asarray(transform["translate"], float)
    ref = (doc.get("metadata") or {}).get("referenceSystem")
    if ref is not None and not str(ref).startswith("https://www.opengis.net/def/crs/"):
        problems.append(f"metadata.referenceSystem {ref!r} is not an OGC CRS URL")

    city_objects = doc.get("CityObjects")
    if not isinstance(city_objects, dict):
        problems.append("'CityObjects' must be an object")
        city_objects = {}
    for oid, obj in city_objects.items():
        if not isinstance(obj, dict) or "type" not in obj:
            problems.append(f"CityObject {oid!r}: must be an object with a 'type'")
            continue
        geometries = obj.get("geometry") or []
        if obj["type"] == "Building" and not geometries and not obj.get("children"):
            problems.append(f"Building {oid!r} has no geometry")
        for gi, geometry in enumerate(geometries):
            where = f"{oid!r} geometry {gi}"
            gtype = geometry.get("type") if isinstance(geometry, dict) else None
            if "lod" not in (geometry or {}):
                problems.append(f"{where}: no 'lod'")
            boundaries = geometry.get("boundaries") if isinstance(geometry, dict) else None
            if not isinstance(boundaries, list) or not boundaries:
                problems.append(f"{where}: 'boundaries' must be a non-empty list")
                continue
            if gtype in ("Solid", "MultiSolid", "CompositeSolid"):
                if gtype != "Solid" and not all(isinstance(s, list) and s for s in boundaries):
                    problems.append(f"{where}: every solid needs at least one shell")
                    continue
                shells_by_solid: Counter[str] = Counter()
                for path, shell in _shells(geometry):
                    solid_key = path.rsplit(" shell ", 1)[0]
                    exterior = shells_by_solid[solid_key] == 0
                    shells_by_solid[solid_key] += 1
                    problems.extend(_shell_problems(f"{where} {path}", shell, len(vertices), verts, exterior))
            elif gtype in ("MultiSurface", "CompositeSurface"):
                for si, surface in enumerate(boundaries):
                    for ri, ring in enumerate(surface if isinstance(surface, list) else []):
                        if not isinstance(ring, list) or len(set(ring)) < 3:
                            problems.append(f"{where} surface {si} ring {ri}: fewer than 3 distinct vertices")
                        elif any(not isinstance(v, int) or not 0 <= v < len(vertices) for v in ring):
                            problems.append(f"{where} surface {si} ring {ri}: vertex index out of range")
            else:
                problems.append(f"{where}: geometry type {gtype!r} is not checked by this validator")

    extent = (doc.get("metadata") or {}).get("geographicalExtent")
    if verts is not None and scale is not None and translate is not None:
        real = verts * scale + translate
        expected = np.concatenate([real.min(axis=0), real.max(axis=0)])
        if extent is None:
            problems.append("metadata.geographicalExtent is missing")
        elif len(extent) != 6 or not np.allclose(np.asarray(extent, float), expected,
                                                  rtol=0, atol=float(scale.max()) + 1e-9):
            problems.append(f"metadata.geographicalExtent {extent} does not match the vertices' extent "
                            f"{np.round(expected, 3).tolist()}")
    return problems
