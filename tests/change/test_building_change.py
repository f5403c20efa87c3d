"""Per-building 3D change: known answers on synthetic DSMs, then the sample city against its truth."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import box

from ai4geo_lab.change.buildings import BuildingChangeRules, building_changes, fill_gaps, objects_from_ndsm
from ai4geo_lab.change.step import BuildingChangeParams, building_change
from ai4geo_lab.errors import ConfigError, InvalidInputError
from ai4geo_lab.geo.raster import write_raster
from ai4geo_lab.quality.change import building_change_scores


def synthetic():
    ground = np.full((80, 80), 100.0)
    d1, d2 = ground.copy(), ground.copy()
    ids1 = np.zeros((80, 80), np.int32)
    ids1[5:20, 5:20], ids1[5:20, 40:60], ids1[40:55, 5:25], ids1[40:60, 40:60] = 1, 2, 3, 4
    d1[5:20, 5:20] += 10                                   # 1: demolished
    d1[5:20, 40:60] += 8
    d2[5:20, 40:60] += 16                                  # 2: raised by 8 m
    d1[40:55, 5:25] += 12
    d2[40:55, 5:25] += 12                                  # 3: unchanged
    d1[40:60, 40:60] += 15
    d2[40:60, 40:60] += 15
    d2[40:60, 40:50] = 100.5                                             # half collapsed: lowered
    d2[65:78, 65:78] += 9                                                # new
    return d1, d2, ids1


def test_each_building_change_with_volumes():
    d1, d2, ids1 = synthetic()
    recs = {(r["date"], r["id"]): r for r in building_changes(d1, d2, ids1, pixel_area=0.25)}
    assert recs[(1, 1)]["change"] == "demolished" and recs[(1, 1)]["volume_before_m3"] == pytest.approx(
        15 * 15 * 10 * 0.25, rel=0.01) and recs[(1, 1)]["volume_after_m3"] == pytest.approx(0, abs=1)
    assert recs[(1, 2)]["change"] == "raised" and recs[(1, 2)]["dh"] == pytest.approx(8)
    assert recs[(1, 2)]["volume_change_m3"] == pytest.approx(15 * 20 * 8 * 0.25, rel=0.01)
    assert recs[(1, 3)]["change"] == "unchanged" and recs[(1, 3)]["height_before"] == pytest.approx(12)
    assert recs[(1, 4)]["change"] == "lowered" and 0.3 < recs[(1, 4)]["standing_fraction"] < 0.7
    new = [r for r in recs.values() if r["date"] == 2]
    assert len(new) == 1 and new[0]["change"] == "new" and new[0]["area_m2"] == pytest.approx(13 * 13 * 0.25)
    # with nDSMs the heights come from them; a building whose DSM is missing is undecided
    d2[5:20, 40:60] = np.nan
    recs = {(r["date"], r["id"]): r for r in building_changes(d1, d2, ids1, None, d1 - 100, d2 - 100)}
    assert recs[(1, 2)]["change"] == "undecided" and recs[(1, 1)]["height_before"] == pytest.approx(10)
    strict = building_changes(*synthetic(), rules=BuildingChangeRules(min_change=9.0))
    assert {r["id"]: r["change"] for r in strict if r["date"] == 1}[2] == "unchanged"


def test_objects_from_ndsm_bridge_gaps_and_skip_vegetation():
    ndsm = np.zeros((40, 40))
    ndsm[5:20, 5:20] = 8.0
    ndsm[10:14, 5:20] = np.nan          # a gap across the roof (occlusion)
    ndsm[25:35, 25:35] = 10.0           # a tree
    ndvi = np.zeros((40, 40))
    ndvi[25:35, 25:35] = 0.7
    assert np.isfinite(fill_gaps(ndsm)).all()
    ids = objects_from_ndsm(ndsm, ndvi=ndvi)
    assert ids.max() == 1 and (ids[6:19, 6:19] == 1).all() and (ids[25:35, 25:35] == 0).all()  # one object



def test_touching_buildings_of_different_heights_are_split():
    ndsm = np.zeros((40, 60))
    ndsm[5:30, 5:25] = 6.0                                  # a low house ...
    ndsm[5:30, 25:50] = 20.0                                # ... against a tower block
    ndsm[5:30, 25:50] += np.linspace(0, 2, 25)[None, :]     # a gently sloping roof stays one part
    ids = objects_from_ndsm(ndsm)
    assert ids.max() == 2
    assert len(np.unique(ids[7:28, 7:23])) == 1 and len(np.unique(ids[7:28, 27:48])) == 1
    assert ids[15, 10] != ids[15, 40]
    assert objects_from_ndsm(ndsm, split_step=None).max() == 1  # the plain threshold merges them

def test_files_of_different_grids_and_errors(tmp_path):
    d1, d2, _ = synthetic()
    t1 = Affine(0.5, 0, 1000, 0, -0.5, 2000)
    write_raster(tmp_path / "before.tif", d1.astype(np.float32), t1, "EPSG:32633", nodata=-9999.0)
    # the second DSM on a coarser grid, shifted: resampled onto the first one
    t2 = Affine(1.0, 0, 1000, 0, -1.0, 2000)
    write_raster(tmp_path / "after.tif", d2[::2, ::2].astype(np.float32), t2, "EPSG:32633", nodata=-9999.0)
    fp = gpd.GeoDataFrame({"name": list("abcd")}, crs="EPSG:32633", geometry=[
        box(1000 + c0 * 0.5, 2000 - r1 * 0.5, 1000 + c1 * 0.5, 2000 - r0 * 0.5)
        for r0, r1, c0, c1 in ((5, 20, 5, 20), (5, 20, 40, 60), (40, 55, 5, 25), (40, 60, 40, 60))])
    fp.to_crs("EPSG:4326").to_file(tmp_path / "fp.gpkg")  # any CRS: reprojected
    out = building_change(tmp_path / "before.tif", tmp_path / "after.tif", tmp_path / "fp.gpkg")
    assert out.crs == "EPSG:32633" and list(out["source_id"][:4]) == [0, 1, 2, 3]
    assert list(out["change"]) == ["demolished", "raised", "unchanged", "lowered", "new"]
    assert out.geometry.iloc[4].area == pytest.approx(13 * 13 * 0.25, rel=0.3)
    with pytest.raises(ConfigError, match="first-date buildings"):
        building_change(tmp_path / "before.tif", tmp_path / "after.tif")
    far = Affine(0.5, 0, 9000, 0, -0.5, 9000)
    write_raster(tmp_path / "far.tif", d2.astype(np.float32), far, "EPSG:32633", nodata=-9999.0)
    with pytest.raises(InvalidInputError, match="do not overlap"):
        building_change(tmp_path / "before.tif", tmp_path / "far.tif", tmp_path / "fp.gpkg")


def test_sample_city_truth_surfaces_give_every_changed_building(small_city):
    out = building_change(small_city.truth("date1", "dsm"), small_city.truth("date2", "dsm"),
                          small_city.truth("date1", "buildings"), params=BuildingChangeParams())
    truth = gpd.read_file(small_city.change_vector)
    scores = building_change_scores(out, truth)
    assert scores["f1"] == 1.0 and scores["n_ref"] == 9
    raised = out[out["change"] == "raised"]
    assert (raised["volume_change_m3"] > 0).all() and (out[out["change"] == "demolished"]["dh"] < -3).all()


@pytest.mark.slow
def test_sample_city_through_the_chain_reaches_the_target(small_city, tmp_path):
    """Stereo DSMs of both dates, footprints of the first, the nDSM and NDVI of the second: F1 ≥ 0.9."""
    from ai4geo_lab.demo import change_config
    from ai4geo_lab.pipeline import RunConfig, run

    mapping = change_config(small_city, tmp_path, tile_size=600)
    mapping["cluster"] = {"kind": "synchronous"}
    result = run(RunConfig.model_validate(mapping).resolve(tmp_path), progress=False, log=lambda m: None)
    pred = gpd.read_file(result.products["bchange.buildings"])
    scores = building_change_scores(pred, gpd.read_file(small_city.change_vector))
    assert scores["f1"] >= 0.9, scores
    polys = gpd.read_file(result.products["c2d.polygons"])
    assert len(polys) > 0 and set(polys["change"]) <= {"decrease"}
