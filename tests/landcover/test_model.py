"""Learned land cover: training, prediction, model files, spatial folds and cross-validation."""

from __future__ import annotations

import numpy as np
import pytest

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.landcover.features import FeatureSpec, series_features
from ai4geo_lab.landcover.legend import SAMPLE_CITY
from ai4geo_lab.landcover.model import (
    LandcoverModel,
    cross_validate,
    predict,
    samples,
    spatial_blocks,
    spatial_folds,
    train,
)

FAST = {"max_iter": 20}
SPECTRA = {4: (0.06, 0.10, 0.05, 0.40), 5: (0.24, 0.18, 0.12, 0.30), 6: (0.03, 0.05, 0.08, 0.02)}  # grass, soil, water


def scene(seed: int = 0, size: int = 48):
    """A 4-band, 2-date image of three classes in random rectangles, with noise; and its labels."""
    rng = np.random.default_rng(seed)
    labels = np.full((size, size), 4, np.uint8)
    for _ in range(10):
        r, c = rng.integers(0, size - 8, 2)
        labels[r:r + rng.integers(4, 12), c:c + rng.integers(4, 12)] = rng.choice([5, 6])
    img = np.zeros((2, 4, size, size), np.float32)
    for code, spec in SPECTRA.items():
        img[:, :, labels == code] = np.asarray(spec, np.float32)[None, :, None]
    img *= rng.uniform(0.85, 1.15, img.shape).astype(np.float32)
    return img, labels


def features(img):
    spec = FeatureSpec(("red", "green", "blue", "nir"), stats=("mean", "std"), per_date=False, context=(3,))
    return (*series_features(img, spec), spec)


def test_train_predict_and_model_file(tmp_path):
    img, labels = scene(0)
    stack, names, spec = features(img)
    X, y = samples(stack, labels)
    model = train(X, y, names, SAMPLE_CITY, params=FAST, spec=spec)
    assert model.classes == [4, 5, 6]
    img2, labels2 = scene(1)  # another scene: the model generalises
    stack2, _, _ = features(img2)
    pred = model.predict(stack2)
    assert (pred == labels2).mean() > 0.95
    proba = model.predict_proba(stack2)
    assert proba.shape == (3, 48, 48) and np.allclose(proba.sum(axis=0), 1, atol=1e-5)
    path = model.save(tmp_path / "lc")
    assert path.suffix == ".joblib" and path.with_suffix(".json").is_file()
    again = LandcoverModel.load(path)
    assert again.legend == SAMPLE_CITY and again.feature_names == names and again.feature_spec == spec
    assert (predict(path, stack2) == pred).all()
    stack2[:, :3, :3] = np.nan  # no feature: nodata
    assert (model.predict(stack2)[:3, :3] == 0).all()
    with pytest.raises(InvalidInputError, match="trained on"):
        model.predict(stack2[:-1])
    (tmp_path / "junk.joblib").write_text("not a model")
    with pytest.raises(InvalidInputError, match="not a land-cover model"):
        LandcoverModel.load(tmp_path / "junk.joblib")


def test_random_forest_and_balanced_weights_fill_nan():
    img, labels = scene(2)
    stack, names, _ = features(img)
    stack[0, :10] = np.nan  # a feature missing in places
    X, y = samples(stack, labels, max_per_class=300, seed=1)
    assert max(np.bincount(y)) <= 300
    model = train(X, y, names, SAMPLE_CITY, kind="rf", params={"n_estimators": 20}, class_weight="balanced")
    assert model.fill is not None and (model.predict(stack) == labels).mean() > 0.95


def test_training_rejects_labels_outside_the_legend_and_single_class():
    X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    with pytest.raises(InvalidInputError, match="not classes of the legend"):
        train(X, np.full(20, 42, np.uint8), ["a", "b", "c"], "lulc10")
    with pytest.raises(InvalidInputError, match="at least 2"):
        train(X, np.full(20, 2, np.uint8), ["a", "b", "c"], "lulc10")


def test_spatial_folds_keep_blocks_whole_and_share_rare_classes():
    blocks = spatial_blocks((40, 50), 10)
    assert blocks.max() == 4 * 5 - 1 and (blocks[:10, :10] == 0).all() and blocks[0, 10] == 1
    labels = np.ones((40, 50), np.uint8)
    labels[2:5, 2:5] = 7        # a rare class in block 0 ...
    labels[32:35, 42:45] = 7    # ... and in the last block
    folds = spatial_folds(blocks, 4, labels, seed=0)
    for b in np.unique(blocks):
        assert len(np.unique(folds[blocks == b])) == 1  # a block is never split
    assert folds[3, 3] != folds[33, 43]                  # the rare class's two blocks go to different folds
    assert sorted(np.unique(folds).tolist()) == [0, 1, 2, 3]


def test_cross_validation_scores_out_of_fold_predictions():
    img, labels = scene(3, size=60)
    stack, names, _ = features(img)
    seen = []

    def fit(X, y, n):
        seen.append(len(y))
        return train(X, y, n, SAMPLE_CITY, params=FAST)

    cv = cross_validate(stack, labels, names, SAMPLE_CITY, k=3, block_px=15, buffer_px=2, fit=fit)
    assert len(seen) == 3 and all(n < labels.size * 2 / 3 for n in seen)  # buffers shrink each training set
    assert cv.prediction.shape == labels.shape and (cv.prediction > 0).all()
    assert cv.scores["overall_accuracy"] > 0.95 and cv.scores["kappa"] > 0.85
    s = cv.summary(SAMPLE_CITY)
    assert set(s["per_class_f1"]) == {"grass", "bare soil", "water"} and s["fold_oa_min"] <= s["overall_accuracy"]


@pytest.mark.slow
def test_cnn_option_learns_saves_and_cross_validates(tmp_path):
    from ai4geo_lab.landcover.cnn import CnnModel, train_cnn

    img, labels = scene(4, size=40)
    stack, names, spec = features(img)
    train_mask = np.zeros(labels.shape, bool)
    train_mask[:, :20] = True
    net = train_cnn(stack, labels, names, SAMPLE_CITY, train_mask, spec=spec, epochs=40, width=8)
    pred = net.predict(stack)
    assert (pred[:, 20:] == labels[:, 20:]).mean() > 0.9  # the half it never trained on
    path = net.save(tmp_path / "cnn")
    again = LandcoverModel.load(path)
    assert isinstance(again, CnnModel) and (again.predict(stack) == pred).all() and again.feature_spec == spec
    cv = cross_validate(stack, labels, names, SAMPLE_CITY, k=2, block_px=20, kind="cnn",
                        params={"epochs": 25, "width": 8})
    assert cv.scores["overall_accuracy"] > 0.8
