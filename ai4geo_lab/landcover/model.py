"""Learned land cover: train a pixel classifier on feature stacks, predict, save, and score on spatial folds.

The estimators are scikit-learn's gradient boosting (``hgb``, the default: handles NaN features from clouds)
and random forest (``rf``), or a small convolutional network in torch (``cnn``, see
:mod:`ai4geo_lab.landcover.cnn`). A trained :class:`LandcoverModel` carries its legend, its feature names and
the recipe of its features, so that predicting on new images computes the same features in the same order.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.ndimage import binary_dilation

from ai4geo_lab.errors import ConfigError, InputNotFoundError, InvalidInputError, missing_dependency
from ai4geo_lab.landcover.features import MODEL_FORMAT, FeatureSpec
from ai4geo_lab.landcover.legend import DEFAULT_LEGEND, Legend, load_legend

if TYPE_CHECKING:
    from ai4geo_lab.landcover.cnn import CnnModel

KINDS = ("hgb", "rf", "cnn")
#: Threads of the estimators (OpenMP); one by default: on a shared machine, spinning OpenMP threads that
#: wait for busy cores slow training down by an order of magnitude.
THREADS = 1


def _threads(n: int | None = None) -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n or THREADS)


def _sklearn() -> Any:
    try:
        import sklearn
    except ImportError as exc:  # pragma: no cover - sklearn is a dependency
        raise missing_dependency("scikit-learn", "ml") from exc
    import sklearn.ensemble

    return sklearn.ensemble


def _estimator(kind: str, params: dict[str, Any], seed: int) -> Any:
    ens = _sklearn()
    if kind == "hgb":
        defaults = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31, "l2_regularization": 1.0,
                    "early_stopping": False, "random_state": seed}
        return ens.HistGradientBoostingClassifier(**(defaults | params))
    if kind == "rf":
        defaults = {"n_estimators": 200, "min_samples_leaf": 2, "n_jobs": 1, "random_state": seed}
        return ens.RandomForestClassifier(**(defaults | params))
    raise ConfigError(f"unknown model kind '{kind}'", f"choose one of {', '.join(KINDS)}")


@dataclass
class LandcoverModel:
    """A trained pixel classifier with everything needed to apply it again."""

    estimator: Any
    legend: Legend
    feature_names: list[str]
    kind: str = "hgb"
    spec: dict[str, Any] | None = None          # asdict(FeatureSpec) of how the features were made
    fill: list[float] | None = None             # per-feature value replacing NaN (rf only)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_spec(self) -> FeatureSpec | None:
        """The :class:`FeatureSpec` the model was trained with, if recorded."""
        if self.spec is None:
            return None
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in self.spec.items()}
        return FeatureSpec(**fields)

    def _matrix(self, X: np.ndarray) -> np.ndarray:
        if X.shape[1] != len(self.feature_names):
            raise InvalidInputError(f"{X.shape[1]} features given, the model was trained on "
                                    f"{len(self.feature_names)}", "compute the features with the model's spec")
        if self.fill is not None:
            X = np.where(np.isfinite(X), X, np.asarray(self.fill, np.float32)[None])
        return X

    def predict_samples(self, X: np.ndarray) -> np.ndarray:
        """Classes of N samples (N, F)."""
        if len(X) == 0:
            return np.zeros(0, np.uint8)
        with _threads():
            return np.asarray(self.estimator.predict(self._matrix(X))).astype(np.uint8)

    def predict_proba_samples(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C), columns in the order of ``self.classes``."""
        with _threads():
            return np.asarray(self.estimator.predict_proba(self._matrix(X)), np.float32)

    @property
    def classes(self) -> list[int]:
        """The codes the model can predict (those present when it was trained)."""
        return [int(c) for c in self.estimator.classes_]

    def predict(self, features: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """The class raster (H, W) of a feature stack (F, H, W); nodata where ``valid`` is False or no feature."""
        f, h, w = features.shape
        X = features.reshape(f, -1).T
        ok = np.isfinite(X).any(axis=1)
        if valid is not None:
            ok &= np.asarray(valid, bool).ravel()
        out = np.full(h * w, self.legend.nodata, np.uint8)
        out[ok] = self.predict_samples(X[ok])
        return out.reshape(h, w)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (C, H, W) of a feature stack (NaN where no feature is finite)."""
        f, h, w = features.shape
        X = features.reshape(f, -1).T
        ok = np.isfinite(X).any(axis=1)
        out = np.full((h * w, len(self.classes)), np.nan, np.float32)
        if ok.any():
            out[ok] = self.predict_proba_samples(X[ok])
        return out.T.reshape(-1, h, w)

    def save(self, path: str | Path) -> Path:
        """Write the model (``.joblib``) and a readable description beside it (``.json``)."""
        import joblib

        path = Path(path)
        if path.suffix != ".joblib":
            path = path.with_suffix(".joblib")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".joblib.part")
        joblib.dump({"format": MODEL_FORMAT, "estimator": self.estimator, "kind": self.kind,
                     "legend": self.legend.model_dump(mode="json"), "feature_names": self.feature_names,
                     "spec": self.spec, "fill": self.fill, "meta": self.meta}, tmp, compress=3)
        tmp.replace(path)
        path.with_suffix(".json").write_text(json.dumps(self.describe(), indent=1, default=str))
        return path

    def describe(self) -> dict[str, Any]:
        """What the model is, as JSON-serialisable data (the ``.json`` beside a saved model)."""
        return {"format": MODEL_FORMAT, "kind": self.kind, "legend": self.legend.model_dump(mode="json"),
                "classes": self.classes, "feature_names": self.feature_names, "spec": self.spec,
                "meta": self.meta}

    @classmethod
    def load(cls, path: str | Path) -> LandcoverModel | CnnModel:
        """Read a model written by :meth:`save` (only load files you trust: the format is a pickle)."""
        import joblib

        path = Path(path)
        if not path.is_file():
            raise InputNotFoundError(f"model file {path} does not exist", "train one with landcover.model.train")
        try:
            data = joblib.load(path)
        except Exception as exc:
            raise InvalidInputError(f"{path} is not a land-cover model file: {exc}",
                                    "give a .joblib written by LandcoverModel.save") from exc
        if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
            raise InvalidInputError(f"{path} is not a land-cover model file of format {MODEL_FORMAT}",
                                    "retrain the model with this version")
        if data["kind"] == "cnn":
            from ai4geo_lab.landcover.cnn import CnnModel

            return CnnModel.from_saved(data)
        return cls(data["estimator"], load_legend(data["legend"]), list(data["feature_names"]), data["kind"],
                   data["spec"], data["fill"], data["meta"])


def samples(features: np.ndarray, labels: np.ndarray, mask: np.ndarray | None = None,
            max_per_class: int | None = None, seed: int = 0,
            nodata: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training samples (N, F) and labels (N,) from a feature stack (F, H, W) and a label raster (H, W).

    Pixels with label ``nodata``, outside ``mask`` or without any finite feature are left out; each class is
    capped at ``max_per_class`` randomly drawn pixels.
    """
    f = features.shape[0]
    if features.shape[1:] != labels.shape:
        raise InvalidInputError(f"features {features.shape[1:]} and labels {labels.shape} differ in shape",
                                "give labels on the features' grid")
    X = features.reshape(f, -1).T
    y = np.asarray(labels).ravel()
    keep = (y != nodata) & np.isfinite(X).any(axis=1)
    if mask is not None:
        keep &= np.asarray(mask, bool).ravel()
    idx = np.flatnonzero(keep)
    if max_per_class:
        rng = np.random.default_rng(seed)
        parts = []
        for c in np.unique(y[idx]):
            ci = idx[y[idx] == c]
            parts.append(ci if len(ci) <= max_per_class else rng.choice(ci, max_per_class, replace=False))
        idx = np.sort(np.concatenate(parts)) if parts else idx
    return X[idx], y[idx].astype(np.uint8)


def train(X: np.ndarray, y: np.ndarray, feature_names: list[str], legend: Legend | str = DEFAULT_LEGEND,
          kind: str = "hgb", params: dict[str, Any] | None = None, spec: FeatureSpec | None = None,
          class_weight: str | dict[int, float] | None = None, seed: int = 0) -> LandcoverModel:
    """Fit a classifier on samples (N, F) with labels (N,) in ``legend``'s codes.

    ``class_weight="balanced"`` weighs classes by the inverse of their frequency (better rare classes,
    usually a lower overall accuracy). ``kind="cnn"`` is not trained from samples: use
    :func:`ai4geo_lab.landcover.cnn.train_cnn` on rasters.
    """
    legend = load_legend(legend)
    if kind == "cnn":
        raise ConfigError("a CNN is trained on rasters, not on samples", "use landcover.cnn.train_cnn")
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[1] != len(feature_names):
        raise InvalidInputError(f"samples {X.shape}, labels {y.shape} and {len(feature_names)} feature names "
                                "do not agree", "X is (N, F), y is (N,), one name per feature")
    unknown = sorted(set(np.unique(y).tolist()) - set(legend.codes))
    if unknown:
        raise InvalidInputError(f"labels {unknown} are not classes of the legend '{legend.name}'",
                                "remap the reference to the legend's codes or choose another legend")
    present = np.unique(y)
    if len(present) < 2:
        raise InvalidInputError(f"the training samples hold {len(present)} class(es); at least 2 are needed",
                                "give a reference with several classes")
    params = dict(params or {})
    fill = None
    Xf = X.astype(np.float32)
    if kind == "rf":
        with np.errstate(all="ignore"):
            med = np.nanmedian(np.where(np.isfinite(Xf), Xf, np.nan), axis=0)
        fill = np.nan_to_num(med, nan=0.0).astype(float).tolist()
        Xf = np.where(np.isfinite(Xf), Xf, np.asarray(fill, np.float32)[None])
    est = _estimator(kind, params, seed)
    weights = None
    if class_weight is not None:
        counts = {int(c): int((y == c).sum()) for c in present}
        if class_weight == "balanced":
            cw = {c: len(y) / (len(present) * n) for c, n in counts.items()}
        elif isinstance(class_weight, dict):
            cw = {int(k): float(v) for k, v in class_weight.items()}
        else:
            raise ConfigError(f"class_weight must be 'balanced', a mapping or None, got {class_weight!r}")
        weights = np.asarray([cw.get(int(c), 1.0) for c in y], np.float64)
    t0 = time.perf_counter()
    with _threads():
        est.fit(Xf, y, sample_weight=weights)
    meta = {"n_samples": len(y), "class_counts": {int(c): int((y == c).sum()) for c in present},
            "train_seconds": round(time.perf_counter() - t0, 3), "params": params, "seed": seed,
            "class_weight": class_weight if not isinstance(class_weight, dict) else "custom"}
    try:
        import sklearn

        meta["sklearn"] = sklearn.__version__
    except ImportError:  # pragma: no cover
        pass
    return LandcoverModel(est, legend, list(feature_names), kind, asdict(spec) if spec else None, fill, meta)


def predict(model: LandcoverModel | CnnModel | str | Path, features: np.ndarray,
            valid: np.ndarray | None = None) -> np.ndarray:
    """The class raster of a feature stack (F, H, W) with a model or a saved model file."""
    if isinstance(model, str | Path):
        model = LandcoverModel.load(model)
    return model.predict(features, valid)


# --- spatially separated cross-validation --------------------------------------------------------------


def spatial_blocks(shape: tuple[int, int], block_px: int) -> np.ndarray:
    """Block index of each pixel for square blocks of ``block_px`` (row-major numbering)."""
    if block_px < 1:
        raise ConfigError(f"block_px must be ≥ 1, got {block_px}")
    h, w = shape
    rows = np.arange(h)[:, None] // block_px
    cols = np.arange(w)[None, :] // block_px
    return (rows * math.ceil(w / block_px) + cols).astype(np.int32)


def spatial_folds(blocks: np.ndarray, k: int, labels: np.ndarray | None = None, seed: int = 0,
                  nodata: int = 0) -> np.ndarray:
    """Assign whole blocks to ``k`` folds; returns the fold (0…k−1) of each pixel.

    With ``labels``, blocks are dealt out rarest class first, each to the fold that has least of it, so that
    every fold sees every class whose blocks allow it; ties are broken by ``seed``.
    """
    if k < 2:
        raise ConfigError(f"at least 2 folds are needed, got {k}")
    ids = np.unique(blocks)
    if len(ids) < k:
        raise ConfigError(f"{len(ids)} blocks cannot make {k} folds", "use smaller blocks or fewer folds")
    rng = np.random.default_rng(seed)
    fold_of: dict[int, int] = {}
    if labels is None:
        perm = rng.permutation(ids)
        fold_of = {int(b): i % k for i, b in enumerate(perm)}
    else:
        lab = np.asarray(labels).ravel()
        blk = blocks.ravel()
        classes = [c for c in np.unique(lab) if c != nodata]
        counts = np.zeros((len(ids), len(classes)), np.int64)
        pos = np.searchsorted(ids, blk)
        for j, c in enumerate(classes):
            counts[:, j] = np.bincount(pos[lab == c], minlength=len(ids))
        totals = counts.sum(axis=0)
        load = np.zeros((k, len(classes)), np.float64)
        sizes = np.zeros(k, np.int64)
        # rarest class first: its blocks spread over folds, then the rest by size
        rank = np.argsort(totals)
        key = [(next((r for r, j in enumerate(rank) if counts[b, j] > 0), len(classes)),
                -counts[b].sum(), rng.random()) for b in range(len(ids))]
        for b in sorted(range(len(ids)), key=lambda b: key[b]):
            rarest = rank[key[b][0]] if key[b][0] < len(classes) else None
            score = (load[:, rarest] if rarest is not None else np.zeros(k)) * 1e6 + sizes
            f = int(np.argmin(score + rng.random(k) * 1e-3))
            fold_of[int(ids[b])] = f
            load[f] += counts[b]
            sizes[f] += counts[b].sum()
    lut = np.zeros(int(ids.max()) + 1, np.int16)
    for b, f in fold_of.items():
        lut[b] = f
    return lut[blocks]


@dataclass
class CrossValidation:
    """The result of a spatial cross-validation: out-of-fold predictions and their scores."""

    prediction: np.ndarray              # (H, W) each pixel predicted by the model that did not see its fold
    folds: np.ndarray                   # (H, W) fold of each pixel
    scores: dict[str, Any]              # pooled over all folds (OA, kappa, per-class F1...)
    fold_scores: list[dict[str, Any]]   # per fold
    seconds: float
    classes: list[int]

    def summary(self, legend: Legend | None = None) -> dict[str, Any]:
        """OA, kappa, mean F1 and per-class F1 (by name with a legend), plus the OA range over folds."""
        names = legend.names if legend else {}
        per = {names.get(c, str(c)): round(float(v["f1"]), 4) if np.isfinite(v["f1"]) else None
               for c, v in self.scores["per_class"].items() if v["support"] > 0}
        oas = [f["overall_accuracy"] for f in self.fold_scores]
        f1s = [v for v in per.values() if v is not None]
        return {"overall_accuracy": round(self.scores["overall_accuracy"], 4),
                "kappa": round(self.scores["kappa"], 4), "macro_f1": round(float(np.mean(f1s)), 4) if f1s else None,
                "per_class_f1": per, "fold_oa_min": round(min(oas), 4), "fold_oa_max": round(max(oas), 4),
                "n": self.scores["n"], "seconds": round(self.seconds, 2)}


def cross_validate(features: np.ndarray, labels: np.ndarray, feature_names: list[str],
                   legend: Legend | str = DEFAULT_LEGEND, k: int = 5, block_px: int = 20, buffer_px: int = 2,
                   kind: str = "hgb", params: dict[str, Any] | None = None,
                   class_weight: str | dict[int, float] | None = None, max_per_class: int | None = None,
                   seed: int = 0, fit: Callable[..., LandcoverModel] | None = None,
                   progress: Callable[[str], None] | None = None) -> CrossValidation:
    """Train on k−1 folds of spatial blocks, predict the left-out fold, pool the predictions and score them.

    Training pixels closer than ``buffer_px`` to the test fold are dropped, so that neighbouring (and so
    correlated) pixels never sit on both sides. ``fit(X, y, names)`` replaces :func:`train` if given.
    ``kind="cnn"`` trains :func:`~ai4geo_lab.landcover.cnn.train_cnn` on the whole raster with the loss
    restricted to the training pixels (``params``: epochs, width, lr).
    """
    from ai4geo_lab.metrics import classification_scores

    legend = load_legend(legend)
    t0 = time.perf_counter()
    labels = np.asarray(labels)
    blocks = spatial_blocks(labels.shape, block_px)
    folds = spatial_folds(blocks, k, labels, seed, legend.nodata)
    pred = np.full(labels.shape, legend.nodata, np.uint8)
    codes = sorted(set(legend.codes) & set(np.unique(labels).tolist()))
    fold_scores = []
    for f in range(k):
        test = folds == f
        train_mask = ~test
        if buffer_px > 0:
            train_mask &= ~binary_dilation(test, iterations=buffer_px)
        if kind == "cnn":
            from ai4geo_lab.landcover.cnn import train_cnn

            net = train_cnn(features, labels, feature_names, legend, train_mask, class_weight=class_weight,
                            seed=seed, **(params or {}))
            p = net.predict(features)[test]
            pred[test] = p
            s = classification_scores(p, labels[test], codes)
            fold_scores.append(s)
            if progress:
                progress(f"fold {f + 1}/{k}: OA {s['overall_accuracy']:.3f} on {s['n']} px")
            continue
        X, y = samples(features, labels, train_mask, max_per_class, seed, legend.nodata)
        if len(np.unique(y)) < 2:
            raise InvalidInputError(f"fold {f}: fewer than 2 classes left to train on",
                                    "use smaller blocks or fewer folds")
        model = (fit(X, y, feature_names) if fit else
                 train(X, y, feature_names, legend, kind, params, class_weight=class_weight, seed=seed))
        sub = features[:, test]
        p = np.full(sub.shape[1], legend.nodata, np.uint8)
        ok = np.isfinite(sub).any(axis=0)
        p[ok] = model.predict_samples(sub[:, ok].T)
        pred[test] = p
        s = classification_scores(p, labels[test], codes)
        fold_scores.append(s)
        if progress:
            progress(f"fold {f + 1}/{k}: OA {s['overall_accuracy']:.3f} on {s['n']} px")
    scores = classification_scores(pred, labels, codes)
    return CrossValidation(pred, folds, scores, fold_scores, time.perf_counter() - t0, codes)
