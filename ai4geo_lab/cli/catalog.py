"""``ai4geo search``, ``ai4geo download``, ``ai4geo catalog …`` and ``ai4geo osm``: thin faces over the core."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ai4geo_lab.catalog.request import MAX_LIMIT, SearchRequest
from ai4geo_lab.errors import InvalidInputError

catalog_app = typer.Typer(help="The embedded local catalogue, providers, collections and the download inventory.",
                          no_args_is_help=True)

WorkspaceOpt = Annotated[Path | None, typer.Option(help="workspace folder (default: $AI4GEO_WORKSPACE or "
                                                        "~/ai4geo-workspace)")]


def _help(field: str, extra: str = "") -> str:
    """The help of an option: the description of the SearchRequest field it fills, and what the CLI adds."""
    return f"{SearchRequest.model_fields[field].description}{extra}"


AoiOpt = Annotated[str | None, typer.Option(help="a saved AOI name, 'west,south,east,north', WKT, GeoJSON or a "
                                                 "vector file (default: everywhere)")]
CollectionArg = Annotated[str | None, typer.Argument(help=_help("collection"))]
StartOpt = Annotated[str | None, typer.Option(help=_help("start"))]
EndOpt = Annotated[str | None, typer.Option(help=_help("end"))]
CloudOpt = Annotated[float | None, typer.Option("--max-cloud", help=_help("max_cloud", ", 0–100"))]
ProviderOpt = Annotated[str | None, typer.Option(help=_help("provider", " (default: local if it has the "
                                                                        "collection)"))]
LimitOpt = Annotated[int, typer.Option(help=_help("limit", f", 1–{MAX_LIMIT}"))]
TokenOpt = Annotated[str | None, typer.Option("--page-token", help="next_token of a previous page")]
QueryOpt = Annotated[list[str] | None, typer.Option("--query", "-q", help=_help("queryables", ": KEY=VALUE "
                                                                                          "(repeatable)"))]
LIMIT = SearchRequest.model_fields["limit"].default


def _aoi(text: str | None, workspace: Path | None, max_area_km2: float | None = None) -> Any:
    """The AOI an option names (see :func:`ai4geo_lab.aoi.resolve`), or None for everywhere."""
    from ai4geo_lab.aoi import resolve

    return None if text is None else resolve(text, workspace, max_area_km2=max_area_km2)


def _queryables(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InvalidInputError(f"--query '{pair}' is not KEY=VALUE", "write e.g. --query platform=sentinel-2a")
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _run_search(collection: str | None, aoi: str | None, start: str | None, end: str | None,
                max_cloud: float | None, provider: str | None, limit: int, page_token: str | None,
                query: list[str] | None, workspace: Path | None) -> Any:
    from ai4geo_lab.catalog import search, search_page

    if page_token:
        return search_page(page_token, workspace)
    if not collection:
        raise InvalidInputError("no collection given", "name one; see `ai4geo catalog collections`")
    return search(_aoi(aoi, workspace), collection, start, end, max_cloud, provider, limit=limit,
                  workspace=workspace, **_queryables(query))


def search_cmd(
    collection: CollectionArg = None,
    aoi: AoiOpt = None, start: StartOpt = None, end: EndOpt = None, max_cloud: CloudOpt = None,
    provider: ProviderOpt = None, limit: LimitOpt = LIMIT, page_token: TokenOpt = None, query: QueryOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one GeoJSON FeatureCollection")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Search a catalogue: a table of items (or GeoJSON with --json); --provider local works offline."""
    res = _run_search(collection, aoi, start, end, max_cloud, provider, limit, page_token, query, workspace)
    if as_json:
        typer.echo(json.dumps(res.to_geojson()))
        return
    frame = res.frame
    typer.echo(f"{'id':36s} {'collection':22s} {'datetime':20s} {'cloud %':>7s}  provider")
    for row in frame.itertuples(index=False):
        when = "" if row.datetime is None or str(row.datetime) == "NaT" else row.datetime.strftime("%Y-%m-%dT%H:%M:%S")
        cloud = "" if row.cloud_cover != row.cloud_cover else f"{row.cloud_cover:.1f}"
        typer.echo(f"{row.id!s:36s} {row.collection!s:22s} {when:20s} {cloud:>7s}  {row.provider}")
    typer.echo(f"{len(res)} items on page {res.page}")
    for note in res.notes:
        typer.echo(f"note: {note}")
    if res.next_token:
        typer.echo(f"next page: --page-token {res.next_token}")


def download_cmd(
    collection: CollectionArg = None,
    aoi: AoiOpt = None, start: StartOpt = None, end: EndOpt = None, max_cloud: CloudOpt = None,
    provider: ProviderOpt = None, limit: LimitOpt = LIMIT, page_token: TokenOpt = None, query: QueryOpt = None,
    dest: Annotated[Path | None, typer.Option(help="destination folder (default: WORKSPACE/downloads)")] = None,
    ids: Annotated[list[str] | None, typer.Option("--id", help="only this item (repeatable)")] = None,
    asset: Annotated[list[str] | None, typer.Option(help="only this asset key (repeatable)")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Search as `ai4geo search` does, then download the items (resumable; files already there are skipped)."""
    res = _run_search(collection, aoi, start, end, max_cloud, provider, limit, page_token, query, workspace)
    if ids:
        res = res.select(ids)
    files = res.download(dest, progress=not quiet, assets=asset, workspace=workspace)
    for item_id, paths in files.items():
        for p in paths:
            typer.echo(f"{item_id}: {p}")
    typer.echo(f"{sum(len(p) for p in files.values())} files for {len(files)} items")


@catalog_app.command("add")
def catalog_add(path: Annotated[Path, typer.Argument(help="a static STAC catalogue, its folder, or a sample city")],
                workspace: WorkspaceOpt = None) -> None:
    """Add a static STAC catalogue to the embedded local catalogue (searched offline as provider 'local')."""
    from ai4geo_lab.catalog import add_local_catalog, collections

    cat = add_local_catalog(path, workspace)
    typer.echo(f"added {cat}; local collections: {', '.join(c['id'] for c in collections('local', workspace))}")


@catalog_app.command("remove")
def catalog_remove(path: Annotated[Path, typer.Argument()], workspace: WorkspaceOpt = None) -> None:
    """Remove a catalogue from the embedded local catalogue."""
    from ai4geo_lab.catalog import remove_local_catalog

    remove_local_catalog(path, workspace)
    typer.echo(f"removed {path}")


@catalog_app.command("list")
def catalog_list(workspace: WorkspaceOpt = None) -> None:
    """The catalogues of the embedded local catalogue."""
    from ai4geo_lab.catalog import local_catalogs

    for p in local_catalogs(workspace):
        typer.echo(str(p))


@catalog_app.command("providers")
def catalog_providers(workspace: WorkspaceOpt = None) -> None:
    """Every provider a search can name."""
    from ai4geo_lab.catalog import providers

    for p in providers(workspace):
        typer.echo(f"{p['name']:24s} {p['kind']}")


@catalog_app.command("collections")
def catalog_collections(provider: ProviderOpt = None, workspace: WorkspaceOpt = None) -> None:
    """The collections of a provider."""
    from ai4geo_lab.catalog import collections

    for c in collections(provider, workspace):
        typer.echo(f"{c['id']:40s} {c['provider']}")


@catalog_app.command("inventory")
def catalog_inventory(workspace: WorkspaceOpt = None) -> None:
    """What has been downloaded (from the workspace inventory)."""
    from ai4geo_lab.catalog import inventory

    inv = inventory(workspace)
    for row in inv.itertuples(index=False):
        typer.echo(f"{row.downloaded_at}  {row.provider:16s} {row.item:32s} {row.asset:12s} {row.path}")
    typer.echo(f"{len(inv)} files")


def osm_cmd(
    aoi: Annotated[str, typer.Option(help="a saved AOI name, 'west,south,east,north', WKT, GeoJSON or a file")],
    out: Annotated[Path, typer.Option("--out", help="GeoPackage to write (one layer per OSM layer)")],
    layer: Annotated[list[str] | None, typer.Option(help="buildings, roads, landuse (repeatable; default all)")] = None,
    source: Annotated[Path | None, typer.Option(help="a local .osm / .osm.pbf / GeoJSON file")] = None,
    overpass_url: Annotated[str | None, typer.Option(help="Overpass API interpreter URL")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """OpenStreetMap buildings, roads and land use of an AOI, written to a GeoPackage."""
    import os

    from ai4geo_lab.aoi.geometry import DEFAULT_MAX_AREA_KM2
    from ai4geo_lab.geo.atomic import atomic_path
    from ai4geo_lab.osm import LAYERS, osm_features

    frames = osm_features(_aoi(aoi, workspace, DEFAULT_MAX_AREA_KM2), layer or list(LAYERS), source,
                          overpass_url=overpass_url, workspace=workspace)
    tmp = atomic_path(out)
    tmp.unlink()
    tmp = tmp.with_suffix(".gpkg")
    try:
        for name, frame in frames.items():
            frame.to_file(tmp, layer=name, driver="GPKG")  # empty layers too: a reader finds every layer
            typer.echo(f"{name}: {len(frame)} features")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    typer.echo(f"written to {out}")
