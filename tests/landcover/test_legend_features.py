"""Legends (10 → 30 classes, folding, files) and features (indices, temporal statistics, context)."""

from __future__ import annotations

import numpy as np
import pytest

from ai4geo_lab.errors import ConfigError
from ai4geo_lab.landcover.features import (
    FeatureSpec,
    available_indices,
    common_band_names,
    nan_percentile,
    nan_uniform_filter,
    series_features,
    simple_cloud_mask,
    spectral_indices,
    temporal_features,
)
from ai4geo_lab.landcover.legend import LULC10, LULC30, SAMPLE_CITY, Legend, LegendClass, load_legend


def test_default_legend_has_ten_classes_and_the_detailed_one_folds_into_it():
    assert len(LULC10) == 10 and LULC10.code("forest") == 2 and LULC10.code("Artificial surface") == 8
    assert len(LULC30) == 30 and {c.parent for c in LULC30.classes} == set(LULC10.codes)
    detailed = np.array([[21, 22, 81], [82, 52, 0]], np.uint8)
    assert LULC30.to_coarser(detailed).tolist() == [[2, 2, 8], [8, 5, 0]]
    city = np.array([1, 2, 3, 4, 5, 6], np.uint8)  # building, road, tree, grass, bare soil, water
    assert SAMPLE_CITY.to_coarser(city).tolist() == [8, 8, 2, 3, 9, 5]
    assert LULC10.rgb(np.array([[2]]))[0, 0].tolist() == list(LULC10.classes[1].color)


def test_legend_validation_extension_and_files(tmp_path):
    with pytest.raises(ValueError, match="codes used twice"):
        Legend(name="x", classes=[LegendClass(code=1, name="a"), LegendClass(code=1, name="b")])
    with pytest.raises(ValueError, match="nodata"):
        Legend(name="x", classes=[LegendClass(code=1, name="a")], nodata=1)
    bigger = LULC10.extend([{"code": 11, "name": "vineyard", "color": (120, 0, 90)}], name="lulc11")
    assert len(bigger) == 11 and bigger.code("vineyard") == 11
    with pytest.raises(ValueError):
        LULC10.extend([{"code": 12, "name": "forest"}])
    for suffix in (".yaml", ".json"):
        path = bigger.save(tmp_path / f"legend{suffix}")
        assert load_legend(path) == bigger
    assert load_legend("lulc30") is LULC30
    with pytest.raises(Exception, match="neither a built-in legend nor a file"):
        load_legend("nope")
    (tmp_path / "bad.yaml").write_text("name: b\nclasses: [{code: 300, name: x}]\n")
    with pytest.raises(ConfigError, match="invalid legend"):
        load_legend(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="without a parent"):
        LULC10.to_coarser(np.array([1]))


def test_indices_known_values_and_missing_bands():
    assert common_band_names(["B04", "B08", "B8A", "B11", "red"]) == ["red", "nir", "nir08", "swir16", "red"]
    img = np.array([0.1, 0.2, 0.05, 0.3], np.float32)[:, None, None] * np.ones((4, 2, 2), np.float32)
    arr, names = spectral_indices(img, ["red", "green", "blue", "nir"])
    assert set(names) == set(available_indices(["red", "green", "blue", "nir"]))
    assert "ndbi" not in names  # needs SWIR
    got = dict(zip(names, arr[:, 0, 0], strict=True))
    assert got["ndvi"] == pytest.approx(0.5)
    assert got["ndwi"] == pytest.approx((0.2 - 0.3) / 0.5)
    assert got["savi"] == pytest.approx(1.5 * 0.2 / 0.9)
    assert got["brightness"] == pytest.approx(0.35 / 3)
    with pytest.raises(ConfigError, match="needs band"):
        spectral_indices(img, ["red", "green", "blue", "nir"], ["ndbi"])
    zero, _ = spectral_indices(np.zeros((4, 1, 1)), ["red", "green", "blue", "nir"], ["ndvi"])
    assert np.isnan(zero[0, 0, 0])


def test_temporal_statistics_ignore_masked_dates():
    series = np.array([1.0, 2.0, 100.0, 4.0], np.float32)[:, None, None, None] * np.ones((4, 1, 2, 2), np.float32)
    valid = np.ones((4, 2, 2), bool)
    valid[2] = False                      # a cloud on the third date
    valid[:, 1, 1] = False                # a pixel never seen
    out, names = temporal_features(series, valid, ("mean", "min", "max", "p50", "amplitude", "argmax", "valid"),
                                   ["x"], times=np.array([0.0, 10, 20, 30]))
    f = dict(zip(names, out[:, 0, 0], strict=True))
    assert f["x_mean"] == pytest.approx(7 / 3) and f["x_min"] == 1 and f["x_max"] == 4
    assert f["x_p50"] == 2 and f["x_amplitude"] == 3 and f["x_argmax"] == 1.0
    assert f["valid_fraction"] == pytest.approx(0.75)
    assert np.isnan(out[:-1, 1, 1]).all() and out[-1, 1, 1] == 0


def test_nan_percentile_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(9, 30)).astype(np.float32)
    a[rng.random(a.shape) < 0.3] = np.nan
    a[:, 0] = np.nan
    for q in (10, 50, 90):
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
            ref = np.nanpercentile(a, q, axis=0)
        np.testing.assert_allclose(nan_percentile(a, q), ref, rtol=1e-5, equal_nan=True)


def test_context_window_and_cloud_test():
    a = np.zeros((1, 5, 5), np.float32)
    a[0, 2, 2] = 9.0
    a[0, 0, 0] = np.nan
    mean, std = nan_uniform_filter(a, 3)
    assert mean[0, 2, 2] == pytest.approx(1.0) and mean[0, 1, 1] == pytest.approx(9 / 8)  # the NaN corner is left out
    assert mean[0, 0, 1] == pytest.approx(0.0) and std[0, 2, 2] > 2
    s2 = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]
    img = np.full((13, 2, 2), 0.05, np.float32)
    img[10] = 0.002                        # B10, cirrus: clear
    img[1, 0, 0] = 0.35                    # bright in blue: cloud
    img[10, 1, 1] = 0.05                   # cirrus reflects: haze
    assert simple_cloud_mask(img, s2).tolist() == [[False, True], [True, False]]


def test_series_features_shapes_and_names():
    rng = np.random.default_rng(1)
    series = rng.uniform(0.01, 0.4, (3, 4, 12, 10)).astype(np.float32)
    spec = FeatureSpec(("red", "green", "blue", "nir"), indices=("ndvi",), stats=("mean", "max"), per_date=True,
                       context=(3,), context_of=("ndvi",), extra_names=("ndsm",))
    stack, names = series_features(series, spec, extra=np.ones((12, 10)))
    assert stack.shape == (len(names), 12, 10) and len(set(names)) == len(names)
    assert names[:5] == ["t0_red", "t0_green", "t0_blue", "t0_nir", "t0_ndvi"] and names[-1] == "ndsm"
    assert "ndvi_mean" in names and "ndvi_mean3" in names and "ndvi_std3" in names
    i = names.index("nir_max")
    np.testing.assert_allclose(stack[i], series[:, 3].max(axis=0))
    single, single_names = series_features(series[0], spec, extra=np.ones((12, 10)))
    assert "ndvi_mean" not in single_names and single.shape[0] == len(single_names)
