"""Cluster factory: where the chain's tasks run, as a ``distributed.Client``.

Kinds: ``local`` (a LocalCluster, the default), ``address`` (an existing scheduler), ``slurm`` and ``pbs``
(dask-jobqueue on an HPC batch system), ``gateway`` (dask-gateway), ``kubernetes`` (dask-kubernetes), and
``synchronous`` (no Dask, for debugging). A spec is a :class:`ClusterConfig`, a mapping, a YAML file, or a short
string: ``local``, ``local:4``, ``tcp://host:8786``, ``slurm``, ``synchronous``. Without one, Dask's own
configuration key ``ai4geo.cluster`` is read, then ``local``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ai4geo_lab.errors import ConfigError, missing_dependency
from ai4geo_lab.yamlfile import read_yaml

#: Worker environment. Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536, which also switches off glibc's adaptive
#: mmap threshold: every array over 128 KiB is then mmapped and unmapped, and the tile algorithms (many
#: tile-sized temporaries per step) ran 2.4× slower on a worker than in a plain process (0.9 s vs 2.25 s per
#: stereo tile, measured here). Larger thresholds keep such arrays in the heap.
WORKER_ENV = {"MALLOC_TRIM_THRESHOLD_": 256 * 2**20, "MALLOC_MMAP_THRESHOLD_": 32 * 2**20}

Kind = Literal["local", "address", "synchronous", "slurm", "pbs", "gateway", "kubernetes"]


class ClusterConfig(BaseModel):
    """Where the chain's tiles run.

    - ``local``: worker processes on this machine (``n_workers``, ``threads_per_worker``, ``memory_limit``);
    - ``address``: an existing Dask scheduler (``address: tcp://host:8786``);
    - ``slurm`` / ``pbs``: batch jobs through dask-jobqueue; ``options`` go to ``SLURMCluster``/``PBSCluster``
      (queue, cores, memory, walltime, account...), ``jobs`` is how many to start;
    - ``gateway``: a cluster from a dask-gateway server (``address``; ``options`` are the cluster options);
    - ``kubernetes``: a ``dask_kubernetes`` KubeCluster (``options``: name, image, n_workers...);
    - ``synchronous``: no Dask at all, tiles run one after the other in this process.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Kind = "local"
    n_workers: int | None = Field(default=None, ge=1, description="workers of a local cluster (default: cores)")
    threads_per_worker: int = Field(default=1, ge=1)
    memory_limit: str = "auto"
    address: str | None = None
    jobs: int = Field(default=1, ge=1, description="batch jobs (slurm, pbs) or workers (gateway) to start")
    options: dict[str, Any] = Field(default_factory=dict, description="passed to the cluster class")


def parse_spec(spec: ClusterConfig | dict | str | Path | None) -> ClusterConfig:
    """A :class:`ClusterConfig` from any accepted spec (see the module docstring)."""
    if isinstance(spec, ClusterConfig):
        return spec
    if spec is None:
        import dask

        spec = dask.config.get("ai4geo.cluster", default=None) or "local"
    if isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith((".yaml", ".yml"))):
        spec = read_yaml(spec, "cluster file")
    if isinstance(spec, str):
        text = spec.strip()
        if "://" in text:
            spec = {"kind": "address", "address": text}
        elif text.startswith("local:"):
            n = text.split(":", 1)[1]
            if not n.isdigit() or int(n) < 1:
                raise ConfigError(f"bad cluster spec '{text}'", "local:N takes a number of workers ≥ 1")
            spec = {"kind": "local", "n_workers": int(n)}
        else:
            spec = {"kind": text}
    try:
        return ClusterConfig.model_validate(spec)
    except ValidationError as exc:
        from ai4geo_lab.errors import format_validation_error

        raise ConfigError(f"invalid cluster spec: {format_validation_error(exc)}",
                          "kinds: local, local:N, tcp://host:port, slurm, pbs, gateway, kubernetes, "
                          "synchronous") from exc


def _jobqueue(kind: str, config: ClusterConfig) -> Any:
    try:
        import dask_jobqueue
    except ImportError as exc:
        raise missing_dependency("dask-jobqueue", "hpc") from exc
    cls = dask_jobqueue.SLURMCluster if kind == "slurm" else dask_jobqueue.PBSCluster
    prologue = [f"export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON__{k}={v}" for k, v in WORKER_ENV.items()]
    options = {"cores": 1, "memory": "2GB", "processes": 1, "job_script_prologue": prologue, **config.options}
    try:
        cluster = cls(**options)
    except Exception as exc:
        raise ConfigError(f"cannot start a {kind} cluster: {exc}", "check the options (queue, cores, memory, "
                          "walltime) and that the batch system answers") from exc
    # adaptive with a fixed size: a job that ends (walltime, preemption, scancel) is replaced
    cluster.adapt(minimum_jobs=config.jobs, maximum_jobs=config.jobs)
    return cluster


def _gateway(config: ClusterConfig) -> Any:
    try:
        from dask_gateway import Gateway
    except ImportError as exc:
        raise missing_dependency("dask-gateway", "cloud") from exc
    try:
        gateway = Gateway(config.address) if config.address else Gateway()
        cluster = gateway.new_cluster(**config.options)
    except Exception as exc:
        raise ConfigError(f"cannot get a cluster from the dask-gateway server: {exc}",
                          "check the gateway address and your credentials (dask config `gateway`)") from exc
    cluster.scale(config.jobs)
    return cluster


def _kubernetes(config: ClusterConfig) -> Any:
    try:
        from dask_kubernetes.operator import KubeCluster
    except ImportError as exc:
        raise missing_dependency("dask-kubernetes", "cloud") from exc
    try:
        return KubeCluster(**{"name": "ai4geo", **config.options})
    except Exception as exc:
        raise ConfigError(f"cannot start a Kubernetes Dask cluster: {exc}",
                          "check your kubeconfig and that the Dask operator is installed") from exc


def start_cluster(spec: ClusterConfig | dict | str | Path | None = None) -> Any:
    """Start the cluster ``spec`` asks for and return it (a LocalCluster, SLURMCluster, ...; the caller closes it).

    Kinds ``address`` and ``synchronous`` start nothing: they are refused here (use :func:`connect`)."""
    config = parse_spec(spec)
    if config.kind in ("address", "synchronous"):
        raise ConfigError(f"a '{config.kind}' spec starts no cluster", "use connect(spec) for it")
    if config.kind == "local":
        import dask
        from distributed import LocalCluster

        n = config.n_workers or max(1, min(os.cpu_count() or 1, 8))
        with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENV.items()}):
            return LocalCluster(n_workers=n, threads_per_worker=config.threads_per_worker, processes=True,
                                memory_limit=config.memory_limit, dashboard_address="127.0.0.1:0",
                                host="127.0.0.1")
    if config.kind in ("slurm", "pbs"):
        return _jobqueue(config.kind, config)
    if config.kind == "gateway":
        return _gateway(config)
    return _kubernetes(config)


@contextmanager
def connect(spec: ClusterConfig | dict | str | Path | None = None, label: str | None = None) -> Iterator[Any]:
    """Yield a ``distributed.Client`` for ``spec`` (``None`` for synchronous), closing what it started.

    A cluster started here is announced in the workspace (``clusters/``) while it runs, so the Lab's cluster
    panel shows it too, named ``label`` (default: the kernel's notebook, else its kind and address)."""
    config = parse_spec(spec)
    if config.kind == "synchronous":
        yield None
        return
    from distributed import Client

    if config.kind == "address":
        if not config.address:
            raise ConfigError("cluster kind 'address' needs an address", "e.g. address: tcp://127.0.0.1:8786")
        try:
            client = Client(config.address, timeout="10s")
        except OSError as exc:
            raise ConfigError(f"no Dask scheduler answers at {config.address}: {exc}",
                              "start one (`dask scheduler`) or check the address") from exc
        with client:
            yield client
        return
    from ai4geo_lab.cluster.registry import announce

    cluster = start_cluster(config)
    with cluster, Client(cluster) as client, announce(cluster, config.kind, label=label):
        yield client
