"""``ai4geo report RUN_DIR``: what a run made, how good each product is, in one self-contained HTML page.

Products with a reference are assessed (:mod:`ai4geo_lab.quality.assess`) and their STAC items stamped with
the results and accuracy class; products without one are shown and marked "not assessed", with how they could
be. The same :class:`RunReport` displays itself in a notebook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pystac

from ai4geo_lab.change.classes import CHANGE_CLASSES
from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.geo.raster import open_raster, read_window
from ai4geo_lab.landcover.classes import LANDCOVER_CLASSES
from ai4geo_lab.quality.assess import (
    Assessment,
    assess_buildings,
    assess_change,
    assess_classes,
    assess_heights,
)
from ai4geo_lab.quality.classes import HOW_TO_QUALIFY, NOT_ASSESSED
from ai4geo_lab.quality.report import Figure, raster_figure, relief_figure, render_html, render_report

HEIGHT_OUTPUTS = {"dsm", "dtm"}

#: Steps whose output "mask" is a 0/1 building mask.
MASK_STEPS = ("building_mask", "segment")


@dataclass(frozen=True)
class Reference:
    """A reference for one product of a run (``step_id.output``), and the name its metrics get."""

    product: str
    path: Path
    label: str | None = None
    landcover: Path | None = None  # reference land cover, for errors by class and non-vegetated accuracy


@dataclass
class RunReport:
    """A run's report: metrics by product, assessments, figures; HTML for files and notebooks."""

    title: str
    metrics: dict[str, Any]
    assessments: list[Assessment]
    figures: list[Figure] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def html(self) -> str:
        """The report as one HTML document."""
        return render_html(self.title, self.metrics, self.figures, self.tables, self.notes)

    def _repr_html_(self) -> str:
        return self.html

    def save(self, path: str | Path) -> Path:
        """Write the report atomically."""
        return render_report(path, self.title, self.metrics, self.figures, self.tables, self.notes)


def _items(run_dir: Path) -> dict[str, Path]:
    stac = run_dir / "stac" / "catalog.json"
    if not stac.is_file():
        raise InputNotFoundError(f"{run_dir} holds no run catalogue (stac/catalog.json)",
                                 "give the output folder of `ai4geo run` or of the demo (DIR/products)")
    catalog = pystac.Catalog.from_file(str(stac))
    return {item.id: Path(item.self_href) for item in catalog.get_items(recursive=True)}


def stamp_item(item_path: Path, assessment: Assessment | None) -> None:
    """Record a product's quality (or that it was not assessed) in its STAC item."""
    doc = json.loads(item_path.read_text())
    props = doc["properties"]
    if assessment is None:
        props.setdefault("ai4geo:accuracy_class", NOT_ASSESSED)
        props.setdefault("ai4geo:how_to_qualify", HOW_TO_QUALIFY)
    else:
        props["ai4geo:accuracy_class"] = assessment.summary.get("accuracy_class", "see ai4geo:quality")
        props["ai4geo:quality"] = {**assessment.summary, "reference": assessment.reference}
        props.pop("ai4geo:how_to_qualify", None)
    from ai4geo_lab.geo.atomic import write_text_atomic

    write_text_atomic(item_path, json.dumps(doc, indent=1))


def assess(product_key: str, path: Path, step: str, ref: Reference) -> Assessment:
    """Choose the assessment that fits the product's kind (heights, classes, change, buildings)."""
    output = product_key.split(".", 1)[1]
    name = ref.label or product_key
    if output in HEIGHT_OUTPUTS:
        return assess_heights(path, ref.path, ref.landcover, name=name)
    if step == "landcover":
        return assess_classes(path, ref.path, LANDCOVER_CLASSES, name=name)
    if step == "change":
        return assess_change(path, ref.path, CHANGE_CLASSES)
    if step in ("lod1", "lod2", "footprints") and path.suffix == ".gpkg":
        return assess_buildings(path, ref.path, lod="LOD2" if step == "lod2" else "LOD1")
    if step in MASK_STEPS and output == "mask":
        from ai4geo_lab.metrics import segmentation_scores

        pred, _ = read_window(path, dtype="uint8")
        truth, _ = read_window(ref.path, dtype="uint8")
        mask_ref = truth == 1 if truth.max() > 1 else truth > 0  # a land-cover raster or a 0/1 mask
        s = segmentation_scores(pred > 0, mask_ref)
        return Assessment(str(path), str(ref.path), {k: round(float(s[k]), 4) for k in (
            "iou", "f1", "precision", "recall", "accuracy", "miou")})
    raise InvalidInputError(f"no assessment is known for {product_key} (step {step})",
                            "references apply to DSM/DTM, land cover, change, building masks and footprints")


def _quicklook(key: str, path: Path, step: str) -> Figure | None:
    if path.suffix != ".tif":
        return None
    data, _ = read_window(path, dtype="float32" if step in ("dsm", "terrain", "segment") else "uint8")
    if step == "landcover":
        return Figure(key, "land cover", raster_figure(data, key, legend=LANDCOVER_CLASSES))
    if step == "change":
        return Figure(key, "change", raster_figure(data, key, legend=CHANGE_CLASSES))
    if step in ("dsm", "terrain") and path.stem != "ndsm":
        with open_raster(path) as src:
            gsd = abs(src.transform.a)
        return Figure(key, f"{path.name}: height over shaded relief", relief_figure(data, gsd, key))
    return Figure(key, path.name, raster_figure(data, key, cmap="gray" if step in MASK_STEPS else "viridis"))


def build_run_report(run_dir: str | Path, references: list[Reference] | None = None,
                     title: str = "ai4geo_lab run report", quicklooks: bool = True) -> RunReport:
    """Assess the products of a run that have references, stamp their STAC items, and build the report."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / "run.json"
    if not manifest_path.is_file():
        raise InputNotFoundError(f"{run_dir} is not a run folder (no run.json)",
                                 "give the output folder of `ai4geo run` or of the demo (DIR/products)")
    manifest = json.loads(manifest_path.read_text())
    items = _items(run_dir)
    refs = {r.product: r for r in references or []}
    metrics: dict[str, Any] = {}
    assessments: list[Assessment] = []
    figures: list[Figure] = []
    tables: dict[str, pd.DataFrame] = {}
    rows = []
    steps = sorted(manifest["steps"].items(), key=lambda kv: kv[1].get("finished", ""))  # in run order
    for step_id, rec in steps:
        if "/" in step_id or rec.get("status") != "done":
            continue
        for output, path_str in rec.get("outputs", {}).items():
            key, path = f"{step_id}.{output}", Path(path_str)
            item = json.loads(items[key.replace(".", "-")].read_text()) if key.replace(".", "-") in items else {}
            step = item.get("properties", {}).get("ai4geo:step", "")
            a = assess(key, path, step, refs[key]) if key in refs else None
            if key.replace(".", "-") in items:
                stamp_item(items[key.replace(".", "-")], a)
            if a is not None:
                assessments.append(a)
                label = refs[key].label or key
                metrics.update({f"{label}.{k}": v for k, v in a.summary.items()
                                if k not in ("accuracy_standard",)})
                figures += a.figures
                tables.update(a.tables)
            elif quicklooks and (fig := _quicklook(key, path, step)) is not None:
                figures.append(fig)
            rows.append({"product": key, "step": step, "file": path.name,
                         "wall time (s)": rec.get("wall_time_s"),
                         "accuracy": a.summary.get("accuracy_class", "assessed") if a else NOT_ASSESSED})
    unknown = set(refs) - {r["product"] for r in rows}
    if unknown:
        raise InvalidInputError(f"the run has no product {', '.join(sorted(unknown))}",
                                f"products: {', '.join(r['product'] for r in rows)}")
    tables = {"Products": pd.DataFrame(rows), **tables}
    notes = [f"Run folder: {run_dir}.", f"Products without a reference are not assessed; {HOW_TO_QUALIFY}."]
    return RunReport(title, metrics, assessments, figures, tables, notes)


def parse_reference(text: str) -> Reference:
    """``PRODUCT=PATH`` (e.g. ``dsm.dsm=lidar.tif``) from the command line."""
    product, sep, path = text.partition("=")
    if not sep or "." not in product or not path:
        raise InvalidInputError(f"bad reference '{text}'", "write it PRODUCT=PATH, e.g. dsm.dsm=lidar_dsm.tif")
    p = Path(path)
    if not p.exists():
        raise InputNotFoundError(f"reference {p} does not exist", "check the path")
    return Reference(product, p)

