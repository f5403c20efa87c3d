"""What a step receives to do its work: where to write, the ground grid, and tiled execution through Dask."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ai4geo_lab.errors import Ai4geoError, ProcessingError
from ai4geo_lab.execution.executor import Progress, TileTask, prepare_record, run_tiles
from ai4geo_lab.execution.manifest import Manifest
from ai4geo_lab.execution.mosaic import mosaic_cog
from ai4geo_lab.execution.tiles import Tile, TileGrid
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.raster import write_raster

#: A tile function: reads what it needs for ``tile`` (halo window) and returns the core-window array.
TileFn = Callable[..., np.ndarray | dict[str, np.ndarray]]


def fit_tile_size(tile_size: int, overlap: int, bytes_per_px: float, worker_memory: float | None,
                  share: float = 0.25, minimum: int = 64) -> int:
    """The largest tile side ≤ ``tile_size`` whose halo window needs at most ``share`` of a worker's memory."""
    if not worker_memory:
        return tile_size
    side = int(math.sqrt(share * worker_memory / bytes_per_px)) - 2 * overlap
    return max(minimum, min(tile_size, side))


@dataclass(frozen=True)
class RasterOut:
    """One raster a tile function returns: its type, nodata, GDAL compression, metadata tags and band names."""

    dtype: str
    nodata: float | None
    compress: str = "DEFLATE"
    tags: dict[str, str] | None = None
    band_names: list[str] | None = None


def _valid_fraction(result: np.ndarray, nodata: float | None) -> float:
    if np.issubdtype(result.dtype, np.floating):
        return float(np.isfinite(result).mean())
    return float((result != nodata).mean()) if nodata is not None else 1.0


def _compute_tile(tile_fn: TileFn, tile: Tile, grid: GroundGrid, paths: dict[str, Path],
                  outputs: dict[str, RasterOut], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run one tile and write each of its results atomically (runs on a Dask worker).

    With one output the tile function returns its array; with several, a mapping of output name to array.
    """
    returned = tile_fn(tile, grid, **kwargs)
    results = returned if isinstance(returned, dict) else {next(iter(outputs)): returned}
    if set(results) != set(outputs):
        raise ProcessingError(f"tile {tile.key} returned {sorted(results)}, expected {sorted(outputs)}")
    core = (int(tile.core.height), int(tile.core.width))
    info: dict[str, Any] = {"key": tile.key}
    for name, spec in outputs.items():
        result = np.asarray(results[name])
        if result.shape[-2:] != core:
            raise ProcessingError(f"tile {tile.key} returned shape {result.shape[-2:]} for {name}, expected {core}")
        write_raster(paths[name], result.astype(spec.dtype), grid.window_transform(tile.core), grid.crs,
                     spec.nodata, cog=False, compress="ZSTD")  # an intermediate read once by the mosaic
        key = "valid_fraction" if len(outputs) == 1 else f"valid_fraction_{name}"
        info[key] = round(_valid_fraction(result, spec.nodata), 4)
    return info


@dataclass
class StepContext:
    """Everything a running step may use; steps never create clusters or choose paths themselves."""

    step_id: str
    root: Path
    grid: GroundGrid
    manifest: Manifest
    tile_size: int
    client: Any = None
    progress: Progress = True
    log: Callable[[str], None] = print
    tiles_computed: list[str] = field(default_factory=list)
    #: Figures the step measured on its outputs (output name → statistics), written into their STAC items.
    statistics: dict[str, dict[str, Any]] = field(default_factory=dict)

    def output_path(self, name: str, suffix: str) -> Path:
        """Where the step writes its product ``name`` (``OUT/<step_id>/<name><suffix>``)."""
        path = self.root / self.step_id / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def worker_memory(self) -> float | None:
        """The smallest memory limit among the client's workers (bytes), if any is set; in process (no client),
        the memory available now."""
        if self.client is None:
            import psutil

            return float(psutil.virtual_memory().available)
        limits = [w.get("memory_limit") for w in self.client.scheduler_info().get("workers", {}).values()]
        limits = [m for m in limits if m]
        return min(limits) if limits else None

    def tiled_raster(self, name: str, tile_fn: TileFn, overlap: int, dtype: str, nodata: float | None,
                     band_names: list[str] | None = None, bytes_per_px: float = 64.0, compress: str = "DEFLATE",
                     tags: dict[str, str] | None = None, **kwargs: Any) -> Path:
        """Map ``tile_fn`` over the tiles of the ground grid and mosaic the results into one COG (``compress``:
        its GDAL compression; ZSTD writes dense float rasters 1.5–2× faster than DEFLATE, and smaller; ``tags``:
        metadata written into it, e.g. the ``LEGEND`` of a class raster).

        Each tile's result is written atomically to ``OUT/<step>/tiles/<name>/<key>.tif`` and recorded in
        the manifest; tiles already recorded (and present) are not recomputed. Tiles shrink when one halo
        window (``bytes_per_px`` of working memory per pixel) would take more than a quarter of a worker's memory.
        """
        spec = RasterOut(dtype, nodata, compress, tags, band_names)
        return self.tiled_rasters({name: spec}, tile_fn, overlap, bytes_per_px, **kwargs)[name]

    def tiled_rasters(self, outputs: dict[str, RasterOut], tile_fn: TileFn, overlap: int,
                      bytes_per_px: float = 64.0, **kwargs: Any) -> dict[str, Path]:
        """:meth:`tiled_raster` for a tile function returning several rasters (a mapping name → array), each
        mosaicked into its own COG; the tiles of all of them are computed, recorded and resumed together."""
        first = next(iter(outputs))
        size = fit_tile_size(self.tile_size, overlap, bytes_per_px, self.worker_memory())
        if size < self.tile_size:
            self.log(f"[{self.step_id}] {first}: tiles of {size} px to fit the workers' memory")
        grid = TileGrid(*self.grid.shape, tile_size=size, overlap=overlap)
        dirs = {name: self.root / self.step_id / "tiles" / name for name in outputs}
        for folder in dirs.values():
            folder.mkdir(parents=True, exist_ok=True)
        rec_id = f"{self.step_id}/{first}"
        prepare_record(self.manifest, rec_id, {"tile_size": size, "outputs": sorted(outputs)} if len(outputs) > 1
                       else {"tile_size": size})  # other tiles: start these rasters afresh
        tasks = []
        for t in grid:
            paths = {name: dirs[name] / f"{t.key}.tif" for name in outputs}
            tasks.append(TileTask(t.key, _compute_tile, (tile_fn, t, self.grid, paths, outputs, kwargs),
                                  tuple(paths.values())))
        done = run_tiles(tasks, self.manifest, rec_id, self.client, self.progress,
                         on_done=lambda info: self.tiles_computed.append(f"{first}/{info['key']}"))
        if done.failures:
            key, failure = done.failures[0]
            told = f"{len(done.failures)} of {len(grid)} tiles of {rec_id} failed"
            rerun = "finished tiles are kept; fix the cause and run again to compute only the missing tiles"
            if isinstance(failure, Ai4geoError):  # a bad input, say: keep its type (status), message and advice
                raise type(failure)(f"{told} (first, {key}: {failure.message})", failure.hint or rerun) from failure
            raise ProcessingError(f"{told} (first: {done.failure_text()})", rerun)
        return {name: mosaic_cog([(dirs[name] / f"{t.key}.tif", t.core) for t in grid],
                                 self.output_path(name, ".tif"), self.grid.shape, self.grid.transform, self.grid.crs,
                                 spec.dtype, spec.nodata, spec.band_names, spec.compress, tags=spec.tags)
                for name, spec in outputs.items()}
