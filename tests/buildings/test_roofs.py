"""LOD2 roofs: known roof shapes are recovered from noisy heights; their solids are closed and read by cjio."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from shapely import affinity
from shapely.geometry import Polygon, box

from ai4geo_lab.buildings.algo import building_models
from ai4geo_lab.buildings.cityjson import buildings_cityjson, validate_cityjson
from ai4geo_lab.buildings.roofs import fit_roof, roof_faces
from ai4geo_lab.geo.vector import read_vector

X0, Y0 = 652_000.0, 6_862_000.0


def roof_heights(kind: str, angle: float, hl: float, hw: float, eave: float, rise: float, x, y):
    """Heights of a roof over a rectangle centred at (X0, Y0), long axis at ``angle``."""
    t = math.radians(angle)
    u = (x - X0) * math.cos(t) + (y - Y0) * math.sin(t)
    v = -(x - X0) * math.sin(t) + (y - Y0) * math.cos(t)
    if kind == "flat":
        return np.full_like(x, eave)
    if kind == "shed":
        return eave + rise * (v + hw) / (2 * hw)
    if kind == "gable":
        return eave + rise * (1 - np.abs(v) / hw)
    return eave + rise * np.minimum(hw - np.abs(v), hl - np.abs(u)) / hw


def rectangle(angle: float, hl: float = 12.0, hw: float = 6.0) -> Polygon:
    return affinity.rotate(box(X0 - hl, Y0 - hw, X0 + hl, Y0 + hw), angle, origin=(X0, Y0))


def samples(poly: Polygon, step: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = poly.bounds
    x, y = np.meshgrid(np.arange(minx, maxx, step), np.arange(miny, maxy, step))
    import shapely

    inside = shapely.contains_xy(poly.buffer(-0.5), x, y)
    return x[inside], y[inside]


@pytest.mark.parametrize("kind", ["flat", "shed", "gable", "hip"])
@pytest.mark.parametrize("angle", [0.0, 33.0, 120.0])
def test_known_roofs_are_recovered_from_noisy_heights(kind: str, angle: float) -> None:
    rng = np.random.default_rng(int(angle) + len(kind))
    poly = rectangle(angle)
    x, y = samples(poly)
    z = roof_heights(kind, angle, 12.0, 6.0, 9.0, 3.5, x, y) + rng.normal(0, 0.25, x.shape)
    z[rng.choice(len(z), 10, replace=False)] += 15.0  # a few blunders (matching errors, antennas)
    fit = fit_roof(poly, x, y, z)
    assert fit.roof_type == kind
    assert fit.rmse < 0.4 and 0 <= fit.confidence <= 1
    assert fit.eave_height == pytest.approx(9.0, abs=0.35)
    assert fit.ridge_height == pytest.approx(9.0 + (3.5 if kind != "flat" else 0.0), abs=0.35)
    if kind in ("gable", "hip"):
        d = abs(fit.ridge_direction_deg - angle % 180) % 180
        assert min(d, 180 - d) < 2.0


def test_roof_faces_partition_the_footprint() -> None:
    poly = rectangle(20)
    x, y = samples(poly)
    for kind, n_faces in (("flat", 1), ("shed", 1), ("gable", 2), ("hip", 4)):
        fit = fit_roof(poly, x, y, roof_heights(kind, 20, 12.0, 6.0, 9.0, 3.5, x, y))
        faces = roof_faces(poly, fit.x0, fit.y0, fit.planes)
        assert len(faces) == n_faces
        assert sum(f.area for f, _ in faces) == pytest.approx(poly.area, rel=1e-4)


def test_roof_faces_leave_a_courtyard_open() -> None:
    outer = rectangle(20, 14.0, 8.0)
    poly = outer.difference(affinity.scale(outer, 0.3, 0.3))  # a hip roof around a courtyard
    x, y = samples(poly)
    fit = fit_roof(poly, x, y, roof_heights("hip", 20, 14.0, 8.0, 9.0, 3.5, x, y))
    faces = roof_faces(poly, fit.x0, fit.y0, fit.planes)
    assert len(fit.planes) > 1 and all(poly.contains(f.representative_point()) for f, _ in faces)
    assert sum(f.area for f, _ in faces) == pytest.approx(poly.area, rel=1e-4)  # the courtyard is no roof


def _models() -> gpd.GeoDataFrame:
    """One building of each roof type (and an L-shaped shed, a flat courtyard) burnt into a DSM."""
    transform = rasterio.transform.from_origin(X0 - 100, Y0 + 100, 0.5, 0.5)
    shape = (400, 400)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    x, y = rasterio.transform.xy(transform, rows.ravel(), cols.ravel())
    x, y = np.asarray(x).reshape(shape), np.asarray(y).reshape(shape)
    dtm = 100.0 + 0.01 * (x - X0)
    dsm = dtm.copy()
    polys, kinds = [], []
    import shapely

    for i, kind in enumerate(("flat", "shed", "gable", "hip")):
        dx = -60 + 40 * i
        poly = affinity.translate(rectangle(15 * i), dx, 40)
        inside = shapely.contains_xy(poly, x, y)
        dsm[inside] = 100.0 + 0.01 * dx + roof_heights(kind, 15 * i, 12, 6, 8, 3, x - dx, y - 40)[inside]
        polys.append(poly)
        kinds.append(kind)
    ell = Polygon([(X0 - 60, Y0 - 60), (X0 - 30, Y0 - 60), (X0 - 30, Y0 - 50), (X0 - 50, Y0 - 50),
                   (X0 - 50, Y0 - 30), (X0 - 60, Y0 - 30)])
    court = box(X0, Y0 - 70, X0 + 40, Y0 - 30).difference(box(X0 + 10, Y0 - 60, X0 + 30, Y0 - 40))
    for poly, kind, roof in ((ell, "shed", lambda xx, yy: 6 + 0.15 * (xx - X0 + 60)),
                             (court, "flat", lambda xx, yy: 12.0 + 0 * xx)):
        inside = shapely.contains_xy(poly, x, y)
        dsm[inside] = (dtm + roof(x, y))[inside] - (dtm[inside] - dtm[inside].mean())  # a level roof
        polys.append(poly)
        kinds.append(kind)
    fp = gpd.GeoDataFrame({"truth": kinds}, geometry=polys, crs="EPSG:2154")
    return building_models(fp, dsm - dtm, dtm, transform)


def test_building_models_on_a_burnt_dsm_give_roofs_and_closed_solids(tmp_path) -> None:
    models = _models()
    assert list(models["roof_type"]) == list(models["truth"])
    assert {"height", "base_elevation", "area_m2", "roof_rmse_m", "roof_confidence", "eave_height",
            "ridge_height", "ridge_direction_deg"} <= set(models.columns)
    assert (models["roof_rmse_m"] < 0.3).all()
    doc = buildings_cityjson(models, 2154)
    assert validate_cityjson(doc) == []
    lods = [sorted(g["lod"] for g in o["geometry"]) for o in doc["CityObjects"].values()]
    assert lods == [["1.2", "2.2"]] * len(models)
    roof_surfaces = [sum(v == 1 for v in o["geometry"][1]["semantics"]["values"][0])
                     for o in doc["CityObjects"].values()]
    assert roof_surfaces[:4] == [1, 1, 2, 4]
    # cjio reads it, triangulates every surface, and validates the schema when its validator is installed. It is
    # run in its own process: importing cjio rounds every float that `json` writes afterwards, process-wide.
    path = tmp_path / "b.city.json"
    path.write_text(json.dumps(doc))
    read = ("import json, sys; from cjio import cityjson; cm = cityjson.CityJSON(file=open(sys.argv[1])); "
            "print(json.dumps([cm.get_version(), cm.get_epsg(), cm.number_city_objects_level1(), "
            "cm.remove_duplicate_vertices()]))")
    proc = subprocess.run([sys.executable, "-c", read, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    version, epsg, objects, duplicates = json.loads(proc.stdout.strip().splitlines()[-1])
    assert version == "2.0" and epsg == 2154 and objects == len(models)
    assert duplicates == 0  # every vertex stored once, shared by the surfaces
    obj = tmp_path / "b.obj"
    cjio = [sys.executable, "-c", "from cjio.cjio import cli; cli()"]
    proc = subprocess.run([*cjio, str(path), "export", "obj", str(obj)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert obj.read_text().count("\nf ") > 10 * len(models)
    proc = subprocess.run([*cjio, str(path), "validate"], capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    if "cjvalpy" not in out:
        assert proc.returncode == 0 and "is valid" in out.lower() and "invalid" not in out.lower(), out


def test_sample_city_truth_roofs(small_city) -> None:
    truth = read_vector(small_city.truth("date1", "buildings"))
    with rasterio.open(small_city.truth("date1", "dsm")) as src:
        dsm, transform = src.read(1).astype(float), src.transform
    with rasterio.open(small_city.truth("date1", "dtm")) as src:
        dtm = src.read(1).astype(float)
    models = building_models(truth[["geometry"]], dsm - dtm, dtm, transform)
    assert (models["roof_type"] == truth["roof_type"]).mean() >= 0.9
    assert np.sqrt(np.mean((models["height"] - truth["height"]) ** 2)) < 1.0
