"""Qualify a product against a reference: the numbers, tables and accuracy classes of one product.

One implementation used by the demo, by ``ai4geo report`` and by the benchmarks. Each ``assess_*`` returns an
:class:`Assessment` whose ``summary`` goes into the product's STAC item and whose tables and figures go into
reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ai4geo_lab.geo.raster import open_raster, read_window
from ai4geo_lab.geo.vector import read_vector
from ai4geo_lab.landcover.classes import LANDCOVER_CLASSES
from ai4geo_lab.metrics import binary_scores, classification_scores, height_rmse, match_polygons
from ai4geo_lab.quality.classes import asprs_class, ce90, citygml_lod_class, le90
from ai4geo_lab.quality.coregistration import nuth_kaab
from ai4geo_lab.quality.polygons import polygon_table
from ai4geo_lab.quality.report import Figure, error_histogram, raster_figure, side_by_side
from ai4geo_lab.quality.tables import height_table

#: land-cover classes of open, non-vegetated ground, where ASPRS places the checkpoints of its non-vegetated
#: vertical accuracy (NVA): roads and bare soil (not roofs and walls, not vegetation, not water)
OPEN_GROUND = {2, 5}
#: classes of stable terrain for co-registration: bare ground and low vegetation (not buildings, trees, water)
STABLE_TERRAIN = {2, 4, 5}


@dataclass
class Assessment:
    """The quality of one product: a flat summary (for STAC and metrics.json), tables and figures."""

    product: str
    reference: str
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)


def _f(x: Any) -> Any:
    return round(float(x), 4) if isinstance(x, float | np.floating) and math.isfinite(x) else (
        None if isinstance(x, float | np.floating) else x)


def assess_heights(product: str | Path, reference: str | Path, landcover: str | Path | None = None,
                   name: str = "DSM") -> Assessment:
    """A height raster (DSM, DTM) against a reference on the same grid.

    Summary: bias, RMSE, NMAD, LE90, completeness; RMSE over open non-vegetated ground (NVA: roads and bare
    soil of the reference land cover) and its ASPRS 2023 class; the horizontal co-registration offset
    (Nuth & Kääb, buildings excluded); with land cover, NMAD, RMSE, LE90 and completeness on open ground, on roofs,
    in the band along walls and on roofs + ground. Tables: by surface, slope and land-cover class.
    """
    pred, _ = read_window(product)
    ref, _ = read_window(reference)
    with open_raster(product) as src:
        gsd = abs(src.transform.a)
    lc = read_window(landcover, dtype="uint8")[0] if landcover is not None else None
    table = height_table(pred, ref, gsd, lc, LANDCOVER_CLASSES)
    overall = table.iloc[0]
    nva_mask = np.isin(lc, list(OPEN_GROUND)) if lc is not None else np.ones(pred.shape, bool)
    e = (pred - ref)[nva_mask]
    e = e[np.isfinite(e)]
    rmse_nva = float(np.sqrt(np.mean(e * e))) if e.size else math.nan
    offset = nuth_kaab(pred, ref, gsd, stable=None if lc is None else np.isin(lc, list(STABLE_TERRAIN)))
    summary = {
        "bias_m": overall.bias_m, "rmse_m": overall.rmse_m, "nmad_m": overall.nmad_m, "le90_m": le90(pred - ref),
        "completeness": overall.completeness, "rmse_nva_m": rmse_nva,
        "accuracy_class": asprs_class(rmse_nva),
        "accuracy_standard": "ASPRS Positional Accuracy Standards, Edition 2 (2023): RMSEv over open "
                             "non-vegetated ground (NVA)" + ("" if lc is not None else "; no land cover: all pixels"),
        "shift_east_m": offset["dx_m"], "shift_north_m": offset["dy_m"], "shift_pixels_used": offset["n"],
    }
    zones = table.set_index("zone")
    for zone, key in (("ground", "ground"), ("roofs", "roofs"), ("walls", "walls"), ("roofs + ground", "roof_ground")):
        if f"surface: {zone}" in zones.index:
            row = zones.loc[f"surface: {zone}"]
            summary |= {f"nmad_{key}_m": row.nmad_m, f"rmse_{key}_m": row.rmse_m, f"le90_{key}_m": row.le90_m,
                        f"completeness_{key}": row.completeness}
    summary = {k: _f(v) for k, v in summary.items()}
    err = pred - ref
    bound = max(1.0, 3 * float(summary["nmad_m"] or 0.0))
    figures = [
        Figure(f"{name} and reference", "metres", side_by_side([pred, ref], [name, "reference"], cmap="terrain")),
        Figure(f"{name} error map", f"{name} − reference (m); grey: no value",
               raster_figure(err, f"{name} − reference", cmap="RdBu_r", vmin=-bound, vmax=bound)),
        Figure(f"{name} errors", f"{name} − reference over valid pixels",
               error_histogram((pred - ref)[np.isfinite(pred - ref)], f"{name} error (m)")),
    ]
    return Assessment(str(product), str(reference), summary, {f"{name} errors by zone": table}, figures)


def assess_classes(product: str | Path, reference: str | Path,
                   legend: dict[int, tuple[str, tuple[int, int, int]]], name: str = "classification") -> Assessment:
    """A class raster against a reference: overall accuracy, kappa, mean IoU, per-class scores."""
    pred, _ = read_window(product, dtype="uint8")
    ref, _ = read_window(reference, dtype="uint8")
    classes = sorted(legend)
    s = classification_scores(pred, ref, classes)
    per_class = pd.DataFrame({legend[c][0]: {k: _f(v) for k, v in s["per_class"][c].items()}
                              for c in classes if c in s["per_class"]}).T
    summary = {k: _f(s[k]) for k in ("overall_accuracy", "kappa", "mean_iou")}
    summary["accuracy_class"] = f"overall accuracy {100 * s['overall_accuracy']:.1f} %" if math.isfinite(
        s["overall_accuracy"]) else "not assessed"
    figures = [Figure(name, f"{name} (left), reference (right)",
                      side_by_side([pred, ref], [name, "reference"], legend=legend))]
    return Assessment(str(product), str(reference), summary, {f"{name} per class": per_class}, figures)


def assess_change(product: str | Path, reference: str | Path,
                  legend: dict[int, tuple[str, tuple[int, int, int]]]) -> Assessment:
    """A change raster against a reference: changed/unchanged scores and F1 per change type."""
    pred, _ = read_window(product, dtype="uint8")
    ref, _ = read_window(reference, dtype="uint8")
    b = binary_scores(pred > 0, ref > 0)
    summary = {k: _f(b[k]) for k in ("f1", "iou", "precision", "recall")}
    for code, (label, _) in legend.items():
        if code and (ref == code).any():
            summary[f"f1_{label.replace(' ', '_')}"] = _f(binary_scores(pred == code, ref == code)["f1"])
    figures = [Figure("Change", "detected (left), reference (right)",
                      side_by_side([pred, ref], ["detected", "reference"], legend=legend))]
    return Assessment(str(product), str(reference), summary, {}, figures)


def assess_buildings(product: str | Path, reference: str | Path, height_col: str = "height",
                     lod: str = "LOD1") -> Assessment:
    """Building footprints (with heights) against reference footprints.

    Object precision/recall/F1 at IoU ≥ 0.5, mean IoU, PoLiS, C-IoU, N-ratio, orientation error, CE90 of
    footprint centroids, height RMSE, the CityGML LOD accuracy class they meet and, when both have a
    ``roof_type`` column, the share of matched buildings whose roof type is right.
    """
    pred: gpd.GeoDataFrame = read_vector(product)
    ref: gpd.GeoDataFrame = read_vector(reference)
    matches = match_polygons(pred, ref)
    pairs = polygon_table(matches, pred, ref)
    n_m, n_p, n_r = len(matches), len(pred), len(ref)
    summary: dict[str, Any] = {
        "object_precision": n_m / n_p if n_p else math.nan, "object_recall": n_m / n_r if n_r else math.nan,
        "object_f1": 2 * n_m / (n_p + n_r) if n_p + n_r else math.nan, "n_pred": n_p, "n_ref": n_r, "n_matched": n_m,
    }
    for col in ("iou", "polis", "c_iou", "n_ratio", "orientation_error_deg", "max_tangent_error_deg"):
        summary[f"mean_{col}" if col != "polis" else "mean_polis_m"] = pairs[col].mean() if n_m else math.nan
    summary["ce90_m"] = ce90(pairs["centroid_dx"], pairs["centroid_dy"]) if n_m else math.nan
    horizontal_rmse = float(np.sqrt(np.mean(pairs["centroid_dx"] ** 2 + pairs["centroid_dy"] ** 2))) if n_m \
        else math.nan
    if height_col in pred.columns and height_col in ref.columns:
        h = height_rmse(matches, pred, ref, col=height_col)
        summary.update({"height_rmse_m": h["rmse"], "height_bias_m": h["bias"]})
        summary["accuracy_class"] = citygml_lod_class(h["rmse"], horizontal_rmse, lod)
        summary["accuracy_standard"] = "CityGML 2.0 LOD accuracy recommendations (height RMSE, centroid RMSE)"
    if "roof_type" in pred.columns and "roof_type" in ref.columns and n_m:
        p_type = pred.loc[matches["pred"], "roof_type"].to_numpy()
        r_type = ref.loc[matches["ref"], "roof_type"].to_numpy()
        summary["roof_type_accuracy"] = float(np.mean(p_type == r_type))
        pairs["roof_type"], pairs["roof_type_ref"] = p_type, r_type
    summary = {k: _f(v) for k, v in summary.items()}
    return Assessment(str(product), str(reference), summary, {f"matched footprints ({lod})": pairs.round(4)}, [])
