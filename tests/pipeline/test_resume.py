"""Per-tile outputs, the run manifest and resume, on a real Dask LocalCluster."""

from __future__ import annotations

import json

import numpy as np
import pystac
import pytest

from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.pipeline import RunConfig, run


def make_config(city, out, tile_size=64, **stereo):
    params = {"hmin": float(city.terrain_range[0]) - 5, "hmax": float(city.terrain_range[1]) + 70, **stereo}
    return RunConfig.model_validate({
        "output": str(out),
        "tile_size": tile_size,
        "grid": {"like": str(city.image("date1", "ortho"))},
        "inputs": {"left": {"path": str(city.image("date1", "pan_fwd")), "datetime": city.dates["date1"]},
                   "right": str(city.image("date1", "pan_bwd"))},
        "steps": [
            {"id": "dsm", "step": "dsm", "inputs": {"left": "left", "right": "right"}, "params": {"native": params}},
            {"id": "terrain", "step": "terrain", "inputs": {"dsm": "dsm"}},
        ],
    })


@pytest.mark.slow
def test_rerun_recomputes_only_the_missing_tile(small_city, dask_client, tmp_path):
    out = tmp_path / "run"
    cfg = make_config(small_city, out)
    first = run(cfg, client=dask_client, progress=False, log=lambda _: None)
    n_tiles = 4 * 4  # 200 px at 64 px tiles
    assert len(first.tiles_computed["dsm"]) == n_tiles
    dsm1, _ = read_window(first.products["dsm.dsm"])
    assert np.isfinite(dsm1).mean() > 0.5

    # nothing to do on a second run
    again = run(cfg, client=dask_client, progress=False, log=lambda _: None)
    assert again.skipped == ["dsm", "terrain"] and not again.tiles_computed

    # lose one tile: only that tile is recomputed, and the product is the same
    lost = out / "dsm" / "tiles" / "dsm" / "r001_c002.tif"
    lost.unlink()
    third = run(cfg, client=dask_client, progress=False, log=lambda _: None)
    assert third.tiles_computed["dsm"] == ["dsm/r001_c002"]
    dsm3, _ = read_window(third.products["dsm.dsm"])
    np.testing.assert_array_equal(np.isnan(dsm1), np.isnan(dsm3))
    np.testing.assert_allclose(dsm1[np.isfinite(dsm1)], dsm3[np.isfinite(dsm3)])
    assert "terrain" in third.skipped  # its input is byte-identical, so it stays valid

    manifest = json.loads((out / "run.json").read_text())
    assert len(manifest["steps"]["dsm/dsm"]["tiles"]) == n_tiles
    assert manifest["steps"]["dsm"]["status"] == "done"

    # a parameter change invalidates every tile of that step
    changed = run(make_config(small_city, out, min_confidence=0.3), client=dask_client, progress=False,
                  log=lambda _: None)
    assert len(changed.tiles_computed["dsm"]) == n_tiles


@pytest.mark.slow
def test_products_carry_stac_lineage(small_city, dask_client, tmp_path):
    result = run(make_config(small_city, tmp_path / "run", tile_size=100), client=dask_client, progress=False,
                 log=lambda _: None)
    catalog = pystac.Catalog.from_file(str(result.catalog))
    items = {i.id: i for i in catalog.get_items(recursive=True)}
    assert set(items) == {"dsm-dsm", "dsm-ortho", "dsm-confidence", "dsm-filled", "terrain-dtm", "terrain-ndsm"}
    dsm = items["dsm-dsm"]
    assert dsm.properties["ai4geo:step"] == "dsm"
    assert dsm.properties["ai4geo:parameters"]["native"]["block"] == 7
    assert set(dsm.properties["ai4geo:inputs"]) == {"left", "right"}
    assert dsm.properties["processing:software"]["ai4geo-lab"]
    assert dsm.datetime.date().isoformat() == small_city.dates["date1"][:10]
    assert items["terrain-dtm"].properties["ai4geo:inputs"]["dsm"].endswith("dsm.tif")
    href = dsm.assets["data"].get_absolute_href()
    assert href.endswith("dsm.tif")
    # footprint of the product in WGS84 contains the city centre
    lon, lat = np.mean(dsm.bbox[0::2]), np.mean(dsm.bbox[1::2])
    assert dsm.bbox[0] < lon < dsm.bbox[2] and dsm.bbox[1] < lat < dsm.bbox[3]


def test_tiles_fit_the_workers_memory():
    from ai4geo_lab.execution.context import fit_tile_size

    # 1000 px tiles with a 10 px halo at 320 B/px need 1020² × 320 B ≈ 333 MB
    assert fit_tile_size(1000, 10, 320, 8e9) == 1000
    assert fit_tile_size(1000, 10, 320, 1e9) == int((0.25 * 1e9 / 320) ** 0.5) - 20  # 863 px
    assert fit_tile_size(1000, 10, 320, 1e6) == 64  # never below the minimum
    assert fit_tile_size(1000, 10, 320, None) == 1000


@pytest.mark.slow
def test_small_workers_get_smaller_tiles(small_city, tmp_path):
    from distributed import Client, LocalCluster

    # one worker with 1.2 GB: a 1000 px stereo tile would want ~0.33 GB, more than a quarter of it
    with LocalCluster(n_workers=1, threads_per_worker=1, memory_limit="1.2GB", dashboard_address="127.0.0.1:0",
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        lines: list[str] = []
        result = run(make_config(small_city, tmp_path / "run", tile_size=1000), client=client, progress=False,
                     log=lines.append)
    assert any("tiles of" in line and "fit the workers' memory" in line for line in lines)
    manifest = json.loads((tmp_path / "run" / "run.json").read_text())
    assert manifest["steps"]["dsm/dsm"]["stamp"]["tile_size"] < 1000
    assert len(result.tiles_computed["dsm"]) == 1  # the 200 px city still fits in one of them
