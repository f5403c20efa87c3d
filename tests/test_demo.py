"""`ai4geo demo` as a user runs it: the sample city through the whole chain, measured against its truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pystac
import pytest

from ai4geo_lab.buildings.cityjson import validate_cityjson


@pytest.mark.slow
def test_demo_command_at_default_size(tmp_path):
    out = tmp_path / "demo"
    ws = tmp_path / "ws"
    proc = subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", "demo", "--out", str(out), "--workers", "2",
                           "--dsm-engine", "native"],
                          capture_output=True, text=True, timeout=1500, env={**os.environ, "AI4GEO_WORKSPACE": str(ws)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the sample city is in the local catalogue, where the Lab's search panel finds it
    from ai4geo_lab.catalog import local_catalogs

    assert local_catalogs(ws) == [(out / "sample" / "catalog" / "catalog.json").resolve()]
    assert "[dsm_1] dsm: done" in proc.stdout  # progress is shown step by step
    metrics = json.loads((out / "metrics.json").read_text())
    # every product has its number, and the simple methods do what they claim on this city
    assert metrics["dsm_date1.nmad_m"] < 0.5 and metrics["dsm_date1.completeness"] > 0.9
    assert metrics["dtm_date1.nmad_m"] < 0.5
    # by surface: roofs + ground within the targets, the wall band (edges smeared by matching windows) worse
    assert metrics["dsm_date1.nmad_roof_ground_m"] <= 1.0 and metrics["dsm_date1.completeness_roof_ground"] >= 0.9
    assert metrics["dsm_date1.rmse_walls_m"] > metrics["dsm_date1.rmse_roofs_m"]
    assert metrics["dtm_date1.rmse_ground_m"] < 0.5
    assert metrics["building_mask.iou"] > 0.85
    assert metrics["footprints.object_f1"] > 0.85
    assert metrics["lod1.height_rmse_m"] < 2 and metrics["lod1.n_matched"] > 50
    assert metrics["lod2.roof_type_accuracy"] > 0.8
    assert metrics["landcover.overall_accuracy"] > 0.85
    assert metrics["change.f1"] > 0.8
    times = metrics["wall_time_s"]
    assert {"sample_city", "chain", "step.dsm_1", "step.change_12", "total"} <= set(times)
    assert all(t > 0 for t in times.values())  # its speed is measured by benchmarks/bench_chain.py
    html = (out / "report.html").read_text()
    assert html.count("<img") >= 4 and f"{metrics['building_mask.iou']:.4g}"[:4] in html
    doc = json.loads((out / "products" / "lod1_1" / "buildings.city.json").read_text())
    assert validate_cityjson(doc) == [] and len(doc["CityObjects"]) == metrics["footprints.n_pred"]
    doc2 = json.loads((out / "products" / "lod2_1" / "buildings.city.json").read_text())
    assert validate_cityjson(doc2) == [] and {g["lod"] for o in doc2["CityObjects"].values()
                                               for g in o["geometry"]} == {"1.2", "2.2"}
    catalog = pystac.Catalog.from_file(str(out / "products" / "stac" / "catalog.json"))
    items = {i.id: i for i in catalog.get_items(recursive=True)}
    assert len(items) == 21 and "mask_1-probability" in items and "dsm_1-ortho" in items  # every product file
    # qualified products carry their accuracy class; the others say they were not assessed
    assert items["dsm_1-dsm"].properties["ai4geo:accuracy_class"].startswith("ASPRS 2023")
    assert items["dsm_1-dsm"].properties["ai4geo:quality"]["nmad_m"] == metrics["dsm_date1.nmad_m"]
    assert "LOD" in items["lod1_1-buildings"].properties["ai4geo:accuracy_class"]
    assert items["terrain_1-ndsm"].properties["ai4geo:accuracy_class"].startswith("not assessed")
    # the saved configuration reruns with `ai4geo run`, and everything is up to date
    again = subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", "run", str(out / "demo.yaml")],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.count("up to date, skipped") == 10
