"""REST handlers: HTTP in, core API calls, JSON out. Errors become ``{error, hint}`` with the error's status."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import tempfile
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ai4geo_lab.errors import Ai4geoError, InvalidInputError

MAX_UPLOAD_BYTES = 20 * 2**20
UPLOAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".kml", ".kmz", ".zip", ".shp.zip", ".fgb")

_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ai4geo-server")


def _error_body(exc: Exception) -> tuple[int, dict[str, Any]]:
    from pydantic import ValidationError

    if isinstance(exc, Ai4geoError):
        return exc.http_status, {"error": exc.message, "hint": exc.hint, "type": type(exc).__name__}
    if isinstance(exc, ValidationError):
        return 400, {"error": f"invalid request: {exc.errors()[0].get('msg')} at "
                              f"{'.'.join(str(x) for x in exc.errors()[0].get('loc', ()))}",
                     "hint": "check the fields of the request", "type": "ValidationError"}
    if isinstance(exc, json.JSONDecodeError):
        return 400, {"error": "the request body is not JSON", "hint": "send a JSON object", "type": "JSONDecodeError"}
    return 500, {"error": f"internal error: {type(exc).__name__}: {exc}", "hint": "see the Jupyter server log",
                 "type": type(exc).__name__}


def json_errors(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Turn exceptions of a handler method into a JSON error answer."""

    @functools.wraps(method)
    async def wrapper(self: BaseHandler, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        except tornado.web.HTTPError:
            raise
        except Exception as exc:
            status, body = _error_body(exc)
            if status >= 500:
                self.log.error("ai4geo: %s", body["error"], exc_info=exc)
            self.set_status(status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(body))
            return None

    return wrapper


class BaseHandler(APIHandler):
    """Common parts: the settings, the workspace, the root folder, JSON bodies, work in a thread."""

    @property
    def ai4geo(self) -> Any:
        return self.settings["ai4geo"]

    @property
    def clusters(self) -> Any:
        """The server's cluster manager, made on first use (so that the server starts quickly)."""
        state = self.ai4geo
        with state["lock"]:
            if state.get("clusters") is None:
                from ai4geo_lab.cluster.manager import ClusterManager

                state["clusters"] = ClusterManager(state["config"].workspace)
            return state["clusters"]

    @property
    def workspace(self) -> str | None:
        return self.ai4geo["config"].workspace

    @property
    def root_dir(self) -> Path:
        return Path(self.settings.get("server_root_dir") or self.ai4geo["root_dir"]).expanduser().resolve()

    def body(self) -> dict[str, Any]:
        raw = self.request.body or b"{}"
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise InvalidInputError("the request body must be a JSON object")
        return data

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking core call in a worker thread (the server keeps answering meanwhile)."""
        return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, functools.partial(fn, *args, **kwargs))

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data, default=str))


# ---- settings --------------------------------------------------------------------------------------------------

class ConfigHandler(BaseHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab import __version__
        from ai4geo_lab.aoi import workspace_dir

        cfg = self.ai4geo["config"]
        self.reply({"version": __version__, "tile_url": cfg.tile_url, "tile_attribution": cfg.tile_attribution,
                    "workspace": str(workspace_dir(cfg.workspace))})


class OutlinesHandler(BaseHandler):
    """Country outlines for the offline base map."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.geo.outlines import country_outlines_geojson

        text = await self.call(country_outlines_geojson)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "max-age=86400")
        self.finish(text)


# ---- catalogue -------------------------------------------------------------------------------------------------

class ProvidersHandler(BaseHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.catalog import providers

        found = await self.call(providers, self.workspace)
        self.reply([{k: v for k, v in p.items() if k != "catalogs"} | {"catalogs": len(p.get("catalogs", []))}
                    for p in found])


class CollectionsHandler(BaseHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.catalog import collections

        provider = self.get_argument("provider", None) or None
        _no_paths(provider)
        self.reply(await self.call(collections, provider, self.workspace))


class QueryablesHandler(BaseHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.catalog import queryables

        collection = self.get_argument("collection", "")
        if not collection:
            raise InvalidInputError("no collection given", "add ?collection=ID")
        provider = self.get_argument("provider", None) or None
        _no_paths(provider)
        self.reply(await self.call(queryables, collection, provider, self.workspace))


def _no_paths(provider: str | None) -> None:
    """A request cannot make the server read a catalogue file of its choosing."""
    if provider and (provider.startswith(("file:", "/", ".", "~")) or provider.endswith(".json")):
        raise InvalidInputError("a catalogue path cannot be given here",
                                "add the catalogue to the local catalogue, then use provider 'local'")


def _request_from_body(data: dict[str, Any], workspace: str | None) -> Any:
    """The SearchRequest a body stands for: {token}, {request} (a page already run) or the search fields."""
    from ai4geo_lab.catalog.query import build_request
    from ai4geo_lab.catalog.request import SearchRequest

    if data.get("token"):
        return SearchRequest.from_token(str(data["token"]))
    if data.get("request"):
        return SearchRequest.model_validate(data["request"])
    aoi: Any = data.get("aoi")
    if data.get("aoi_name"):
        from ai4geo_lab.aoi import load_aoi

        aoi = load_aoi(str(data["aoi_name"]), workspace).geometry
    queryables = {k: v for k, v in (data.get("queryables") or {}).items() if v not in (None, "")}
    return build_request(aoi, data.get("collection") or "", data.get("start") or None, data.get("end") or None,
                         data.get("max_cloud"), data.get("provider") or None, int(data.get("limit") or 20), 1,
                         **queryables)


def _run(req: Any, workspace: str | None) -> Any:
    from ai4geo_lab.catalog.query import run_request

    return run_request(req, workspace, allow_paths=False)


class SearchHandler(BaseHandler):
    """POST a search (or {token} for the next page): one page as GeoJSON with ``next_token`` and ``request``.
    The paging state is in the token the client holds: nothing is kept on the server between pages."""

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        data = self.body()
        req = _request_from_body(data, self.workspace)
        res = await self.call(_run, req, self.workspace)
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

        data = self.body()
        req = _request_from_body(data, self.workspace)
        self.reply({"code": search_code(req, aoi_name=data.get("aoi_name") or None)})


class QuicklooksHandler(BaseHandler):
    """POST {request, ids}: PNG previews made in the workspace; answers their URLs."""

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        data = self.body()
        req = _request_from_body({"request": data.get("request")}, self.workspace)
        ids = [str(i) for i in data.get("ids") or []]

        def make() -> dict[str, Path]:
            res = _run(req, self.workspace)
            return res.select(ids).quicklooks(workspace=self.workspace) if ids else res.quicklooks(
                workspace=self.workspace)

        made = await self.call(make)
        base = url_path_join(self.base_url, "ai4geo", "quicklooks")
        self.reply({k: url_path_join(base, v.name) for k, v in made.items()})


class QuicklookFileHandler(BaseHandler):
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

        data = self.body()
        ids = [str(i) for i in data.get("ids") or []]
        if not ids:
            raise InvalidInputError("no item selected", "select the products to download")
        dest = confine(self.root_dir, data["dest"]) if data.get("dest") else None
        req = _request_from_body({"request": data.get("request"), "token": data.get("token")}, self.workspace)
        res = await self.call(_run, req, self.workspace)
        job = self.ai4geo["downloads"].start(res.select(ids), dest, self.workspace)
        self.reply(job.status(), 202)


class DownloadHandler(BaseHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self, job_id: str) -> None:
        self.reply(self.ai4geo["downloads"].get(job_id).status())


class InventoryHandler(BaseHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.catalog import inventory

        frame = await self.call(inventory, self.workspace)
        self.reply(json.loads(frame.to_json(orient="records")))


# ---- AOIs ------------------------------------------------------------------------------------------------------

class AOIsHandler(BaseHandler):
    """GET: saved AOI names. POST {name, geometry} or {name, filename, content (base64)} or {name, path}: save."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.aoi import list_aois

        self.reply([{"name": n} for n in list_aois(self.workspace)])

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        data = self.body()
        name = str(data.get("name") or "")
        overwrite = bool(data.get("overwrite", True))
        if data.get("content") is not None:
            saved = await self.call(_save_upload, name, str(data.get("filename") or ""), str(data["content"]),
                                    self.workspace, overwrite)
        elif data.get("path"):
            from ai4geo_lab.geo.paths import confine

            path = confine(self.root_dir, str(data["path"]))
            saved = await self.call(_save, path, name or path.stem, self.workspace, overwrite)
        elif data.get("geometry"):
            saved = await self.call(_save, data["geometry"], name, self.workspace, overwrite)
        else:
            raise InvalidInputError("nothing to save", "send a geometry, an uploaded file (content) or a path")
        self.reply(saved, 201)


def _save(source: Any, name: str, workspace: str | None, overwrite: bool) -> dict[str, Any]:
    from ai4geo_lab.aoi import load_aoi, save_aoi

    if not name:
        raise InvalidInputError("the AOI has no name", "give it a name to save it under")
    save_aoi(source, name, workspace, overwrite=overwrite)
    aoi = load_aoi(name, workspace)
    return {"name": name, "feature": aoi.to_geojson(), "area_km2": aoi.area_km2}


def _save_upload(name: str, filename: str, content: str, workspace: str | None, overwrite: bool) -> dict[str, Any]:
    lower = filename.lower()
    suffix = next((s for s in sorted(UPLOAD_SUFFIXES, key=len, reverse=True) if lower.endswith(s)), None)
    if suffix is None:
        raise InvalidInputError(f"cannot read '{filename}' as an AOI", "upload a GeoJSON, GeoPackage or KML file")
    try:
        raw = base64.b64decode(content, validate=True)
    except ValueError as exc:
        raise InvalidInputError("the uploaded file is not valid base64") from exc
    if len(raw) > MAX_UPLOAD_BYTES:
        raise InvalidInputError(f"the file is larger than {MAX_UPLOAD_BYTES >> 20} MB",
                                "simplify the area, or save it from a notebook with save_aoi()")
    stem = Path(filename).name[: -len(suffix)] or "upload"
    with tempfile.TemporaryDirectory(prefix="ai4geo-upload-") as tmp:
        path = Path(tmp) / f"upload{'.zip' if suffix == '.shp.zip' else suffix}"
        path.write_bytes(raw)
        import re

        default = re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip("._-") or "upload"
        return _save(path, name or default, workspace, overwrite)


class AOIHandler(BaseHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self, name: str) -> None:
        from ai4geo_lab.aoi import load_aoi

        aoi = await self.call(load_aoi, name, self.workspace)
        self.reply({"name": name, "feature": aoi.to_geojson(), "area_km2": aoi.area_km2})

    @tornado.web.authenticated
    @json_errors
    async def delete(self, name: str) -> None:
        from ai4geo_lab.aoi import delete_aoi

        await self.call(delete_aoi, name, self.workspace)
        self.set_status(204)
        self.finish()


# ---- clusters --------------------------------------------------------------------------------------------------

def _with_dashboard(info: dict[str, Any], base_url: str) -> dict[str, Any]:
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
        self.reply([_with_dashboard(c, self.base_url) for c in found])

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        data = self.body()
        info = await self.call(self.clusters.start, data.get("spec") or "local:1", data.get("name"))
        self.reply(_with_dashboard(info, self.base_url), 201)


class ClusterHandler(BaseHandler):
    """PATCH {workers}: scale. DELETE: stop."""

    @tornado.web.authenticated
    @json_errors
    async def patch(self, cluster_id: str) -> None:
        data = self.body()
        try:
            workers = int(data.get("workers", ""))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError("'workers' must be a whole number", "e.g. {\"workers\": 2}") from exc
        info = await self.call(self.clusters.scale, cluster_id, workers)
        self.reply(_with_dashboard(info, self.base_url))

    @tornado.web.authenticated
    @json_errors
    async def delete(self, cluster_id: str) -> None:
        await self.call(self.clusters.stop, cluster_id)
        self.set_status(204)
        self.finish()


# ---- recipes ---------------------------------------------------------------------------------------------------

class RecipesHandler(BaseHandler):
    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        from ai4geo_lab.recipes import list_recipes

        self.reply(list_recipes(self.ai4geo["config"].recipes_dir))


class RecipeHandler(BaseHandler):
    """POST {dest?}: copy the template into the root folder (or a sub-folder of it); answers its Lab path."""

    @tornado.web.authenticated
    @json_errors
    async def post(self, name: str) -> None:
        from ai4geo_lab.geo.paths import confine, relative_to
        from ai4geo_lab.recipes import copy_recipe

        data = self.body()
        dest = confine(self.root_dir, str(data.get("dest") or ""))
        path = await self.call(copy_recipe, name, dest, self.ai4geo["config"].recipes_dir)
        self.reply({"path": relative_to(self.root_dir, path)}, 201)


def setup_handlers(serverapp: Any, config: Any) -> None:
    """Register the handlers under ``BASE_URL/ai4geo/``."""
    import threading

    from ai4geo_lab.catalog.jobs import DownloadJobs

    web_app = serverapp.web_app
    state = {"config": config, "downloads": DownloadJobs(), "clusters": None, "root_dir": serverapp.root_dir,
             "lock": threading.Lock()}
    web_app.settings["ai4geo"] = state
    base = url_path_join(web_app.settings["base_url"], "ai4geo")
    name = r"([A-Za-z0-9][A-Za-z0-9_.-]{0,127})"
    routes = [
        ("config", ConfigHandler), ("outlines", OutlinesHandler), ("providers", ProvidersHandler),
        ("collections", CollectionsHandler),
        ("queryables", QueryablesHandler), ("search", SearchHandler), ("code", CodeHandler),
        ("quicklooks", QuicklooksHandler), (f"quicklooks/{name}", QuicklookFileHandler),
        ("downloads", DownloadsHandler), (r"downloads/([A-Za-z0-9_-]+)", DownloadHandler),
        ("inventory", InventoryHandler), ("aois", AOIsHandler), (f"aois/{name}", AOIHandler),
        ("clusters", ClustersHandler), (r"clusters/([A-Za-z0-9_.-]+)", ClusterHandler),
        ("recipes", RecipesHandler), (f"recipes/{name}", RecipeHandler),
    ]
    web_app.add_handlers(".*$", [(url_path_join(base, path), handler) for path, handler in routes])
    import atexit

    atexit.register(lambda: state["clusters"] is not None and state["clusters"].close_all())
