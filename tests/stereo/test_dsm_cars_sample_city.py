"""CARS on the sample city's rendered pairs: its search range, and the demo run with it against the truth."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ai4geo_lab.geo.sensor import read_sensor
from ai4geo_lab.stereo.cars_engine import cars_config
from ai4geo_lab.stereo.sensor_dsm import CARS_LOWER_MARGIN_M, CARS_UPPER_MARGIN_M, choose_pairs, search_margins

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _pair(city):
    return [city.image("date1", "pan_fwd"), city.image("date1", "pan_bwd")]


def test_search_margins_fit_small_tiles(small_city, tmp_path):
    sensors = [read_sensor(p) for p in _pair(small_city)]
    c = sensors[0].footprint().intersection(sensors[1].footprint()).centroid
    where = (c.x, c.y, float(sensors[0].rpc.height_off))
    pairs = choose_pairs(sensors, where)
    small, large = search_margins(sensors, pairs, where, 300.0), search_margins(sensors, pairs, where, 50_000.0)
    assert large == (CARS_LOWER_MARGIN_M, CARS_UPPER_MARGIN_M)  # never widened beyond CARS's own
    assert 0 < small[0] < large[0] and small[1] == pytest.approx(2 * small[0], abs=1)
    conf = cars_config(sensors, pairs, tmp_path, None, 32631, 1, 1000, False, small)
    bounds = conf["tie_points"]["applications"]["all"]["sparse_matching"]["disparity_bounds_estimation"]
    assert (bounds["lower_margin"], bounds["upper_margin"]) == (round(small[0]), round(small[1]))
    assert "tie_points" not in cars_config(sensors, pairs, tmp_path, None, 32631, 1, 1000, False)


def test_demo_with_cars_meets_the_targets(tmp_path):
    """`ai4geo demo --dsm-engine cars` on a 200 m city at 1 m: CARS DSMs and bulldozer DTMs through the chain,
    roofs + ground NMAD ≤ 1 m and completeness ≥ 90 % (CARS's default search, 1.5 km of heights, is wider than
    this city's images and used to leave its first DSM empty)."""
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", "demo", "--out", str(out), "--workers", "2",
                           "--size-m", "200", "--gsd", "1", "--seed", "3", "--dsm-engine", "cars", "--quiet"],
                          capture_output=True, text=True, timeout=1700)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[dsm_1] dsm: done" in proc.stdout and "[terrain_1] terrain: done" in proc.stdout
    summary = json.loads((out / "products" / "dsm_1" / "dsm.json").read_text())
    lower, upper = summary["parameters"]["height_margins_m"]
    assert lower < CARS_LOWER_MARGIN_M and upper < CARS_UPPER_MARGIN_M
    m = json.loads((out / "metrics.json").read_text())
    for date in ("date1", "date2"):
        assert m[f"dsm_{date}.nmad_roof_ground_m"] <= 1.0, m
        assert m[f"dsm_{date}.completeness_roof_ground"] >= 0.9, m
    assert m["dtm_date1.rmse_ground_m"] <= 1.5
    assert m["building_mask.iou"] > 0.7 and m["change.f1"] > 0.7
