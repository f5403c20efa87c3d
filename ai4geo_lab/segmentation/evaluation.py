"""Scoring a model on labelled datasets: pixel and object scores per dataset and per region.

Pixels: IoU, precision, recall and F1 of the building class over the labelled pixels, pooled over a dataset's
chips (as :func:`~ai4geo_lab.segmentation.training.evaluate` pools them). Objects: the 4-connected building
regions of the predicted and of the reference mask of each chip (regions smaller than ``min_area_px`` left out on
both sides, as prediction drops them), polygonised on the pixel grid and matched one-to-one at IoU ≥ ``min_iou``
by :func:`~ai4geo_lab.metrics.object_scores`; counts are pooled over the chips. Touching buildings whose masks
merge are one object on both sides, and a building cut by a chip edge is one object per chip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.geo.masks import remove_small_components
from ai4geo_lab.metrics import object_scores, segmentation_scores
from ai4geo_lab.segmentation.chips import IGNORE, Chip, source_limits, to_bands
from ai4geo_lab.segmentation.infer import predict_proba, scale_inputs
from ai4geo_lab.segmentation.unet import UnetModel

PIXEL_KEYS = ("iou", "precision", "recall", "f1")
OBJECT_KEYS = ("precision", "recall", "f1", "mean_iou")


def fit_bands(chip: Chip, n_inputs: int) -> Chip:
    """A chip with as many bands as a model takes: as it is, one band repeated (panchromatic into an RGB model),
    its bands averaged (colour into a panchromatic model), or its first bands."""
    n = chip.image.shape[0]
    if n == n_inputs:
        return chip
    if n == 1:
        return chip.with_bands([0] * n_inputs)
    if n_inputs == 1:
        return replace(chip, image=to_bands(chip.image, 1))
    if n > n_inputs:
        return chip.with_bands(range(n_inputs))
    raise InvalidInputError(f"chip {chip.name} of {chip.source} has {n} bands, the model takes {n_inputs}",
                            "score the model on images of its modality")


def evaluation_limits(model: UnetModel, chips: Sequence[Chip]) -> dict[str, np.ndarray]:
    """Band limits per source: the model's own for the sources it was trained on, else each source's
    percentiles (as prediction scales a raster)."""
    own = source_limits(chips)
    n = len(model.spec.image_inputs)
    for src, lim in model.limits.items():
        if src in own and np.asarray(lim).shape == (n, 2):
            own[src] = np.asarray(lim, np.float32)
    return own


def mask_objects(mask: np.ndarray, min_area_px: int = 0) -> Any:
    """The 4-connected regions of a boolean mask of at least ``min_area_px`` pixels, as polygons in pixel
    coordinates (a GeoDataFrame without CRS)."""
    import geopandas as gpd
    from rasterio.features import shapes
    from shapely.geometry import shape

    keep = remove_small_components(np.asarray(mask, bool), min_area_px)
    polys = [shape(g) for g, _ in shapes(keep.astype(np.uint8), mask=keep, connectivity=4)]
    return gpd.GeoDataFrame(geometry=polys)


@dataclass
class Tally:
    """Pixel and object counts pooled over chips."""

    chips: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    n_pred: int = 0
    n_ref: int = 0
    n_matched: int = 0
    matched_iou: float = 0.0

    def add(self, other: Tally) -> None:
        for key in self.__dataclass_fields__:
            setattr(self, key, getattr(self, key) + getattr(other, key))

    def scores(self) -> dict[str, Any]:
        def ratio(a: float, b: float) -> float:
            return a / b if b else math.nan

        tp, fp, fn = self.tp, self.fp, self.fn
        pixels = {"iou": ratio(tp, tp + fp + fn), "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn),
                  "f1": ratio(2 * tp, 2 * tp + fp + fn), "tp": tp, "fp": fp, "fn": fn, "tn": self.tn}
        objects = {"precision": ratio(self.n_matched, self.n_pred), "recall": ratio(self.n_matched, self.n_ref),
                   "f1": ratio(2 * self.n_matched, self.n_pred + self.n_ref),
                   "mean_iou": ratio(self.matched_iou, self.n_matched),
                   "n_pred": self.n_pred, "n_ref": self.n_ref, "n_matched": self.n_matched}
        return {"chips": self.chips, "pixels": pixels, "objects": objects}


def score_chip(prob: np.ndarray, mask: np.ndarray, threshold: float = 0.5, min_area_px: int = 30,
               min_iou: float = 0.5) -> Tally:
    """Pixel and object counts of one chip's building probability against its mask (:data:`IGNORE` pixels out)."""
    labelled = mask != IGNORE
    pred = (prob >= threshold) & labelled
    ref = mask == 1
    s = segmentation_scores(pred[labelled], ref[labelled])
    o = object_scores(mask_objects(pred, min_area_px), mask_objects(ref, min_area_px), min_iou)
    matched_iou = o["mean_iou"] * o["n_matched"] if o["n_matched"] else 0.0
    return Tally(1, s["tp"], s["fp"], s["fn"], s["tn"], o["n_pred"], o["n_ref"], o["n_matched"], matched_iou)


def evaluate_datasets(model: UnetModel, datasets: Mapping[str, Sequence[Chip]], threshold: float = 0.5,
                      backend: str = "auto", views: int = 1, min_area_px: int = 30, min_iou: float = 0.5,
                      progress: Callable[[str, int, int], None] | None = None) -> list[dict[str, Any]]:
    """Scores of ``model`` on each named dataset: one row for the whole dataset (region "all") and one per
    region (the chips' ``source``) — a single row named by its region when it has one — each with ``chips``,
    ``pixels`` and ``objects`` scores (see the module).

    ``progress(dataset, done, total)`` is called after each chip.
    """
    rows: list[dict[str, Any]] = []
    n_in = len(model.spec.image_inputs)
    if len(model.spec.inputs) != n_in:
        raise InvalidInputError(f"the model takes an nDSM ({', '.join(model.spec.inputs)}); label datasets have "
                                "images only", "score an image-only model")
    was_training = model.module.training
    model.module.eval()
    try:
        for name, chips in datasets.items():
            fitted = [fit_bands(c, n_in) for c in chips]
            limits = evaluation_limits(model, fitted)
            total = Tally()
            regions: dict[str, Tally] = {}
            for i, chip in enumerate(fitted):
                x = scale_inputs(chip.image, limits[chip.source])[0]
                prob = predict_proba(model, x, gsd_m=chip.gsd_m, backend=backend, views=views)
                t = score_chip(prob, chip.mask, threshold, min_area_px, min_iou)
                total.add(t)
                regions.setdefault(chip.source, Tally()).add(t)
                if progress is not None:
                    progress(name, i + 1, len(fitted))
            if len(regions) == 1:  # one region: the dataset's row is the region's
                rows.append({"dataset": name, "region": next(iter(regions)), **total.scores()})
                continue
            rows.append({"dataset": name, "region": "all", **total.scores()})
            rows += [{"dataset": name, "region": r, **regions[r].scores()} for r in sorted(regions)]
    finally:
        model.module.train(was_training)
    return rows


def format_scores(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of :func:`evaluate_datasets` as a plain-text table."""
    wd = max([7, *(len(str(r["dataset"])) for r in rows)])
    wr = max([6, *(len(str(r["region"])) for r in rows)])
    head = (f"{'dataset':<{wd}}  {'region':<{wr}} {'chips':>5} | {'pixel IoU':>9} {'prec':>6} {'recall':>6} "
            f"{'F1':>6} | {'objects ref':>11} {'pred':>6} {'prec':>6} {'recall':>6} {'F1':>6} {'mIoU':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        p, o = r["pixels"], r["objects"]
        lines.append(f"{r['dataset']:<{wd}}  {r['region']:<{wr}} {r['chips']:>5} | {p['iou']:>9.3f} "
                     f"{p['precision']:>6.3f} {p['recall']:>6.3f} {p['f1']:>6.3f} | {o['n_ref']:>11} "
                     f"{o['n_pred']:>6} {o['precision']:>6.3f} {o['recall']:>6.3f} {o['f1']:>6.3f} "
                     f"{o['mean_iou']:>6.3f}")
    return "\n".join(lines)
