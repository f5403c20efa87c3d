"""Cluster factory: a LocalCluster by default, an existing scheduler by address, or synchronous execution."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ai4geo_lab.errors import ConfigError


class ClusterConfig(BaseModel):
    """Where the chain's tiles run.

    - ``local``: a ``distributed.LocalCluster`` of worker processes on this machine (default);
    - ``address``: an existing Dask scheduler (``tcp://host:8786``);
    - ``synchronous``: no Dask at all, tiles run one after the other in this process (for debugging).
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["local", "address", "synchronous"] = "local"
    n_workers: int | None = Field(default=None, ge=1, description="workers of a local cluster (default: cores)")
    threads_per_worker: int = Field(default=1, ge=1)
    memory_limit: str = "auto"
    address: str | None = None


@contextmanager
def connect(config: ClusterConfig | None = None) -> Iterator[Any]:
    """Yield a ``distributed.Client`` for ``config`` (``None`` for synchronous), closing what it started."""
    config = config or ClusterConfig()
    if config.kind == "synchronous":
        yield None
        return
    from distributed import Client, LocalCluster

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
    n = config.n_workers or max(1, min(os.cpu_count() or 1, 8))
    with LocalCluster(n_workers=n, threads_per_worker=config.threads_per_worker, processes=True,
                      memory_limit=config.memory_limit, dashboard_address="127.0.0.1:0",
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        yield client
