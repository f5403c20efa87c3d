"""What a step receives to do its work: where to write, the ground grid, and tiled execution through Dask."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ai4geo_lab.errors import Ai4geoError, ProcessingError
from ai4geo_lab.execution.executor import TileTask, prepare_record, run_tiles
from ai4geo_lab.execution.manifest import Manifest
from ai4geo_lab.execution.mosaic import mosaic_cog
from ai4geo_lab.execution.tiles import Tile, TileGrid
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.raster import write_raster

#: A tile function: reads what it needs for ``tile`` (halo window) and returns the core-window array.
TileFn = Callable[..., np.ndarray]


def fit_tile_size(tile_size: int, overlap: int, bytes_per_px: float, worker_memory: float | None,
                  share: float = 0.25, minimum: int = 64) -> int:
    """The largest tile side ≤ ``tile_size`` whose halo window needs at most ``share`` of a worker's memory."""
    if not worker_memory:
        return tile_size
    side = int(math.sqrt(share * worker_memory / bytes_per_px)) - 2 * overlap
    return max(minimum, min(tile_size, side))


def _compute_tile(tile_fn: TileFn, tile: Tile, grid: GroundGrid, out_path: Path, dtype: str,
                  nodata: float | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run one tile and write its result atomically (runs on a Dask worker)."""
    result = np.asarray(tile_fn(tile, grid, **kwargs))
    core = (int(tile.core.height), int(tile.core.width))
    if result.shape[-2:] != core:
        raise ProcessingError(f"tile {tile.key} returned shape {result.shape[-2:]}, expected {core}")
    write_raster(out_path, result.astype(dtype), grid.window_transform(tile.core), grid.crs, nodata, cog=False,
                 compress="ZSTD")  # an intermediate read once by the mosaic: fast compression
    if np.issubdtype(result.dtype, np.floating):
        valid = float(np.isfinite(result).mean())
    else:
        valid = float((result != nodata).mean()) if nodata is not None else 1.0
    return {"key": tile.key, "valid_fraction": round(valid, 4)}


@dataclass
class StepContext:
    """Everything a running step may use; steps never create clusters or choose paths themselves."""

    step_id: str
    root: Path
    grid: GroundGrid
    manifest: Manifest
    tile_size: int
    client: Any = None
    progress: bool = True
    log: Callable[[str], None] = print
    tiles_computed: list[str] = field(default_factory=list)

    def output_path(self, name: str, suffix: str) -> Path:
        """Where the step writes its product ``name`` (``OUT/<step_id>/<name><suffix>``)."""
        path = self.root / self.step_id / f"{name}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def worker_memory(self) -> float | None:
        """The smallest memory limit among the client's workers (bytes), if any is set."""
        if self.client is None:
            return None
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
        size = fit_tile_size(self.tile_size, overlap, bytes_per_px, self.worker_memory())
        if size < self.tile_size:
            self.log(f"[{self.step_id}] {name}: tiles of {size} px to fit the workers' memory")
        grid = TileGrid(*self.grid.shape, tile_size=size, overlap=overlap)
        tile_dir = self.root / self.step_id / "tiles" / name
        tile_dir.mkdir(parents=True, exist_ok=True)
        rec_id = f"{self.step_id}/{name}"
        prepare_record(self.manifest, rec_id, {"tile_size": size})  # other tiles: start this raster afresh
        tasks = [TileTask(t.key, _compute_tile, (tile_fn, t, self.grid, tile_dir / f"{t.key}.tif", dtype, nodata,
                                                  kwargs), (tile_dir / f"{t.key}.tif",)) for t in grid]
        done = run_tiles(tasks, self.manifest, rec_id, self.client, self.progress,
                         on_done=lambda info: self.tiles_computed.append(f"{name}/{info['key']}"))
        if done.failures:
            key, first = done.failures[0]
            told = f"{len(done.failures)} of {len(grid)} tiles of {rec_id} failed"
            rerun = "finished tiles are kept; fix the cause and run again to compute only the missing tiles"
            if isinstance(first, Ai4geoError):  # a bad input, say: keep its type (status), message and advice
                raise type(first)(f"{told} (first, {key}: {first.message})", first.hint or rerun) from first
            raise ProcessingError(f"{told} (first: {done.failure_text()})", rerun)
        return mosaic_cog([(tile_dir / f"{t.key}.tif", t.core) for t in grid], self.output_path(name, ".tif"),
                          self.grid.shape, self.grid.transform, self.grid.crs, dtype, nodata, band_names, compress,
                          tags=tags)
