"""Saved AOIs: list, save (a geometry, an uploaded file or a file inside the root folder), get, delete."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import tornado.web
from pydantic import BaseModel, Field

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.server.base import BaseHandler, json_errors


class AOIBody(BaseModel):
    """``{name, geometry}``, ``{name?, filename, content}`` (base64) or ``{name?, path}``: an AOI to save."""

    name: str | None = Field(None, description="name to save it under (default for files: the file's stem)")
    overwrite: bool = Field(True, description="replace an AOI saved under the same name (else: 409)")
    geometry: dict[str, Any] | list[float] | str | None = Field(
        None, description="GeoJSON, [west, south, east, north], 'west,south,east,north' or WKT")
    filename: str | None = Field(None, description="name of the uploaded file (its suffix tells its kind)")
    content: str | None = Field(None, description="the uploaded file, base64")
    path: str | None = Field(None, description="a vector file inside the server's root folder")


def _described(aoi: Any, notes: list[str] | None = None) -> dict[str, Any]:
    return {"name": aoi.name, "feature": aoi.to_geojson(), "area_km2": aoi.area_km2, "warnings": notes or []}


def _noting(save: Callable[[], Any]) -> dict[str, Any]:
    """Run ``save`` and describe the AOI it returns, with the warnings (a repaired geometry) it gave."""
    from ai4geo_lab.aoi import AOIWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AOIWarning)
        aoi = save()
    return _described(aoi, [str(w.message) for w in caught if issubclass(w.category, AOIWarning)])


def _save(source: Any, name: str, workspace: str | None, overwrite: bool, allow_files: bool = False) -> dict[str, Any]:
    from ai4geo_lab.aoi import load_aoi, resolve, save_aoi

    if not name:
        raise InvalidInputError("the AOI has no name", "give it a name to save it under", field="name")

    def save() -> Any:
        save_aoi(resolve(source, workspace, allow_files=allow_files), name, workspace, overwrite=overwrite)
        return load_aoi(name, workspace)

    return _noting(save)


def _save_upload(body: AOIBody, workspace: str | None) -> dict[str, Any]:
    from ai4geo_lab.aoi import save_upload

    return _noting(lambda: save_upload(body.filename or "", body.content or "", body.name or None, workspace,
                                       body.overwrite))


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
        body = self.parse(AOIBody)
        if body.content is not None:
            saved = await self.call(_save_upload, body, self.workspace)
        elif body.path:
            from ai4geo_lab.geo.paths import confine

            path = confine(self.root_dir, body.path)  # the one file a request may name: inside the root
            saved = await self.call(_save, path, body.name or path.stem, self.workspace, body.overwrite, True)
        elif body.geometry:
            saved = await self.call(_save, body.geometry, body.name or "", self.workspace, body.overwrite)
        else:
            raise InvalidInputError("nothing to save", "send a geometry, an uploaded file (content) or a path")
        self.reply(saved, 201)


class AOIHandler(BaseHandler):
    """GET: one saved AOI as a GeoJSON Feature, with its area. DELETE: remove it."""

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
