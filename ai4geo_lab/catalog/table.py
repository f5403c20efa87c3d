"""A page of results as the search panels tabulate it: rows with date, cloud cover, collection, platform and id,
sorted by a column (missing values last), and the words that label a search's fields.

The Lab's side bar (``labextension/src/results.ts``) and the notebook's ``SearchPanel`` show the same table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

SortKey = Literal["date", "cloud", "collection", "platform", "id"]

#: The table's sortable columns, in order, with their headers.
COLUMNS: dict[str, str] = {"date": "Date", "cloud": "Cloud %", "collection": "Collection", "platform": "Platform",
                           "id": "Id"}
#: What a cell shows when the item does not say.
MISSING = "—"

#: The words a form shows for a search's fields and common item properties (the rest: their title).
LABELS = {
    "provider": "Provider", "collection": "Collection", "start": "Start date", "end": "End date",
    "max_cloud": "Max cloud cover (%)", "limit": "Results per page", "aoi": "Area of interest",
    "queryables": "Filters", "platform": "Platform", "constellation": "Constellation", "instruments": "Instruments",
    "gsd": "Ground sample distance (m)", "view:off_nadir": "Off-nadir angle (°)", "proj:code": "Projection",
    "proj:epsg": "Projection (EPSG)", "sat:orbit_state": "Orbit direction", "sar:polarizations": "Polarisations",
    "sar:instrument_mode": "Instrument mode", "processing:level": "Processing level",
    "productType": "Product type", "sensorMode": "Sensor mode", "orbitDirection": "Orbit direction",
}


def field_label(name: str, schema: dict[str, Any] | None = None) -> str:
    """The words a form shows for a field: known names, else the schema's title, else the name made readable."""
    if name in LABELS:
        return LABELS[name]
    title = (schema or {}).get("title")
    if title and title != name:
        return str(title)
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.split(":")[-1]).replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else name


def short_id(item_id: str, max_len: int = 18) -> str:
    """An id shortened to ``max_len`` characters: its start and end around an ellipsis."""
    if len(item_id) <= max_len:
        return item_id
    head, tail = (max_len) // 2, (max_len - 1) // 2
    return f"{item_id[:head]}…{item_id[len(item_id) - tail:]}"


def _platform(props: dict[str, Any]) -> str | None:
    parts = [props.get("platform"), *(props.get("instruments") or [])]
    words = [str(p) for p in parts if p not in (None, "")]
    return " / ".join(words) if words else None


def result_rows(features: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per GeoJSON feature of :meth:`SearchResults.to_geojson`: ``id``, ``datetime`` (ISO, or None),
    ``date`` (its day), ``cloud`` (float or None), ``collection``, ``platform`` (platform / instruments)."""
    rows = []
    for f in features:
        p = f.get("properties") or {}
        when = p.get("datetime") or None
        cloud = p.get("cloud_cover")
        rows.append({"id": str(p.get("id", f.get("id"))), "datetime": when, "date": when[:10] if when else None,
                     "cloud": float(cloud) if isinstance(cloud, int | float) else None,
                     "collection": p.get("collection") or None, "platform": _platform(p)})
    return rows


def _natural(text: str) -> tuple[Any, ...]:
    """A sort key that orders the numbers inside text by value (``img-2`` before ``img-10``), case aside."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
                 for part in re.split(r"(\d+)", text) if part)


def sort_rows(rows: list[dict[str, Any]], key: SortKey, ascending: bool = True) -> list[dict[str, Any]]:
    """``rows`` sorted by a column (``date`` by its date-time); missing values last either way, ties in their
    first order."""
    field = "datetime" if key == "date" else key
    present = [r for r in rows if r.get(field) is not None]
    missing = [r for r in rows if r.get(field) is None]

    def value(row: dict[str, Any]) -> Any:
        v = row[field]
        return v if isinstance(v, float) else _natural(str(v))

    return sorted(present, key=value, reverse=not ascending) + missing
