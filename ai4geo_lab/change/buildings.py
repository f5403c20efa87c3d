"""Per-building 3D change between two DSMs: demolished, new, raised or lowered, with volumes.

Pure functions on in-memory arrays of one grid. Buildings are given as id rasters (0 = none): those of the
first date (footprints) and, optionally, those of the second date (footprints, or objects found in the
second nDSM by :func:`objects_from_ndsm`; without either, the places that rose: :func:`rise_objects`).
Heights above ground come from nDSMs when given, else from the
DSM minus the ground around each building (a low percentile of a ring of pixels outside the footprint).

For each first-date building: ``dh`` = median of ``dsm_after − dsm_before`` over its (slightly eroded)
footprint; it is *demolished* when it drops by at least ``min_change`` and what remains is lower than
``object_height`` (or less than ``standing_fraction`` of the footprint still stands), *lowered* when it drops
but still stands (a partial collapse), *raised* when it rises by at least ``min_change``, else *unchanged*.
Second-date objects that overlap no first-date building by more than ``max_overlap`` and rose by at least
``min_change`` are *new*. Volumes: the sums of height above ground × pixel area at each date, and their
difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from ai4geo_lab.geo.masks import FOUR_CONNECTED, remove_small_components

CHANGE_LABELS = ("unchanged", "demolished", "new", "raised", "lowered")


@dataclass(frozen=True)
class BuildingChangeRules:
    """Thresholds of the per-building change (heights in metres)."""

    min_change: float = 3.0          # smallest median height change that counts
    object_height: float = 2.5       # what stands lower than this is gone
    standing_fraction: float = 0.2   # a drop leaving less than this share of the footprint standing: demolished
    max_overlap: float = 0.3         # second-date objects overlapping first-date buildings more: not new
    erode_px: int = 1                # footprint erosion before statistics (walls, co-registration)
    min_valid_fraction: float = 0.3  # fewer valid DSM pixels in a footprint: no decision
    ring_px: tuple[int, int] = (2, 6)  # ring outside a footprint whose low percentile is the ground
    ground_percentile: float = 10.0
    min_area_px: int = 10            # second-date objects smaller than this are ignored


def _eroded(mask: np.ndarray, n: int) -> np.ndarray:
    if n <= 0:
        return mask
    er = ndimage.binary_erosion(mask, iterations=n)
    return er if er.sum() >= max(4, 0.25 * mask.sum()) else mask


def fill_gaps(values: np.ndarray, iterations: int = 6) -> np.ndarray:
    """NaN pixels filled from the mean of their finite 3 × 3 neighbours, repeatedly (gaps up to 2·n px wide)."""
    out = np.asarray(values, np.float64).copy()
    for _ in range(iterations):
        gap = ~np.isfinite(out)
        if not gap.any():
            break
        ok = (~gap).astype(np.float64)
        s = ndimage.uniform_filter(np.where(gap, 0.0, out), 3, mode="nearest")
        n = ndimage.uniform_filter(ok, 3, mode="nearest")
        fill = gap & (n > 0)
        out[fill] = s[fill] / n[fill]
    return out


def split_at_steps(labels: np.ndarray, height: np.ndarray, step: float, min_marker_px: int = 4) -> np.ndarray:
    """Objects of an id raster split where the surface steps by ``step`` metres or more between neighbours.

    Touching buildings of different heights (a block beside a low house, a row of houses of unequal storeys)
    come out of an nDSM threshold as one component; each part of it that is smooth (3 × 3 height range below
    ``step``) seeds a watershed of the height range inside the component, so walls between parts become the
    boundaries. Components without a smooth seed keep their extent.
    """
    from skimage.segmentation import watershed

    obj = labels > 0
    if not obj.any() or step <= 0:
        return labels
    h = np.nan_to_num(np.asarray(height, np.float64), nan=0.0)
    rng = ndimage.maximum_filter(h, 3) - ndimage.minimum_filter(h, 3)
    seeds = ndimage.binary_erosion(obj & (rng < step))
    seeds = remove_small_components(seeds, min_marker_px)
    markers, n = ndimage.label(seeds, structure=FOUR_CONNECTED)
    out = watershed(rng, markers, mask=obj, connectivity=1)
    unseeded = obj & (out == 0)
    if unseeded.any():
        rest, _ = ndimage.label(unseeded, structure=FOUR_CONNECTED)
        out[unseeded] = rest[unseeded] + n
    return out.astype(np.int32)


def objects_from_ndsm(ndsm: np.ndarray, object_height: float = 2.5, ndvi: np.ndarray | None = None,
                      veg_ndvi: float = 0.3, min_area_px: int = 10, opening: int = 1,
                      fill_iterations: int = 6, split_step: float | None = 3.0) -> np.ndarray:
    """Id raster (int32, 0 = none) of the raised non-vegetated objects of an nDSM (4-connected components,
    split where the surface steps by ``split_step`` metres or more: :func:`split_at_steps`; ``None``: no split).

    Gaps of the nDSM (NaN: occlusions, failed matches) are filled from their neighbours first, so that a
    building with holes stays one object.
    """
    from skimage.segmentation import relabel_sequential

    filled = fill_gaps(ndsm, fill_iterations)
    mask = np.nan_to_num(filled, nan=0.0) >= object_height
    if ndvi is not None:
        mask &= ~(np.nan_to_num(ndvi, nan=0.0) >= veg_ndvi)
    if opening:
        mask = ndimage.binary_opening(mask, structure=np.ones((2 * opening + 1,) * 2, bool))
    mask = remove_small_components(mask, min_area_px)
    labels, _ = ndimage.label(mask, structure=FOUR_CONNECTED)
    if split_step:
        labels = split_at_steps(labels, filled, split_step)
        sizes = np.bincount(labels.ravel())
        labels[(sizes < min_area_px)[labels]] = 0
        labels = relabel_sequential(labels)[0]
    return labels.astype(np.int32)


def rise_objects(dsm_before: np.ndarray, dsm_after: np.ndarray, ids_before: np.ndarray, min_change: float = 3.0,
                 min_area_px: int = 10, opening: int = 1, margin_px: int = 2) -> np.ndarray:
    """Id raster of the places that rose by ``min_change`` or more outside the first-date buildings.

    The candidates for new buildings when the second date has neither footprints nor an nDSM.
    """
    with np.errstate(invalid="ignore"):
        up = np.nan_to_num(np.asarray(dsm_after, np.float64) - np.asarray(dsm_before, np.float64)) >= min_change
    known = np.asarray(ids_before) > 0
    if margin_px:
        known = ndimage.binary_dilation(known, iterations=margin_px)
    up &= ~known
    if opening:
        up = ndimage.binary_opening(up, structure=np.ones((2 * opening + 1,) * 2, bool))
    up = remove_small_components(up, min_area_px)
    labels, _ = ndimage.label(up, structure=FOUR_CONNECTED)
    return labels.astype(np.int32)


def _ground_heights(dsm: np.ndarray, ids: np.ndarray, objects: np.ndarray, inner: int, outer: int,
                    pct: float) -> dict[int, float]:
    """Ground elevation near each building: a low percentile of the DSM in a ring outside its footprint."""
    out: dict[int, float] = {}
    boxes = ndimage.find_objects(ids)
    h, w = ids.shape
    for i, sl in enumerate(boxes, start=1):
        if sl is None:
            continue
        r0, r1 = max(0, sl[0].start - outer), min(h, sl[0].stop + outer)
        c0, c1 = max(0, sl[1].start - outer), min(w, sl[1].stop + outer)
        fp = ids[r0:r1, c0:c1] == i
        ring = ndimage.binary_dilation(fp, iterations=outer) & ~ndimage.binary_dilation(fp, iterations=inner)
        ring &= ~objects[r0:r1, c0:c1]
        vals = dsm[r0:r1, c0:c1][ring]
        vals = vals[np.isfinite(vals)]
        if vals.size >= 5:
            out[i] = float(np.percentile(vals, pct))
    return out


def building_changes(dsm_before: np.ndarray, dsm_after: np.ndarray, ids_before: np.ndarray,
                     ids_after: np.ndarray | None = None, ndsm_before: np.ndarray | None = None,
                     ndsm_after: np.ndarray | None = None, pixel_area: float = 1.0,
                     rules: BuildingChangeRules | None = None) -> list[dict[str, Any]]:
    """One record per building (first-date ids, then new second-date objects) with its change and volumes.

    Records: ``date`` (1: a first-date id, 2: a second-date id), ``id``, ``change`` (one of
    :data:`CHANGE_LABELS`, or ``undecided``), ``area_m2``, ``height_before``, ``height_after`` (median height
    above ground), ``dh`` (median DSM change), ``volume_before_m3``, ``volume_after_m3``,
    ``volume_change_m3``, ``valid_fraction``, ``standing_fraction`` (share of the footprint still above
    ``object_height`` at the second date).
    """
    p = rules or BuildingChangeRules()
    d1 = np.asarray(dsm_before, np.float64)
    d2 = np.asarray(dsm_after, np.float64)
    ids1 = np.asarray(ids_before, np.int64)
    if ids_after is None:
        ids_after = rise_objects(d1, d2, ids1, p.min_change, p.min_area_px)
    diff = d2 - d1
    any_obj = ids1 > 0
    if ids_after is not None:
        any_obj = any_obj | (np.asarray(ids_after) > 0)
    if ndsm_before is None or ndsm_after is None:
        g1 = _ground_heights(d1, ids1.astype(np.int32), any_obj, *p.ring_px, p.ground_percentile)
        ids2_tmp = np.asarray(ids_after, np.int32) if ids_after is not None else None
        g2_by_after = (_ground_heights(d2, ids2_tmp, any_obj, *p.ring_px, p.ground_percentile)
                       if ids2_tmp is not None else {})
    records: list[dict[str, Any]] = []

    def heights(mask: np.ndarray, which: int, ground: float | None) -> np.ndarray:
        nd = ndsm_before if which == 1 else ndsm_after
        if nd is not None:
            return np.asarray(nd, np.float64)[mask]
        d = d1 if which == 1 else d2
        return d[mask] - (ground if ground is not None else np.nan)

    def record(date: int, oid: int, fp: np.ndarray, ground: float | None) -> dict[str, Any]:
        core = _eroded(fp, p.erode_px)
        dv = diff[core]
        valid = np.isfinite(dv)
        vf = float(valid.mean()) if dv.size else 0.0
        hb, ha = heights(fp, 1, ground), heights(fp, 2, ground)
        hb_core, ha_core = heights(core, 1, ground), heights(core, 2, ground)
        with np.errstate(all="ignore"):
            dh = float(np.median(dv[valid])) if valid.any() else np.nan
            h_before = float(np.nanmedian(hb_core)) if np.isfinite(hb_core).any() else np.nan
            h_after = float(np.nanmedian(ha_core)) if np.isfinite(ha_core).any() else np.nan
            standing = float(np.mean(np.nan_to_num(ha_core, nan=0.0) >= p.object_height)) if ha_core.size else 0.0
        vol_b = float(np.nansum(np.clip(hb, 0, None)) * pixel_area)
        vol_a = float(np.nansum(np.clip(ha, 0, None)) * pixel_area)
        return {"date": date, "id": int(oid), "area_m2": float(fp.sum() * pixel_area), "height_before": h_before,
                "height_after": h_after, "dh": dh, "volume_before_m3": vol_b, "volume_after_m3": vol_a,
                "volume_change_m3": vol_a - vol_b, "valid_fraction": vf, "standing_fraction": standing}

    boxes1 = ndimage.find_objects(ids1.astype(np.int32))
    for oid, sl in enumerate(boxes1, start=1):
        if sl is None:
            continue
        fp = np.zeros(ids1.shape, bool)
        fp[sl] = ids1[sl] == oid
        ground = None if ndsm_before is not None else g1.get(oid)
        rec = record(1, oid, fp, ground)
        if rec["valid_fraction"] < p.min_valid_fraction or not np.isfinite(rec["dh"]):
            rec["change"] = "undecided"
        elif rec["dh"] <= -p.min_change:
            gone = (np.isfinite(rec["height_after"]) and rec["height_after"] < p.object_height) or \
                rec["standing_fraction"] < p.standing_fraction
            rec["change"] = "demolished" if gone else "lowered"
        elif rec["dh"] >= p.min_change:
            rec["change"] = "raised"
        else:
            rec["change"] = "unchanged"
        records.append(rec)
    if ids_after is not None:
        ids2 = np.asarray(ids_after, np.int32)
        boxes2 = ndimage.find_objects(ids2)
        for oid, sl in enumerate(boxes2, start=1):
            if sl is None:
                continue
            fp = np.zeros(ids2.shape, bool)
            fp[sl] = ids2[sl] == oid
            n = int(fp.sum())
            if n < p.min_area_px:
                continue
            overlap = float((ids1[fp] > 0).mean())
            if overlap > p.max_overlap:
                continue  # the same building as a first-date one (its change is already recorded)
            ground = None if ndsm_after is not None else g2_by_after.get(oid)
            rec = record(2, oid, fp, ground)
            if rec["valid_fraction"] < p.min_valid_fraction or not np.isfinite(rec["dh"]):
                continue
            if rec["dh"] >= p.min_change and (not np.isfinite(rec["height_after"])
                                               or rec["height_after"] >= p.object_height):
                rec["change"] = "new"
                records.append(rec)
    return records
