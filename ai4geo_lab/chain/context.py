"""What a step receives to do its work: where to write, the ground grid, and tiled execution through Dask."""

from __future__ import annotations

import math
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from tqdm.auto import tqdm

from ai4geo_lab.chain.manifest import Manifest
from ai4geo_lab.errors import ProcessingError
from ai4geo_lab.geo.atomic import atomic_path
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.raster import read_window, write_raster
from ai4geo_lab.geo.tiles import Tile, TileGrid

#: How many times Dask retries a tile whose worker died or whose task failed.
TILE_RETRIES = 2

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
                     **kwargs: Any) -> Path:
        """Map ``tile_fn`` over the tiles of the ground grid and mosaic the results into one COG (``compress``:
        its GDAL compression; ZSTD writes dense float rasters 1.5–2× faster than DEFLATE, and smaller).

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
        record = self.manifest.step(rec_id)
        if record.get("tile_size") != size:  # other tiles than those recorded: start this raster afresh
            record.clear()
            record.update({"tile_size": size, "tiles": {}})
            self.manifest.save()
        todo = [t for t in grid if not self.manifest.tile_done(rec_id, t.key, tile_dir / f"{t.key}.tif")]
        bar = tqdm(total=len(grid), initial=len(grid) - len(todo), desc=f"{self.step_id}:{name}", unit="tile",
                   disable=None if self.progress else True, leave=False)  # None: only on a terminal
        failures: list[str] = []

        def done(info: dict[str, Any]) -> None:
            self.manifest.record_tile(rec_id, info["key"], info)
            self.tiles_computed.append(f"{name}/{info['key']}")
            bar.update(1)

        args = {t.key: (tile_fn, t, self.grid, tile_dir / f"{t.key}.tif", dtype, nodata, kwargs) for t in todo}
        if self.client is None:
            for key, a in args.items():
                try:
                    done(_compute_tile(*a))
                except Exception as exc:  # a failed tile must not lose the others
                    failures.append(f"{key}: {exc}")
        else:
            from distributed import as_completed

            futures = [self.client.submit(_compute_tile, *a, key=f"{rec_id}-{k}-{id(self)}", pure=False,
                                          retries=TILE_RETRIES) for k, a in args.items()]
            for fut in as_completed(futures):
                try:
                    done(fut.result())
                except Exception as exc:
                    failures.append(f"{fut.key}: {''.join(traceback.format_exception_only(exc)).strip()}")
        bar.close()
        if failures:
            raise ProcessingError(
                f"{len(failures)} of {len(grid)} tiles of {rec_id} failed (first: {failures[0]})",
                "finished tiles are kept; fix the cause and run again to compute only the missing tiles",
            )
        return self._mosaic(name, grid, tile_dir, dtype, nodata, band_names, compress)

    def _mosaic(self, name: str, grid: TileGrid, tile_dir: Path, dtype: str, nodata: float | None,
                band_names: list[str] | None, compress: str) -> Path:
        out = self.output_path(name, ".tif")
        first, _ = read_window(tile_dir / f"{next(iter(grid)).key}.tif", band=None, dtype=dtype)
        count = first.shape[0]
        tmp = atomic_path(out.with_suffix(".mosaic.tif"))
        try:
            profile = {"driver": "GTiff", "height": grid.height, "width": grid.width, "count": count,
                       "dtype": dtype, "crs": self.grid.crs, "transform": self.grid.transform, "nodata": nodata,
                       "tiled": True, "blockxsize": 256, "blockysize": 256}
            with rasterio.open(tmp, "w", **profile) as dst:
                for t in grid:
                    with rasterio.open(tile_dir / f"{t.key}.tif") as src:
                        dst.write(src.read(), window=t.core)
                for i, band in enumerate(band_names or [], start=1):
                    dst.set_band_description(i, band)
            part = atomic_path(out)
            rasterio.shutil.copy(tmp, part, driver="COG", compress=compress, overview_resampling="nearest",
                                 num_threads="ALL_CPUS")  # the workers are idle while the driver mosaics
            os.replace(part, out)
        finally:
            tmp.unlink(missing_ok=True)
        return out
