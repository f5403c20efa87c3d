"""``SearchPanel()``: draw an AOI on a map, search a catalogue, see footprints, preview, download.

All the work is done by :mod:`ai4geo_lab.catalog`; this module only lays out widgets. ``panel.aoi`` (an
:class:`~ai4geo_lab.aoi.AOI`) and ``panel.results`` (a :class:`~ai4geo_lab.catalog.SearchResults`) are live.
With no base layer (the default) the map needs no tile server, so it works offline: it shows country outlines, a
graticule and the local catalogue's extent, as the Lab's search panel does.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ipywidgets as w

from ai4geo_lab.errors import Ai4geoError
from ai4geo_lab.widgets.basemap import add_base

FOOTPRINT = {"color": "#e4572e", "weight": 2, "fillOpacity": 0.08, "opacity": 0.9}
SELECTED = {"color": "#17bebb", "weight": 4, "fillOpacity": 0.25, "opacity": 1.0}
AOI_STYLE = {"color": "#3454d1", "weight": 2, "fillOpacity": 0.05}


class SearchPanel(w.VBox):
    """A search form on an ipyleaflet map.

    Draw a rectangle or polygon (or load a saved AOI or a vector file), choose provider, collection, dates and
    maximum cloud cover, press Search: results appear in a table and as footprints (clicking either highlights
    both), with a quicklook of the selection, previous/next pages, and "Download selected" with a progress bar.
    ``basemap``: None (the offline base: country outlines and a graticule), ``"osm"``, a tile URL template, an
    ``ipyleaflet`` basemap or TileLayer. The local catalogue's extent is drawn over it (a dashed box).
    """

    def __init__(self, provider: str | None = "local", collection: str | None = None,
                 center: tuple[float, float] | None = None, zoom: int = 14, basemap: Any = None,
                 start: dt.date | None = None, end: dt.date | None = None, dest: str | Path | None = None,
                 workspace: str | Path | None = None, limit: int = 20) -> None:
        from ipyleaflet import DrawControl, GeoJSON, LayerGroup, Map, ScaleControl

        self.workspace = workspace
        self.dest = dest
        self.limit = limit
        self.aoi: Any = None
        self.results: Any = None
        self._pages: list[Any] = []
        self.map = Map(center=center or self._default_center(), zoom=zoom, layers=(), scroll_wheel_zoom=True,
                       layout=w.Layout(height="420px", width="100%"))
        add_base(self.map, basemap, workspace, catalogue=True)
        self.map.add(ScaleControl(position="bottomleft"))
        self.draw = DrawControl(rectangle={"shapeOptions": AOI_STYLE}, polygon={"shapeOptions": AOI_STYLE},
                                polyline={}, circlemarker={}, circle={}, marker={}, edit=False, remove=True)
        self.draw.on_draw(self._on_draw)
        self.map.add(self.draw)
        self.aoi_layer = GeoJSON(data={"type": "FeatureCollection", "features": []}, style=AOI_STYLE, name="AOI")
        self.footprints = GeoJSON(data={"type": "FeatureCollection", "features": []}, style=FOOTPRINT,
                                  hover_style={"weight": 4, "fillOpacity": 0.2}, name="footprints")
        self.footprints.on_click(self._on_footprint_click)
        self.highlight = GeoJSON(data={"type": "FeatureCollection", "features": []}, style=SELECTED,
                                 name="selected")
        self.map.add(LayerGroup(layers=(self.aoi_layer, self.footprints, self.highlight), name="search"))

        # ---- form ----
        self.provider = w.Combobox(value=provider or "", options=self._provider_names(), description="Provider",
                                   placeholder="local, an EODAG provider or a STAC API URL", ensure_option=False)
        self.collection = w.Combobox(value=collection or "", options=[], description="Collection",
                                     ensure_option=False)
        self.start = w.DatePicker(value=start, description="Start")
        self.end = w.DatePicker(value=end, description="End")
        self.max_cloud = w.IntSlider(value=100, min=0, max=100, step=5, description="Max cloud %",
                                     tooltip="100: no cloud filter")
        self.saved = w.Dropdown(options=["", *self._saved_aois()], description="Saved AOI")
        self.aoi_file = w.Text(placeholder="or a file, 'west,south,east,north', WKT or GeoJSON", description="AOI")
        self.load_aoi = w.Button(description="Use AOI", icon="map")
        self.load_aoi.on_click(self._on_load_aoi)
        self.search_button = w.Button(description="Search", button_style="primary", icon="search")
        self.search_button.on_click(lambda _: self.search())
        self.status = w.HTML()
        self.table = w.SelectMultiple(options=[], rows=8, description="Results",
                                      layout=w.Layout(width="100%", font_family="monospace"))
        self.table.observe(self._on_table_select, names="value")
        self.prev_button = w.Button(description="◀ Previous", disabled=True)
        self.next_button = w.Button(description="Next ▶", disabled=True)
        self.prev_button.on_click(lambda _: self._previous())
        self.next_button.on_click(lambda _: self._next())
        self.quicklook = w.Image(format="png", layout=w.Layout(max_width="256px", max_height="256px", display="none"))
        self.download_button = w.Button(description="Download selected", icon="download", disabled=True)
        self.download_button.on_click(lambda _: self.download_selected())
        self.progress = w.FloatProgress(value=0, min=0, max=1, description="Download",
                                        layout=w.Layout(visibility="hidden"))
        self.provider.observe(lambda _: self._refresh_collections(), names="value")
        self._refresh_collections()
        form = w.VBox([self.provider, self.collection, w.HBox([self.start, self.end]), self.max_cloud,
                       w.HBox([self.saved, self.aoi_file, self.load_aoi]), w.HBox([self.search_button, self.status])])
        results = w.HBox([w.VBox([self.table, w.HBox([self.prev_button, self.next_button, self.download_button]),
                                  self.progress], layout=w.Layout(flex="1")), self.quicklook])
        super().__init__([self.map, form, results])
        self.add_class("ai4geo-search-panel")

    # ---- helpers ---------------------------------------------------------------------------------------------
    def _default_center(self) -> tuple[float, float]:
        try:
            from ai4geo_lab.catalog import local_catalogs
            from ai4geo_lab.catalog.local import LocalIndex

            paths = local_catalogs(self.workspace)
            if paths:
                index = LocalIndex.from_paths(paths)
                if len(index.items):
                    import shapely

                    c = shapely.union_all(index.geometries).centroid
                    return (c.y, c.x)
        except Ai4geoError:
            pass
        return (0.0, 0.0)

    def _provider_names(self) -> list[str]:
        try:
            from ai4geo_lab.catalog import providers

            return [p["name"] for p in providers(self.workspace)]
        except Ai4geoError:
            return ["local"]

    def _saved_aois(self) -> list[str]:
        from ai4geo_lab.aoi import list_aois

        return list_aois(self.workspace)

    def _error(self, exc: Exception) -> None:
        import html

        self.status.value = f"<span style='color:#b00020'>{html.escape(str(exc))}</span>"

    def _refresh_collections(self) -> None:
        from ai4geo_lab.catalog import collections

        try:
            ids = sorted({c["id"] for c in collections(self.provider.value or None, self.workspace)})
        except Ai4geoError as exc:
            self._error(exc)
            ids = []
        self.collection.options = ids
        if not self.collection.value and ids:
            self.collection.value = ids[0]

    def _set_aoi(self, source: Any) -> None:
        from shapely.geometry import mapping

        from ai4geo_lab.aoi import resolve

        self.aoi = resolve(source, self.workspace)
        self.aoi_layer.data = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": mapping(self.aoi.geometry), "properties": {}}]}
        w_, s, e, n = self.aoi.bounds
        self.status.value = f"AOI: {self.aoi.area_km2:,.3f} km² [{w_:.4f}, {s:.4f}, {e:.4f}, {n:.4f}]"

    # ---- events ----------------------------------------------------------------------------------------------
    def _on_draw(self, target: Any, action: str, geo_json: dict) -> None:
        if action == "deleted":
            self.aoi = None
            self.aoi_layer.data = {"type": "FeatureCollection", "features": []}
            return
        try:
            self._set_aoi(geo_json)
        except Ai4geoError as exc:
            self._error(exc)
        self.draw.clear()  # the AOI layer shows it; the draw layer stays empty for the next shape

    def _on_load_aoi(self, _: Any) -> None:
        try:
            if self.aoi_file.value.strip():
                self._set_aoi(self.aoi_file.value)
            elif self.saved.value:
                self._set_aoi(self.saved.value)
            if self.aoi is not None:
                w_, s, e, n = self.aoi.bounds
                self.map.fit_bounds([[s, w_], [n, e]])
        except Ai4geoError as exc:
            self._error(exc)

    def _on_footprint_click(self, feature: dict | None = None, **_: Any) -> None:
        item_id = (feature or {}).get("properties", {}).get("id")
        if item_id is None:
            return
        chosen = list(self.table.value)
        chosen = [i for i in chosen if i != item_id] if item_id in chosen else [*chosen, item_id]
        self.table.value = tuple(chosen)

    def _on_table_select(self, _: Any) -> None:
        ids = set(self.table.value)
        feats = [f for f in self.footprints.data.get("features", []) if f["properties"]["id"] in ids]
        self.highlight.data = {"type": "FeatureCollection", "features": feats}
        self.download_button.disabled = not ids
        self._show_quicklook()

    def _show_quicklook(self) -> None:
        data = b""
        if self.table.value and self.results is not None:
            try:
                qls = self.results.select(self.table.value[:1]).quicklooks(workspace=self.workspace)
                path = qls.get(self.table.value[0])
                data = Path(path).read_bytes() if path else b""
            except Exception as exc:  # a preview must never break the panel
                self.status.value = f"no quicklook: {exc}"
        self.quicklook.value = data
        self.quicklook.layout.display = None if data else "none"  # no broken-image icon while there is none

    # ---- actions ---------------------------------------------------------------------------------------------
    def search(self) -> Any:
        """Run the search described by the form; returns (and keeps in ``panel.results``) the first page."""
        from ai4geo_lab.catalog import search

        self.status.value = "searching…"
        try:
            res = search(self.aoi, self.collection.value, self.start.value, self.end.value,
                         None if self.max_cloud.value >= 100 else self.max_cloud.value,
                         self.provider.value or None, limit=self.limit, workspace=self.workspace)
        except Ai4geoError as exc:
            self._error(exc)
            return None
        self._pages = [res]
        self._show(res)
        return res

    def _next(self) -> None:
        if self.results is None or not self.results.has_next:
            return
        try:
            res = self.results.next_page()
        except Ai4geoError as exc:
            self._error(exc)
            return
        self._pages.append(res)
        self._show(res)

    def _previous(self) -> None:
        if len(self._pages) > 1:
            self._pages.pop()
            self._show(self._pages[-1])

    def _show(self, res: Any) -> None:
        self.results = res
        fc = res.to_geojson()
        self.footprints.data = {"type": "FeatureCollection", "features": fc["features"]}
        self.highlight.data = {"type": "FeatureCollection", "features": []}
        labels = []
        for f in fc["features"]:
            p = f["properties"]
            cloud = "" if p["cloud_cover"] is None else f"{p['cloud_cover']:5.1f}%"
            labels.append((f"{p['id'][:40]:40s} {(p['datetime'] or '')[:19]:19s} {cloud:>6s}", p["id"]))
        self.table.value = ()
        self.table.options = labels
        self.prev_button.disabled = len(self._pages) <= 1
        self.next_button.disabled = not res.has_next
        notes = "".join(f"<br><i>{n}</i>" for n in res.notes)
        self.status.value = f"<b>{len(res)} items</b> (page {res.page}){notes}"
        if len(res) and self.aoi is None:
            w_, s, e, n = res.frame.total_bounds
            self.map.fit_bounds([[s, w_], [n, e]])

    def download_selected(self) -> dict[str, list[Path]]:
        """Download the items selected in the table, with the progress bar; returns {item id: files}."""
        if self.results is None or not self.table.value:
            return {}
        chosen = self.results.select(self.table.value)
        self.progress.layout.visibility = "visible"
        self.progress.value = 0

        def tick(done: int, total: int | None, name: str) -> None:
            self.progress.max = max(total or done or 1, 1)
            self.progress.value = done
            self.progress.description = name[:14]

        try:
            files = chosen.download(self.dest, progress=tick, workspace=self.workspace)
        except Ai4geoError as exc:
            self._error(exc)
            return {}
        self.status.value = f"downloaded {sum(len(v) for v in files.values())} files"
        return files
