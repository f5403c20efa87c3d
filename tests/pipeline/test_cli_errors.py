"""Bad input gives one clear line on stderr, exit code 2, no traceback, nothing half-written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from affine import Affine

from ai4geo_lab.geo.raster import write_raster


def ai4geo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("ai4geo: error: "), proc.stderr
    for frag in fragments:
        assert frag in lines[0], lines[0]


def config(tmp_path: Path, city, **changes) -> Path:
    cfg = {
        "output": str(tmp_path / "out"),
        "grid": {"like": str(city.image("date1", "ortho"))},
        "cluster": {"kind": "synchronous"},
        "inputs": {"left": str(city.image("date1", "pan_fwd")), "right": str(city.image("date1", "pan_bwd"))},
        "steps": [{"id": "dsm", "step": "dsm", "inputs": {"left": "left", "right": "right"},
                   "params": {"native": {"hmin": 100, "hmax": 250}}}],
    }
    cfg.update(changes)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_missing_config(tmp_path):
    assert_user_error(ai4geo("run", str(tmp_path / "nope.yaml")), "does not exist")


def test_bad_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("output: out\nsteps: [\n  - id: a\n")
    assert_user_error(ai4geo("run", str(path)), "not valid YAML", "line")


def test_unknown_step(tmp_path, small_city):
    path = config(tmp_path, small_city, steps=[{"id": "a", "step": "teleport", "inputs": {}}])
    assert_user_error(ai4geo("run", str(path)), "unknown step 'teleport'", "terrain")


def test_invalid_parameter(tmp_path, small_city):
    steps = [{"id": "dsm", "step": "dsm", "inputs": {"left": "left", "right": "right"},
              "params": {"native": {"hmin": 100, "hmax": 250, "block": 4}}}]
    assert_user_error(ai4geo("run", str(config(tmp_path, small_city, steps=steps))), "block must be odd")


def test_unknown_parameter_and_bad_reference(tmp_path, small_city):
    steps = [{"id": "dsm", "step": "dsm", "inputs": {"left": "left", "right": "rihgt"},
              "params": {"native": {"hmin": 100, "hmax": 250}}}]
    assert_user_error(ai4geo("run", str(config(tmp_path, small_city, steps=steps))), "'rihgt'")
    steps[0]["inputs"]["right"] = "right"
    steps[0]["params"]["windw"] = 5
    assert_user_error(ai4geo("run", str(config(tmp_path, small_city, steps=steps))), "windw")


def test_missing_input_file(tmp_path, small_city):
    path = config(tmp_path, small_city, inputs={"left": str(tmp_path / "gone.tif"),
                                                "right": str(small_city.image("date1", "pan_bwd"))})
    assert_user_error(ai4geo("run", str(path)), "gone.tif", "does not exist")


def test_output_not_writable(tmp_path, small_city):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = config(tmp_path, small_city, output=str(blocker / "out"))
    assert_user_error(ai4geo("run", str(path)), "not writable")
    assert_user_error(ai4geo("demo", "--out", str(blocker / "demo")), "not writable")


def test_bad_sample_parameters(tmp_path):
    assert_user_error(ai4geo("sample", "make", "--out", str(tmp_path / "c"), "--gsd", "-1"), "gsd")
    assert not (tmp_path / "c").exists()


def test_failed_run_leaves_nothing_half_written(tmp_path, small_city):
    # an image without RPC: the step stops before any tile, and says why
    plain = write_raster(tmp_path / "plain.tif", np.ones((50, 50), np.uint16), Affine(1, 0, 0, 0, -1, 50),
                         "EPSG:32631")
    steps = [{"id": "dsm", "step": "dsm", "inputs": {"left": "left", "right": "right"},
              "params": {"native": {"hmin": 100, "hmax": 250}}}]
    path = config(tmp_path, small_city, inputs={"left": str(plain), "right": str(small_city.image("date1", "pan_bwd"))},
                  tile_size=100, steps=steps)
    proc = ai4geo("run", str(path))
    assert_user_error(proc, "plain.tif has no RPC model")
    out = tmp_path / "out"
    assert not list(out.rglob("*.part")) and not list(out.rglob("*.tif"))


@pytest.mark.parametrize("args", [["steps"], ["steps", "dsm"]])
def test_steps_listing(args):
    proc = ai4geo(*args)
    assert proc.returncode == 0
    assert "dsm" in proc.stdout or '"hmin"' in proc.stdout
