"""The catalogue: providers, collections, queryables, search pages, their code, quicklooks, downloads, inventory.

A search body carries the fields of :class:`~ai4geo_lab.catalog.request.SearchRequest` (its model is made from
them), or the ``token`` of a page, or the ``request`` of a page already run. The paging state is in the token the
client holds: nothing is kept on the server between pages.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.utils import url_path_join
from pydantic import BaseModel, Field, create_model

from ai4geo_lab.aoi.workspace import NAME
from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.server.base import BaseHandler, json_errors

# the fields of SearchRequest a search form sends (the paging state, page and cursor, is the token's)
FORM_FIELDS = ("collection", "aoi", "start", "end", "max_cloud", "provider", "queryables", "limit")


class PageBody(BaseModel):
    """A page: the ``token`` of one (``next_token``), or the ``request`` of one already run."""

    token: str | None = Field(None, description="the token (or next_token) of a result page")
    request: dict[str, Any] | None = Field(None, description="the request of a result page (a SearchRequest)")


class QuicklooksBody(PageBody):
    """``{request, ids}``: previews of these items of a page (all of them without ids)."""

    ids: list[str | int] | None = None


class DownloadsBody(PageBody):
    """``{request, ids, dest?}``: download these items of a page into ``dest`` (inside the root folder)."""

    ids: list[str | int] | None = None
    dest: str | None = Field(None, description="folder inside the server's root (default: the workspace's)")


@functools.cache
def search_body() -> type[PageBody]:
    """The model of a search body: a page (token, request) or SearchRequest's form fields and ``aoi_name``."""
    from ai4geo_lab.catalog.request import SearchRequest

    fields: dict[str, Any] = {}
    for name in FORM_FIELDS:
        info = copy.copy(SearchRequest.model_fields[name])
        fields[name] = (info.annotation, info)
    collection = SearchRequest.model_fields["collection"]
    fields["collection"] = (str, Field("", description=collection.description or "collection id"))
    fields["aoi_name"] = (str | None, Field(None, pattern=NAME.pattern, description="a saved AOI, instead of aoi"))
    return create_model("SearchBody", __base__=PageBody, __doc__=search_body.__doc__, **fields)


def no_paths(provider: str | None) -> None:
    """A request cannot make the server read a catalogue file of its choosing."""
    if provider and (provider.startswith(("file:", "/", ".", "~")) or provider.endswith(".json")):
        raise InvalidInputError("a catalogue path cannot be given here",
                                "add the catalogue to the local catalogue, then use provider 'local'")


def to_request(body: PageBody, workspace: str | None) -> Any:
    """The SearchRequest a body stands for: its token, its request, or its search fields."""
    from ai4geo_lab.catalog.query import build_request
    from ai4geo_lab.catalog.request import SearchRequest

    if body.token:
        return SearchRequest.from_token(body.token)
    if body.request:
        return SearchRequest.model_validate(body.request)
    if not isinstance(body, search_body()):
        raise InvalidInputError("no collection given", "send the request (or token) of a result page")
    form: Any = body
    if form.aoi_name:
        from ai4geo_lab.aoi import resolve

        aoi = resolve(form.aoi_name, workspace, max_area_km2=None, allow_files=False)
    else:
        aoi = form.aoi
    queryables = {k: v for k, v in (form.queryables or {}).items() if v not in (None, "")}
    return build_request(aoi, form.collection or "", form.start or None, form.end or None, form.max_cloud,
                         form.provider or None, form.limit, 1, **queryables)


def run_page(req: Any, workspace: str | None) -> Any:
    """Run a request as a server does: no catalogue paths of the client's choosing."""
    from ai4geo_lab.catalog.query import run_request

    return run_request(req, workspace, allow_paths=False)


class ProvidersHandler(BaseHandler):
    """GET: every provider a search can name."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.catalog import providers

        found = await self.call(providers, self.workspace)
        self.reply([{k: v for k, v in p.items() if k != "catalogs"} | {"catalogs": len(p.get("catalogs", []))}
                    for p in found])


class CollectionsHandler(BaseHandler):
    """GET ?provider=: the collections of a provider."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.catalog import collections

        provider = self.get_argument("provider", None) or None
        no_paths(provider)
        self.reply(await self.call(collections, provider, self.workspace))


class QueryablesHandler(BaseHandler):
    """GET ?collection=&provider=: the properties a search of the collection can filter on."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.catalog import queryables

        collection = self.get_argument("collection", "")
        if not collection:
            raise InvalidInputError("no collection given", "add ?collection=ID")
        provider = self.get_argument("provider", None) or None
        no_paths(provider)
        from ai4geo_lab.catalog.table import field_label

        found = await self.call(queryables, collection, provider, self.workspace)
        # each with the words a form shows for it (`label`), not its API name
        self.reply({k: {**v, "label": field_label(k, v)} if isinstance(v, dict) else v for k, v in found.items()})


class SearchHandler(BaseHandler):
    """POST a search (or {token} for the next page): one page as GeoJSON with ``next_token`` and ``request``."""

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        req = to_request(self.parse(search_body()), self.workspace)
        res = await self.call(run_page, req, self.workspace)
        out = res.to_geojson()
        out["count"] = len(res)
        out["token"] = req.token()
        self.reply(out)


class CodeHandler(BaseHandler):
    """POST the same body as a search: the Python cell that reproduces it with the ai4geo_lab API."""

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        from ai4geo_lab.catalog.code import search_code

        body: Any = self.parse(search_body())
        req = to_request(body, self.workspace)
        self.reply({"code": search_code(req, aoi_name=body.aoi_name or None)})


class QuicklooksHandler(BaseHandler):
    """POST {request, ids}: PNG previews made in the workspace; answers their URLs."""

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        body = self.parse(QuicklooksBody)
        req = to_request(body, self.workspace)
        ids = [str(i) for i in body.ids or []]

        def make() -> dict[str, Path]:
            res = run_page(req, self.workspace)
            return res.select(ids).quicklooks(workspace=self.workspace) if ids else res.quicklooks(
                workspace=self.workspace)

        made = await self.call(make)
        base = url_path_join(self.base_url, "ai4geo", "quicklooks")
        self.reply({k: url_path_join(base, v.name) for k, v in made.items()})


class QuicklookFileHandler(BaseHandler):
    """GET: one quicklook PNG of the workspace."""

    @tornado.web.authenticated
    @json_errors
    async def get(self, name: str) -> None:
        from ai4geo_lab.aoi import workspace_dir
        from ai4geo_lab.geo.paths import confine

        path = confine(workspace_dir(self.workspace) / "quicklooks", name)
        if not path.is_file():
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", "image/png")
        self.finish(path.read_bytes())


class DownloadsHandler(BaseHandler):
    """POST {request, ids, dest?}: start downloading the selected items; answers the job to poll."""

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        from ai4geo_lab.geo.paths import confine

        body = self.parse(DownloadsBody)
        ids = [str(i) for i in body.ids or []]
        if not ids:
            raise InvalidInputError("no item selected", "select the products to download")
        dest = confine(self.root_dir, body.dest) if body.dest else None
        req = to_request(body, self.workspace)
        res = await self.call(run_page, req, self.workspace)
        job = self.ai4geo["downloads"].start(res.select(ids), dest, self.workspace)
        self.reply(job.status(), 202)


class DownloadHandler(BaseHandler):
    """GET: the state and progress of a download job."""

    @tornado.web.authenticated
    @json_errors
    async def get(self, job_id: str) -> None:
        self.reply(self.ai4geo["downloads"].get(job_id).status())


class LocalCatalogBody(BaseModel):
    """``{path}``: a static STAC catalogue (its ``catalog.json``, or the folder holding it) inside the root."""

    path: str = Field(..., min_length=1, max_length=4096,
                      description="a folder or catalog.json, relative to the folder JupyterLab was started in")


class LocalCatalogHandler(BaseHandler):
    """GET: the local catalogue's catalogues and extents (for the maps); POST {path}: add a catalogue of the
    server's root folder to it (as ``ai4geo catalog add PATH`` does)."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.catalog import local_extent

        self.reply(await self.call(local_extent, self.workspace))

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        from ai4geo_lab.catalog import add_local_catalog, local_extent
        from ai4geo_lab.geo.paths import confine

        body = self.parse(LocalCatalogBody)
        path = confine(self.root_dir, body.path.strip())
        with self.without_server_paths():
            await self.call(add_local_catalog, path, self.workspace)
            self.reply(await self.call(local_extent, self.workspace), 201)


class InventoryHandler(BaseHandler):
    """GET: what has been downloaded (the workspace inventory)."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.catalog import inventory

        frame = await self.call(inventory, self.workspace)
        self.reply(json.loads(frame.to_json(orient="records")))
