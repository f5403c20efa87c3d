"""Accuracy classes that downstream users recognise, computed from measured errors.

- Vertical: ASPRS Positional Accuracy Standards for Digital Geospatial Data, Edition 2 (2023). A product of
  vertical accuracy class "X-cm" has RMSEv ≤ X cm, measured on non-vegetated ground (NVA); the standard no longer
  ties a class to a 95 % confidence level, so the class here comes from the RMSE itself, not from LE90. The
  listed X are the standard's usual classes; any measured RMSE is reported as well.
- LE90 / CE90: the 90th percentiles of absolute vertical and of horizontal (radial) errors.
- Buildings: the CityGML 2.0 level-of-detail accuracy recommendations (absolute 3D point accuracy, position and
  height): LOD1 5 m, LOD2 2 m, LOD3 0.5 m, LOD4 0.2 m. A model whose measured errors exceed the LOD's
  recommendation is reported as not meeting it.

When there is no reference, say so: :data:`NOT_ASSESSED` and how a product could be qualified.
"""

from __future__ import annotations

import math

import numpy as np

#: Usual ASPRS (2023) accuracy classes, in centimetres of RMSE.
ASPRS_CLASSES_CM: tuple[float, ...] = (1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 33.3, 66.7, 100.0, 333.3)

#: CityGML 2.0 recommended absolute accuracy per LOD (metres; position and height).
CITYGML_LOD_ACCURACY_M: dict[str, float] = {"LOD4": 0.2, "LOD3": 0.5, "LOD2": 2.0, "LOD1": 5.0}

NOT_ASSESSED = "not assessed: no reference data"
HOW_TO_QUALIFY = ("compare with a reference (a lidar DSM/DTM, surveyed checkpoints, or reference footprints and "
                  "heights) through ai4geo_lab.quality, or `ai4geo report RUN --reference PRODUCT=FILE`")


def _cm(value: float) -> str:
    return f"{value:g}-cm"


def asprs_class(rmse_m: float, classes_cm: tuple[float, ...] = ASPRS_CLASSES_CM) -> str:
    """The ASPRS (2023) accuracy class of an RMSE: the smallest listed X with RMSE ≤ X cm.

    Beyond the largest class the RMSE itself names it ("beyond 333.3-cm"); NaN gives :data:`NOT_ASSESSED`.
    """
    if rmse_m is None or not math.isfinite(rmse_m) or rmse_m < 0:
        return NOT_ASSESSED
    cm = rmse_m * 100
    for bound in classes_cm:
        if cm <= bound + 1e-9:
            return f"ASPRS 2023 {_cm(bound)}"
    return f"beyond ASPRS 2023 {_cm(classes_cm[-1])}"


def le90(errors: np.ndarray) -> float:
    """Linear error at 90 %: the 90th percentile of |e| (NaN ignored)."""
    e = np.abs(np.asarray(errors, dtype=np.float64))
    e = e[np.isfinite(e)]
    return float(np.percentile(e, 90)) if e.size else math.nan


def ce90(dx: np.ndarray, dy: np.ndarray) -> float:
    """Circular error at 90 %: the 90th percentile of the horizontal error length."""
    r = np.hypot(np.asarray(dx, dtype=np.float64), np.asarray(dy, dtype=np.float64))
    r = r[np.isfinite(r)]
    return float(np.percentile(r, 90)) if r.size else math.nan


def citygml_lod_class(height_rmse_m: float, horizontal_rmse_m: float, lod: str = "LOD1") -> str:
    """Whether building models meet the CityGML accuracy recommendation of ``lod``, and the best they meet.

    e.g. "meets LOD2 accuracy (≤ 2 m)" or "below LOD1 accuracy (> 5 m)".
    """
    values = [v for v in (height_rmse_m, horizontal_rmse_m) if v is not None]
    if not values or not all(math.isfinite(v) for v in values):
        return NOT_ASSESSED
    worst = max(values)
    for name, bound in sorted(CITYGML_LOD_ACCURACY_M.items(), key=lambda kv: kv[1]):
        if worst <= bound:
            return f"meets {name} accuracy (≤ {bound:g} m)"
    return f"below {lod} accuracy (> {CITYGML_LOD_ACCURACY_M['LOD1']:g} m)"
