"""Tile grids: the unit of parallel work, of progress and of recovery."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rasterio.windows import Window

from ai4geo_lab.errors import ConfigError

DEFAULT_TILE_SIZE = 1000


@dataclass(frozen=True)
class Tile:
    """One tile: its core window (written to the product) and its halo window (read, with overlap)."""

    row: int
    col: int
    core: Window
    halo: Window

    @property
    def key(self) -> str:
        """A stable name, used for per-tile files and the run manifest."""
        return f"r{self.row:03d}_c{self.col:03d}"

    @property
    def core_in_halo(self) -> tuple[slice, slice]:
        """Slices that cut the core out of an array read over the halo."""
        r0 = int(self.core.row_off - self.halo.row_off)
        c0 = int(self.core.col_off - self.halo.col_off)
        return slice(r0, r0 + int(self.core.height)), slice(c0, c0 + int(self.core.width))


@dataclass(frozen=True)
class TileGrid:
    """A raster of ``height × width`` pixels cut into square tiles of ``tile_size`` with ``overlap`` halos."""

    height: int
    width: int
    tile_size: int = DEFAULT_TILE_SIZE
    overlap: int = 0

    def __post_init__(self) -> None:
        if self.height <= 0 or self.width <= 0:
            raise ConfigError(f"a tile grid needs a positive size, got {self.height}×{self.width} px")
        if self.tile_size < 16:
            raise ConfigError(f"tile_size must be at least 16 px, got {self.tile_size}")
        if self.overlap < 0:
            raise ConfigError(f"overlap must be ≥ 0 px, got {self.overlap}")

    @property
    def shape(self) -> tuple[int, int]:
        """Number of tile rows and columns."""
        return -(-self.height // self.tile_size), -(-self.width // self.tile_size)

    def __len__(self) -> int:
        rows, cols = self.shape
        return rows * cols

    def __iter__(self) -> Iterator[Tile]:
        rows, cols = self.shape
        t, o = self.tile_size, self.overlap
        for i in range(rows):
            for j in range(cols):
                r0, c0 = i * t, j * t
                h, w = min(t, self.height - r0), min(t, self.width - c0)
                hr0, hc0 = max(0, r0 - o), max(0, c0 - o)
                hr1, hc1 = min(self.height, r0 + h + o), min(self.width, c0 + w + o)
                yield Tile(i, j, Window(c0, r0, w, h), Window(hc0, hr0, hc1 - hc0, hr1 - hr0))
