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


def test_cluster_specs(tmp_path):
    from ai4geo_lab.cluster import parse_spec
    from ai4geo_lab.errors import InputNotFoundError, InvalidInputError

    assert parse_spec("local:3").n_workers == 3
    assert parse_spec("tcp://10.0.0.1:8786").address == "tcp://10.0.0.1:8786"
    assert parse_spec("synchronous").kind == "synchronous"
    f = tmp_path / "slurm.yaml"
    f.write_text("kind: slurm\njobs: 4\noptions: {queue: normal, cores: 32}\n")
    spec = parse_spec(str(f))
    assert (spec.kind, spec.jobs, spec.options["cores"]) == ("slurm", 4, 32)
    for bad in ("local:0", "teleport", {"kind": "local", "n_workers": 0}):
        with pytest.raises(ConfigError):
            parse_spec(bad)
    with pytest.raises(InputNotFoundError):
        parse_spec(str(tmp_path / "none.yaml"))
    f.write_text("kind: [slurm\n")
    with pytest.raises(InvalidInputError, match="line"):
        parse_spec(str(f))


def test_dask_config_chooses_the_cluster():
    import dask

    from ai4geo_lab.cluster import parse_spec

    with dask.config.set({"ai4geo.cluster": "local:5"}):
        assert parse_spec(None).n_workers == 5
    assert parse_spec(None).kind == "local"
