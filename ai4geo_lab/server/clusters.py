"""Dask clusters: this server's and those kernels announced; start, scale, stop; dashboards through the proxy."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import tornado.web
from jupyter_server.utils import url_path_join
from pydantic import BaseModel, Field

from ai4geo_lab.server.base import BaseHandler, json_errors


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


class ClustersHandler(BaseHandler):
    """GET: clusters (this server's, then those kernels announced). POST {spec, name?}: start one."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        found = await self.call(self.clusters.list)
        self.reply([with_dashboard(c, self.base_url) for c in found])

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        body = self.parse(StartBody)
        info = await self.call(self.clusters.start, body.spec or "local:1", body.name)
        self.reply(with_dashboard(info, self.base_url), 201)


class ClusterHandler(BaseHandler):
    """PATCH {workers}: scale. DELETE: stop."""

    @tornado.web.authenticated
    @json_errors
    async def patch(self, cluster_id: str) -> None:
        body = self.parse(ScaleBody)
        info = await self.call(self.clusters.scale, cluster_id, body.workers)
        self.reply(with_dashboard(info, self.base_url))

    @tornado.web.authenticated
    @json_errors
    async def delete(self, cluster_id: str) -> None:
        await self.call(self.clusters.stop, cluster_id)
        self.set_status(204)
        self.finish()
