"""Dask clusters: this server's and those kernels announced; start, scale, stop; dashboards through the proxy."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlparse

import tornado.web
from jupyter_server.utils import url_path_join
from pydantic import BaseModel, Field

from ai4geo_lab.cluster.figures import scheduler_figures
from ai4geo_lab.server.base import BaseHandler, json_errors

FIGURES_TIMEOUT_S = 1.5


class StartBody(BaseModel):
    """``{spec?, name?}``: the cluster to start."""

    spec: str | None = Field(None, description="a cluster spec, as for `ai4geo run --cluster` (default local:1)")
    name: str | None = Field(None, description="a name to show")


class ScaleBody(BaseModel):
    """``{workers}``: scale a cluster."""

    workers: int = Field(..., description="number of workers, e.g. 2")


def with_dashboard(info: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Add ``dashboard_url``: through jupyter-server-proxy when installed (works behind JupyterHub), else direct."""
    link = info.get("dashboard_link")
    url = link
    if link:
        try:
            import jupyter_server_proxy  # noqa: F401

            p = urlparse(link)
            if p.hostname in ("127.0.0.1", "localhost") and p.port:
                url = url_path_join(base_url, "proxy", str(p.port), p.path or "/status")
        except ImportError:
            pass
    return {**info, "dashboard_url": url}


async def with_figures(clusters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add each cluster's live ``figures`` (asked of all schedulers at once, each bounded by a short timeout);
    ``workers`` becomes the count the scheduler reports when it answers."""
    figures = await asyncio.gather(*(scheduler_figures(c.get("dashboard_link"), FIGURES_TIMEOUT_S,
                                                       c.get("scheduler_address")) for c in clusters))
    out = []
    for c, f in zip(clusters, figures, strict=True):
        out.append({**c, "figures": f, "workers": f["workers"] if f.get("reachable") else c.get("workers")})
    return out


class ClustersHandler(BaseHandler):
    """GET: clusters (this server's, then those kernels announced) with their live figures. POST {spec, name?}:
    start one."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        found = await with_figures(await self.call(self.clusters.list))
        self.reply([with_dashboard(c, self.base_url) for c in found])

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        body = self.parse(StartBody)
        info = await self.call(self.clusters.start, body.spec or "local:1", body.name)
        self.reply(with_dashboard(info, self.base_url), 201)


class ClusterHandler(BaseHandler):
    """PATCH {workers}: scale. DELETE: stop one of this server's clusters; ``DELETE ?forget=true``: forget the
    record of one a kernel started (it keeps running: only its kernel can close it)."""

    @tornado.web.authenticated
    @json_errors
    async def patch(self, cluster_id: str) -> None:
        body = self.parse(ScaleBody)
        info = await self.call(self.clusters.scale, cluster_id, body.workers)
        self.reply(with_dashboard(info, self.base_url))

    @tornado.web.authenticated
    @json_errors
    async def delete(self, cluster_id: str) -> None:
        if self.get_query_argument("forget", "") in ("1", "true"):
            await self.call(self.clusters.forget, cluster_id)
        else:
            await self.call(self.clusters.stop, cluster_id)
        self.set_status(204)
        self.finish()
