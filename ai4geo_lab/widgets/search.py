"""``SearchPanel()``: the Lab's search panel in a notebook: draw, load or upload an AOI on a map, search a catalogue,
see the results as a sortable table and as footprints, quicklooks on the map, pages, download.

All the work is done by :mod:`ai4geo_lab.catalog` and :mod:`ai4geo_lab.aoi` (the functions the Lab's server calls);
this module only lays out widgets. ``panel.aoi`` (an :class:`~ai4geo_lab.aoi.AOI`), ``panel.results`` (a
:class:`~ai4geo_lab.catalog.SearchResults`) and ``panel.selected`` (item ids) are live. With no base layer (the
default) the map needs no tile server: it shows country outlines, a graticule and the local catalogue's extent.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import warnings
from pathlib import Path
from typing import Any, cast

import ipywidgets as w

from ai4geo_lab.catalog.table import COLUMNS, MISSING, SortKey, field_label, result_rows, short_id, sort_rows
from ai4geo_lab.errors import Ai4geoError, InvalidInputError
from ai4geo_lab.widgets.basemap import add_base, add_catalogue_zoom, fit_view

FOOTPRINT = {"color": "#e4572e", "weight": 2, "fillOpacity": 0.08, "opacity": 0.9}
SELECTED = {"color": "#17bebb", "weight": 4, "fillOpacity": 0.25, "opacity": 1.0}
AOI_STYLE = {"color": "#3454d1", "weight": 2, "fillOpacity": 0.05}
LOOK_PANE = "ai4geo-looks"  # quicklooks over the base, clicks going through to the footprints
COMMON = ("aoi", "start", "end", "max_cloud")  # the queryables the form always has
UPLOAD_ACCEPT = ".geojson,.json,.gpkg,.kml,.kmz,.zip,.fgb"
LABEL = {"description_width": "12em"}
# scoped to the panel: the table's cells are flat buttons, the selected rows tinted, errors in red beside fields
CSS = """<style>
.ai4geo-search-panel .ai4geo-cell button, .ai4geo-search-panel button.ai4geo-cell {background: none;
  box-shadow: none; text-align: left; padding: 0 4px; overflow: hidden; text-overflow: ellipsis;}
.ai4geo-search-panel .ai4geo-cell.ai4geo-selected {background: rgba(23, 190, 187, 0.18);}
.ai4geo-search-panel .ai4geo-missing {color: var(--jp-ui-font-color2, #888);}
.ai4geo-search-panel button.ai4geo-cell.ai4geo-num {text-align: right;}
.ai4geo-search-panel .ai4geo-sort {font-weight: bold; background: none; box-shadow: none; text-align: left;}
.ai4geo-search-panel .ai4geo-field-error {color: var(--jp-error-color1, #b00020);}
.ai4geo-search-panel .ai4geo-field-warning {color: var(--jp-warn-color1, #b26a00);}
</style>"""


class _Row:
    """The widgets of one table row (kept and reused from page to page)."""

    def __init__(self, panel: SearchPanel) -> None:
        self.id: str | None = None
        self.check = w.Checkbox(value=False, indent=False, layout=w.Layout(width="28px"))
        self.look = w.ToggleButton(value=False, description="QL", tooltip="show the quicklook on its footprint",
                                   layout=w.Layout(width="42px"))
        self.cells = {key: w.Button(layout=w.Layout(width="auto")) for key in COLUMNS}
        for cell in self.cells.values():
            cell.add_class("ai4geo-cell")
            cell.on_click(lambda _: self.id is not None and panel.focus(self.id))
        self.cells["cloud"].add_class("ai4geo-num")
        self.check.observe(lambda c: panel._on_check(self, c["new"]), names="value")
        self.look.observe(lambda c: panel._on_look(self, c["new"]), names="value")

    def show(self, row: dict[str, Any], selected: bool, looked: bool) -> None:
        self.id = None  # no events while the widgets are set
        self.check.value, self.look.value = selected, looked
        self.check.tooltip = f"select {row['id']} for download"
        cloud = None if row["cloud"] is None else f"{row['cloud']:.1f}"
        texts = {"date": (row["date"], row["datetime"]), "cloud": (cloud, None),
                 "collection": (row["collection"], row["collection"]), "platform": (row["platform"], row["platform"]),
                 "id": (short_id(row["id"]), row["id"])}
        for key, (text, tip) in texts.items():
            cell = self.cells[key]
            cell.description = MISSING if text is None else text
            cell.tooltip = tip or ""
            (cell.add_class if text is None else cell.remove_class)("ai4geo-missing")
            (cell.add_class if selected else cell.remove_class)("ai4geo-selected")
        self.id = row["id"]

    def widgets(self, platform: bool) -> list[w.Widget]:
        keys = [k for k in COLUMNS if platform or k != "platform"]
        return [self.check, self.look, *(self.cells[k] for k in keys)]


class SearchPanel(w.VBox):
    """A search form on an ipyleaflet map, laid out as the Lab's search panel.

    Draw a rectangle or polygon, pick a saved AOI or upload a vector file (saved as a named AOI); choose the
    provider (the local catalogue first), the collection (a searchable list), dates, maximum cloud cover and the
    collection's own filters; **Search** shows the results as a table (date, cloud cover, collection, platform, id;
    a click on a header sorts by it, ascending then descending, missing values last) and as footprints. A row's
    checkbox or a click on its footprint selects it for download; a click on the row selects it and zooms to its
    footprint; **QL** draws its quicklook on its footprint. Errors are said beside the field at fault.
    ``basemap``: None (the offline base: country outlines and a graticule), ``"osm"``, a tile URL template, an
    ``ipyleaflet`` basemap or TileLayer. The local catalogue's extent is drawn over it, with a zoom button.
    """

    def __init__(self, provider: str | None = "local", collection: str | None = None,
                 center: tuple[float, float] | None = None, zoom: int = 14, basemap: Any = None,
                 start: dt.date | None = None, end: dt.date | None = None, dest: str | Path | None = None,
                 workspace: str | Path | None = None, limit: int = 20) -> None:
        from ipyleaflet import DrawControl, GeoJSON, LayerGroup, Map, ScaleControl

        self.workspace = workspace
        self.dest = dest
        self.aoi: Any = None
        self.aoi_name: str | None = None  # set when the AOI is a saved one
        self.results: Any = None
        self._pages: list[Any] = []
        self._rows: list[dict[str, Any]] = []  # the page's rows, in table order
        self._selected: list[str] = []
        self._sort: tuple[str, bool] | None = None  # (column, ascending)
        self._drawn = 0
        self._features: dict[str, dict[str, Any]] = {}  # the page's GeoJSON features by item id
        self._pending_name: str | None = None  # an existing AOI name waiting for "Overwrite"
        self._quiet = False  # True while the saved AOI list is refilled

        # ---- map ----
        self.map = Map(center=center or self._default_center(), zoom=zoom, layers=(), scroll_wheel_zoom=True,
                       layout=w.Layout(height="420px", width="100%"),
                       panes={LOOK_PANE: {"zIndex": 450, "pointerEvents": "none"}})
        add_base(self.map, basemap, workspace, catalogue=True)
        self.zoom_catalogue = add_catalogue_zoom(self.map, workspace)
        self.map.add(ScaleControl(position="bottomleft"))
        self.draw = DrawControl(rectangle={"shapeOptions": AOI_STYLE}, polygon={"shapeOptions": AOI_STYLE},
                                polyline={}, circlemarker={}, circle={}, marker={}, edit=False, remove=True)
        self.draw.on_draw(self._on_draw)
        self.map.add(self.draw)
        empty = {"type": "FeatureCollection", "features": []}
        self.aoi_layer = GeoJSON(data=empty, style=AOI_STYLE, name="AOI")
        self.looks = LayerGroup(layers=(), name="quicklooks")
        self.footprints = GeoJSON(data=empty, style=FOOTPRINT, hover_style={"weight": 4, "fillOpacity": 0.2},
                                  name="footprints")
        self.highlight = GeoJSON(data=empty, style=SELECTED, name="selected")
        self.footprints.on_click(self._on_footprint_click)
        self.highlight.on_click(self._on_footprint_click)
        self.map.add(LayerGroup(layers=(self.aoi_layer, self.looks, self.footprints, self.highlight),
                                name="search"))

        # ---- AOI ----
        self.errors: dict[str, w.HTML] = {}
        self.aoi_status = w.HTML("AOI: none — draw a rectangle or polygon on the map")
        self.saved = w.Dropdown(options=self._saved_options(), value="", description="Saved AOI", style=LABEL)
        self.saved.observe(lambda _: self._on_saved(), names="value")
        self.aoi_name_field = w.Text(placeholder="name", description="Save as", style=LABEL)
        self.save_aoi_button = w.Button(description="Save AOI", icon="save")
        self.save_aoi_button.on_click(lambda _: self.save_aoi())
        self.overwrite_text = w.HTML()
        self.overwrite_button = w.Button(description="Overwrite", button_style="warning")
        self.overwrite_button.on_click(lambda _: self.save_aoi(overwrite=True))
        self.keep_button = w.Button(description="Cancel")
        self.keep_button.on_click(lambda _: self._ask_overwrite(None))
        self.confirm = w.HBox([self.overwrite_text, self.overwrite_button, self.keep_button],
                              layout=w.Layout(display="none"))
        self.upload = w.FileUpload(accept=UPLOAD_ACCEPT, multiple=False, description="Upload AOI file",
                                   layout=w.Layout(width="auto"))
        self.upload.observe(lambda _: self._on_upload(), names="value")

        # ---- form ----
        self.provider = w.Dropdown(options=self._provider_options(provider), value=provider or "",
                                   description=field_label("provider"), style=LABEL, layout=w.Layout(width="34em"))
        self.collection = w.Combobox(value=collection or "", options=[], description=field_label("collection"),
                                     placeholder="type to filter the collections", ensure_option=False, style=LABEL,
                                     layout=w.Layout(width="34em"))
        self.start = w.DatePicker(value=start, description=field_label("start"), style=LABEL)
        self.end = w.DatePicker(value=end, description=field_label("end"), style=LABEL)
        self.max_cloud = w.IntSlider(value=100, min=0, max=100, step=5, description=field_label("max_cloud"),
                                     tooltip="100: any cloud cover", style=LABEL)
        self.limit = w.BoundedIntText(value=limit, min=1, max=500, description=field_label("limit"), style=LABEL,
                                      layout=w.Layout(width="18em"))
        self.filters = w.VBox()
        self.filter_fields: dict[str, tuple[w.Widget, str]] = {}  # queryable → (its field, its JSON type)
        self.search_button = w.Button(description="Search", button_style="primary", icon="search")
        self.search_button.on_click(lambda _: self.search())
        self.status = w.HTML()
        self.summary = w.HTML()

        # ---- results ----
        self.sort_buttons = {key: w.Button(description=label, tooltip=f"sort by {label.lower()}",
                                           layout=w.Layout(width="auto")) for key, label in COLUMNS.items()}
        for key, button in self.sort_buttons.items():
            button.add_class("ai4geo-sort")
            button.on_click(lambda _, k=key: self.sort_by(k))
        self._row_widgets: list[_Row] = []
        self._corner = (w.HTML(), w.HTML())  # the headers of the checkbox and quicklook columns
        self.table = w.GridBox(layout=w.Layout(width="100%", max_height="24em", overflow="auto", grid_gap="0 2px",
                                               align_items="center"))
        self.table.add_class("ai4geo-results")
        self.prev_button = w.Button(description="◀ Previous", disabled=True)
        self.next_button = w.Button(description="Next ▶", disabled=True)
        self.prev_button.on_click(lambda _: self._previous())
        self.next_button.on_click(lambda _: self._next())
        self.download_button = w.Button(description="Download selected", icon="download", disabled=True,
                                        layout=w.Layout(width="auto"))
        self.download_button.on_click(lambda _: self.download_selected())
        self.progress = w.FloatProgress(value=0, min=0, max=1, description="Download",
                                        layout=w.Layout(visibility="hidden"))

        self.provider.observe(lambda _: self._refresh_collections(), names="value")
        form = w.VBox([
            self.aoi_status, self._field(w.HBox([self.saved, self.upload]), "aoi"),
            w.HBox([self.aoi_name_field, self.save_aoi_button]), self.confirm,
            self._field(self.provider, "provider"), self._field(self.collection, "collection"),
            self._field(self.start, "start"), self._field(self.end, "end"),
            self._field(self.max_cloud, "max_cloud"), self._field(self.limit, "limit"),
            self._field(self.filters, "queryables"), w.HBox([self.search_button, self.status])])
        results = w.VBox([self.summary, self.table,
                          w.HBox([self.prev_button, self.next_button, self.download_button]), self.progress])
        super().__init__([w.HTML(CSS), self.map, form, results])
        self.add_class("ai4geo-search-panel")
        self.collection.observe(lambda _: self._refresh_filters(), names="value")
        self._refresh_collections()

    # ---- helpers ---------------------------------------------------------------------------------------------
    def _field(self, widget: w.Widget, name: str) -> w.HBox:
        """``widget`` with the place where its errors are said, beside it."""
        self.errors[name] = w.HTML(layout=w.Layout(margin="0 0 0 1em"))
        self.errors[name].add_class("ai4geo-field-error")
        return w.HBox([widget, self.errors[name]], layout=w.Layout(align_items="center"))

    def _fit(self, bounds: Any) -> None:
        west, south, east, north = (float(v) for v in bounds)
        fit_view(self.map, (west, south, east, north), max_zoom=17)

    def _default_center(self) -> tuple[float, float]:
        from ai4geo_lab.catalog import local_extent

        try:
            bbox = local_extent(self.workspace)["bbox"]
        except Ai4geoError:
            bbox = None
        return ((bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2) if bbox else (0.0, 0.0)

    def _provider_options(self, wanted: str | None) -> list[tuple[str, str]]:
        from ai4geo_lab.catalog import providers

        try:
            found = providers(self.workspace)
        except Ai4geoError:
            found = [{"name": "local", "offline": True, "catalogs": []}]
        options = [("automatic", "")]
        for p in found:
            if p["name"] == "local":
                empty = " — empty" if not p.get("catalogs") else ""
                options.append((f"local catalogue (offline{empty})", "local"))
            else:
                options.append((p["name"], p["name"]))
        if wanted and wanted not in {v for _, v in options}:
            options.append((wanted, wanted))  # a STAC API URL or a catalogue path given in code
        return options

    def _saved_options(self) -> list[tuple[str, str]]:
        from ai4geo_lab.aoi import list_aois

        names = list_aois(self.workspace)
        return [("saved AOIs…" if names else "no saved AOI", ""), *((n, n) for n in names)]

    def _say(self, field: str | None, text: str, warning: bool = False) -> None:
        """Say ``text`` beside ``field`` (the status line when there is no such field)."""
        target = self.errors.get((field or "").split(".")[0], self.status)
        cls = "ai4geo-field-warning" if warning else "ai4geo-field-error"
        target.value = f"<span class='{cls}'>{html.escape(text, quote=False)}</span>" if text else ""

    def _error(self, exc: Ai4geoError, field: str | None = None) -> None:
        """The error's message beside the field it names (or ``field``, or in the status line)."""
        self._say(exc.field or field, str(exc))

    def _clear_errors(self) -> None:
        for box in self.errors.values():
            box.value = ""
        self.status.value = ""

    def _refresh_collections(self) -> None:
        from ai4geo_lab.catalog import collections

        self._say("provider", "")
        self._say("collection", "")
        try:
            ids = sorted({c["id"] for c in collections(self.provider.value or None, self.workspace)})
        except Ai4geoError as exc:
            self._error(exc, "provider")
            ids = []
        self.collection.options = ids
        if ids and self.collection.value not in ids:
            self.collection.value = ids[0]
        self._refresh_filters()

    def _refresh_filters(self) -> None:
        """The collection's own queryables as fields (choices as dropdowns), the common ones left out."""
        from ai4geo_lab.catalog import queryables

        self.filter_fields = {}
        self.filters.children = ()
        collection = self.collection.value.strip()
        if not collection or collection not in self.collection.options:
            return
        try:
            found = queryables(collection, self.provider.value or None, self.workspace)
        except Ai4geoError:
            return  # no filters: the common fields still work
        fields = []
        for key, schema in found.items():
            if key in COMMON:
                continue
            label, kind = field_label(key, schema), schema.get("type", "string")
            if schema.get("enum"):
                widget: w.Widget = w.Dropdown(options=[("any", ""), *((str(o), o) for o in schema["enum"])],
                                              value="", description=label, style=LABEL)
            else:
                widget = w.Text(placeholder="any", description=label, style=LABEL)
            self.filter_fields[key] = (widget, kind)
            fields.append(widget)
        self.filters.children = tuple(fields)

    def _filter_values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, (widget, kind) in self.filter_fields.items():
            value = widget.value
            if value in ("", None):
                continue
            if kind in ("number", "integer") and isinstance(value, str):
                try:
                    value = int(value) if kind == "integer" else float(value)
                except ValueError:
                    raise InvalidInputError(f"{field_label(key)}: '{value}' is not a number",
                                            "give a number, or nothing for any", field="queryables") from None
            out[key] = value
        return out

    # ---- AOI -------------------------------------------------------------------------------------------------
    def use_aoi(self, source: Any, name: str | None = None) -> Any:
        """Search over ``source`` (anything :func:`ai4geo_lab.aoi.resolve` takes: a drawn GeoJSON, a saved AOI's
        name, a file, ``'west,south,east,north'``); ``name`` when it is a saved AOI. Returns the AOI, or None with
        the reason beside the AOI fields. A geometry repaired on the way is said there too."""
        from shapely.geometry import mapping

        from ai4geo_lab.aoi import AOIWarning, resolve

        self._say("aoi", "")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", AOIWarning)
                aoi = resolve(source, self.workspace)
        except Ai4geoError as exc:
            self._error(exc, "aoi")
            return None
        repaired = [str(c.message) for c in caught if issubclass(c.category, AOIWarning)]
        if repaired:
            self._say("aoi", " ".join(repaired), warning=True)
        self.aoi, self.aoi_name = aoi, name
        self.aoi_layer.data = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": mapping(aoi.geometry), "properties": {}}]}
        w_, s, e, n = aoi.bounds
        what = f"{name} (saved)" if name else "drawn"
        self.aoi_status.value = (f"AOI: {html.escape(what)} — {aoi.area_km2:,.3f} km² "
                                 f"[{w_:.5f}, {s:.5f}, {e:.5f}, {n:.5f}]")
        return aoi

    def _on_draw(self, target: Any, action: str, geo_json: dict) -> None:
        if action == "deleted":
            self.aoi = self.aoi_name = None
            self.aoi_layer.data = {"type": "FeatureCollection", "features": []}
            self.aoi_status.value = "AOI: none — draw a rectangle or polygon on the map"
            return
        if self.use_aoi(geo_json) is not None:
            self._drawn += 1
            if not self.aoi_name_field.value or self.aoi_name_field.value.startswith("drawn-"):
                self.aoi_name_field.value = f"drawn-{self._drawn}"
        self.draw.clear()  # the AOI layer shows it; the draw layer stays empty for the next shape

    def _on_saved(self) -> None:
        name = self.saved.value
        if name and not self._quiet and self.use_aoi(name, name) is not None:
            self.aoi_name_field.value = name
            self._fit(self.aoi.bounds)

    def _refresh_saved(self, select: str = "") -> None:
        self._quiet = True  # a refreshed list does not load anything
        try:
            self.saved.options = self._saved_options()
            self.saved.value = select
        finally:
            self._quiet = False

    def _ask_overwrite(self, name: str | None) -> None:
        self._pending_name = name
        self.overwrite_text.value = "" if name is None else \
            f"An AOI named <b>{html.escape(name)}</b> is saved already; overwrite it?"
        self.confirm.layout.display = None if name else "none"

    def save_aoi(self, name: str | None = None, overwrite: bool = False) -> str | None:
        """Save the AOI in use under ``name`` (default: the name field); an existing name is only overwritten when
        ``overwrite`` (the panel asks first). Returns the name saved, or None."""
        from ai4geo_lab.aoi import list_aois, save_aoi

        name = (name or (self._pending_name if overwrite else None) or self.aoi_name_field.value).strip()
        self._say("aoi", "")
        if self.aoi is None:
            self._say("aoi", "no AOI to save — draw, pick or upload one first")
            return None
        if not name:
            self._say("aoi", "the AOI has no name — give it one in the 'Save as' field")
            return None
        if name in list_aois(self.workspace) and not overwrite:
            self._ask_overwrite(name)
            return None
        self._ask_overwrite(None)
        try:
            save_aoi(self.aoi, name, self.workspace, overwrite=True)
        except Ai4geoError as exc:
            self._error(exc, "aoi")
            return None
        self.aoi_name = name
        self.aoi_name_field.value = name
        self._refresh_saved(name)
        self.use_aoi(name, name)
        self.status.value = f"AOI saved as '{html.escape(name)}'"
        return name

    def _on_upload(self) -> None:
        """Save the uploaded file as an AOI (the name field's name, else the file's; never over another AOI)."""
        from ai4geo_lab.aoi import AOIWarning, save_upload, unique_name
        from ai4geo_lab.aoi.upload import default_name

        if not self.upload.value:
            return
        upload = self.upload.value[0]
        filename, data = upload["name"], bytes(upload["content"])
        self.upload.value = ()
        self._say("aoi", "")
        typed = self.aoi_name_field.value.strip()
        try:
            wanted = typed if typed and not typed.startswith("drawn-") else default_name(filename)
            name = unique_name(wanted, self.workspace)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", AOIWarning)
                save_upload(filename, data, name, self.workspace, overwrite=False)
        except Ai4geoError as exc:
            self._error(exc, "aoi")
            return
        self._refresh_saved(name)
        self.use_aoi(name, name)
        self.aoi_name_field.value = name
        notes = [str(c.message) for c in caught if issubclass(c.category, AOIWarning)]
        if name != wanted:
            notes.append(f"an AOI named '{wanted}' is saved already: this one is saved as '{name}'")
        if notes:
            self._say("aoi", "; ".join(notes), warning=True)
        self.status.value = f"AOI '{html.escape(name)}' read from {html.escape(filename)} and saved"
        self._fit(self.aoi.bounds)

    # ---- search ----------------------------------------------------------------------------------------------
    def search(self) -> Any:
        """Run the search described by the form; returns (and keeps in ``panel.results``) the first page, or None
        with the error beside the field at fault (and no stale results)."""
        from ai4geo_lab.catalog import search

        self._clear_errors()
        try:
            res = search(self.aoi, self.collection.value.strip(), self.start.value, self.end.value,
                         None if self.max_cloud.value >= 100 else self.max_cloud.value,
                         self.provider.value or None, limit=self.limit.value, workspace=self.workspace,
                         **self._filter_values())
        except Ai4geoError as exc:
            self._clear_results()
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

    def _clear_results(self) -> None:
        self.results = None
        self._pages = []
        self._rows = []
        self._selected = []
        self.footprints.data = {"type": "FeatureCollection", "features": []}
        self.highlight.data = {"type": "FeatureCollection", "features": []}
        self.looks.layers = ()
        self.summary.value = ""
        self.prev_button.disabled = self.next_button.disabled = True
        self._render()

    def _show(self, res: Any) -> None:
        self.results = res
        fc = res.to_geojson()
        self._features = {f["properties"]["id"]: f for f in fc["features"]}
        self.footprints.data = {"type": "FeatureCollection", "features": fc["features"]}
        self.looks.layers = ()
        self._selected = []
        self._rows = result_rows(fc["features"])
        self._render()
        self.prev_button.disabled = len(self._pages) <= 1
        self.next_button.disabled = not res.has_next
        more = ", more on the next page" if res.has_next else ""
        self.summary.value = f"<b>{len(res)} items</b> (page {res.page}{more}) from {html.escape(res.provider)}"
        self.status.value = "".join(f"<i>{html.escape(n)}</i> " for n in res.notes)
        if len(res) and self.aoi is None:
            self._fit(res.frame.total_bounds)

    # ---- the table -------------------------------------------------------------------------------------------
    @property
    def rows(self) -> list[dict[str, Any]]:
        """The table's rows in the order shown: ``id``, ``date``, ``datetime``, ``cloud``, ``collection``,
        ``platform``."""
        if self._sort is None:
            return list(self._rows)
        return sort_rows(self._rows, cast(SortKey, self._sort[0]), self._sort[1])

    def sort_by(self, key: str) -> None:
        """Sort the table by a column (the click on its header): ascending, then descending; missing values last."""
        ascending = not (self._sort is not None and self._sort == (key, True))
        self._sort = (key, ascending)
        self._render()

    def _render(self) -> None:
        rows = self.rows
        platform = any(r["platform"] is not None for r in rows)
        keys = [k for k in COLUMNS if platform or k != "platform"]
        for key, button in self.sort_buttons.items():
            on = self._sort is not None and self._sort[0] == key
            button.description = COLUMNS[key] + ((" ▲" if self._sort[1] else " ▼") if on and self._sort else "")
        while len(self._row_widgets) < len(rows):
            self._row_widgets.append(_Row(self))
        looked = {lay.name.removeprefix("quicklook ") for lay in self.looks.layers}
        children: list[w.Widget] = []
        if rows:
            children += [*self._corner, *(self.sort_buttons[k] for k in keys)]
        for row, widgets in zip(rows, self._row_widgets, strict=False):
            widgets.show(row, row["id"] in self._selected, row["id"] in looked)
            children += widgets.widgets(platform)
        widths = {"date": "8.5em", "cloud": "6.5em", "collection": "minmax(6em, 1fr)",
                  "platform": "minmax(6em, 1fr)", "id": "minmax(8em, 1.2fr)"}
        self.table.layout.grid_template_columns = " ".join(["30px", "46px", *(widths[k] for k in keys)])
        self.table.children = tuple(children)
        self._sync_selection()

    # ---- selection, map and quicklooks -----------------------------------------------------------------------
    @property
    def selected(self) -> tuple[str, ...]:
        """The ids of the items selected for download."""
        return tuple(self._selected)

    @selected.setter
    def selected(self, ids: Any) -> None:
        known = {r["id"] for r in self._rows}
        self._selected = [i for i in dict.fromkeys(ids) if i in known]
        self._render()

    def toggle(self, item_id: str, on: bool | None = None) -> None:
        """Select (or unselect) an item for download; ``on`` None flips it."""
        want = item_id not in self._selected if on is None else on
        if want and item_id not in self._selected:
            self._selected.append(item_id)
        elif not want and item_id in self._selected:
            self._selected.remove(item_id)
        self._render()

    def focus(self, item_id: str) -> None:
        """A click on a row: its item is selected and the map zooms to its footprint."""
        self.toggle(item_id, True)
        feature = self._features.get(item_id)
        if feature and feature.get("geometry"):
            from shapely.geometry import shape

            self._fit(shape(feature["geometry"]).bounds)

    def _sync_selection(self) -> None:
        ids = set(self._selected)
        feats = [f for f in self.footprints.data.get("features", []) if f["properties"]["id"] in ids]
        self.highlight.data = {"type": "FeatureCollection", "features": feats}
        self.download_button.disabled = not ids
        self.download_button.description = f"Download selected ({len(ids)})" if ids else "Download selected"

    def _on_check(self, row: _Row, on: bool) -> None:
        if row.id is not None:
            self.toggle(row.id, on)

    def _on_look(self, row: _Row, on: bool) -> None:
        if row.id is not None:
            self.quicklook(row.id, on)

    def _on_footprint_click(self, feature: dict | None = None, **_: Any) -> None:
        item_id = (feature or {}).get("properties", {}).get("id")
        if item_id is not None:
            self.toggle(item_id)

    def quicklook(self, item_id: str, show: bool = True) -> bool:
        """Draw (or take away) an item's quicklook on its footprint; returns whether it is drawn."""
        from ipyleaflet import ImageOverlay
        from shapely.geometry import shape

        name = f"quicklook {item_id}"
        kept = tuple(lay for lay in self.looks.layers if lay.name != name)
        feature = self._features.get(item_id) if self.results is not None else None
        if not show or feature is None or not feature.get("geometry"):
            self.looks.layers = kept
            self._render()
            return False
        try:
            path = self.results.select([item_id]).quicklooks(workspace=self.workspace).get(item_id)
        except Ai4geoError as exc:
            self._error(exc)
            path = None
        if not path:
            self.status.value = self.status.value or f"no quicklook for {html.escape(item_id)}"
            self.looks.layers = kept
            self._render()
            return False
        w_, s, e, n = shape(feature["geometry"]).bounds
        url = "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()
        self.looks.layers = (*kept, ImageOverlay(url=url, bounds=((s, w_), (n, e)), name=name, pane=LOOK_PANE))
        self._render()
        return True

    # ---- download --------------------------------------------------------------------------------------------
    def download_selected(self) -> dict[str, list[Path]]:
        """Download the items selected in the table, with the progress bar; returns {item id: files}."""
        if self.results is None or not self._selected:
            return {}
        chosen = self.results.select(self._selected)
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
