"""``ai4geo dsm`` and ``ai4geo dtm``: thin faces over :func:`ai4geo_lab.stereo.dsm` and the terrain functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def _roi(text: str | None) -> object:
    if text is None:
        return None
    from ai4geo_lab.aoi import list_aois, load_aoi

    if text in list_aois(None):
        return load_aoi(text)
    parts = text.split(",")
    if len(parts) == 4:
        try:
            return tuple(float(p) for p in parts)
        except ValueError:
            pass
    return text


def dsm_cmd(
    images: Annotated[list[Path], typer.Argument(help="sensor images (2 or 3); geometry (.geom, RPC_*.XML) beside "
                                                      "them or in their RPC tags; IMAGE:GEOMODEL to name it")],
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    resolution: Annotated[float, typer.Option(help="DSM pixel size (m)")] = 0.5,
    roi: Annotated[str | None, typer.Option(help="a saved AOI name, 'west,south,east,north', WKT, GeoJSON or a "
                                                 "vector file (default: the images' overlap)")] = None,
    tile_size_m: Annotated[float, typer.Option("--tile-size-m", help="ROI tile side, one CARS run each (m)")] = 1500.0,
    workers: Annotated[int, typer.Option(help="CARS processes per tile")] = 2,
    geoid: Annotated[bool, typer.Option(help="heights above the EGM96 geoid (default: ellipsoid)")] = False,
    cluster: Annotated[str | None, typer.Option(help="run tiles on a Dask cluster (as for `ai4geo run`); "
                                                     "default: one after the other")] = None,
    min_completeness: Annotated[float, typer.Option(help="least share of the overlap each tile must cover")] = 0.5,
) -> None:
    """DSM (COG), ortho and STAC items from a stereo pair or tri-stereo set with CARS."""
    from ai4geo_lab.cluster import connect
    from ai4geo_lab.stereo import dsm

    specs: list[Path | tuple[Path, Path]] = []
    for p in images:
        text = str(p)
        head, sep, tail = text.rpartition(":")
        specs.append((Path(head), Path(tail)) if sep and head and not Path(text).exists() else p)
    with connect(cluster if cluster is not None else "synchronous") as client:
        result = dsm(specs, out, resolution=resolution, roi=_roi(roi), client=client, tile_size_m=tile_size_m,
                     workers=workers, geoid=geoid, min_completeness=min_completeness,
                     log=lambda m: typer.echo(m, err=True))
    typer.echo(json.dumps({"dsm": str(result.dsm), "ortho": str(result.ortho) if result.ortho else None,
                           "stac": str(result.catalog), "completeness": result.completeness,
                           "area_km2": round(result.area_km2, 4), "wall_time_s": result.wall_time_s}, indent=1))


def dtm_cmd(
    dsm: Annotated[Path, typer.Argument(help="a DSM (GeoTIFF, projected CRS)")],
    out: Annotated[Path | None, typer.Option("--out", help="DTM file (default: <dsm>_dtm.tif)")] = None,
    max_object_size: Annotated[float | None, typer.Option(
        "--max-object-size", help="widest above-ground object (m; default suited to cities)")] = None,
    ndsm_out: Annotated[Path | None, typer.Option("--ndsm", help="also write the nDSM to this file")] = None,
) -> None:
    """DTM with bulldozer (and optionally the nDSM = DSM − DTM)."""
    from ai4geo_lab.terrain import CITY_MAX_OBJECT_SIZE_M, dtm, ndsm

    ground = dtm(dsm, max_object_size if max_object_size is not None else CITY_MAX_OBJECT_SIZE_M, out=out)
    typer.echo(f"DTM: {ground}")
    if ndsm_out is not None:
        typer.echo(f"nDSM: {ndsm(dsm, ground, out=ndsm_out)}")
