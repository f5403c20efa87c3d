"""The shipped run configuration of the Kahramanmaraş pre-event chain, as a user runs it: real Pléiades pair →
DSM and ortho (native engine) → DTM, nDSM → buildings → LOD1/LOD2 CityJSON → report, over the whole overlap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import rasterio

from ai4geo_lab.buildings.cityjson import validate_cityjson
from ai4geo_lab.errors import ConfigError
from ai4geo_lab.geo.ortho import ortho_agreement
from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.geo.sensor import read_sensor
from ai4geo_lab.pipeline import load_config
from tests.conftest import shared_data

CONFIG = Path(__file__).resolve().parents[2] / "ai4geo_lab" / "recipes" / "runs" / "kahramanmaras_pre.yaml"


@pytest.mark.slow
def test_shipped_configuration_runs_the_whole_chain(tmp_path):
    data = shared_data("pleiades", "kahramanmaras").parents[1]
    env = {**os.environ, "AI4GEO_DATA": str(data)}
    proc = subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", "run", str(CONFIG), "--out", str(tmp_path / "k"),
                           "--quiet"], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    times = [line.split() for line in proc.stdout.splitlines() if line.startswith("  ") and line.endswith(" s")]
    assert [t[0] for t in times] == ["dsm", "terrain", "mask", "footprints", "lod1", "lod2"]  # time per step
    out = tmp_path / "k"
    manifest = json.loads((out / "run.json").read_text())
    stats = manifest["steps"]["dsm"]["statistics"]["dsm"]
    assert stats["valid"] > 0.75 and stats["matched"] > 0.7  # the overlap holds nodata borders
    assert 600 < stats["height_p01_m"] < stats["height_p99_m"] < 800  # ellipsoidal heights of the city
    doc = json.loads((out / "lod2" / "buildings.city.json").read_text())
    assert validate_cityjson(doc) == [] and len(doc["CityObjects"]) > 50  # apartment blocks
    heights = [o["attributes"]["measuredHeight"] for o in doc["CityObjects"].values()]
    assert 6 < sorted(heights)[len(heights) // 2] < 30
    assert "report.html" in proc.stdout and (out / "report.html").stat().st_size > 10_000
    # the left image projected on the DSM meets the right one projected on it, and not on a flat surface
    with rasterio.open(out / "dsm" / "dsm.tif") as src:
        dsm, transform, crs = src.read(1), src.transform, src.crs.to_string()
    left, _ = read_window(out / "dsm" / "ortho.tif")
    right = read_sensor(data / "pleiades" / "kahramanmaras" / "pre_event_img2.tif")
    agree = ortho_agreement(left, right, transform, crs, dsm)
    assert agree["share"] > 0.7 and agree["ncc"] > 0.8 and agree["ncc"] > agree["ncc_flat"] + 0.1


def test_configuration_paths_name_environment_variables(monkeypatch, tmp_path):
    monkeypatch.delenv("AI4GEO_DATA", raising=False)
    with pytest.raises(ConfigError, match="environment variable that is not set"):
        load_config(CONFIG)
    monkeypatch.setenv("AI4GEO_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match="does not exist"):  # the images are not in this folder
        load_config(CONFIG).validate_steps()
    config = load_config(CONFIG)
    assert config.inputs["left"].path == tmp_path / "pleiades" / "kahramanmaras" / "pre_event_img1.tif"
    assert config.grid.overlap == ["left", "right"] and config.report
