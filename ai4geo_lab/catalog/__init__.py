"""Finding and fetching data: EODAG providers, any STAC API, and the embedded local catalogue (offline).

>>> from ai4geo_lab.catalog import add_local_catalog, search
>>> add_local_catalog("sample-city")                     # a sample city folder, or any static STAC catalogue
>>> res = search("1.43,43.60,1.45,43.61", "sample-ortho", "2024-01-01", "2025-12-31", max_cloud=20,
...              provider="local")
>>> res.frame                                            # GeoDataFrame: id, collection, provider, datetime, ...
>>> res.download("data/")                                # resumable, checksummed, recorded in the inventory
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ai4geo_lab.catalog.results import SearchResults

# Imported on first use, so that `import ai4geo_lab.catalog` (and the CLI) stays quick.
_LAZY = {
    "inventory": "download", "inventory_path": "download",
    "LOCAL": "sources", "add_local_catalog": "sources", "eodag_config_dir": "sources", "local_catalogs": "sources",
    "remove_local_catalog": "sources",
    "SearchResults": "results",
    "SearchRequest": "request", "build_request": "query", "run_request": "query", "search": "query",
    "search_page": "query",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"ai4geo_lab.catalog.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'ai4geo_lab.catalog' has no attribute {name!r}")


__all__ = [
    "LOCAL", "SearchRequest", "SearchResults", "add_local_catalog", "build_request", "collections",
    "eodag_config_dir", "inventory", "inventory_path", "local_catalogs", "local_extent", "providers", "queryables",
    "remove_local_catalog", "run_request", "search", "search_page",
]


def providers(workspace: str | Path | None = None) -> list[dict[str, Any]]:
    """Every search target: the local catalogue first, then EODAG's providers (preferred first)."""
    from ai4geo_lab.catalog.sources import LOCAL, eodag_providers, local_catalogs

    out = [{"name": LOCAL, "kind": "local", "offline": True,
            "catalogs": [str(p) for p in local_catalogs(workspace)]}]
    out += [{"name": name, "kind": "eodag", "offline": False} for name in eodag_providers(workspace)]
    return out


def collections(provider: str | None = None, workspace: str | Path | None = None) -> list[dict[str, Any]]:
    """The collections a provider serves ({id, title, provider}); with no provider, those of the local
    catalogue and of every EODAG provider."""
    from ai4geo_lab.catalog import sources as prov
    from ai4geo_lab.catalog.sources import LOCAL

    target = prov.resolve(provider, workspace)
    out: list[dict[str, Any]] = []
    if target.kind in (LOCAL, "auto") and target.paths:
        from ai4geo_lab.catalog.local import LocalIndex

        out += [{"id": c, "title": c, "provider": LOCAL}
                for c in LocalIndex.from_paths(list(target.paths)).collection_ids()]
    if target.kind == "stac-api":
        import requests

        try:
            resp = requests.get(f"{target.url}/collections", timeout=prov.timeout_s())
            resp.raise_for_status()
            docs = resp.json().get("collections", [])
        except (requests.RequestException, ValueError) as exc:
            from ai4geo_lab.errors import ProviderError

            raise ProviderError(f"cannot list the collections of {prov.safe_url(target.url or '')} "
                                f"({type(exc).__name__})", "check the URL of the STAC API") from exc
        out += [{"id": c["id"], "title": c.get("title") or c["id"], "provider": target.url} for c in docs]
    if target.kind in ("eodag", "auto"):
        dag = prov.gateway(workspace)
        name = target.name if target.kind == "eodag" else None
        out += [{"id": c.id, "title": getattr(c, "title", None) or c.id, "provider": name or "eodag"}
                for c in dag.list_collections(provider=name, fetch_providers=False)]
    return out


def queryables(collection: str, provider: str | None = None,
               workspace: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """What a search of ``collection`` can filter on, as {name: JSON Schema}, for forms. The common ones (aoi,
    start, end, max_cloud) come first; then the provider's own."""
    from ai4geo_lab.catalog import sources as prov
    from ai4geo_lab.catalog.request import SearchRequest
    from ai4geo_lab.catalog.sources import LOCAL

    schema = SearchRequest.model_json_schema()["properties"]
    out = {k: schema[k] for k in ("aoi", "start", "end", "max_cloud")}
    target = prov.resolve(provider, workspace)
    if target.kind in (LOCAL, "auto") and target.paths:
        from ai4geo_lab.catalog.local import LocalIndex

        index = LocalIndex.from_paths(list(target.paths))
        if collection in index.collection_ids() or target.kind == LOCAL:
            if collection not in index.collection_ids():
                from ai4geo_lab.catalog.request import unknown_collection

                raise unknown_collection(collection, index.collection_ids(), "the local catalogue")
            kinds = {bool: "boolean", int: "integer", float: "number", str: "string"}
            for item in index.items:
                if item.get("collection") != collection:
                    continue
                for key, value in (item.get("properties") or {}).items():
                    if key not in ("datetime", "eo:cloud_cover") and type(value) in kinds and key not in out:
                        out[key] = {"type": kinds[type(value)], "title": key}
            return out
    dag = prov.gateway(workspace)
    name = target.name if target.kind in ("eodag", "stac-api") else None
    try:
        found = dag.list_queryables(provider=name, collection=collection, fetch_providers=False)
        extra = found.get_model_json_schema().get("properties", {})
    except Exception as exc:
        from ai4geo_lab.catalog.request import eodag_error

        raise eodag_error(exc, name, workspace) from exc
    skip = {"collection", "geom", "start", "end", "startTimeFromAscendingNode", "completionTimeFromAscendingNode",
            "start_datetime", "end_datetime", "geometry", "datetime"}
    for key, value in extra.items():
        if key not in skip and key not in out:
            out[key] = value
    return out


def local_extent(workspace: str | Path | None = None) -> dict[str, Any]:
    """What a map shows of the local catalogue: ``{catalogs: [{title, bbox, items, collections}], bbox, items}``
    (bounding boxes as ``[west, south, east, north]`` in EPSG:4326; ``bbox`` None when the catalogue is empty).
    Catalogues are named by their title (or id), never by their path on disk."""
    import json

    from ai4geo_lab.catalog.local import LocalIndex
    from ai4geo_lab.catalog.sources import local_catalogs

    out: list[dict[str, Any]] = []
    for path in local_catalogs(workspace):
        if not path.exists():
            continue  # moved or deleted since it was added: nothing to draw
        index = LocalIndex.from_paths([path])
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            doc = {}
        title = doc.get("title") or doc.get("id") or path.parent.name
        bbox = None
        if len(index.items):
            import shapely

            bbox = [float(v) for v in shapely.total_bounds(index.geometries)]
        out.append({"title": str(title), "bbox": bbox, "items": len(index.items),
                    "collections": index.collection_ids()})
    boxes = [c["bbox"] for c in out if c["bbox"]]
    total = [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
             max(b[3] for b in boxes)] if boxes else None
    return {"catalogs": out, "bbox": total, "items": sum(c["items"] for c in out)}
