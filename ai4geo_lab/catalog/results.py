"""``SearchResults``: one page of a search, as a GeoDataFrame, GeoJSON or STAC, with download and quicklooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import shape

from ai4geo_lab.catalog.download import download_items, make_quicklooks
from ai4geo_lab.catalog.items import _jsonable, quicklook_href
from ai4geo_lab.catalog.request import SearchRequest

#: Runs a request for the next page (set by the search that made the results).
Pager = Callable[[SearchRequest, Any], "SearchResults"]

COLUMNS = ["id", "collection", "provider", "datetime", "cloud_cover", "quicklook", "geometry"]


class SearchResults:
    """One page of search results. ``frame`` is a GeoDataFrame (id, collection, provider, datetime, cloud_cover,
    quicklook, geometry); ``items`` the STAC items. Pages go on with :meth:`next_page` or ``next_token`` (no total
    count is needed). ``notes`` say which filters were applied on the client rather than by the provider."""

    def __init__(self, items: list[dict[str, Any]], request: SearchRequest, provider: str, has_next: bool,
                 notes: list[str] | None = None, products: dict[str, Any] | None = None,
                 next_cursor: dict[str, Any] | None = None, pager: Pager | None = None) -> None:
        self.items = items
        self._pager = pager
        self.request = request
        self.provider = provider
        self.has_next = has_next
        self.notes = list(notes or [])
        self._products = products or {}
        self._next_cursor = next_cursor
        self.workspace: str | Path | None = None  # where the search ran (set by run_request)
        self._frame: gpd.GeoDataFrame | None = None

    # ---- views ----------------------------------------------------------------------------------------------
    @property
    def frame(self) -> gpd.GeoDataFrame:
        """The page as a GeoDataFrame in EPSG:4326 (one row per item)."""
        if self._frame is None:
            rows = [{
                "id": it.get("id"), "collection": it.get("collection"),
                "provider": it.get("ai4geo:provider", self.provider),
                "datetime": (it.get("properties") or {}).get("datetime"),
                "cloud_cover": (it.get("properties") or {}).get("eo:cloud_cover"),
                "quicklook": quicklook_href(it),
                "geometry": shape(it["geometry"]) if it.get("geometry") else None,
            } for it in self.items]
            frame = gpd.GeoDataFrame(pd.DataFrame(rows, columns=COLUMNS), geometry="geometry", crs="EPSG:4326")
            frame["datetime"] = pd.to_datetime(frame["datetime"], utc=True, format="ISO8601")
            frame["cloud_cover"] = pd.to_numeric(frame["cloud_cover"], errors="coerce")
            self._frame = frame
        return self._frame

    @property
    def ids(self) -> list[str]:
        """The item ids of this page, in order."""
        return [it["id"] for it in self.items]

    @property
    def page(self) -> int:
        """This page's number (from 1)."""
        return self.request.page

    @property
    def next_token(self) -> str | None:
        """An opaque token for the next page (``search_page(token)``), or None on the last page."""
        if not self.has_next:
            return None
        return self._next_request().token()

    def _next_request(self) -> SearchRequest:
        return self.request.model_copy(update={"page": self.request.page + 1, "cursor": self._next_cursor})

    def next_page(self) -> SearchResults:
        """The next page (empty when this is the last)."""
        if not self.has_next or self._pager is None:
            return SearchResults([], self.request.model_copy(update={"page": self.page + 1}), self.provider, False,
                                 self.notes)
        return self._pager(self._next_request(), self.workspace)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.items)

    def __getitem__(self, key: int | str) -> dict[str, Any]:
        if isinstance(key, str):
            for it in self.items:
                if it.get("id") == key:
                    return it
            raise KeyError(key)
        return self.items[key]

    def __repr__(self) -> str:
        more = ", more pages" if self.has_next else ""
        return f"<SearchResults {len(self)} items of '{self.request.collection}' from {self.provider}, page " \
               f"{self.page}{more}>"

    def _repr_html_(self) -> str:
        notes = "".join(f"<p><i>{n}</i></p>" for n in self.notes)
        return self.frame.drop(columns="geometry").to_html(index=False) + notes

    def select(self, ids: Iterable[str]) -> SearchResults:
        """A view of these items only (e.g. those selected in a table)."""
        wanted = list(ids)
        missing = [i for i in wanted if i not in self.ids]
        if missing:
            from ai4geo_lab.errors import InvalidInputError

            raise InvalidInputError(f"not in these results: {', '.join(missing)}", "pick ids from results.ids")
        items = [it for it in self.items if it.get("id") in wanted]
        out = SearchResults(items, self.request, self.provider, False, self.notes,
                            {k: v for k, v in self._products.items() if k in wanted})
        out.workspace = self.workspace
        return out

    # ---- exports --------------------------------------------------------------------------------------------
    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON FeatureCollection (JSON-serialisable dict): one feature per item with its summary properties
        (id, collection, provider, datetime, cloud_cover, quicklook, platform and instruments when known, assets),
        plus paging (``page``, ``next_token``), the request and the notes as foreign members."""
        features = []
        for it, row in zip(self.items, self.frame.itertuples(index=False), strict=True):
            cloud = None if pd.isna(row.cloud_cover) else float(row.cloud_cover)
            when = None if pd.isna(row.datetime) else row.datetime.isoformat().replace("+00:00", "Z")
            props = it.get("properties") or {}
            instruments = props.get("instruments")
            features.append({"type": "Feature", "id": row.id, "geometry": it.get("geometry"), "bbox": it.get("bbox"),
                             "properties": {"id": row.id, "collection": row.collection, "provider": row.provider,
                                            "datetime": when, "cloud_cover": cloud, "quicklook": row.quicklook,
                                            "platform": props.get("platform"),
                                            "instruments": list(instruments) if isinstance(instruments, list)
                                            else None,
                                            "assets": sorted((it.get("assets") or {}).keys())}})
        return {"type": "FeatureCollection", "features": features, "page": self.page, "limit": self.request.limit,
                "next_token": self.next_token, "provider": self.provider, "notes": self.notes,
                "request": self.request.model_dump()}

    def to_stac(self) -> dict[str, Any]:
        """The items as a STAC ItemCollection (dict)."""
        items = []
        for it in self.items:
            item = {k: v for k, v in it.items() if not k.startswith("ai4geo:")}
            item.setdefault("type", "Feature")
            item.setdefault("stac_version", "1.1.0")
            item.setdefault("links", [])
            items.append(_jsonable(item))
        return {"type": "FeatureCollection", "features": items}

    # ---- data ---------------------------------------------------------------------------------------------
    def download(self, dest: str | Path | None = None, progress: bool = True,
                 assets: list[str] | Callable[[str, dict], bool] | None = None,
                 workspace: str | Path | None = None) -> dict[str, list[Path]]:
        """Download the items' assets to ``dest`` (default ``WORKSPACE/downloads``), resuming partial files,
        checking checksums when the catalogue gives them, and recording each file in the workspace inventory
        (what is already there is not downloaded again). Returns {item id: [files]}."""
        return download_items(self, dest, progress=progress, assets=assets,
                              workspace=workspace if workspace is not None else self.workspace)

    def quicklooks(self, dest: str | Path | None = None, workspace: str | Path | None = None,
                   size: int = 256) -> dict[str, Path]:
        """A PNG preview per item: the provider's quicklook when there is one, else one rendered from its first
        raster asset. Returns {item id: PNG path}."""
        return make_quicklooks(self, dest, workspace=workspace if workspace is not None else self.workspace,
                               size=size)
