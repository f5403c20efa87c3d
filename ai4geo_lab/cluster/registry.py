"""Running clusters announced in the workspace (``WORKSPACE/clusters/ID.json``), so that every face sees them.

A process that starts a cluster (a kernel through :func:`~ai4geo_lab.cluster.connect`, or the Jupyter server)
writes a small record: scheduler address, dashboard link, kind, workers, pid. Records of processes that ended are
ignored and removed when listed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any


def registry_dir(workspace: str | Path | None = None) -> Path:
    """The folder of cluster records."""
    from ai4geo_lab.aoi import workspace_dir  # imported here: listing clusters needs no geometry stack

    return workspace_dir(workspace) / "clusters"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(cluster: Any, kind: str) -> dict[str, Any]:
    """What the panel shows of a cluster object."""
    try:
        workers = len(cluster.scheduler_info.get("workers", {}))
    except Exception:
        workers = None
    return {"kind": kind, "scheduler_address": getattr(cluster, "scheduler_address", None),
            "dashboard_link": getattr(cluster, "dashboard_link", None), "workers": workers,
            "name": getattr(cluster, "name", None)}


def title(record: dict[str, Any]) -> str:
    """A readable name: the label given, else the kind and the scheduler's host:port (never an id alone)."""
    if record.get("label"):
        return str(record["label"])
    address = str(record.get("scheduler_address") or "")
    where = address.split("://", 1)[-1] if address else "(no address yet)"
    return f"{record.get('kind') or 'cluster'} at {where}"


def kernel_label(label: str | None = None) -> str | None:
    """``label``, else the notebook a Jupyter kernel runs for (``JPY_SESSION_NAME``, set by Jupyter Server)."""
    if label:
        return label
    session = os.environ.get("JPY_SESSION_NAME", "")
    return Path(session).name or None if session else None


def write_record(cluster_id: str, record: dict[str, Any], workspace: str | Path | None = None) -> Path | None:
    """Write (or update) a record; returns None when the workspace cannot be written (announcing is best effort)."""
    folder = registry_dir(workspace)
    path = folder / f"{cluster_id}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def remove_record(cluster_id: str, workspace: str | Path | None = None) -> None:
    """Forget a record."""
    with suppress(OSError):
        (registry_dir(workspace) / f"{cluster_id}.json").unlink()


def list_records(workspace: str | Path | None = None) -> list[dict[str, Any]]:
    """Records of clusters whose process still runs (others are removed)."""
    folder = registry_dir(workspace)
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not _alive(int(rec.get("pid", 0) or 0)):
            with suppress(OSError):
                path.unlink()
            continue
        out.append(rec)
    return out


@contextmanager
def announce(cluster: Any, kind: str, workspace: str | Path | None = None,
             origin: str = "kernel", label: str | None = None) -> Iterator[str]:
    """Keep a record of ``cluster`` while the block runs; yields its id. ``label`` is the name the Lab shows
    (default: the notebook of the kernel, when Jupyter runs it)."""
    cluster_id = f"{origin}-{os.getpid()}-{secrets.token_hex(3)}"
    rec = {**describe(cluster, kind), "id": cluster_id, "pid": os.getpid(), "origin": origin,
           "label": kernel_label(label),
           "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    write_record(cluster_id, rec, workspace)
    try:
        yield cluster_id
    finally:
        remove_record(cluster_id, workspace)
