"""CARS on real Pléiades pairs, small ROIs: tiles as Dask tasks, the mosaic, completeness, DTM and nDSM."""

from __future__ import annotations

import json

import numpy as np
import pystac
import pytest
import rasterio
from scipy import ndimage

from ai4geo_lab.errors import ProcessingError
from ai4geo_lab.stereo import dsm
from ai4geo_lab.terrain import dtm, ndsm
from tests.conftest import centre_roi, shared_data

pytestmark = [pytest.mark.realdata, pytest.mark.slow, pytest.mark.timeout(3600)]  # CARS runs take minutes


@pytest.fixture(scope="module")
def kahramanmaras(kahramanmaras_dsm):
    """200 m × 100 m of the pre-event pair in two ROI tiles, each a CARS run (2 processes) on a Dask worker."""
    return kahramanmaras_dsm[0]


def test_tiled_dsm_is_complete_and_seamless(kahramanmaras):
    r = kahramanmaras
    assert len(r.tiles) == 2 and all(t["seconds"] > 0 for t in r.tiles)  # two real CARS runs
    assert r.completeness >= 0.85
    with rasterio.open(r.dsm) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG" and src.dtypes[0] == "float32"
        assert np.isnan(src.nodata)
        z = src.read(1)
    valid = np.isfinite(z)
    assert 450 < np.nanmedian(z) < 800  # the city's ellipsoidal heights
    # the seam between the two tiles is no worse than any other pair of neighbouring columns
    summary = json.loads((r.dsm.parent / "dsm.json").read_text())
    assert set(summary["tile_completeness"]) == {"r000_c000", "r000_c001"}
    c_seam = next(t["core"][1] for t in r.tiles if t["key"] == "r000_c001")
    steps = np.abs(np.diff(z, axis=1))
    ok = valid[:, 1:] & valid[:, :-1]
    per_col = np.array([np.median(steps[ok[:, j], j]) if ok[:, j].sum() > 20 else np.nan
                        for j in range(steps.shape[1])])
    assert per_col[c_seam - 1] <= 3 * np.nanmedian(per_col) + 0.2
    # ortho and STAC items
    assert r.ortho is not None and r.ortho.is_file()
    items = {i.id: i for i in pystac.Catalog.from_file(str(r.catalog)).get_items(recursive=True)}
    assert len(items) == 2
    for item in items.values():
        assert item.properties["ai4geo:step"] == "dsm" and item.properties["processing:software"]["cars"]
        assert (r.catalog.parent / item.id / item.assets["data"].href).resolve().is_file() or \
            __import__("pathlib").Path(item.assets["data"].get_absolute_href()).is_file()


def test_ndsm_shows_the_apartment_blocks(kahramanmaras, tmp_path):
    """Kahramanmaraş's apartment blocks stand 8–30 m above the bulldozer DTM."""
    ground = dtm(kahramanmaras.dsm, out=tmp_path / "dtm.tif")
    height = ndsm(kahramanmaras.dsm, ground, out=tmp_path / "ndsm.tif")
    with rasterio.open(height) as src:
        h = src.read(1)
        px_m2 = abs(src.res[0] * src.res[1])
    blocks, n = ndimage.label(ndimage.binary_opening(h > 4.0, iterations=2))
    idx = np.arange(1, n + 1)
    sizes = ndimage.sum_labels(np.ones_like(h), blocks, idx) * px_m2
    tops = np.asarray(ndimage.median(np.nan_to_num(h), blocks, idx))[sizes >= 150]
    assert len(tops) >= 3, tops
    assert np.mean((tops >= 8) & (tops <= 30)) >= 0.7, np.round(tops, 1)
    ground_px = np.nanmedian(h[blocks == 0])
    assert ground_px < 2.0  # the ground between them (streets, cars, trees) is near ground level


def test_featureless_images_fail_clearly(tmp_path):
    """CARS on images with nothing to match: an error that says so, and no DSM called done."""
    import shutil

    d = shared_data("pleiades", "kahramanmaras")
    images = []
    for name in ("pre_event_img1", "pre_event_img2"):
        with rasterio.open(d / f"{name}.tif") as src:
            profile = src.profile
        with rasterio.open(tmp_path / f"{name}.tif", "w", **profile) as dst:
            dst.write(np.full((1, profile["height"], profile["width"]), 300, np.uint16))
        shutil.copy(d / f"{name}.geom", tmp_path / f"{name}.geom")
        images.append(tmp_path / f"{name}.tif")
    with pytest.raises(ProcessingError, match=r"CARS|DSM"):
        dsm(images, tmp_path / "out", roi=centre_roi(images, 60, 60), workers=2)
    assert not (tmp_path / "out" / "dsm.tif").exists()


def test_buildings_of_kahramanmaras_through_the_chain(kahramanmaras, dask_client, tmp_path):
    """The CARS DSM through the chain's bulldozer DTM, building mask, footprints and LOD1: apartment blocks with
    heights of 8–30 m, as a valid CityJSON."""
    import geopandas as gpd

    from ai4geo_lab.buildings.cityjson import validate_cityjson
    from ai4geo_lab.pipeline import RunConfig, run

    cfg = RunConfig.model_validate({
        "output": str(tmp_path / "run"),
        "grid": {"like": str(kahramanmaras.dsm)},
        "inputs": {"dsm": str(kahramanmaras.dsm)},
        "steps": [
            {"id": "terrain", "step": "terrain", "inputs": {"dsm": "dsm"}, "params": {"engine": "bulldozer"}},
            {"id": "mask", "step": "building_mask", "inputs": {"ndsm": "terrain.ndsm"},
             "params": {"min_height": 4.0, "opening_px": 2, "min_area_px": 200}},
            {"id": "footprints", "step": "footprints", "inputs": {"mask": "mask"}},
            {"id": "lod1", "step": "lod1", "inputs": {"footprints": "footprints", "ndsm": "terrain.ndsm",
                                                     "dtm": "terrain.dtm"}},
        ],
    })
    result = run(cfg, client=dask_client, progress=False, log=lambda _: None)
    buildings = gpd.read_file(result.products["lod1.buildings"])
    large = buildings[buildings.geometry.area >= 150]
    assert len(large) >= 3, buildings[["height"]].describe()
    heights = large["height"].to_numpy()
    assert np.mean((heights >= 8) & (heights <= 30)) >= 0.7, np.round(heights, 1)
    assert buildings.geometry.is_valid.all()
    assert buildings.geometry.area.sum() / (kahramanmaras.area_km2 * 1e6) < 0.8  # not the whole scene
    doc = json.loads(result.products["lod1.cityjson"].read_text())
    assert validate_cityjson(doc) == []
    assert len(doc["CityObjects"]) == len(buildings)
