"""``search(aoi, collection, start, end, ...)``: one function over the local catalogue, EODAG and STAC APIs."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import mapping, shape

from ai4geo_lab.aoi import to_aoi
from ai4geo_lab.catalog import sources as prov
from ai4geo_lab.catalog.items import product_to_item
from ai4geo_lab.catalog.request import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    SearchRequest,
    eodag_error,
    unknown_collection,
)
from ai4geo_lab.catalog.results import SearchResults
from ai4geo_lab.errors import (
    Ai4geoError,
    InvalidInputError,
    ProviderAuthError,
    ProviderError,
    at_field,
)


def _parse_when(value: Any, name: str, end: bool) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime.combine(value, dt.time.max if end else dt.time.min)
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                when = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
            else:
                when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInputError(f"the {name} date '{value}' is not a date", "write it as YYYY-MM-DD or an ISO "
                                    "8601 date-time", field=name) from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


def _readable(when: dt.datetime) -> str:
    """A date as people write it: the day alone when the time is the start or the end of the day."""
    if when.time() in (dt.time.min, dt.time.max):
        return when.date().isoformat()
    return when.strftime("%Y-%m-%d %H:%M UTC")


def build_request(aoi: Any, collection: str, start: Any = None, end: Any = None, max_cloud: float | None = None,
                  provider: str | None = None, limit: int = DEFAULT_LIMIT, page: int = 1,
                  **queryables: Any) -> SearchRequest:
    """Validate the arguments of :func:`search` into a :class:`SearchRequest` (clear errors for bad input)."""
    if not collection or not isinstance(collection, str):
        raise InvalidInputError("no collection given", "name one; see ai4geo_lab.catalog.collections()",
                                field="collection")
    t0, t1 = _parse_when(start, "start", False), _parse_when(end, "end", True)
    if t0 is not None and t1 is not None and t1 < t0:
        raise InvalidInputError(f"the end date {_readable(t1)} is before the start date {_readable(t0)}",
                                "swap them, or give an end after the start", field="end")
    if max_cloud is not None:
        try:
            max_cloud = float(max_cloud)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"the maximum cloud cover (max_cloud) must be a number, got {max_cloud!r}",
                                    field="max_cloud") from exc
        if math.isnan(max_cloud) or not 0 <= max_cloud <= 100:
            raise InvalidInputError(f"a maximum cloud cover (max_cloud) of {max_cloud:g} % is outside 0–100 %",
                                    "give a percentage from 0 to 100", field="max_cloud")
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise InvalidInputError(f"{limit} items per page (limit) is outside 1–{MAX_LIMIT}",
                                "ask for fewer items per page", field="limit")
    if int(page) < 1:
        raise InvalidInputError(f"page {page} must be 1 or more", field="page")
    try:
        geometry = None if aoi is None else mapping(to_aoi(aoi, max_area_km2=None).geometry)
    except Ai4geoError as exc:
        at_field(exc, "aoi")
        raise
    return SearchRequest(collection=collection, aoi=geometry, start=_iso(t0), end=_iso(t1), max_cloud=max_cloud,
                         provider=provider, queryables=queryables, limit=int(limit), page=int(page))


def search(aoi: Any, collection: str, start: Any = None, end: Any = None, max_cloud: float | None = None,
           provider: str | None = None, *, limit: int = DEFAULT_LIMIT, page: int = 1,
           workspace: str | Path | None = None, **queryables: Any) -> SearchResults:
    """Search a catalogue for items of ``collection`` over ``aoi`` between ``start`` and ``end``.

    ``aoi``: anything :func:`ai4geo_lab.aoi.to_aoi` takes (or None for everywhere). ``provider``: None (the local
    catalogue when it holds the collection, else EODAG's preferred provider), ``'local'``, an EODAG provider name,
    a STAC API URL, or a static catalogue path. ``queryables``: extra equality filters on item properties.
    Returns one page of ``limit`` items; ``results.next_page()`` or ``search_page(results.next_token)`` goes on.
    Cloud cover is filtered on the client (servers do not honour it reliably); ``results.notes`` says so.
    """
    return run_request(build_request(aoi, collection, start, end, max_cloud, provider, limit, page, **queryables),
                       workspace)


def search_page(token: str, workspace: str | Path | None = None, allow_paths: bool = True) -> SearchResults:
    """The page a ``next_token`` stands for. A server answering requests passes ``allow_paths=False`` so that a
    token cannot name a file of its own choosing as a catalogue."""
    return run_request(SearchRequest.from_token(token), workspace, allow_paths)


def run_request(req: SearchRequest, workspace: str | Path | None = None, allow_paths: bool = True) -> SearchResults:
    """Execute a validated request (see :func:`search_page` for ``allow_paths``)."""
    res = _run(req, prov.resolve(req.provider, workspace, allow_paths), workspace)
    res.workspace = workspace
    res._pager = run_request
    return res


def _run(req: SearchRequest, target: prov.Provider, workspace: str | Path | None) -> SearchResults:
    if target.kind == "auto":
        if target.paths:
            from ai4geo_lab.catalog.local import LocalIndex

            if req.collection in LocalIndex.from_paths(list(target.paths)).collection_ids():
                return _search_local(req, target)
        return _search_eodag(req, None, workspace)
    if target.kind == prov.LOCAL:
        return _search_local(req, target)
    if target.kind == "stac-api":
        _check_stac_api(target.url or "", req.collection)
    return _search_eodag(req, target.name, workspace)


def _search_local(req: SearchRequest, target: prov.Provider) -> SearchResults:
    from ai4geo_lab.catalog.local import LocalIndex

    index = LocalIndex.from_paths(list(target.paths))
    known = index.collection_ids()
    if req.collection not in known:
        raise unknown_collection(req.collection, known, "the local catalogue")
    t0 = np.datetime64(req.start.rstrip("Z"), "ns") if req.start else None
    t1 = np.datetime64(req.end.rstrip("Z"), "ns") if req.end else None
    idx = index.search(shape(req.aoi) if req.aoi else None, [req.collection], t0, t1, req.max_cloud,
                       req.queryables)
    lo = (req.page - 1) * req.limit
    page = idx[lo: lo + req.limit]
    items = [{**index.items[i], "ai4geo:provider": prov.LOCAL} for i in page]
    notes = []
    if req.max_cloud is not None:
        notes.append(f"cloud cover ≤ {req.max_cloud:g} % filtered in ai4geo_lab (items without a cloud cover are "
                     "left out)")
    return SearchResults(items, req, prov.LOCAL, has_next=len(idx) > lo + req.limit, notes=notes)


#: Seconds a STAC API's collection list is trusted before it is fetched again.
COLLECTIONS_TTL_S = 30.0
_COLLECTIONS: dict[str, tuple[float, list[str]]] = {}


def _check_stac_api(url: str, collection: str, timeout: float | None = None) -> None:
    import time

    root = url[: -len("/search")] if url.endswith("/search") else url
    cached = _COLLECTIONS.get(root)
    if cached is not None and time.monotonic() - cached[0] < COLLECTIONS_TTL_S and collection in cached[1]:
        return
    try:
        known = _stac_api_collections(root, timeout)
    except Ai4geoError as exc:
        at_field(exc, "provider")
        raise
    _COLLECTIONS[root] = (time.monotonic(), known)
    if collection not in known:
        raise unknown_collection(collection, known, f"the STAC API {prov.safe_url(root)}")


def _stac_api_collections(root: str, timeout: float | None = None) -> list[str]:
    import requests

    timeout = timeout or prov.timeout_s()
    try:
        resp = requests.get(f"{root}/collections", timeout=timeout, headers={"Accept": "application/json"})
    except requests.Timeout as exc:
        raise ProviderError(f"the STAC API {prov.safe_url(root)} did not answer within {timeout:g} s",
                            "try again later, or check the URL") from exc
    except requests.RequestException as exc:
        raise ProviderError(f"cannot reach the STAC API {prov.safe_url(root)} ({type(exc).__name__})",
                            "check the URL and your network connection") from exc
    if resp.status_code in (401, 403):
        raise ProviderAuthError(f"the STAC API {prov.safe_url(root)} refused access (HTTP {resp.status_code})",
                                "this API needs credentials: set them in EODAG's configuration")
    if resp.status_code >= 400:
        raise ProviderError(f"the STAC API {prov.safe_url(root)} answered HTTP {resp.status_code} for /collections",
                            "is this the root URL of a STAC API?")
    try:
        return sorted(c.get("id") for c in resp.json().get("collections", []))
    except ValueError as exc:
        raise ProviderError(f"{prov.safe_url(root)}/collections is not JSON", "is this a STAC API?") from exc


def _search_eodag(req: SearchRequest, provider: str | None, workspace: str | Path | None) -> SearchResults:
    dag = prov.gateway(workspace)
    if provider is not None and not provider.startswith("stac_api_"):
        try:
            known = sorted(c.id for c in dag.list_collections(provider=provider, fetch_providers=False))
        except Exception as exc:
            raise eodag_error(exc, provider, workspace) from exc
        if req.collection not in known:
            raise unknown_collection(req.collection, known, f"EODAG provider '{provider}'")
    # a STAC API URL's collection and every filter were checked here already; EODAG's own validation would
    # rebuild pydantic models of the queryables at every search (more than half of its time per search)
    checked = provider is not None and provider.startswith("stac_api_")
    kwargs: dict[str, Any] = {"collection": req.collection, "limit": req.limit, "count": False,
                              "raise_errors": True, "validate": not checked, **req.queryables}
    if req.cursor:  # the provider's next-page token (STAC APIs page with tokens, not numbers)
        kwargs["next_page_token"] = req.cursor.get("token")
        kwargs["next_page_token_key"] = req.cursor.get("key")
    elif req.page > 1:
        kwargs["page"] = req.page
    if req.aoi:
        kwargs["geom"] = shape(req.aoi)
    if req.start:
        kwargs["start"] = req.start
    if req.end:
        kwargs["end"] = req.end
    if provider:
        kwargs["provider"] = provider
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 'page' is deprecated in favour of next_page()
            products = dag.search(**kwargs)
    except Exception as exc:
        raise eodag_error(exc, provider, workspace) from exc
    items = [product_to_item(p) for p in products]
    notes = []
    if req.max_cloud is not None:
        before = len(items)
        items = [it for it in items
                 if it["properties"].get("eo:cloud_cover") is not None
                 and float(it["properties"]["eo:cloud_cover"]) <= req.max_cloud]
        notes.append(f"cloud cover ≤ {req.max_cloud:g} % filtered in ai4geo_lab, not by the provider "
                     f"({before - len(items)} of {before} items of this page left out; a page may hold fewer items)")
    kept = {it["id"] for it in items}
    by_id = {p.properties.get("id"): p for p in products if p.properties.get("id") in kept}
    name = provider or (products[0].provider if len(products) else "eodag")
    token = getattr(products, "next_page_token", None)
    cursor = {"token": _jsonable_token(token), "key": getattr(products, "next_page_token_key", None)} \
        if token is not None else None
    return SearchResults(items, req, name, has_next=token is not None and len(products) >= req.limit, notes=notes,
                         products=by_id,
                         next_cursor=cursor)


def _jsonable_token(token: Any) -> Any:
    return token if isinstance(token, str | int | float) else json.loads(json.dumps(token, default=str))
