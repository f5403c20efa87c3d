"""``ai4geo dsm`` and ``ai4geo dtm``: thin faces over :func:`ai4geo_lab.stereo.dsm` and the terrain functions."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ai4geo_lab.cli.models import collect, model_parameters


def _roi(text: str | None) -> object:
    """The ROI an option names (see :func:`ai4geo_lab.aoi.resolve`), or None for the images' overlap."""
    from ai4geo_lab.aoi import resolve

    return None if text is None else resolve(text, max_area_km2=None)


def _dsm(
    images: Annotated[list[Path], typer.Argument(help="sensor images (2 or 3); geometry (.geom, RPC_*.XML) beside "
                                                      "them or in their RPC tags; IMAGE:GEOMODEL to name it")],
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    resolution: Annotated[float | None, typer.Option(help="DSM pixel size (m)",
                                                     show_default=False)] = None,
    roi: Annotated[str | None, typer.Option(help="a saved AOI name, 'west,south,east,north', WKT, GeoJSON or a "
                                                 "vector file (default: the images' overlap)")] = None,
    cluster: Annotated[str | None, typer.Option(help="run tiles on a Dask cluster (as for `ai4geo run`); "
                                                     "default: one after the other")] = None,
    **settings: Any,
) -> None:
    """DSM (COG), ortho and STAC items from a stereo pair or tri-stereo set with CARS."""
    from ai4geo_lab.cluster import connect
    from ai4geo_lab.stereo import dsm
    from ai4geo_lab.stereo.cars_engine import CarsDsmParams

    specs: list[Path | tuple[Path, Path]] = []
    for p in images:
        text = str(p)
        head, sep, tail = text.rpartition(":")
        specs.append((Path(head), Path(tail)) if sep and head and not Path(text).exists() else p)
    extra: dict[str, Any] = {"resolution": resolution} if resolution is not None else {}
    with connect(cluster if cluster is not None else "synchronous") as client:
        result = dsm(specs, out, roi=_roi(roi), client=client, log=lambda m: typer.echo(m, err=True),
                     **extra, **collect(CarsDsmParams, settings))
    typer.echo(json.dumps({"dsm": str(result.dsm), "ortho": str(result.ortho) if result.ortho else None,
                           "stac": str(result.catalog), "completeness": result.completeness,
                           "area_km2": round(result.area_km2, 4), "wall_time_s": result.wall_time_s}, indent=1))


def dsm_command() -> Callable[..., None]:
    """``ai4geo dsm``: its own arguments, and the CARS settings as options generated from their model."""
    from ai4geo_lab.stereo.cars_engine import CarsDsmParams

    def dsm_cmd(**kw: Any) -> None:
        _dsm(**kw)

    own = [p for p in inspect.signature(_dsm, eval_str=True).parameters.values()
           if p.kind != inspect.Parameter.VAR_KEYWORD]
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD
           else p for p in own]
    dsm_cmd.__signature__ = inspect.Signature([*own, *model_parameters(CarsDsmParams)])  # type: ignore[attr-defined]
    dsm_cmd.__doc__ = _dsm.__doc__
    return dsm_cmd


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
