"""Product metrics against references: heights, binary masks, classifications, building objects."""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ai4geo_lab.errors import ConfigError, InvalidInputError

NMAD_FACTOR = 1.4826

def _nan_stats() -> dict[str, float]:
    return {k: math.nan for k in ("bias", "rmse", "nmad", "le90", "mae")}


def height_errors(pred: np.ndarray, ref: np.ndarray, mask: np.ndarray | None = None) -> dict[str, Any]:
    """Statistics of ``pred − ref`` (metres) over ``mask`` where both are finite.

    The domain is ``mask`` (default: everywhere) where ``ref`` is finite; ``valid_fraction`` is the share of
    it where ``pred`` is finite too. Returns n, valid_fraction, bias (mean), rmse, nmad
    (1.4826·median(|e − median(e)|)), le90 (90th percentile of |e|) and mae; NaN when n is 0.
    """
    p = np.asarray(pred, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if p.shape != r.shape:
        raise InvalidInputError(f"prediction {p.shape} and reference {r.shape} differ in shape",
                                "compare rasters on the same grid")
    domain = np.isfinite(r)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != r.shape:
            raise InvalidInputError(f"mask {m.shape} and reference {r.shape} differ in shape")
        domain &= m
    valid = domain & np.isfinite(p)
    n_domain, n = int(domain.sum()), int(valid.sum())
    out: dict[str, Any] = {"n": n, "valid_fraction": n / n_domain if n_domain else math.nan}
    if n == 0:
        return out | _nan_stats()
    e = p[valid] - r[valid]
    a = np.abs(e)
    out.update(
        bias=float(e.mean()),
        rmse=float(np.sqrt(np.mean(e * e))),
        nmad=float(NMAD_FACTOR * np.median(np.abs(e - np.median(e)))),
        le90=float(np.percentile(a, 90)),
        mae=float(a.mean()),
    )
    return out


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def binary_scores(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> dict[str, Any]:
    """IoU, F1, precision and recall of a binary prediction (non-zero = positive), plus tp, fp, fn counts.

    ``valid`` optionally restricts the comparison. Undefined ratios (0/0) are NaN.
    """
    p = np.asarray(pred) > 0
    r = np.asarray(ref) > 0
    if p.shape != r.shape:
        raise InvalidInputError(f"prediction {p.shape} and reference {r.shape} differ in shape")
    if valid is not None:
        v = np.asarray(valid, dtype=bool)
        p, r = p & v, r & v
    tp = int(np.count_nonzero(p & r))
    fp = int(np.count_nonzero(p & ~r))
    fn = int(np.count_nonzero(~p & r))
    return {
        "iou": _ratio(tp, tp + fp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "tp": tp, "fp": fp, "fn": fn,
    }


def segmentation_scores(pred: np.ndarray, ref: np.ndarray, valid: np.ndarray | None = None) -> dict[str, Any]:
    """The segmentation table's columns for a binary mask: pixel accuracy, mIoU (mean of the building and
    background IoU), F1, precision, recall and IoU of the building class, plus tp/fp/fn/tn counts."""
    s = binary_scores(pred, ref, valid)
    n = int(np.asarray(valid, dtype=bool).sum()) if valid is not None else int(np.asarray(pred).size)
    tp, fp, fn = s["tp"], s["fp"], s["fn"]
    tn = n - tp - fp - fn
    background_iou = _ratio(tn, tn + fp + fn)
    return {"accuracy": _ratio(tp + tn, n), "miou": (s["iou"] + background_iou) / 2, **s, "tn": tn,
            "background_iou": background_iou}


def confusion_matrix(pred: np.ndarray, ref: np.ndarray, classes: list[int]) -> np.ndarray:
    """Counts ``[i, j]`` of pixels of reference class ``classes[i]`` predicted as ``classes[j]``.

    Pixels whose reference is 0 (nodata) or not in ``classes`` are ignored, and so are pixels whose
    prediction is not in ``classes`` (e.g. unclassified).
    """
    p = np.asarray(pred).ravel()
    r = np.asarray(ref).ravel()
    if p.shape != r.shape:
        raise InvalidInputError(f"prediction {np.shape(pred)} and reference {np.shape(ref)} differ in shape")
    cls = np.asarray(classes)
    k = len(cls)
    if k == 0 or len(np.unique(cls)) != k:
        raise ConfigError(f"classes must be distinct codes, at least one, got {list(classes)}")
    order = np.argsort(cls)
    sorted_cls = cls[order]

    def index(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.clip(np.searchsorted(sorted_cls, values), 0, k - 1)
        return order[pos], sorted_cls[pos] == values

    ri, r_ok = index(r)
    pi, p_ok = index(p)
    keep = r_ok & p_ok & (r != 0)
    return np.bincount(ri[keep] * k + pi[keep], minlength=k * k).reshape(k, k).astype(np.int64)


def classification_scores(pred: np.ndarray, ref: np.ndarray, classes: list[int]) -> dict[str, Any]:
    """Overall accuracy, Cohen's kappa, per-class precision/recall/F1/IoU/support and mean IoU.

    ``per_class`` maps each class code to its scores; ``mean_iou`` averages the classes present in the
    reference or the prediction; ``confusion_matrix`` is a nested list (rows: reference, columns: prediction).
    Reference 0 is nodata (see :func:`confusion_matrix`).
    """
    cm = confusion_matrix(pred, ref, classes).astype(np.float64)
    total = cm.sum()
    tp = np.diag(cm)
    ref_n, pred_n = cm.sum(axis=1), cm.sum(axis=0)
    po = tp.sum() / total if total else math.nan
    pe = float(np.sum(ref_n * pred_n)) / total**2 if total else math.nan
    kappa = (po - pe) / (1 - pe) if total and pe < 1 else math.nan
    per_class: dict[int, dict[str, float]] = {}
    ious = []
    for i, c in enumerate(classes):
        fp, fn = pred_n[i] - tp[i], ref_n[i] - tp[i]
        iou = _ratio(tp[i], tp[i] + fp + fn)
        per_class[int(c)] = {
            "precision": _ratio(tp[i], pred_n[i]),
            "recall": _ratio(tp[i], ref_n[i]),
            "f1": _ratio(2 * tp[i], 2 * tp[i] + fp + fn),
            "iou": iou,
            "support": int(ref_n[i]),
        }
        if ref_n[i] + pred_n[i] > 0:
            ious.append(iou)
    return {
        "overall_accuracy": float(po),
        "kappa": float(kappa),
        "mean_iou": float(np.mean(ious)) if ious else math.nan,
        "n": int(total),
        "per_class": per_class,
        "confusion_matrix": cm.astype(np.int64).tolist(),
    }


def match_polygons(pred: gpd.GeoDataFrame, ref: gpd.GeoDataFrame, min_iou: float = 0.5) -> pd.DataFrame:
    """One-to-one matches of predicted and reference polygons, greedy by decreasing IoU.

    Candidate pairs come from a spatial index; pairs with IoU below ``min_iou`` are not matched. Returns a
    DataFrame with columns ``pred`` and ``ref`` (index labels of the two frames) and ``iou``, sorted by
    decreasing IoU. ``ref`` is reprojected to ``pred``'s CRS when they differ.
    """
    empty = pd.DataFrame({"pred": pd.Series([], dtype=pred.index.dtype),
                          "ref": pd.Series([], dtype=ref.index.dtype), "iou": pd.Series([], dtype="f8")})
    if len(pred) == 0 or len(ref) == 0:
        return empty
    if pred.crs is not None and ref.crs is not None and pred.crs != ref.crs:
        ref = ref.to_crs(pred.crs)
    pg, rg = pred.geometry.to_numpy(), ref.geometry.to_numpy()
    ri, pi = pred.sindex.query(rg, predicate="intersects")
    if len(pi) == 0:
        return empty
    inter = shapely.area(shapely.intersection(pg[pi], rg[ri]))
    union = shapely.area(pg[pi]) + shapely.area(rg[ri]) - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    keep = iou >= min_iou
    pi, ri, iou = pi[keep], ri[keep], iou[keep]
    order = np.argsort(-iou, kind="stable")
    used_p: set[int] = set()
    used_r: set[int] = set()
    rows = []
    for k in order:  # greedy: the best remaining pair first
        if pi[k] not in used_p and ri[k] not in used_r:
            used_p.add(pi[k])
            used_r.add(ri[k])
            rows.append(k)
    rows_arr = np.asarray(rows, dtype=np.int64)
    return pd.DataFrame({"pred": pred.index.to_numpy()[pi[rows_arr]],
                         "ref": ref.index.to_numpy()[ri[rows_arr]], "iou": iou[rows_arr]})


def object_scores(pred: gpd.GeoDataFrame, ref: gpd.GeoDataFrame, min_iou: float = 0.5) -> dict[str, Any]:
    """Object precision, recall and F1 of polygons matched one-to-one at ``min_iou``, and their mean IoU."""
    m = match_polygons(pred, ref, min_iou)
    n_pred, n_ref, n_match = len(pred), len(ref), len(m)
    return {
        "precision": _ratio(n_match, n_pred),
        "recall": _ratio(n_match, n_ref),
        "f1": _ratio(2 * n_match, n_pred + n_ref),
        "mean_iou": float(m["iou"].mean()) if n_match else math.nan,
        "n_pred": n_pred,
        "n_ref": n_ref,
        "n_matched": n_match,
    }


def height_rmse(
    matches: pd.DataFrame, pred: pd.DataFrame, ref: pd.DataFrame, col: str = "height"
) -> dict[str, Any]:
    """RMSE, bias (mean of pred − ref) and MAE of column ``col`` over matched pairs where both are finite."""
    if len(matches) == 0:
        return {"rmse": math.nan, "bias": math.nan, "mae": math.nan, "n": 0}
    p = pred.loc[matches["pred"], col].to_numpy(dtype=np.float64)
    r = ref.loc[matches["ref"], col].to_numpy(dtype=np.float64)
    e = p - r
    e = e[np.isfinite(e)]
    if e.size == 0:
        return {"rmse": math.nan, "bias": math.nan, "mae": math.nan, "n": 0}
    return {"rmse": float(np.sqrt(np.mean(e * e))), "bias": float(e.mean()), "mae": float(np.abs(e).mean()),
            "n": int(e.size)}
