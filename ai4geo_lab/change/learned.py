"""Learned 2D change: a pixel classifier on the features of an image pair, trained on a change reference.

The features of a pair are both dates' reflectances and spectral indices, their differences, and local means
and spread of the differences (a little spatial context against speckle). The classifier is the land-cover
one (:func:`ai4geo_lab.landcover.model.train`, gradient boosting by default) over the change legend of
:data:`ai4geo_lab.change.classes.CHANGE_CLASSES`, minus the classes an image from above cannot see (a raised
building keeps its roof). Output codes are those of ``CHANGE_CLASSES`` (0: no change).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ai4geo_lab.change.classes import CHANGE_CLASSES
from ai4geo_lab.errors import InvalidInputError

#: change classes visible in 2D (a raised building looks the same from above)
VISIBLE_2D = (1, 2, 4)
#: legend code of "no change" for the classifier (its legends reserve 0 for nodata)
NO_CHANGE = 255
#: window sizes (pixels) of the local statistics of the differences
CONTEXT = (5, 11)


def change_legend() -> Any:
    """The classifier's legend: the 2D-visible change classes and "no change" (code :data:`NO_CHANGE`)."""
    from ai4geo_lab.landcover.legend import Legend, LegendClass

    classes = [LegendClass(code=c, name=CHANGE_CLASSES[c][0], color=CHANGE_CLASSES[c][1]) for c in VISIBLE_2D]
    classes.append(LegendClass(code=NO_CHANGE, name=CHANGE_CLASSES[0][0], color=(200, 200, 200)))
    return Legend(name="change2d", classes=classes)


def change_features(before: np.ndarray, after: np.ndarray, band_names: Sequence[str],
                    context: Sequence[int] = CONTEXT) -> tuple[np.ndarray, list[str]]:
    """Features (F, H, W) and their names of a pair of reflectance images (B, H, W) of the same grid."""
    from ai4geo_lab.change.spectral import pair_features
    from ai4geo_lab.landcover.features import nan_uniform_filter, spectral_indices

    if before.shape != after.shape:
        raise InvalidInputError(f"the two dates differ in shape: {before.shape} and {after.shape}",
                                "give both images on the same grid")
    bands = [str(b) for b in band_names]
    ib, names_i = spectral_indices(before, bands)
    ia, _ = spectral_indices(after, bands)
    b = np.concatenate([before.astype(np.float32), ib])
    a = np.concatenate([after.astype(np.float32), ia])
    names = bands + names_i
    d = a - b
    parts = [pair_features(b, a)]
    out_names = [f"{n}@1" for n in names] + [f"{n}@2" for n in names] + [f"d_{n}" for n in names]
    for size in context:
        mean, std = nan_uniform_filter(d, size)
        parts += [mean, std]
        out_names += [f"d_{n}_mean{size}" for n in names] + [f"d_{n}_std{size}" for n in names]
    return np.concatenate(parts).astype(np.float32), out_names


def to_training_labels(truth: np.ndarray) -> np.ndarray:
    """A change reference (``CHANGE_CLASSES`` codes) as the classifier's labels: invisible classes and 0 →
    :data:`NO_CHANGE`."""
    t = np.asarray(truth)
    return np.where(np.isin(t, VISIBLE_2D), t, NO_CHANGE).astype(np.uint8)


def to_change_codes(predicted: np.ndarray) -> np.ndarray:
    """The classifier's output as ``CHANGE_CLASSES`` codes (no change and nodata → 0)."""
    p = np.asarray(predicted)
    return np.where(np.isin(p, VISIBLE_2D), p, 0).astype(np.uint8)


def train_change_model(pairs: Sequence[tuple[str | Path, str | Path, str | Path]], band_names: Sequence[str],
                       reflectance_scale: float = 10000.0, max_per_class: int = 20000, kind: str = "hgb",
                       out: str | Path | None = None, seed: int = 0) -> Any:
    """Train a 2D change classifier on (image before, image after, change reference) triples of rasters.

    Each triple must share one grid. Every class is capped at ``max_per_class`` pixels per triple, drawn at
    random. Returns the :class:`~ai4geo_lab.landcover.model.LandcoverModel` (saved to ``out`` if given); pass
    its file as ``model`` to the ``change_2d`` step.
    """
    from ai4geo_lab.geo.raster import read_window
    from ai4geo_lab.landcover.model import samples, train

    if not pairs:
        raise InvalidInputError("no training pairs given", "give (before, after, reference) raster triples")
    Xs, ys = [], []
    names: list[str] = []
    for i, (before, after, truth) in enumerate(pairs):
        b = read_window(before, band=None)[0] / reflectance_scale
        a = read_window(after, band=None)[0] / reflectance_scale
        ref = read_window(truth, dtype="uint8")[0]
        if ref.shape != b.shape[1:]:
            raise InvalidInputError(f"reference {truth} ({ref.shape}) is not on the grid of {before} "
                                    f"({b.shape[1:]})", "give the reference on the images' grid")
        feats, names = change_features(b, a, band_names)
        X, y = samples(feats, to_training_labels(ref), max_per_class=max_per_class, seed=seed + i)
        Xs.append(X)
        ys.append(y)
    model = train(np.concatenate(Xs), np.concatenate(ys), names, change_legend(), kind=kind, seed=seed)
    model.meta["band_names"] = list(band_names)
    model.meta["reflectance_scale"] = reflectance_scale
    if out is not None:
        model.save(out)
    return model


def predict_change(model: Any, before: np.ndarray, after: np.ndarray, band_names: Sequence[str]) -> np.ndarray:
    """Change codes (H, W, ``CHANGE_CLASSES``) of a pair of reflectance images with a trained model."""
    feats, names = change_features(before, after, band_names)
    if names != list(model.feature_names):
        raise InvalidInputError("the model was trained on other features "
                                f"({len(model.feature_names)} from bands {model.meta.get('band_names')})",
                                "give images with the bands the model was trained on, in the same order")
    return to_change_codes(model.predict(feats))
