"""Jobs kept across server restarts: each job's record in ``WORKSPACE/jobs``, taken back by a new runner on the
same workspace, in a real Jupyter server (pytest-jupyter) running real steps."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import time

import pytest

from ai4geo_lab.server.job_records import JobRecords, records_dir
from ai4geo_lab.server.jobs import INTERRUPTED_ERROR, JobRunner
from tests.server.conftest import api_json, server_config
from tests.server.test_jobs_handlers import _big_dsm, _some_tiles_done, _wait

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def workspace(tmp_path):
    return tmp_path / "workspace"


@pytest.fixture
def jp_server_config(workspace):
    return server_config(workspace=str(workspace))


@pytest.fixture
def dsm(jp_root_dir, small_city):
    (jp_root_dir / "data").mkdir()
    shutil.copy(small_city.truth("date1", "dsm"), jp_root_dir / "data" / "dsm.tif")
    return "data/dsm.tif"


def restart(jp_serverapp, workspace, root, keep=None):
    """What a restarted server does: a new runner reading the records of the same workspace."""
    records = JobRecords(records_dir(workspace)) if keep is None else JobRecords(records_dir(workspace), keep)
    runner = JobRunner(records=records, root=root)
    jp_serverapp.web_app.settings["ai4geo"]["jobs"] = runner
    return runner


async def _quick_job(jp_fetch, dsm, out="runs/t1"):
    job = await api_json(jp_fetch, "jobs", method="POST", expect=201,
                         body={"step": "terrain", "inputs": {"dsm": dsm}, "out": out, "tile_size": 100,
                               "params": {"morphology": {"max_object_size_m": 30}}})
    done = await _wait(jp_fetch, job["id"])
    assert done["state"] == "done", (done["error"], done["log"])
    return done


async def test_a_job_survives_a_new_server(jp_fetch, jp_serverapp, jp_root_dir, workspace, dsm):
    done = await _quick_job(jp_fetch, dsm)
    path = workspace / "jobs" / f"{done['id']}.json"
    record = json.loads(path.read_text())
    assert record["state"] == "done" and record["out"] == "runs/t1" and record["inputs"] == {"dsm": dsm}
    assert record["progress"] == {"terrain/dtm": {"done": 4, "total": 4}, "terrain/ndsm": {"done": 4, "total": 4}}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]  # no temporary file left

    restart(jp_serverapp, workspace, jp_root_dir)
    again = await api_json(jp_fetch, "jobs", done["id"])
    assert again == done  # state, times, params, progress, log, outputs and catalogue, as before
    listed = await api_json(jp_fetch, "jobs")
    assert [j["id"] for j in listed] == [done["id"]] and "log" not in listed[0]
    assert listed[0]["state"] == "done" and listed[0]["outputs"] == done["outputs"]


async def test_an_unfinished_job_comes_back_interrupted(jp_fetch, jp_serverapp, jp_root_dir, workspace, dsm):
    done = await _quick_job(jp_fetch, dsm)
    folder = workspace / "jobs"
    record = json.loads((folder / f"{done['id']}.json").read_text())
    # as the records of a server killed while one job ran and another waited
    running = {**record, "id": "abc123", "state": "running", "finished": None, "outputs": {},
               "progress": {"terrain/dtm": {"done": 2, "total": 4}}, "created": "2000-01-01T00:00:00+00:00"}
    queued = {**record, "id": "abc124", "state": "queued", "started": None, "finished": None, "outputs": {},
              "progress": {}, "created": "2999-01-01T00:00:00+00:00"}
    for rec in (running, queued):
        (folder / f"{rec['id']}.json").write_text(json.dumps(rec))

    restart(jp_serverapp, workspace, jp_root_dir)
    listed = await api_json(jp_fetch, "jobs")
    assert [j["id"] for j in listed] == ["abc124", done["id"], "abc123"]  # newest first
    for job_id in ("abc123", "abc124"):
        job = await api_json(jp_fetch, "jobs", job_id)
        assert job["state"] == "interrupted" and job["error"] == INTERRUPTED_ERROR
        assert "resume" in job["hint"] and "\n" not in job["hint"]
        assert json.loads((folder / f"{job_id}.json").read_text())["state"] == "interrupted"  # said on disk too
    job = await api_json(jp_fetch, "jobs", "abc123")
    assert job["progress"] == [{"record": "terrain/dtm", "done": 2, "total": 4}]
    err = await api_json(jp_fetch, "jobs", "abc123", method="DELETE", expect=409)  # nothing to cancel
    assert err["field"] == "job" and "interrupted" in err["error"]


async def test_a_stopping_server_leaves_its_running_job_interrupted(jp_fetch, jp_serverapp, jp_root_dir,
                                                                    workspace):
    job = await api_json(jp_fetch, "jobs", method="POST", body=_big_dsm(jp_root_dir), expect=201)
    await _some_tiles_done(jp_fetch, job["id"])
    await asyncio.sleep(1.5)  # a progress record is written at most every second
    seen = json.loads((workspace / "jobs" / f"{job['id']}.json").read_text())
    assert seen["state"] == "running" and seen["progress"]["terrain/dtm"]["done"] >= 1

    old = jp_serverapp.web_app.settings["ai4geo"]["jobs"]
    process = old.get(job["id"]).process
    assert process is not None and process.poll() is None
    old.close_all()  # what the server does when it stops
    stopped = json.loads((workspace / "jobs" / f"{job['id']}.json").read_text())
    assert stopped["state"] == "interrupted" and stopped["hint"]
    deadline = time.monotonic() + 10
    while process.poll() is None:
        assert time.monotonic() < deadline, "the job's process is still running"
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # the job's thread has seen its process end
    assert json.loads((workspace / "jobs" / f"{job['id']}.json").read_text())["state"] == "interrupted"

    restart(jp_serverapp, workspace, jp_root_dir)
    back = await api_json(jp_fetch, "jobs", job["id"])
    assert back["state"] == "interrupted" and back["inputs"] == {"dsm": "data/big.tif"}
    assert back["params"]["morphology"]["max_object_size_m"] == 10  # what Run again fills the form with


async def test_forget_removes_a_finished_job_and_refuses_a_running_one(jp_fetch, jp_serverapp, jp_root_dir,
                                                                       workspace, dsm):
    done = await _quick_job(jp_fetch, dsm)
    record = workspace / "jobs" / f"{done['id']}.json"
    assert record.is_file()
    assert await api_json(jp_fetch, "jobs", done["id"], method="DELETE", params={"forget": "true"},
                          expect=204) is None
    assert not record.exists()
    assert await api_json(jp_fetch, "jobs") == []
    err = await api_json(jp_fetch, "jobs", done["id"], expect=404)
    assert err["field"] == "job"
    assert (jp_root_dir / "runs" / "t1" / "terrain" / "ndsm.tif").is_file()  # its products stay

    big = await api_json(jp_fetch, "jobs", method="POST", body=_big_dsm(jp_root_dir), expect=201)
    err = await api_json(jp_fetch, "jobs", big["id"], method="DELETE", params={"forget": "true"}, expect=409)
    assert err["field"] == "job" and "cannot be forgotten" in err["error"] and "cancel" in err["hint"]
    await api_json(jp_fetch, "jobs", big["id"], method="DELETE")
    final = await _wait(jp_fetch, big["id"], timeout=30)
    assert final["state"] == "cancelled"
    assert json.loads((workspace / "jobs" / f"{big['id']}.json").read_text())["state"] == "cancelled"
    await api_json(jp_fetch, "jobs", big["id"], method="DELETE", params={"forget": "true"}, expect=204)
    restart(jp_serverapp, workspace, jp_root_dir)
    assert await api_json(jp_fetch, "jobs") == []  # forgotten for good


async def test_unreadable_records_are_skipped(jp_fetch, jp_serverapp, jp_root_dir, workspace, dsm, caplog):
    done = await _quick_job(jp_fetch, dsm)
    folder = workspace / "jobs"
    good = json.loads((folder / f"{done['id']}.json").read_text())
    (folder / "deadbe.json").write_text('{"id": "deadbe", "state": "do')  # cut short
    (folder / "cafe01.json").write_text(json.dumps({"id": "cafe01", "step": "terrain"}))  # not a whole record
    (folder / "cafe02.json").write_text(json.dumps({**good, "id": "cafe02", "state": "exploded"}))
    (folder / "cafe03.json").write_text(json.dumps({**good, "id": "cafe04"}))  # another job's name
    (folder / "not-a-job.json").write_text(json.dumps({**good, "id": "not-a-job"}))
    (folder / "cafe05.json").write_bytes(b"\xff\xfe\x00garbage")
    # paths leading out of the root folder are never served
    (folder / "cafe06.json").write_text(json.dumps({**good, "id": "cafe06", "inputs": {"dsm": "../../../etc/passwd"}}))
    (folder / "cafe07.json").write_text(json.dumps({**good, "id": "cafe07", "outputs": {"dtm": "/etc/passwd"}}))
    os.symlink("/etc", jp_root_dir / "link")
    (folder / "cafe08.json").write_text(json.dumps({**good, "id": "cafe08", "out": "link"}))

    with caplog.at_level(logging.INFO, logger="ai4geo_lab.server.jobs"):
        restart(jp_serverapp, workspace, jp_root_dir)
    assert [j["id"] for j in await api_json(jp_fetch, "jobs")] == [done["id"]]  # the server runs, the good one back
    said = caplog.text
    for name in ("deadbe.json", "cafe01.json", "cafe02.json", "cafe03.json", "not-a-job.json", "cafe05.json"):
        assert name in said, (name, said)
    for job_id in ("cafe06", "cafe07", "cafe08"):
        assert f"job {job_id} is not listed" in said and "outside the server's root" in said
        await api_json(jp_fetch, "jobs", job_id, expect=404)
    # a job submitted now is written beside them, as usual
    again = await _quick_job(jp_fetch, dsm, out="runs/t2")
    assert (folder / f"{again['id']}.json").is_file()


async def test_only_the_newest_records_are_kept(jp_fetch, jp_serverapp, jp_root_dir, workspace, dsm):
    done = await _quick_job(jp_fetch, dsm)
    folder = workspace / "jobs"
    good = json.loads((folder / f"{done['id']}.json").read_text())
    ids = [f"{i:06x}" for i in range(1, 6)]
    for age, job_id in enumerate(reversed(ids), start=1):  # 000001 written longest ago
        path = folder / f"{job_id}.json"
        path.write_text(json.dumps({**good, "id": job_id, "created": f"2020-01-0{6 - age}T00:00:00+00:00"}))
        os.utime(path, (time.time() - 100 * age, time.time() - 100 * age))

    restart(jp_serverapp, workspace, jp_root_dir, keep=3)
    kept = [j["id"] for j in await api_json(jp_fetch, "jobs")]
    assert kept == [done["id"], "000005", "000004"]
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(kept)
