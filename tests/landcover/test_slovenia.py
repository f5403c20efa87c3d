"""Real data: Sentinel-2 over Slovenia (5 dates × 13 bands, land-use reference, a 68-date NDVI series)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import rasterio

from ai4geo_lab.change.breaks import BreakParams, detect_breaks
from ai4geo_lab.landcover.legend import LULC10
from ai4geo_lab.landcover.model import LandcoverModel, cross_validate
from ai4geo_lab.landcover.series import ImageSeries
from ai4geo_lab.landcover.step import FeatureParams, _series, series_feature_stack
from tests.conftest import shared_data

pytestmark = [pytest.mark.realdata, pytest.mark.slow]
FAST = {"max_iter": 50}


def test_spatially_cross_validated_land_cover_reaches_the_target():
    root = shared_data("landcover", "slovenia", "derived")
    feats = FeatureParams()
    series = ImageSeries.from_folder(root, "S2L1C_*.tif")
    assert [im.datetime.month for im in series.images] == [7, 7, 8, 8, 9] and series.bands()[3] == "B04"
    stack, names, _ = series_feature_stack(series, feats)
    with rasterio.open(root / "LULC_mask.tif") as src:
        labels = src.read(1).astype(np.uint8)
    cv = cross_validate(stack, labels, names, LULC10, k=5, block_px=20, buffer_px=2, params=FAST)
    s = cv.summary(LULC10)
    assert s["overall_accuracy"] >= 0.90 and s["kappa"] >= 0.70, s
    assert s["per_class_f1"]["forest"] >= 0.93 and s["per_class_f1"]["grassland"] >= 0.75, s
    # folds are blocks of 200 m, each seen by a model that did not train on it or next to it
    assert len(np.unique(cv.folds)) == 5 and s["fold_oa_min"] > 0.85
    assert set(cv.classes) == {1, 2, 3, 4, 8}


def test_chain_trains_and_classifies_tile_by_tile(tmp_path):
    from ai4geo_lab.pipeline import RunConfig, run

    root = shared_data("landcover", "slovenia", "derived")
    tifs = sorted(root.glob("S2L1C_*.tif"))
    series_file = tmp_path / "series.yaml"   # a series is one file listing its dated images
    series_file.write_text("images:\n" + "".join(f"  - {{path: {p}, datetime: {p.name[6:16]}T10:00:00Z}}\n"
                                                   for p in tifs))
    first = tifs[0]
    config = RunConfig.model_validate({
        "output": str(tmp_path / "out"), "tile_size": 64, "grid": {"like": str(first)},
        "cluster": {"kind": "synchronous"},
        "inputs": {"series": str(series_file), "reference": str(root / "LULC_mask.tif")},
        "steps": [{"id": "model", "step": "landcover_train", "inputs": {"images": "series", "reference": "reference"},
                   "params": {"model_params": FAST}},
                  {"id": "lc", "step": "landcover_classify", "inputs": {"images": "series", "model": "model"}}]})
    result = run(config, progress=False, log=lambda m: None)
    with rasterio.open(result.products["lc.landcover"]) as src:
        tiled = src.read(1)
    assert len(result.tiles_computed["lc"]) == 4  # 101 × 100 px in 64 px tiles
    with rasterio.open(root / "LULC_mask.tif") as src:
        ref = src.read(1)
    assert ((tiled == ref) | (ref == 0)).mean() > 0.95  # the training area itself
    # the tiles give what the whole image gives (features with context need their halo)
    model = LandcoverModel.load(result.products["model.model"])
    feats = FeatureParams.model_validate(model.meta["features"])
    stack, _, _ = series_feature_stack(_series(series_file, feats), feats, spec=model.feature_spec)
    assert (model.predict(stack) == tiled).all()
    assert json.loads(result.products["model.model"].with_suffix(".json").read_text())["kind"] == "hgb"


def _ndvi_series():
    o = shared_data("landcover", "slovenia", "original", "TestEOPatch")
    ndvi = np.load(o / "data" / "NDVI.npy")[..., 0]
    valid = (np.load(o / "mask" / "CLM.npy")[..., 0] == 0) & np.load(o / "mask" / "IS_DATA.npy")[..., 0].astype(bool)
    ts = [dt.datetime.fromisoformat(t) for t in json.loads((o / "timestamps.json").read_text())]
    days = np.array([(t - ts[0]).total_seconds() / 86400 for t in ts])
    return ndvi, valid, ts, days


def test_breaks_on_the_ndvi_series_find_a_simulated_clearing():
    ndvi, valid, ts, days = _ndvi_series()
    params = BreakParams(history_end=(dt.datetime(2017, 1, 1) - ts[0]).days)
    natural = detect_breaks(ndvi, days, valid, params)
    assert natural.decided.mean() > 0.95 and natural.breaks.mean() < 0.15
    # a 300 m × 300 m clearing from 1 May 2017: NDVI of bare soil from then on
    cut = days >= (dt.datetime(2017, 5, 1) - ts[0]).days
    y = ndvi.copy()
    rng = np.random.default_rng(0)
    y[np.ix_(cut, np.arange(40, 70), np.arange(40, 70))] = 0.15 + rng.normal(0, 0.03, (int(cut.sum()), 30, 30))
    block = np.zeros(ndvi.shape[1:], bool)
    block[40:70, 40:70] = True
    res = detect_breaks(y, days, valid, params)
    assert res.breaks[block].mean() >= 0.95
    first_clear = np.argmax(valid & cut[:, None, None], axis=0)
    assert (res.index[block] == first_clear[block]).mean() > 0.8      # dated at the first clear look after it
    assert np.nanmedian(res.magnitude[block]) < -0.3
    assert abs(res.breaks[~block].mean() - natural.breaks[~block].mean()) < 0.01  # nothing else changed
