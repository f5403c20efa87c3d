"""Learned 2D change: trained on two sample cities, run by the ``change_2d`` step on a third, unseen one."""

from __future__ import annotations

import numpy as np
import pytest

from ai4geo_lab.change.learned import VISIBLE_2D, change_features, predict_change, train_change_model
from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.metrics import binary_scores

BANDS = ["red", "green", "blue", "nir"]


def triple(city):
    return city.image("date1", "ortho"), city.image("date2", "ortho"), city.root / "truth" / "change.tif"


@pytest.fixture(scope="module")
def change_model(tmp_path_factory):
    from ai4geo_lab.sample import make_sample_city

    root = tmp_path_factory.mktemp("change_train")
    cities = [make_sample_city(root / f"c{s}", seed=s, size_m=200.0, gsd=1.0) for s in (5, 6)]
    model = train_change_model([triple(c) for c in cities], BANDS, out=root / "change.joblib")
    return root / "change.joblib", model


def test_features_name_every_layer_and_refuse_mismatched_dates():
    rng = np.random.default_rng(0)
    b = rng.uniform(0.05, 0.4, (4, 20, 30)).astype(np.float32)
    feats, names = change_features(b, b.copy(), BANDS)
    assert feats.shape[0] == len(names) and feats.shape[1:] == (20, 30)
    assert np.allclose(feats[names.index("d_nir")], 0.0)  # no change, no difference
    assert "d_ndvi_mean5" in names and "ndvi@2" in names
    with pytest.raises(InvalidInputError, match="differ in shape"):
        change_features(b, b[:, :10], BANDS)


def test_learned_change_beats_index_differencing_on_an_unseen_city(change_model, small_city, tmp_path):
    from ai4geo_lab.pipeline import RunConfig, run

    path, model = change_model
    assert set(model.classes) == {*VISIBLE_2D, 255}
    before, after, truth_path = triple(small_city)
    steps = [{"id": "learned", "step": "change_2d", "inputs": {"image_before": "b", "image_after": "a"},
              "params": {"model": str(path)}},
             {"id": "index", "step": "change_2d", "inputs": {"image_before": "b", "image_after": "a"}}]
    config = RunConfig.model_validate({
        "output": str(tmp_path / "out"), "tile_size": 64, "grid": {"like": str(before)},
        "cluster": {"kind": "synchronous"}, "inputs": {"b": str(before), "a": str(after)}, "steps": steps})
    result = run(config, progress=False, log=lambda m: None)
    truth = read_window(truth_path, dtype="uint8")[0]
    learned = read_window(result.products["learned.change"], dtype="uint8")[0]
    index = read_window(result.products["index.change"], dtype="uint8")[0]
    visible = np.isin(truth, VISIBLE_2D)  # a raised building keeps its roof: not a 2D change
    s_learned, s_index = binary_scores(learned > 0, visible), binary_scores(index > 0, visible)
    assert s_learned["iou"] >= 0.9 and s_learned["f1"] > s_index["f1"] + 0.1, (s_learned, s_index)
    for code in VISIBLE_2D:  # and it names what changed
        if (truth == code).any():
            assert binary_scores(learned == code, truth == code)["f1"] >= 0.8, code
    # tiles of 64 px with a halo: the same map as one read of the whole pair
    whole = predict_change(model, read_window(before, band=None)[0] / 1e4, read_window(after, band=None)[0] / 1e4,
                           BANDS)
    assert (whole == learned).mean() > 0.999
    import geopandas as gpd

    polys = gpd.read_file(result.products["learned.polygons"])
    assert set(polys["change"]) <= {"demolished building", "new building", "cleared trees"} and len(polys) > 0


def test_a_model_of_other_bands_or_a_missing_file_is_refused(change_model, small_city, tmp_path):
    from ai4geo_lab.errors import Ai4geoError
    from ai4geo_lab.pipeline import RunConfig, run

    _, model = change_model
    b = read_window(small_city.image("date1", "ortho"), band=None)[0][:3, :20, :20] / 1e4
    with pytest.raises(InvalidInputError, match="other features"):
        predict_change(model, b, b, BANDS[:3])
    before, after, _ = triple(small_city)
    config = RunConfig.model_validate({
        "output": str(tmp_path / "out"), "grid": {"like": str(before)}, "cluster": {"kind": "synchronous"},
        "inputs": {"b": str(before), "a": str(after)},
        "steps": [{"id": "c", "step": "change_2d", "inputs": {"image_before": "b", "image_after": "a"},
                   "params": {"model": str(tmp_path / "nothing.joblib")}}]})
    with pytest.raises(Ai4geoError, match="does not exist"):
        run(config, progress=False, log=lambda m: None)
    assert issubclass(InputNotFoundError, Ai4geoError)


def test_cli_trains_a_model_the_step_can_load(small_city, tmp_path, capsys):
    from ai4geo_lab.cli import main
    from ai4geo_lab.landcover.model import LandcoverModel

    triple_text = ",".join(str(p) for p in triple(small_city))
    assert main(["change", "train-2d", triple_text, "--out", str(tmp_path / "m"), "--max-per-class", "500"]) == 0
    model = LandcoverModel.load(tmp_path / "m.joblib")
    assert set(model.classes) == {*VISIBLE_2D, 255} and model.meta["band_names"] == BANDS
    assert main(["change", "train-2d", "a.tif,b.tif", "--out", str(tmp_path / "x")]) == 2
    assert "BEFORE,AFTER,REFERENCE" in capsys.readouterr().err
