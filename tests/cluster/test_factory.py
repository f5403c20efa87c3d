import pytest

from ai4geo_lab.cluster import ClusterConfig, connect
from ai4geo_lab.errors import ConfigError


def test_local_cluster_runs_tasks_in_other_processes():
    import os

    with connect(ClusterConfig(n_workers=2)) as client:
        pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids
        assert client.submit(sum, [1, 2, 3]).result() == 6


def test_existing_scheduler_by_address(dask_client):
    address = dask_client.scheduler.address
    with connect(ClusterConfig(kind="address", address=address)) as client:
        assert client.scheduler.address == address
        assert client.submit(pow, 2, 10).result() == 1024


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ConfigError, match="no Dask scheduler answers"), \
            connect(ClusterConfig(kind="address", address="tcp://127.0.0.1:1")):
        pass


def test_synchronous_has_no_client():
    with connect(ClusterConfig(kind="synchronous")) as client:
        assert client is None
