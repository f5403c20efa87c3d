"""Real processes: a `dask scheduler` and two `dask worker`s on 127.0.0.1; a worker killed mid-run, a driver
interrupted mid-run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from ai4geo_lab.geo.raster import read_window

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow
N_TILES = 36  # 600 px at 100 px tiles


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from ai4geo_lab.sample import make_sample_city

    return make_sample_city(tmp_path_factory.mktemp("ft") / "city", seed=8, size_m=300.0, gsd=0.5)


@pytest.fixture()
def scheduler(tmp_path):
    """A scheduler and two nanny-less workers (so that killing a worker really loses it)."""
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(100):
            if sched_file.is_file() and json.loads(sched_file.read_text() or "{}").get("address"):
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        workers = [subprocess.Popen([BIN / "dask", "worker", address, "--nthreads", "1", "--no-nanny",
                                     "--no-dashboard", "--host", "127.0.0.1", "--memory-limit", "3GB"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        procs += workers
        from distributed import Client

        with Client(address, timeout="20s") as c:
            c.wait_for_workers(2, timeout=30)
        yield address, workers
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)


def write_config(city, out: Path, cluster: str) -> Path:
    lo, hi = city.terrain_range
    cfg = {"output": str(out), "tile_size": 100, "cluster": {"kind": "synchronous"},
           "grid": {"like": str(city.image("date1", "ortho"))},
           "inputs": {"fwd": str(city.image("date1", "pan_fwd")), "bwd": str(city.image("date1", "pan_bwd"))},
           "steps": [{"id": "dsm", "step": "dsm", "inputs": {"left": "fwd", "right": "bwd"},
                      "params": {"native": {"hmin": lo - 5, "hmax": hi + 70}}},
                     {"id": "terrain", "step": "terrain", "inputs": {"dsm": "dsm"}}]}
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _interruptible() -> None:
    """Ctrl-C as a terminal gives it: a process started while SIGINT is ignored (some libraries the suite loads
    ignore it in this process) would inherit the ignoring and never see the interrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_run(config: Path, cluster: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ai4geo_lab.cli", "run", str(config), "--cluster", cluster,
                             "--quiet", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_interruptible)


def tiles_done(out: Path) -> int:
    try:
        return len(json.loads((out / "run.json").read_text())["steps"].get("dsm/dsm", {}).get("tiles", {}))
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def wait_for_tiles(out: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.time()
    while tiles_done(out) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout
        time.sleep(0.05)


@pytest.fixture(scope="module")
def undisturbed(city, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    proc = subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", "run", str(write_config(city, out, "")),
                           "--cluster", "synchronous", "--quiet"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


def test_killed_worker_does_not_change_the_products(city, scheduler, undisturbed, tmp_path):
    address, workers = scheduler
    out = tmp_path / "run"
    proc = start_run(write_config(city, out, address), address)
    wait_for_tiles(out, 3, proc)
    workers[0].send_signal(signal.SIGKILL)  # a worker dies mid-run, with tiles in flight
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert tiles_done(out) == N_TILES
    for product in ("dsm/dsm.tif", "terrain/dtm.tif", "terrain/ndsm.tif"):
        a, b = (out / product).read_bytes(), (undisturbed / product).read_bytes()
        if a != b:  # same pixels at least, to say what differs
            np.testing.assert_array_equal(read_window(out / product)[0], read_window(undisturbed / product)[0])
        assert a == b, f"{product} differs from the undisturbed run"


def test_interrupted_driver_resumes_with_unfinished_tiles_only(city, scheduler, tmp_path):
    address, _ = scheduler
    out = tmp_path / "run"
    config = write_config(city, out, address)
    proc = start_run(config, address)
    wait_for_tiles(out, 2, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "Traceback" not in stderr, (proc.returncode, tiles_done(out), stderr[-2000:])
    assert "interrupted" in stderr
    done_before = tiles_done(out)
    assert 2 <= done_before < N_TILES
    # nothing half-written: a tile the workers (processes of their own) were writing when the driver stopped is
    # still a temporary file until its task ends, then it is renamed whole
    deadline = time.time() + 60
    while list(out.rglob("*.part")) and time.time() < deadline:
        time.sleep(0.2)
    assert not list(out.rglob("*.part"))
    again = subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", "run", str(config), "--cluster", address,
                            "--resume", "--quiet"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "[dsm] dsm: done" in again.stdout
    computed = int(again.stdout.split("[dsm] dsm: done")[1].split("(")[1].split(" tiles")[0])
    assert computed == N_TILES - done_before
    restarted = subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", "run", str(config), "--cluster", address,
                                "--restart", "--quiet"], capture_output=True, text=True, timeout=600)
    assert restarted.returncode == 0 and f"({N_TILES} tiles computed)" in restarted.stdout
