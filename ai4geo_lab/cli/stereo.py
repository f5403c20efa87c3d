"""``ai4geo dsm`` and ``ai4geo dtm``: thin faces over :func:`ai4geo_lab.stereo.dsm` and the terrain functions."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ai4geo_lab.cli.models import collect, model_parameters
from ai4geo_lab.errors import ConfigError
from ai4geo_lab.execution.tiles import DEFAULT_TILE_SIZE


def _roi(text: str | None) -> object:
    """The ROI an option names (see :func:`ai4geo_lab.aoi.resolve`), or None for the images' overlap."""
    from ai4geo_lab.aoi import resolve

    return None if text is None else resolve(text, max_area_km2=None)


def _dsm(
    images: Annotated[list[Path], typer.Argument(help="sensor images (2 or 3); geometry (.geom, RPC_*.XML) beside "
                                                      "them or in their RPC tags; IMAGE:GEOMODEL to name it")],
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    engine: Annotated[str, typer.Option(help="native (the package's own stereo, fast) or cars (CARS, the "
                                             "reference; the cars extra)")] = "native",
    resolution: Annotated[float | None, typer.Option(help="DSM pixel size (m)",
                                                     show_default=False)] = None,
    roi: Annotated[str | None, typer.Option(help="a saved AOI name, 'west,south,east,north', WKT, GeoJSON or a "
                                                 "vector file (default: the images' overlap)")] = None,
    tile_size: Annotated[int, typer.Option(help="native engine: tile side (ground pixels)")] = DEFAULT_TILE_SIZE,
    cluster: Annotated[str | None, typer.Option(help="run tiles on a Dask cluster (as for `ai4geo run`); "
                                                     "default: one after the other")] = None,
    **settings: Any,
) -> None:
    """DSM (COG), its ortho image (the first image projected on it) and STAC items from a stereo pair or
    tri-stereo set: the native engine (with its confidence and filled mask) or CARS."""
    from ai4geo_lab.cluster import connect
    from ai4geo_lab.stereo.cars_engine import CarsDsmParams
    from ai4geo_lab.stereo.native import NativeStereoParams

    if engine not in ("native", "cars"):
        raise ConfigError(f"unknown DSM engine '{engine}'", "engines: native, cars")
    specs: list[Path | tuple[Path, Path]] = []
    for p in images:
        text = str(p)
        head, sep, tail = text.rpartition(":")
        specs.append((Path(head), Path(tail)) if sep and head and not Path(text).exists() else p)
    own = collect(NativeStereoParams, {k: v for k, v in settings.items() if k.startswith(NATIVE)})
    theirs = collect(CarsDsmParams, {k: v for k, v in settings.items() if not k.startswith(NATIVE)})
    unused = theirs if engine == "native" else own.get("native")
    if unused:
        raise ConfigError(f"{', '.join(sorted(unused))}: settings of the other engine than '{engine}'",
                          "give the settings of the chosen engine (see `ai4geo dsm --help`)")
    with connect(cluster if cluster is not None else "synchronous") as client:
        if engine == "native":
            summary = _native_dsm(specs, out, resolution or 0.5, _roi(roi), own.get("native", {}), tile_size, client)
        else:
            from ai4geo_lab.stereo import dsm

            extra: dict[str, Any] = {"resolution": resolution} if resolution is not None else {}
            result = dsm(specs, out, roi=_roi(roi), client=client, log=lambda m: typer.echo(m, err=True),
                         **extra, **theirs)
            summary = {"dsm": str(result.dsm), "ortho": str(result.ortho) if result.ortho else None,
                       "stac": str(result.catalog), "completeness": result.completeness,
                       "area_km2": round(result.area_km2, 4), "wall_time_s": result.wall_time_s}
    typer.echo(json.dumps(summary, indent=1))


def _native_dsm(specs: list[Any], out: Path, resolution: float, roi: object, params: dict[str, Any],
                tile_size: int, client: Any) -> dict[str, Any]:
    """The ``dsm`` step's native engine on the grid of the images' overlap (inside the ROI)."""
    import time

    import numpy as np

    from ai4geo_lab.geo.raster import read_window
    from ai4geo_lab.pipeline import run_step
    from ai4geo_lab.stereo.sensor_dsm import area_grid

    if len(specs) not in (2, 3) or any(isinstance(s, tuple) for s in specs):
        raise ConfigError("the native engine takes 2 or 3 images, each with its geometry beside it or in its RPC "
                          "tags", "give IMG1 IMG2 [IMG3] (IMAGE:GEOMODEL is for engine cars)")
    t0 = time.perf_counter()
    grid = area_grid(specs, roi, resolution)
    inputs = dict(zip(("left", "right", "third"), specs, strict=False))
    products = run_step("dsm", inputs, {"engine": "native", "native": params}, out, client, grid=grid,
                        tile_size=tile_size, log=lambda m: typer.echo(m, err=True))
    dsm_px, _ = read_window(products["dsm"])
    valid = np.isfinite(dsm_px)
    return {"dsm": str(products["dsm"]), "ortho": str(products["ortho"]), "confidence": str(products["confidence"]),
            "filled": str(products["filled"]), "stac": str(Path(out) / "stac" / "catalog.json"),
            "valid_fraction": round(float(valid.mean()), 4),
            "area_km2": round(float(valid.sum()) * resolution * resolution / 1e6, 4),
            "wall_time_s": round(time.perf_counter() - t0, 2)}


#: Destination prefix of the native engine's generated options.
NATIVE = "p__native__"


def dsm_command() -> Callable[..., None]:
    """``ai4geo dsm``: its own arguments, the native engine's settings (``--native-…``) and CARS's, as options
    generated from their models."""
    from ai4geo_lab.stereo.cars_engine import CarsDsmParams
    from ai4geo_lab.stereo.native import NativeStereoParams

    def dsm_cmd(**kw: Any) -> None:
        _dsm(**kw)

    own = [p for p in inspect.signature(_dsm, eval_str=True).parameters.values()
           if p.kind != inspect.Parameter.VAR_KEYWORD]
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD
           else p for p in own]
    options = [*model_parameters(NativeStereoParams, ["native"]), *model_parameters(CarsDsmParams)]
    dsm_cmd.__signature__ = inspect.Signature([*own, *options])  # type: ignore[attr-defined]
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
