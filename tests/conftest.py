"""Shared fixtures: a small sample city, a real Dask cluster, the real data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test when absent, except under CI where absence fails."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"real data {path} is missing (CI must have ../shared/data beside the project)")
        pytest.skip(f"real data {path} is not here (../shared/data beside the project)")
    return path


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory):
    """A 200 m sample city at 1 m/px, made once per test session."""
    from ai4geo_lab.sample import make_sample_city

    return make_sample_city(tmp_path_factory.mktemp("city") / "city", seed=3, size_m=200.0, gsd=1.0)


@pytest.fixture(scope="session")
def dask_client():
    """A real LocalCluster with two worker processes on 127.0.0.1."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        yield client
