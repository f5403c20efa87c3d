"""The native DSM engine: epipolar rectification, semi-global matching and triangulation, tile by tile.

For each ground tile (with a halo) and each pair of images: the two views are rectified with local affine
approximations of their RPC models (:mod:`~ai4geo_lab.stereo.epipolar`), matched by semi-global matching with a
left–right check and sub-pixel refinement (:mod:`~ai4geo_lab.stereo.matching`), and every matched pixel is
triangulated and binned onto the ground grid (:mod:`~ai4geo_lab.stereo.rasterize`). Several pairs (tri-stereo) are
fused per ground cell by the median of the pairs that agree. Small holes are filled, and marked.

Per tile three rasters: the surface heights, a confidence (the normalised cross-correlation of the matches, 0–1)
and how each cell was obtained (:data:`FILLED_LEGEND`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pyproj import Transformer
from rasterio.windows import Window

from ai4geo_lab.errors import ProcessingError
from ai4geo_lab.geo.ortho import ortho_window
from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.geo.sensor import SensorImage, read_sensor
from ai4geo_lab.stereo.epipolar import Rectification, rectify
from ai4geo_lab.stereo.heights import local_height_range
from ai4geo_lab.stereo.matching import (
    OCCLUSION_FILL,
    match_confidence,
    multiscale_disparity,
    nan_median,
    refine_subpixel,
    to_uint8_pair,
)
from ai4geo_lab.stereo.rasterize import bin_points, close_gaps, fill_small_holes, fuse

if TYPE_CHECKING:
    from ai4geo_lab.execution.tiles import Tile
    from ai4geo_lab.geo.grid import GroundGrid

#: Largest misalignment (px) of the rectified rows tolerated over a tile; above it the tile is too large for the
#: affine approximation of the sensor models.
MAX_ROW_ERROR_PX = 0.1
#: Values of the ``dsm_filled`` raster, and their legend.
MEASURED, COARSE, FILLED, EMPTY = 0, 1, 2, 3
FILLED_LEGEND = "0 matched, 1 matched at a coarser resolution, 2 interpolated, 3 no data"
#: Halo (ground px) around each tile: context for matching and for filling holes at the tile's edge.
HALO_PX = 32
#: The correlation window of sub-pixel refinement is wider than the matching window by this much on each side.



class NativeStereoParams(BaseModel):
    """Semi-global matching of epipolar-rectified views, triangulated onto the ground grid."""

    model_config = ConfigDict(extra="forbid")
    hmin: float | None = Field(default=None, description="lowest height searched (m, as in the RPC models); "
                               "default: from tie points between the images")
    hmax: float | None = Field(default=None, description="highest height searched (m); default: from tie points")
    block: int = Field(default=7, ge=3, le=11, description="matching window side (odd, px)")
    smoothness: tuple[float, float] = Field(default=(8.0, 32.0), description="SGM penalties (per window pixel) "
                                            "for a disparity change of 1 px and of more")
    uniqueness: int = Field(default=5, ge=0, le=50, description="% by which the best match must beat the next")
    min_confidence: float = Field(default=0.0, ge=-1, le=1, description="matches whose correlation is lower are "
                                  "dropped")
    fill_holes_m2: float = Field(default=100.0, ge=0, description="holes up to this area inside the surface are "
                                 "interpolated (and marked in dsm_filled)")
    agreement_m: float = Field(default=2.0, gt=0, description="several pairs: heights within this of the median "
                               "agree")
    refine: bool = Field(default=True, description="refine disparities to a fraction of a pixel by correlation "
                         "(else SGM's own interpolation)")
    median: int = Field(default=5, ge=0, le=7, description="median filter of the disparities (px, 0: none)")
    coarse_confidence: float = Field(default=0.7, ge=-1, le=1, description="pixels matched at a coarser resolution "
                                     "are kept where their correlation at full resolution reaches this")
    outlier_m: float = Field(default=3.0, ge=0, description="cells this far (m) from the median of their 7 × 7 "
                             "neighbourhood are dropped (0: keep all)")
    zoom: float = Field(default=1.0, ge=1, le=4, description="images resampled this many times finer before "
                        "matching (finer sub-pixel disparities for pairs with a small stereo base)")
    fill_occlusions: bool = Field(default=False, description="pixels hidden from one view take the background "
                                  "height beside them (marked interpolated)")
    coarse_levels: int = Field(default=1, ge=0, le=3, description="pixels left unmatched are matched again at "
                               "half (1), quarter (2)… resolution")

    @model_validator(mode="after")
    def _check(self) -> NativeStereoParams:
        if self.hmin is not None and self.hmax is not None and self.hmax <= self.hmin:
            raise ValueError("hmax must be greater than hmin")
        if self.block % 2 == 0:
            raise ValueError("block must be odd")
        if not 0 < self.smoothness[0] < self.smoothness[1]:
            raise ValueError("smoothness: give two penalties, 0 < small < large")
        return self


@dataclass(frozen=True)
class PairSurface:
    """One pair's heights on a window of the ground grid, the matches' confidence, and the rectification used."""

    height: np.ndarray
    confidence: np.ndarray
    coarse: np.ndarray
    guessed: np.ndarray
    rectification: Rectification | None


def _local_projection(sensor: SensorImage, crs: str, centre: tuple[float, float]) -> Any:
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def project(x: np.ndarray, y: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = to_ll.transform(np.asarray(x) + centre[0], np.asarray(y) + centre[1])
        return sensor.project(lon, lat, h)

    return project


def _rectified_view(rect: Rectification, which: str, sensor: SensorImage, margin: int = 4) -> np.ndarray | None:
    """The rectified image of one view, read from the window of the file it needs (None: outside the image)."""
    rows, cols = rect.shape
    x, v = np.meshgrid([0.0, cols - 1.0], [0.0, rows - 1.0])
    r, c = rect.to_image(which, x, v)
    r0, c0 = max(0, int(np.floor(r.min())) - margin), max(0, int(np.floor(c.min())) - margin)
    r1 = min(sensor.shape[0], int(np.ceil(r.max())) + margin + 1)
    c1 = min(sensor.shape[1], int(np.ceil(c.max())) + margin + 1)
    if r1 - r0 < 2 * margin or c1 - c0 < 2 * margin:
        return None
    image, _ = read_window(sensor.image, Window(c0, r0, c1 - c0, r1 - r0))
    return rect.warp(which, image, (r0, c0))


def pair_surface(a: SensorImage, b: SensorImage, grid: GroundGrid, window: Window, hmin: float, hmax: float,
                 params: NativeStereoParams) -> PairSurface:
    """Heights of the ground-grid ``window`` from the pair ``a``/``b`` (NaN where nothing was matched)."""
    shape = (int(window.height), int(window.width))
    nan = np.full(shape, np.nan, np.float32)
    empty = PairSurface(nan, nan, np.zeros(shape, bool), np.zeros(shape, bool), None)
    t = grid.window_transform(window)
    centre = (t.c + t.a * shape[1] / 2, t.f + t.e * shape[0] / 2)
    half_w, half_h = abs(t.a) * shape[1] / 2, abs(t.e) * shape[0] / 2
    gx, gy = np.meshgrid(np.linspace(-half_w, half_w, 9), np.linspace(-half_h, half_h, 9))
    rect = rectify(_local_projection(a, grid.crs, centre), _local_projection(b, grid.crs, centre), gx, gy, hmin,
                   hmax, zoom=params.zoom)
    if rect.row_error_px > MAX_ROW_ERROR_PX:
        raise ProcessingError(f"the sensor models are not affine enough over a tile of {2 * half_w:.0f} m "
                              f"({rect.row_error_px:.2f} px of epipolar error)", "use a smaller tile_size")
    views = [_rectified_view(rect, "left", a), _rectified_view(rect, "right", b)]
    if views[0] is None or views[1] is None:
        return empty
    left8, right8 = to_uint8_pair(views[0], views[1])
    dmin, dmax = rect.disparity_range(hmin, hmax)
    disp, level = multiscale_disparity(left8, right8, dmin, dmax, levels=params.coarse_levels,
                                       fill_occlusions=params.fill_occlusions, block=params.block,
                                       smooth=params.smoothness, uniqueness=params.uniqueness)
    if params.refine:
        disp = refine_subpixel(views[0], views[1], disp, window=params.block)
    if params.median > 1:
        disp = nan_median(disp, params.median)
    conf = match_confidence(views[0], views[1], disp, window=params.block)
    keep = np.isfinite(disp) & ((level == OCCLUSION_FILL) | (conf >= params.min_confidence) & (
        (level == 0) | (conf >= params.coarse_confidence)))
    v, x = np.nonzero(keep)
    px, py, h = rect.ground(x.astype(np.float64), v.astype(np.float64), disp[v, x].astype(np.float64))
    col = (px + half_w) / abs(t.a)
    row = (half_h - py) / abs(t.e)
    coarse = ((level[v, x] > 0) & (level[v, x] != OCCLUSION_FILL)).astype(np.float64)
    guessed = (level[v, x] == OCCLUSION_FILL).astype(np.float64)
    (height, confidence, coarse_share, guessed_share), _ = bin_points(
        col, row, [h, conf[v, x].astype(np.float64), coarse, guessed], shape)
    if params.outlier_m > 0:  # cells far from their neighbourhood's median: blunders beside occlusions
        far = np.abs(height - nan_median(height, 7)) > params.outlier_m
        height[far] = np.nan
    confidence[guessed_share > 0.5] = np.nan
    return PairSurface(height, confidence, coarse_share > 0.5, guessed_share > 0.5, rect)


def native_tile(tile: Tile, grid: GroundGrid, images: list[str], pairs: list[tuple[int, int]], hmin: float,
                hmax: float, params: dict[str, Any], weights: list[float] | None = None,
                tie_points: np.ndarray | None = None, precision_m: float = 0.0) -> dict[str, np.ndarray]:
    """The surface, confidence and filled mask of one tile's core, from every pair, and the first image
    projected on the surface (``ortho``, :func:`~ai4geo_lab.geo.ortho.ortho_window`) (runs on a Dask worker);
    several pairs are fused with ``weights`` (their squared height sensitivity). With ``tie_points`` (x, y, h in
    the grid's CRS) the tile searches the heights of the tie points around it only."""
    settings = NativeStereoParams.model_validate(params)
    sensors = [read_sensor(p) for p in images]
    if tie_points is not None and len(tie_points):
        t = grid.window_transform(tile.halo)
        w, h = int(tile.halo.width), int(tile.halo.height)
        bounds = (t.c, t.f + h * t.e, t.c + w * t.a, t.f)
        hmin, hmax = local_height_range(tie_points, bounds, hmin, hmax, precision_m)
    surfaces = [pair_surface(sensors[i], sensors[j], grid, tile.halo, hmin, hmax, settings) for i, j in pairs]
    if len(surfaces) == 1:
        height, confidence, coarse = surfaces[0].height, surfaces[0].confidence, surfaces[0].coarse
        guessed = surfaces[0].guessed
    else:
        height, _ = fuse([s.height for s in surfaces], settings.agreement_m, weights)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # cells no pair saw
            confidence = np.nanmean(np.stack([np.where(np.isfinite(height), s.confidence, np.nan)
                                              for s in surfaces]), axis=0).astype(np.float32)
        coarse = np.all([s.coarse | ~np.isfinite(s.height) for s in surfaces], axis=0)
        guessed = np.all([s.guessed | ~np.isfinite(s.height) for s in surfaces], axis=0)
    height = close_gaps(height)
    cell = abs(grid.transform.a * grid.transform.e)
    height, filled = fill_small_holes(height, int(settings.fill_holes_m2 / cell))
    filled |= guessed & np.isfinite(height)
    mask = np.select([filled, ~np.isfinite(height), coarse], [FILLED, EMPTY, COARSE], MEASURED).astype(np.uint8)
    confidence = np.where(np.isfinite(height) & ~filled, np.clip(confidence, 0, 1), np.nan).astype(np.float32)
    core = tile.core_in_halo
    ortho = ortho_window(sensors[0], grid.window_transform(tile.core), grid.crs, height[core])
    return {"dsm": height[core], "dsm_confidence": confidence[core], "dsm_filled": mask[core], "ortho": ortho}


def bytes_per_px(disparities: float) -> float:
    """Working memory of the engine per ground pixel of a tile's halo window: SGM's cost and aggregation volumes
    (2 × 2 bytes per disparity) plus the images, maps and points."""
    return 4.0 * (disparities + 16) + 200.0


def image_paths(images: list[Path]) -> list[str]:
    """The images as strings (what tile tasks carry)."""
    return [str(Path(p)) for p in images]


def surface_statistics(dsm: Path, confidence: Path, filled: Path, max_side: int = 2048) -> dict[str, Any]:
    """Shares of the grid matched, matched coarsely, interpolated and empty, the heights' range and the mean
    confidence, read at most ``max_side`` pixels a side (the products' overviews)."""
    import rasterio

    def read(path: Path) -> np.ndarray:
        with rasterio.open(path) as src:
            scale = max(1.0, max(src.height, src.width) / max_side)
            shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
            return src.read(1, out_shape=shape, resampling=rasterio.enums.Resampling.nearest)

    mask, heights, conf = read(filled), read(dsm), read(confidence)
    n = mask.size
    stats: dict[str, Any] = {name: round(float((mask == value).sum()) / n, 4) for name, value in
                             (("matched", MEASURED), ("matched_coarse", COARSE), ("interpolated", FILLED),
                              ("empty", EMPTY))}
    stats["valid"] = round(1.0 - stats["empty"], 4)
    if np.isfinite(heights).any():
        lo, hi = np.nanpercentile(heights, [1, 99])
        stats["height_p01_m"], stats["height_p99_m"] = round(float(lo), 2), round(float(hi), 2)
    if np.isfinite(conf).any():
        stats["mean_confidence"] = round(float(np.nanmean(conf)), 3)
    return stats
