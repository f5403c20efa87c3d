"""Compare a run's products with reference data: the numbers of metrics.json and the demo report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from ai4geo_lab.change.classes import CHANGE_CLASSES
from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.geo.vector import read_vector
from ai4geo_lab.landcover.classes import LANDCOVER_CLASSES
from ai4geo_lab.quality.metrics import (
    binary_scores,
    classification_scores,
    dsm_accuracy_class,
    height_errors,
    height_rmse,
    match_polygons,
    object_scores,
)
from ai4geo_lab.quality.report import Figure, error_histogram, render_report, side_by_side


def _r(value: Any, nd: int = 4) -> Any:
    return round(float(value), nd) if isinstance(value, float | np.floating) else value


def _prefixed(prefix: str, values: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    return {f"{prefix}.{new}": _r(values[old]) for old, new in keys.items() if old in values}


def evaluate_run(city: Any, result: Any) -> tuple[dict[str, Any], list[Figure], dict[str, pd.DataFrame]]:
    """Metrics, figures and tables of the demo run ``result`` against the sample ``city``'s truth."""
    p = result.products
    metrics: dict[str, Any] = {}
    figures: list[Figure] = []
    tables: dict[str, pd.DataFrame] = {}

    # DSM and DTM, both dates
    for i, date in ((1, "date1"), (2, "date2")):
        dsm, _ = read_window(p[f"dsm_{i}.dsm"])
        ref, _ = read_window(city.truth(date, "dsm"))
        e = height_errors(dsm, ref)
        metrics.update(_prefixed(f"dsm_{date}", e, {"nmad": "nmad_m", "rmse": "rmse_m", "le90": "le90_m",
                                                     "bias": "bias_m", "valid_fraction": "valid_fraction"}))
        metrics[f"dsm_{date}.accuracy_class"] = dsm_accuracy_class(e["le90"])
        dtm, _ = read_window(p[f"terrain_{i}.dtm"])
        e = height_errors(dtm, read_window(city.truth(date, "dtm"))[0])
        metrics.update(_prefixed(f"dtm_{date}", e, {"nmad": "nmad_m", "rmse": "rmse_m", "le90": "le90_m"}))
        if i == 1:
            figures.append(Figure("DSM, date 1", "stereo DSM (left), truth (right), metres",
                                  side_by_side([dsm, ref], ["stereo DSM", "truth DSM"], cmap="terrain")))
            figures.append(Figure("DSM errors, date 1", "DSM − truth over valid pixels",
                                  error_histogram((dsm - ref)[np.isfinite(dsm)], "DSM error (m)")))

    # building mask, footprints, LOD1
    truth_lc, _ = read_window(city.truth("date1", "landcover"), dtype="uint8")
    mask, _ = read_window(p["mask_1.mask"], dtype="uint8")
    metrics.update(_prefixed("building_mask", binary_scores(mask > 0, truth_lc == 1),
                             {"iou": "iou", "f1": "f1", "precision": "precision", "recall": "recall"}))
    ref_b = read_vector(city.truth("date1", "buildings"))
    pred_f = read_vector(p["footprints_1.footprints"])
    metrics.update(_prefixed("footprints", object_scores(pred_f, ref_b),
                             {"precision": "object_precision", "recall": "object_recall", "f1": "object_f1",
                              "mean_iou": "mean_iou", "n_pred": "n_pred", "n_ref": "n_ref"}))
    lod1 = read_vector(p["lod1_1.buildings"])
    matches = match_polygons(lod1, ref_b)
    h = height_rmse(matches, lod1, ref_b, col="height")
    metrics.update(_prefixed("lod1", h, {"rmse": "height_rmse_m", "bias": "height_bias_m", "n": "n_matched"}))
    if len(matches):
        tables["LOD1 heights of matched buildings (first 15)"] = pd.DataFrame({
            "truth id": ref_b.loc[matches["ref"], "building_id"].to_numpy(),
            "roof": ref_b.loc[matches["ref"], "roof_type"].to_numpy(),
            "IoU": matches["iou"].round(3).to_numpy(),
            "height (m)": lod1.loc[matches["pred"], "height"].round(2).to_numpy(),
            "truth height (m)": ref_b.loc[matches["ref"], "height"].round(2).to_numpy(),
        }).head(15)
    figures.append(Figure("Footprints", "predicted footprints (red) over truth (grey)",
                          _footprints_figure(pred_f, ref_b)))

    # land cover
    lc, _ = read_window(p["landcover_1.landcover"], dtype="uint8")
    classes = sorted(LANDCOVER_CLASSES)
    s = classification_scores(lc, truth_lc, classes)
    metrics.update(_prefixed("landcover", s, {"overall_accuracy": "overall_accuracy", "kappa": "kappa",
                                              "mean_iou": "mean_iou"}))
    per_class = s.get("per_class", {})
    if per_class:
        tables["Land cover per class"] = pd.DataFrame(
            {LANDCOVER_CLASSES[c][0]: {k: _r(v, 3) for k, v in per_class[c].items()} for c in classes if c in per_class}
        ).T
    figures.append(Figure("Land cover", "rule-based classification (left), truth (right)",
                          side_by_side([lc, truth_lc], ["classification", "truth"], legend=LANDCOVER_CLASSES)))

    # change
    ch, _ = read_window(p["change_12.change"], dtype="uint8")
    ref_ch, _ = read_window(city.change_raster, dtype="uint8")
    metrics.update(_prefixed("change", binary_scores(ch > 0, ref_ch > 0),
                             {"f1": "f1", "iou": "iou", "precision": "precision", "recall": "recall"}))
    for code, (name, _) in CHANGE_CLASSES.items():
        if code and (ref_ch == code).any():
            metrics[f"change.f1_{name.replace(' ', '_')}"] = _r(binary_scores(ch == code, ref_ch == code)["f1"])
    figures.append(Figure("Change", "detected change (left), truth (right)",
                          side_by_side([ch, ref_ch], ["detected", "truth"], legend=CHANGE_CLASSES)))
    return metrics, figures, tables


def _footprints_figure(pred: Any, ref: Any) -> MplFigure:
    fig = MplFigure(figsize=(6, 6))
    ax = fig.add_subplot()
    ref.plot(ax=ax, color="0.8", edgecolor="0.5")
    if len(pred):
        pred.boundary.plot(ax=ax, color="red", linewidth=0.8)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return fig


def write_report(path: Path, city: Any, metrics: dict[str, Any], figures: list[Figure],
                 tables: dict[str, pd.DataFrame]) -> Path:
    """The demo's HTML report."""
    notes = [
        f"Sample city: seed {city.seed}, {city.size_m:g} m × {city.size_m:g} m at {city.gsd:g} m/px, "
        f"synthetic, with exact ground truth.",
        "DSM: plane-sweep NCC stereo on the rendered Pléiades-like pair. DTM: morphological opening. "
        "Buildings: threshold on nDSM and NDVI, regularised polygons, LOD1 at the 90th percentile of nDSM. "
        "Land cover: rules on NDVI, brightness and height. Change: DSM difference between the two dates.",
        "DSM accuracy class: see the table in ai4geo_lab.quality.metrics.",
    ]
    return render_report(Path(path), "ai4geo_lab demo: the sample city", metrics, figures, tables, notes)
