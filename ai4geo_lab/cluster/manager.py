"""Clusters owned by a long-running process (the Jupyter server): start, scale, stop, list.

Blocking calls (starting workers, closing) are meant to run in a worker thread; the manager is thread-safe.
:meth:`ClusterManager.list` also returns the clusters other processes (kernels) announced in the workspace.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
from contextlib import suppress
from pathlib import Path
from typing import Any

from ai4geo_lab.cluster.factory import parse_spec, start_cluster
from ai4geo_lab.cluster.registry import describe, list_records, remove_record, title, write_record
from ai4geo_lab.errors import ConfigError, InputNotFoundError


class ClusterManager:
    """The clusters this process started, by id."""

    def __init__(self, workspace: str | Path | None = None) -> None:
        self.workspace = workspace
        self._lock = threading.RLock()
        self._clusters: dict[str, tuple[Any, dict[str, Any]]] = {}

    def _info(self, cluster_id: str) -> dict[str, Any]:
        cluster, meta = self._clusters[cluster_id]
        info = {**meta, **describe(cluster, meta["kind"]), "id": cluster_id, "managed": True}
        return {**info, "title": title(info)}

    def start(self, spec: Any = "local:1", name: str | None = None) -> dict[str, Any]:
        """Start a cluster through the project's factory (any spec :func:`parse_spec` takes)."""
        config = parse_spec(spec)
        cluster = start_cluster(config)
        cluster_id = f"server-{os.getpid()}-{secrets.token_hex(3)}"
        meta = {"kind": config.kind, "spec": config.model_dump(), "label": name or None,
                "pid": os.getpid(), "origin": "server",
                "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        with self._lock:
            self._clusters[cluster_id] = (cluster, meta)
            info = self._info(cluster_id)
        write_record(cluster_id, {k: v for k, v in info.items() if k != "managed"}, self.workspace)
        return info

    def _get(self, cluster_id: str) -> Any:
        with self._lock:
            if cluster_id not in self._clusters:
                others = [r["id"] for r in list_records(self.workspace)]
                if cluster_id in others:
                    raise ConfigError(f"cluster '{cluster_id}' was started by a kernel",
                                      "scale or close it from that notebook (cluster.scale(n) / client.close())")
                raise InputNotFoundError(f"no cluster '{cluster_id}'", "list the clusters to see their ids")
            return self._clusters[cluster_id][0]

    def scale(self, cluster_id: str, workers: int) -> dict[str, Any]:
        """Ask for ``workers`` workers (jobs for batch clusters); returns once the request is made, with the new
        ``target`` (the list shows the real count as workers arrive)."""
        if workers < 0:
            raise ConfigError(f"cannot scale to {workers} workers", "give 0 or more")
        cluster = self._get(cluster_id)
        cluster.scale(workers)
        with self._lock:
            self._clusters[cluster_id][1]["target"] = workers
            info = self._info(cluster_id)
        write_record(cluster_id, {k: v for k, v in info.items() if k != "managed"}, self.workspace)
        return info

    def stop(self, cluster_id: str) -> None:
        """Close a cluster and its workers (only one of this manager's: see :meth:`forget` for the others)."""
        cluster = self._get(cluster_id)
        with self._lock:
            self._clusters.pop(cluster_id, None)
        remove_record(cluster_id, self.workspace)
        cluster.close()

    def forget(self, cluster_id: str) -> None:
        """Drop the record a kernel announced (its cluster keeps running: only that kernel can close it)."""
        with self._lock:
            if cluster_id in self._clusters:
                raise ConfigError(f"cluster '{cluster_id}' was started here", "stop it instead")
        if cluster_id not in {r.get("id") for r in list_records(self.workspace)}:
            raise InputNotFoundError(f"no cluster '{cluster_id}'", "list the clusters to see their ids")
        remove_record(cluster_id, self.workspace)

    def list(self) -> list[dict[str, Any]]:
        """Clusters of this manager first, then those announced by other processes."""
        with self._lock:
            mine = [self._info(i) for i in self._clusters]
        ids = {c["id"] for c in mine}
        others = [{**r, "managed": False} for r in list_records(self.workspace) if r.get("id") not in ids]
        return [{**c, "title": title(c)} for c in mine + others]

    def close_all(self) -> None:
        """Close every cluster of this manager (the server calls it when it stops)."""
        for cluster_id in list(self._clusters):
            with suppress(Exception):
                self.stop(cluster_id)
