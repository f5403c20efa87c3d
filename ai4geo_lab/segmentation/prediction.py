"""Tiled U-Net inference over any raster: probability COG and building mask, mapped over Dask.

One code path for the chain step ``segment`` and for :func:`predict` on a user's raster: both cut the raster into
tiles with a halo (``overlap``), run :func:`~ai4geo_lab.segmentation.infer.predict_proba` on each halo window
(itself blended by sliding windows), keep each tile's core, and mosaic. Band scaling is computed once for the
whole raster, so tiles agree at their borders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ai4geo_lab.errors import ConfigError, InvalidInputError, format_validation_error
from ai4geo_lab.execution.step_run import run_single
from ai4geo_lab.execution.tiles import DEFAULT_TILE_SIZE
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.masks import remove_small_components
from ai4geo_lab.geo.raster import open_raster, read_window
from ai4geo_lab.segmentation.chips import gsd_metres
from ai4geo_lab.segmentation.infer import (
    WINDOW,
    band_limits,
    predict_proba,
    scale_inputs,
    set_torch_threads,
    threads_for_worker,
)
from ai4geo_lab.segmentation.unet import DEFAULT_MODEL, PAN_MODEL, load_unet

if TYPE_CHECKING:
    # the chain's tiled execution (resume, retries, Dask) serves this one-step run too
    from ai4geo_lab.execution.context import StepContext
    from ai4geo_lab.execution.tiles import Tile

#: Largest side of the decimated read used for the raster's band limits.
LIMITS_SIDE = 1024


class SegmentParams(BaseModel):
    """U-Net building segmentation of an image (optionally gated by an nDSM)."""

    model_config = ConfigDict(extra="forbid")
    model: str = Field(default="default", description="'default' (the shipped model for the image: RGB, or the "
                       "panchromatic satellite model for one-band images), a shipped model's name or a model file")
    bands: list[int] | None = Field(default=None, description="1-based image bands for the model's inputs "
                                    "(default: the first ones)")
    threshold: float = Field(default=0.5, gt=0, lt=1, description="probability above which a pixel is building")
    min_height: float | None = Field(default=2.5, ge=0, description="with an nDSM: building pixels must stand "
                                     "at least this high (m); None: no gate")
    min_area_px: int = Field(default=30, ge=0, description="smaller blobs are dropped")
    overlap: int = Field(default=64, ge=0, le=512, description="tile halo (px) so tiles agree at their borders")
    window: int = Field(default=WINDOW, ge=64, le=2048, description="network window inside a tile (px); "
                        "one pass over a whole tile by default (less memory with smaller ones)")
    backend: Literal["auto", "torch", "onnx", "int8"] = Field(
        default="auto", description="inference engine: auto (on CPUs ONNX Runtime, int8 when the model has its "
                                    "int8 file), torch, onnx, int8")
    views: Literal[1, 2, 4, 8] = Field(default=1, description="flips/turns of each window averaged (test-time "
                                       "augmentation): a steadier mask for that many times the work")


def model_path(name: str) -> Path:
    """The model file ``name`` stands for: 'default' is the shipped model, the name of a model shipped in the
    package (``buildings_rgb``) is that one, anything else a path."""
    if name in ("default", ""):
        return DEFAULT_MODEL
    shipped = DEFAULT_MODEL.parent / f"{name}.pt"
    if "/" not in name and "\\" not in name and not Path(name).exists() and shipped.is_file():
        return shipped
    return Path(name).expanduser()


def model_for_image(name: str, image: str | Path, bands: list[int] | None = None) -> Path:
    """The model file for ``image``: as :func:`model_path`, except that ``default`` on a one-band image (or with
    one band chosen) is the shipped panchromatic satellite model when the package has it."""
    path = model_path(name)
    if name in ("default", "") and PAN_MODEL.is_file():
        if bands is not None:
            one = len(bands) == 1
        else:
            with open_raster(image) as src:
                one = src.count == 1
        if one:
            return PAN_MODEL
    return path


def raster_limits(image: str | Path, bands: list[int]) -> np.ndarray:
    """Band limits of the whole raster (see :func:`~ai4geo_lab.segmentation.infer.band_limits`)."""
    with open_raster(image) as src:
        f = max(1, int(np.ceil(max(src.height, src.width) / LIMITS_SIDE)))
        data = src.read(bands, out_shape=(len(bands), max(1, src.height // f), max(1, src.width // f)),
                        masked=True).astype(np.float32).filled(np.nan)
    if not np.isfinite(data).any():
        raise InvalidInputError(f"{image} has no valid pixel", "check its nodata value")
    return band_limits(data)


def _bands(image: Path, params: SegmentParams, n_image_inputs: int) -> list[int]:
    with open_raster(image) as src:
        count = src.count
    bands = params.bands or list(range(1, n_image_inputs + 1))
    if len(bands) != n_image_inputs:
        raise ConfigError(f"{len(bands)} bands given, the model takes {n_image_inputs} image inputs",
                          "give one band per model input (see the model card)")
    if max(bands) > count or min(bands) < 1:
        raise ConfigError(f"{image.name} has {count} bands, bands {bands} were asked for",
                          "choose bands between 1 and the band count")
    return bands


def proba_tile(tile: Tile, grid: GroundGrid, image: Path, model: str, bands: list[int], limits: list[list[float]],
               ndsm: Path | None, window: int, blend: int, backend: str = "auto",
               gsd_m: float | None = None, views: int = 1) -> np.ndarray:
    """Building probability of one tile's core (NaN where the input is invalid); runs on a Dask worker."""
    set_torch_threads(threads_for_worker())
    net = load_unet(model)
    img, _ = read_window(image, tile.halo, band=bands)  # type: ignore[arg-type]
    height = read_window(ndsm, tile.halo)[0] if ndsm is not None and "ndsm" in net.spec.inputs else None
    x, valid = scale_inputs(img, np.asarray(limits, np.float32), height, net.spec.ndsm_scale_m)
    prob = predict_proba(net, x, window=window, overlap=min(blend, window // 4) or 32, backend=backend,
                         gsd_m=gsd_m, views=views)
    prob[~valid] = np.nan
    return prob[tile.core_in_halo]


def mask_tile(tile: Tile, grid: GroundGrid, probability: Path, ndsm: Path | None, threshold: float,
              min_height: float | None, min_area_px: int) -> np.ndarray:
    """Building mask (0/1) of one tile's core from the probability and the nDSM gate (cells without a height, a
    DSM's occlusions say, are not vetoed)."""
    prob, _ = read_window(probability, tile.halo)
    with np.errstate(invalid="ignore"):
        mask = prob >= threshold
        if ndsm is not None and min_height is not None:
            mask &= ~(read_window(ndsm, tile.halo)[0] < min_height)
    return remove_small_components(mask, min_area_px).astype(np.uint8)[tile.core_in_halo]


def segment(ctx: StepContext, image: Path, ndsm: Path | None, params: SegmentParams) -> dict[str, Path]:
    """Probability and mask of ``image`` on the context's grid (the body of the step and of :func:`predict`)."""
    path = model_for_image(params.model, image, params.bands)
    net = load_unet(path)
    if "ndsm" in net.spec.inputs and ndsm is None:
        raise ConfigError(f"model {path.name} takes an nDSM channel and no nDSM was given", "give the nDSM input")
    bands = _bands(image, params, len(net.spec.image_inputs))
    limits = raster_limits(image, bands).tolist()
    with open_raster(image) as src:
        lat = None
        if src.crs is not None and src.crs.is_geographic:
            lat = (src.bounds.top + src.bounds.bottom) / 2
        gsd_m = gsd_metres(src.transform, src.crs, lat)
    # ZSTD: the float probability is the largest product and its mosaic the longest wait after the network
    prob = ctx.tiled_raster("probability", proba_tile, overlap=params.overlap, dtype="float32", nodata=None,
                            bytes_per_px=2000.0, compress="ZSTD", image=image, model=str(path), bands=bands,
                            limits=limits, ndsm=ndsm, window=params.window, blend=params.overlap,
                            backend=params.backend, gsd_m=gsd_m, views=params.views)
    mask = ctx.tiled_raster("mask", mask_tile, overlap=16, dtype="uint8", nodata=None, probability=prob,
                            ndsm=ndsm, threshold=params.threshold, min_height=params.min_height,
                            min_area_px=params.min_area_px)
    return {"probability": prob, "mask": mask}


def run(ctx: StepContext, inputs: dict[str, Path], params: SegmentParams) -> dict[str, Path]:
    """The ``segment`` chain step."""
    return segment(ctx, inputs["image"], inputs.get("ndsm"), params)


def predict(raster: str | Path, model: str | Path | None = None, out: str | Path = "segment-out",
            tile: int = DEFAULT_TILE_SIZE, ndsm: str | Path | None = None, client: Any = None, progress: bool = True,
            log: Callable[[str], None] = print, **params: Any) -> dict[str, Path]:
    """Buildings of any georeferenced ``raster`` with a U-Net: ``{"probability": COG, "mask": COG}``.

    ``params``: fields of :class:`SegmentParams` (``threshold``, ``overlap``, ``bands``, ``views``…; ``model`` may
    also be given as the second argument). Tiles of ``tile`` px run as Dask tasks on ``client`` (in process when
    None); finished tiles are kept, so a rerun after an interruption computes only the missing ones. ``ndsm``
    (same grid) feeds models that take one, and gates the mask at ``min_height`` metres.
    """
    raster = Path(raster)
    if model is not None:
        params["model"] = str(model)
    try:
        p = SegmentParams.model_validate(params)
    except ValidationError as exc:
        raise ConfigError(f"invalid segmentation parameters: {format_validation_error(exc)}") from exc
    grid = GroundGrid.like(raster)
    if ndsm is not None:
        with open_raster(ndsm) as src:
            if (src.height, src.width) != grid.shape:
                raise InvalidInputError(f"nDSM {ndsm} is {src.height}×{src.width}, the image {grid.shape}",
                                        "resample the nDSM to the image grid")
    mpath = model_for_image(p.model, raster, p.bands)
    load_unet(mpath)  # a missing or unreadable model is said before anything is written
    inputs = {"image": raster, **({"ndsm": Path(ndsm)} if ndsm is not None else {}), "model": mpath}
    return run_single("segment", run, inputs, p, Path(out), grid, tile, client, progress, log)
