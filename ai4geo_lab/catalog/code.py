"""The Python code that reproduces a search, for a notebook cell (the Lab panel's "Insert code")."""

from __future__ import annotations

from typing import Any

from shapely.geometry import shape


def _kwargs(req: Any) -> list[str]:
    out = []
    if req.start:
        out.append(f"start={req.start[:10] if req.start.endswith('T00:00:00Z') else req.start!r}")
    if req.end:
        out.append(f"end={req.end[:10] if req.end.endswith('T23:59:59.999999Z') else req.end!r}")
    if req.max_cloud is not None:
        out.append(f"max_cloud={req.max_cloud:g}")
    if req.provider:
        out.append(f"provider={req.provider!r}")
    if req.limit != 20:
        out.append(f"limit={req.limit}")
    if req.page != 1:
        out.append(f"page={req.page}")
    out += [f"{k}={v!r}" for k, v in req.queryables.items() if k.isidentifier()]
    return out


def search_code(req: Any, aoi_name: str | None = None) -> str:
    """A cell that runs ``req`` (a :class:`~ai4geo_lab.catalog.SearchRequest`) with :func:`search`.

    With ``aoi_name`` the cell loads the saved AOI by its name; otherwise a bounding box when the area is one,
    else its WKT."""
    lines = ["from ai4geo_lab.catalog import search"]
    if aoi_name:
        lines.insert(0, "from ai4geo_lab.aoi import load_aoi")
        lines += ["", f"aoi = load_aoi({aoi_name!r})"]
    elif req.aoi:
        geom = shape(req.aoi)
        if geom.equals(geom.envelope):
            lines += ["", f"aoi = {', '.join(f'{v:.6f}' for v in geom.bounds)!r}  # west, south, east, north"]
        else:
            lines += ["", f"aoi = {geom.wkt!r}"]
    else:
        lines += ["", "aoi = None  # everywhere"]
    args = ", ".join([f"{req.collection!r}", *[_quote_dates(a) for a in _kwargs(req)]])
    lines += [f"results = search(aoi, {args})", 'print(len(results), "items on page", results.page)', "results.frame"]
    return "\n".join(lines)


def _quote_dates(arg: str) -> str:
    key, _, value = arg.partition("=")
    if key in ("start", "end") and not value.startswith("'"):
        return f"{key}={value!r}"
    return arg
