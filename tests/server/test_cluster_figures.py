"""Live cluster figures in ``GET /ai4geo/clusters``: read from a real LocalCluster's scheduler (workers, threads,
memory, clients, the count after Scale), a scheduler that does not answer flagged quickly, readable names for
clusters kernels announce, and forgetting one of them."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tests.server.conftest import api_json, server_config

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def workspace(tmp_path):
    return tmp_path / "ws"


@pytest.fixture
def jp_server_config(workspace):
    return server_config(workspace=str(workspace))


@pytest.mark.slow
async def test_figures_of_a_real_local_cluster(jp_fetch):
    from distributed import Client

    started = await api_json(jp_fetch, "clusters", method="POST", body={"spec": "local:1"}, expect=201)
    try:
        assert started["title"].startswith("local at 127.0.0.1:")  # no label given: kind and address
        (c,) = await api_json(jp_fetch, "clusters")
        f = c["figures"]
        assert f["reachable"] and (f["workers"], f["threads"], f["clients"]) == (1, 1, 0)
        assert 0 < f["memory"] < f["memory_limit"] and f["cpu"] >= 0 and f["processing"] == 0

        async with Client(c["scheduler_address"], asynchronous=True):
            (c,) = await api_json(jp_fetch, "clusters")
            assert c["figures"]["clients"] == 1

        t0 = time.monotonic()
        scaled = await api_json(jp_fetch, "clusters", c["id"], method="PATCH", body={"workers": 2})
        assert scaled["target"] == 2 and time.monotonic() - t0 < 10  # the request returns before the workers come
        deadline = time.monotonic() + 60
        while (c := (await api_json(jp_fetch, "clusters"))[0])["figures"]["workers"] < 2:
            assert time.monotonic() < deadline, c
            await asyncio.sleep(0.5)
        assert c["workers"] == 2 and c["figures"]["threads"] == 2 and c["target"] == 2
    finally:
        await api_json(jp_fetch, "clusters", started["id"], method="DELETE", expect=204)
    assert await api_json(jp_fetch, "clusters") == []


async def test_a_silent_scheduler_is_flagged_quickly_and_kernel_clusters_have_names(jp_fetch, workspace):
    from ai4geo_lab.cluster.registry import announce

    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    port = silent.getsockname()[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = s.getsockname()[1]  # nobody listens there once closed

    class Silent:
        scheduler_address, dashboard_link = f"tcp://127.0.0.1:{port + 1}", f"http://127.0.0.1:{port}/status"

    class Gone:
        scheduler_address, dashboard_link = "tcp://127.0.0.1:1", f"http://127.0.0.1:{refused}/status"

    try:
        with announce(Silent(), "local", workspace, label="flood.ipynb"), announce(Gone(), "slurm", workspace):
            t0 = time.monotonic()
            listed = await api_json(jp_fetch, "clusters")
            assert time.monotonic() - t0 < 4  # both asked at once, each within 1.5 s
            by_title = {c["title"]: c for c in listed}
            assert set(by_title) == {"flood.ipynb", "slurm at 127.0.0.1:1"}
            assert by_title["flood.ipynb"]["figures"] == {
                "reachable": False, "error": "the scheduler did not answer within 1.5 s"}
            gone = by_title["slurm at 127.0.0.1:1"]["figures"]
            assert not gone["reachable"] and gone["error"].startswith("the scheduler does not answer")

            # the panel cannot stop a kernel's cluster; it can forget it
            err = await api_json(jp_fetch, "clusters", listed[0]["id"], method="DELETE", expect=400)
            assert "started by a kernel" in err["error"]
            await api_json(jp_fetch, "clusters", listed[0]["id"], method="DELETE", expect=204,
                           params={"forget": "true"})
            assert [c["id"] for c in await api_json(jp_fetch, "clusters")] == [listed[1]["id"]]
            err = await api_json(jp_fetch, "clusters", "kernel-1-x", method="DELETE", expect=404,
                              params={"forget": "true"})
            assert err["error"] == "no cluster 'kernel-1-x'"
    finally:
        silent.close()


def test_a_kernel_cluster_is_named_after_its_notebook(monkeypatch):
    from ai4geo_lab.cluster.registry import kernel_label

    monkeypatch.setenv("JPY_SESSION_NAME", "work/flood/map the flood.ipynb")
    assert kernel_label() == "map the flood.ipynb" and kernel_label("mine") == "mine"
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert kernel_label() is None


@pytest.mark.slow
async def test_figures_without_a_dashboard_come_from_the_scheduler_itself():
    from distributed import LocalCluster

    from ai4geo_lab.cluster.figures import scheduler_figures

    async with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address="127.0.0.1:0",
                            host="127.0.0.1", asynchronous=True) as cluster:
        f = await scheduler_figures(None, 1.5, cluster.scheduler_address)  # as with no dashboard link
        assert f["reachable"] and (f["workers"], f["threads"]) == (1, 2) and f["memory_limit"] > 0
        assert f["clients"] is None  # not known without the dashboard's counts
    t0 = time.monotonic()
    f = await scheduler_figures("/user/me/proxy/8787/status", 1.5, cluster.scheduler_address)
    assert not f["reachable"] and time.monotonic() - t0 < 3  # a closed scheduler: refused, or retried until 1.5 s
    assert f["error"] in ("the scheduler does not answer", "the scheduler did not answer within 1.5 s")
