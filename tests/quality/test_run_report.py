"""`ai4geo report RUN_DIR`: products listed, referenced ones assessed and stamped, others marked not assessed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ai4geo_lab.pipeline import RunConfig, run
from ai4geo_lab.quality.run_report import build_run_report


@pytest.fixture(scope="module")
def run_dir(small_city, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    lo, hi = small_city.terrain_range
    cfg = RunConfig.model_validate({
        "output": str(out), "tile_size": 100, "cluster": {"kind": "synchronous"},
        "grid": {"like": str(small_city.image("date1", "ortho"))},
        "inputs": {"fwd": str(small_city.image("date1", "pan_fwd")), "bwd": str(small_city.image("date1", "pan_bwd")),
                   "ortho": str(small_city.image("date1", "ortho"))},
        "steps": [
            {"id": "dsm", "step": "dsm", "inputs": {"left": "fwd", "right": "bwd"},
             "params": {"native": {"hmin": lo - 5, "hmax": hi + 70}}},
            {"id": "terrain", "step": "terrain", "inputs": {"dsm": "dsm"}},
            {"id": "lc", "step": "landcover", "inputs": {"image": "ortho", "ndsm": "terrain.ndsm"}},
        ],
    })
    run(cfg, progress=False, log=lambda _: None)
    return out


def ai4geo(*args):
    return subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_report_with_references(run_dir, small_city, tmp_path):
    out = tmp_path / "r.html"
    proc = ai4geo("report", str(run_dir), "-r", f"dsm.dsm={small_city.truth('date1', 'dsm')}",
                  "-r", f"lc.landcover={small_city.truth('date1', 'landcover')}",
                  "--landcover", str(small_city.truth("date1", "landcover")), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "dsm.tif: " in proc.stdout and "ASPRS 2023" in proc.stdout
    html = out.read_text()
    assert "slope 0–5°" in html and "land cover: building" in html and "overall_accuracy" in html
    item = json.loads((run_dir / "stac" / "dsm-dsm" / "dsm-dsm.json").read_text())
    q = item["properties"]["ai4geo:quality"]
    assert item["properties"]["ai4geo:accuracy_class"] == q["accuracy_class"]
    assert 0 < q["nmad_m"] < 1.5
    # a shift is estimated only from enough sloped terrain (else it says so, not guesses); this city is rendered
    # exactly where its truth is, so an estimated shift is small
    if q["shift_pixels_used"] < 1000:
        assert q["shift_east_m"] is None and q["shift_north_m"] is None
    else:
        assert abs(q["shift_east_m"]) < 0.5 and abs(q["shift_north_m"]) < 0.5
    ndsm = json.loads((run_dir / "stac" / "terrain-ndsm" / "terrain-ndsm.json").read_text())
    assert ndsm["properties"]["ai4geo:accuracy_class"].startswith("not assessed")
    assert "ai4geo report" in ndsm["properties"]["ai4geo:how_to_qualify"]


def test_report_without_references_is_a_notebook_object(run_dir):
    report = build_run_report(run_dir)
    assert not report.assessments and not report.metrics
    html = report._repr_html_()
    # quicklooks: dsm, its ortho image, confidence and filled mask, dtm, ndsm, land cover
    assert "not assessed" in html and html.count("<img") == 7


@pytest.mark.parametrize("ref, message", [("nodot=x.tif", "PRODUCT=PATH"), ("dsm.dsm", "PRODUCT=PATH"),
                                          ("dsm.dsm=/no/such.tif", "does not exist")])
def test_bad_references(run_dir, ref, message):
    proc = ai4geo("report", str(run_dir), "-r", ref)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_product_and_not_a_run(run_dir, small_city, tmp_path):
    proc = ai4geo("report", str(run_dir), "-r", f"nope.dsm={small_city.truth('date1', 'dsm')}")
    assert proc.returncode == 2 and "no product nope.dsm" in proc.stderr
    proc = ai4geo("report", str(tmp_path))
    assert proc.returncode == 2 and "not a run folder" in proc.stderr
