"""Live figures of a running cluster, asked of its scheduler's HTTP server (``/json/counts.json`` and
``/json/identity.json``): workers, threads, memory used and limit, CPU, tasks processing, connected clients.

Reading them costs two small HTTP requests and no ``Client`` (a client would count itself among the connected ones);
a scheduler that does not answer within the timeout is reported as not answering, never waited for.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlparse, urlunparse

# clients a scheduler always counts and nobody connected: its fire-and-forget bookkeeping client
_SCHEDULER_OWN_CLIENTS = 1


def _json_base(dashboard_link: str) -> str | None:
    """``http://host:port/json`` of a dashboard link such as ``http://127.0.0.1:8787/status``."""
    p = urlparse(dashboard_link)
    if p.scheme not in ("http", "https") or not p.netloc:
        return None
    path = p.path
    for suffix in ("/status", "/status/"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return urlunparse((p.scheme, p.netloc, path.rstrip("/") + "/json", "", "", ""))


def summarise(counts: dict[str, Any], identity: dict[str, Any]) -> dict[str, Any]:
    """The panel's figures from a scheduler's counts and identity."""
    workers = identity.get("workers") or {}
    memory = sum(int((w.get("metrics") or {}).get("memory") or 0) for w in workers.values())
    limit = sum(int(w.get("memory_limit") or 0) for w in workers.values())
    cpu = sum(float((w.get("metrics") or {}).get("cpu") or 0.0) for w in workers.values())
    return {
        "reachable": True,
        "workers": len(workers),
        "threads": int(identity.get("total_threads") or sum(int(w.get("nthreads") or 0) for w in workers.values())),
        "memory": memory,
        "memory_limit": limit or None,
        "cpu": round(cpu, 1),
        "processing": int(counts.get("processing") or 0),
        "tasks": int(counts.get("tasks") or 0),
        "clients": max(0, int(counts.get("clients") or 0) - _SCHEDULER_OWN_CLIENTS),
    }


async def _by_rpc(scheduler_address: str, timeout: float) -> dict[str, Any]:
    """Figures from the scheduler's ``identity`` over its own protocol (no tasks nor clients counted there)."""
    from distributed.core import rpc

    r = rpc(scheduler_address, timeout=timeout)
    try:
        identity = await asyncio.wait_for(r.identity(), timeout)
    except (TimeoutError, OSError) as exc:
        return {"reachable": False, "error": f"the scheduler did not answer within {timeout:g} s"
                if isinstance(exc, TimeoutError) else "the scheduler does not answer"}
    finally:
        await r.close_rpc()
    return {**summarise({}, identity), "processing": None, "tasks": None, "clients": None}


async def scheduler_figures(dashboard_link: str | None, timeout: float = 1.5,
                            scheduler_address: str | None = None) -> dict[str, Any]:
    """Figures of the cluster whose dashboard is at ``dashboard_link``, or ``{"reachable": False, "error": ...}``
    when its scheduler does not answer within ``timeout`` seconds. Without a dashboard reachable by URL (none, or a
    relative link behind a proxy), a plain ``tcp://`` ``scheduler_address`` is asked for its identity instead
    (then tasks and clients are unknown: ``None``)."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    base = _json_base(dashboard_link) if dashboard_link else None
    if base is None:
        if scheduler_address and scheduler_address.startswith("tcp://"):
            return await _by_rpc(scheduler_address, timeout)
        return {"reachable": False, "error": "no dashboard to read the figures from"}
    http = AsyncHTTPClient()

    async def fetch(name: str) -> dict[str, Any]:
        res = await http.fetch(f"{base}/{name}", connect_timeout=timeout, request_timeout=timeout)
        return json.loads(res.body)

    try:
        counts, identity = await asyncio.wait_for(
            asyncio.gather(fetch("counts.json"), fetch("identity.json")), timeout)
    except TimeoutError:
        return {"reachable": False, "error": f"the scheduler did not answer within {timeout:g} s"}
    except HTTPClientError as exc:
        if exc.code == 599:  # tornado's own timeout
            return {"reachable": False, "error": f"the scheduler did not answer within {timeout:g} s"}
        return {"reachable": False, "error": f"the scheduler's dashboard answered HTTP {exc.code}"}
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return {"reachable": False, "error": f"the scheduler does not answer ({reason})"}
    return summarise(counts, identity)
