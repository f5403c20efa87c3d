"""A small fully-convolutional network for land cover (torch, CPU): the option beside the pixel classifiers.

It takes the same feature stacks as the gradient-boosting model (standardised, NaN → 0 plus a validity
channel), sees a few pixels of context through three 3 × 3 convolutions, and is trained on whole rasters with
the loss restricted to the training pixels (so a spatial fold's test pixels are never a target). Models are
saved in the same ``.joblib`` format as :class:`~ai4geo_lab.landcover.model.LandcoverModel`.
"""

from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ai4geo_lab.errors import InvalidInputError, missing_dependency
from ai4geo_lab.landcover.features import MODEL_FORMAT, FeatureSpec
from ai4geo_lab.landcover.legend import Legend, load_legend


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a dependency
        raise missing_dependency("torch", "ml") from exc
    return torch


def _net(n_in: int, n_out: int, width: int) -> Any:
    nn = _torch().nn
    return nn.Sequential(
        nn.Conv2d(n_in, width, 1), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1, padding_mode="replicate"), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1, padding_mode="replicate"), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, n_out, 1),
    )


def _prepare(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    ok = np.isfinite(features)
    z = np.where(ok, (features - mean[:, None, None]) / std[:, None, None], 0.0)
    return np.concatenate([z, ok.all(axis=0, keepdims=True)]).astype(np.float32)


@dataclass
class CnnModel:
    """A trained network with its legend, feature names and standardisation."""

    state: dict[str, Any]
    legend: Legend
    feature_names: list[str]
    classes: list[int]
    mean: list[float]
    std: list[float]
    width: int = 32
    spec: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    kind: str = "cnn"

    @property
    def feature_spec(self) -> FeatureSpec | None:
        """The :class:`FeatureSpec` the model was trained with, if recorded."""
        if self.spec is None:
            return None
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in self.spec.items()}
        return FeatureSpec(**fields)

    def _module(self) -> Any:
        net = _net(len(self.feature_names) + 1, len(self.classes), self.width)
        net.load_state_dict(self.state)
        net.eval()
        return net

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (C, H, W) of a feature stack (F, H, W)."""
        torch = _torch()
        if features.shape[0] != len(self.feature_names):
            raise InvalidInputError(f"{features.shape[0]} features given, the model was trained on "
                                    f"{len(self.feature_names)}", "compute the features with the model's spec")
        x = _prepare(features, np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32))
        with torch.no_grad():
            logits = self._module()(torch.from_numpy(x)[None])[0]
        return torch.softmax(logits, dim=0).numpy()

    def predict(self, features: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        """The class raster (H, W); nodata where no feature is finite or ``valid`` is False."""
        proba = self.predict_proba(features)
        out = np.asarray(self.classes, np.uint8)[np.argmax(proba, axis=0)]
        ok = np.isfinite(features).any(axis=0)
        if valid is not None:
            ok &= np.asarray(valid, bool)
        out[~ok] = self.legend.nodata
        return out

    def save(self, path: Any) -> Any:
        """Write the model as ``.joblib`` (with a ``.json`` description), like the pixel classifiers."""
        import json
        from pathlib import Path

        import joblib

        torch = _torch()
        path = Path(path).with_suffix(".joblib")
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save(self.state, buf)
        tmp = path.with_suffix(".joblib.part")
        joblib.dump({"format": MODEL_FORMAT, "kind": "cnn", "state": buf.getvalue(),
                     "legend": self.legend.model_dump(mode="json"), "feature_names": self.feature_names,
                     "classes": self.classes, "mean": self.mean, "std": self.std, "width": self.width,
                     "spec": self.spec, "meta": self.meta}, tmp)
        tmp.replace(path)
        path.with_suffix(".json").write_text(json.dumps(
            {"format": MODEL_FORMAT, "kind": "cnn", "legend": self.legend.model_dump(mode="json"),
             "classes": self.classes, "feature_names": self.feature_names, "spec": self.spec, "meta": self.meta},
            indent=1, default=str))
        return path

    @classmethod
    def from_saved(cls, data: dict[str, Any]) -> CnnModel:
        """The model from what :meth:`save` wrote (as read by ``LandcoverModel.load``)."""
        torch = _torch()
        state = torch.load(io.BytesIO(data["state"]), weights_only=True)
        return cls(state, load_legend(data["legend"]), list(data["feature_names"]), list(data["classes"]),
                   list(data["mean"]), list(data["std"]), int(data["width"]), data["spec"], data["meta"])


def train_cnn(features: np.ndarray, labels: np.ndarray, feature_names: list[str], legend: Legend | str,
              train_mask: np.ndarray | None = None, spec: FeatureSpec | None = None, epochs: int = 150,
              width: int = 32, lr: float = 0.01, class_weight: str | dict[int, float] | None = None, seed: int = 0,
              threads: int = 1) -> CnnModel:
    """Fit the network on a feature stack (F, H, W) and labels (H, W) (0 = nodata) where ``train_mask``."""
    torch = _torch()
    legend = load_legend(legend)
    lab = np.asarray(labels).astype(np.int64)
    use = lab != legend.nodata
    if train_mask is not None:
        use &= np.asarray(train_mask, bool)
    classes = sorted(int(c) for c in np.unique(lab[use]))
    if len(classes) < 2:
        raise InvalidInputError(f"the training pixels hold {len(classes)} class(es); at least 2 are needed")
    unknown = sorted(set(classes) - set(legend.codes))
    if unknown:
        raise InvalidInputError(f"labels {unknown} are not classes of the legend '{legend.name}'")
    with np.errstate(all="ignore"):
        flat = np.where(use[None], features, np.nan).reshape(features.shape[0], -1)
        mean = np.nan_to_num(np.nanmean(flat, axis=1)).astype(np.float32)
        std = np.nan_to_num(np.nanstd(flat, axis=1), nan=1.0).astype(np.float32)
    std[std < 1e-6] = 1.0
    x = torch.from_numpy(_prepare(features, mean, std))[None]
    index = {c: i for i, c in enumerate(classes)}
    target = np.full(lab.shape, -100, np.int64)
    for c, i in index.items():
        target[use & (lab == c)] = i
    y = torch.from_numpy(target)[None]
    weights = None
    if class_weight == "balanced":
        counts = np.array([(target == i).sum() for i in range(len(classes))], np.float64)
        weights = torch.tensor(counts.sum() / (len(classes) * counts), dtype=torch.float32)
    elif isinstance(class_weight, dict):  # a weight per class code, as train() takes it (1 for the others)
        weights = torch.tensor([float(class_weight.get(c, 1.0)) for c in classes], dtype=torch.float32)
    prev = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        net = _net(x.shape[1], len(classes), width)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weights, ignore_index=-100)
        t0 = time.perf_counter()
        net.train()
        for _ in range(epochs):
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(prev)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    meta = {"n_samples": int(use.sum()), "epochs": epochs, "lr": lr, "final_loss": float(loss.item()),
            "train_seconds": round(seconds, 3), "torch": torch.__version__}
    return CnnModel(state, legend, list(feature_names), classes, mean.tolist(), std.tolist(), width,
                    asdict(spec) if spec else None, meta)
