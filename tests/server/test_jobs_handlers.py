"""``jobs``: a pipeline step run from the Lab in a process of its own, in a real Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time

import numpy as np
import pytest

from tests.server.conftest import api_json

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def dsm(jp_root_dir, small_city):
    (jp_root_dir / "data").mkdir()
    shutil.copy(small_city.truth("date1", "dsm"), jp_root_dir / "data" / "dsm.tif")
    return "data/dsm.tif"


async def _wait(jp_fetch, job_id, until=("done", "failed", "cancelled"), timeout=120.0):
    deadline = time.monotonic() + timeout
    while True:
        job = await api_json(jp_fetch, "jobs", job_id)
        if job["state"] in until:
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.2)


async def test_a_job_runs_a_step_and_gives_its_products(jp_fetch, jp_root_dir, dsm):
    job = await api_json(jp_fetch, "jobs", method="POST", expect=201,
                      body={"step": "terrain", "inputs": {"dsm": dsm}, "out": "runs/t1", "tile_size": 64,
                            "params": {"morphology": {"max_object_size_m": 30}}})
    assert job["state"] in ("queued", "running") and job["out"] == "runs/t1"
    assert job["params"]["morphology"]["max_object_size_m"] == 30 and job["params"]["engine"] == "morphology"
    done = await _wait(jp_fetch, job["id"])
    assert done["state"] == "done", (done["error"], done["hint"], done["log"])
    assert done["outputs"] == {"dtm": "runs/t1/terrain/dtm.tif", "ndsm": "runs/t1/terrain/ndsm.tif"}
    assert done["catalog"] == "runs/t1/stac/catalog.json"
    progress = {p["record"]: (p["done"], p["total"]) for p in done["progress"]}
    assert progress == {"terrain/dtm": (16, 16), "terrain/ndsm": (16, 16)}  # 200 px in 64 px tiles
    assert any("terrain: done" in line for line in done["log"])
    root = str(jp_root_dir.resolve())
    assert not any(root in line for line in done["log"])  # no server path reaches the browser
    import rasterio

    with rasterio.open(jp_root_dir / "runs" / "t1" / "terrain" / "ndsm.tif") as src:
        ndsm = src.read(1)
    assert np.nanmax(ndsm) > 3  # buildings stand above the ground
    listed = await api_json(jp_fetch, "jobs")
    assert [j["id"] for j in listed] == [job["id"]]


@pytest.mark.parametrize(("body", "status", "field", "says"), [
    ({"step": "nope", "inputs": {}}, 404, "step", "unknown step 'nope'"),
    ({"step": "terrain", "inputs": {}}, 400, "inputs.dsm", "input 'dsm' is missing"),
    ({"step": "terrain", "inputs": {"dsm": "../outside.tif"}}, 400, "inputs.dsm", "outside the server's root"),
    ({"step": "terrain", "inputs": {"dsm": "data/none.tif"}}, 404, "inputs.dsm", "'data/none.tif' does not exist"),
    ({"step": "terrain", "inputs": {"dsm": "data/dsm.tif", "ortho": "data/dsm.tif"}}, 400, "inputs.ortho",
     "has no input 'ortho'"),
    ({"step": "terrain", "inputs": {"dsm": "data/dsm.tif"}, "params": {"morphology": {"smooth_m": -1}}}, 400,
     "params.morphology.smooth_m", "greater than or equal to 0"),
    ({"step": "building_mask", "inputs": {"ndsm": "data/dsm.tif"}, "params": {"opening_px": "two"}}, 400,
     "params.opening_px", "valid integer"),
    ({"step": "terrain", "inputs": {"dsm": "data/dsm.tif"}, "out": "data/dsm.tif"}, 400, "out", "is a file"),
    ({"step": "terrain", "inputs": {"dsm": "data/dsm.tif"}, "out": "../elsewhere"}, 400, "out",
     "outside the server's root"),
    ({"step": "terrain", "inputs": {"dsm": "data/dsm.tif"}, "cluster": "server-1-abc"}, 404, "cluster",
     "no cluster 'server-1-abc'"),
])
async def test_bad_jobs_are_refused_naming_the_field(jp_fetch, jp_root_dir, dsm, body, status, field, says):
    err = await api_json(jp_fetch, "jobs", method="POST", body=body, expect=status)
    assert err["field"] == field and says in err["error"] and err["hint"], err
    assert field in err["fields"] and says.split("'")[0] in err["fields"][field]
    assert "\n" not in err["error"] and str(jp_root_dir.resolve()) not in json.dumps(err)
    assert await api_json(jp_fetch, "jobs") == []  # nothing started


async def test_an_output_folder_that_cannot_be_written(jp_fetch, jp_root_dir, dsm):
    # a folder under a file cannot be made, whoever runs the server (root included)
    err = await api_json(jp_fetch, "jobs", method="POST", expect=403,
                      body={"step": "terrain", "inputs": {"dsm": dsm}, "out": "data/dsm.tif/run"})
    assert err["field"] == "out" and err["error"] == "the output folder 'data/dsm.tif/run' is not writable"
    assert await api_json(jp_fetch, "jobs") == []


async def test_a_failing_step_says_why_on_one_line(jp_fetch, jp_root_dir, dsm):
    (jp_root_dir / "data" / "broken.tif").write_bytes(b"not a tiff")
    job = await api_json(jp_fetch, "jobs", method="POST", expect=201,
                      body={"step": "terrain", "inputs": {"dsm": "data/broken.tif"}, "out": "runs/bad"})
    done = await _wait(jp_fetch, job["id"])
    assert done["state"] == "failed" and done["error"] and "\n" not in done["error"]
    assert "Traceback" not in done["error"] and str(jp_root_dir.resolve()) not in done["error"]
    assert done["outputs"] == {}


def _big_dsm(root):
    from rasterio.transform import from_origin

    from ai4geo_lab.geo.raster import write_raster

    (root / "data").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    heights = (100 + rng.random((640, 640)) * 5).astype("float32")
    write_raster(root / "data" / "big.tif", heights, from_origin(500000, 4800000, 1, 1), "EPSG:32631", np.nan)
    return {"step": "terrain", "inputs": {"dsm": "data/big.tif"}, "out": "runs/big", "tile_size": 32,
            "params": {"morphology": {"max_object_size_m": 10, "smooth_m": 1}}}


async def _some_tiles_done(jp_fetch, job_id, n=3):
    deadline = time.monotonic() + 60
    while True:
        seen = await api_json(jp_fetch, "jobs", job_id)
        dtm = [p for p in seen["progress"] if p["record"] == "terrain/dtm"]
        if dtm and dtm[0]["done"] >= n:
            return
        assert seen["state"] in ("queued", "running") and time.monotonic() < deadline, seen
        await asyncio.sleep(0.1)


async def test_a_crashed_job_leaves_the_server_running(jp_fetch, jp_root_dir):
    import os
    import signal

    import psutil

    job = await api_json(jp_fetch, "jobs", method="POST", body=_big_dsm(jp_root_dir), expect=201)
    await _some_tiles_done(jp_fetch, job["id"])
    workers = [p for p in psutil.Process().children(recursive=True)
               if "ai4geo_lab.server.job_worker" in " ".join(p.cmdline())]
    assert len(workers) == 1
    os.kill(workers[0].pid, signal.SIGKILL)  # as the kernel's OOM killer would
    final = await _wait(jp_fetch, job["id"], timeout=30)
    assert final["state"] == "failed"
    assert final["error"] == "the job's process ended unexpectedly (signal 9)" and "resume" in final["hint"]
    assert (await api_json(jp_fetch, "steps"))  # the server still answers


async def test_cancel_stops_the_process_and_a_rerun_resumes(jp_fetch, jp_root_dir):
    import psutil

    body = _big_dsm(jp_root_dir)
    job = await api_json(jp_fetch, "jobs", method="POST", body=body, expect=201)
    await _some_tiles_done(jp_fetch, job["id"])
    stopped = await api_json(jp_fetch, "jobs", job["id"], method="DELETE")
    assert stopped["id"] == job["id"]
    final = await _wait(jp_fetch, job["id"], timeout=30)
    assert final["state"] == "cancelled" and not final["outputs"]
    assert not [p for p in psutil.Process().children(recursive=True)
                if "ai4geo_lab.server.job_worker" in " ".join(p.cmdline())]  # its process is gone
    tiles_then = next(p for p in final["progress"] if p["record"] == "terrain/dtm")
    assert 3 <= tiles_then["done"] < tiles_then["total"]  # stopped before the end
    again = await api_json(jp_fetch, "jobs", job["id"], method="DELETE", expect=409)
    assert again["field"] == "job" and "cancelled" in again["error"]

    rerun = await api_json(jp_fetch, "jobs", method="POST", body=body, expect=201)
    done = await _wait(jp_fetch, rerun["id"], timeout=300)
    assert done["state"] == "done", (done["error"], done["hint"], done["log"])
    assert done["outputs"]["ndsm"] == "runs/big/terrain/ndsm.tif"
    manifest = json.loads((jp_root_dir / "runs" / "big" / "run.json").read_text())
    assert len(manifest["steps"]["terrain/dtm"]["tiles"]) == tiles_then["total"]
    # the rerun resumed: only the tiles missing at the cancel were computed
    computed = next(line for line in done["log"] if "terrain: done" in line)
    # (dtm tiles missing at the cancel, plus every ndsm tile)
    assert int(computed.split("(")[1].split()[0]) <= 2 * tiles_then["total"] - tiles_then["done"], computed


async def test_unknown_job(jp_fetch):
    err = await api_json(jp_fetch, "jobs", "abc123", expect=404)
    assert err["field"] == "job" and "no job 'abc123'" in err["error"]


async def test_a_job_on_one_of_the_labs_clusters(jp_fetch, jp_root_dir, dsm):
    cluster = await api_json(jp_fetch, "clusters", method="POST", body={"spec": "local:1", "name": "jobs"}, expect=201)
    try:
        job = await api_json(jp_fetch, "jobs", method="POST", expect=201,
                          body={"step": "building_mask", "inputs": {"ndsm": dsm}, "out": "runs/mask",
                                "cluster": cluster["id"], "tile_size": 100})
        assert job["cluster"] == cluster["id"]
        done = await _wait(jp_fetch, job["id"])
        assert done["state"] == "done", (done["error"], done["log"])
        assert any("connecting to the cluster" in line for line in done["log"])
        assert done["progress"] == [{"record": "building_mask/mask", "done": 4, "total": 4}]
        assert done["outputs"] == {"mask": "runs/mask/building_mask/mask.tif"}
    finally:
        await api_json(jp_fetch, "clusters", cluster["id"], method="DELETE", expect=204)
