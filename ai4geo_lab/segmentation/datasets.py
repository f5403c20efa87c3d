"""The building datasets the project trains and scores on: Kampala (RGB), Atlanta (panchromatic), the sample city.

Each loader returns :class:`~ai4geo_lab.segmentation.chips.Chip` lists; data folders are given by the caller
(the real data is not shipped in the package).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ai4geo_lab.errors import InputNotFoundError
from ai4geo_lab.segmentation.chips import Chip, read_chips, xyz_mosaics


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputNotFoundError(f"{what} not found at {path}", "point to the buildings data folder")
    return path


def kampala_chips(root: str | Path, split: str = "train", limit: int | None = None,
                  mosaic: bool = False) -> list[Chip]:
    """Kampala OpenAerialMap RGB chips of ``split`` (train/val) with their OSM labels; groups are zoom levels.

    ``mosaic``: touching tiles of a zoom joined into blocks (see :func:`~ai4geo_lab.segmentation.chips.xyz_mosaics`).
    """
    folder = _need(Path(root) / split, f"Kampala {split} split")
    images = sorted((folder / "chips").glob("*.tif"))[:limit]
    chips = read_chips(images, folder / "labels", source="kampala")
    return xyz_mosaics(chips) if mosaic else chips


def atlanta_chips(root: str | Path, split: str = "all", chip_size: int = 150,
                  train_cols: int = 600) -> list[Chip]:
    """Atlanta SpaceNet panchromatic chips (0.5 m) with their footprints, cut into ``chip_size`` windows.

    ``split`` "train" keeps windows west of column ``train_cols``, "val" those east of it, "all" every one.
    """
    folder = _need(Path(root), "Atlanta folder")
    chips = read_chips([folder / "sample_geotiff.tif"], folder / "geotiff_labels.geojson", source="atlanta",
                       chip_size=chip_size, group=lambda _p: "pan")
    if split == "all":
        return chips
    col = {c.name: int(c.name.rsplit(",", 1)[1]) for c in chips}
    return [c for c in chips if (col[c.name] < train_cols) == (split == "train")]


def sample_city_chips(work: str | Path, seeds: Sequence[int], size_m: float = 400.0, gsd: float = 0.5,
                      chip_size: int = 256) -> list[Chip]:
    """RGB chips of generated sample cities (``seeds``; made under ``work`` unless there) with truth footprints."""
    from ai4geo_lab.sample import SampleCity, make_sample_city

    chips: list[Chip] = []
    for seed in seeds:
        root = Path(work) / f"city-{seed}"
        if (root / "sample.json").is_file():
            city = SampleCity.load(root)
        else:
            city = make_sample_city(root, seed=seed, size_m=size_m, gsd=gsd, overwrite=True)
        for date in ("date1", "date2"):
            chips += read_chips([city.image(date, "ortho")], city.truth(date, "buildings"), source="city",
                                bands=[1, 2, 3], chip_size=chip_size, group=lambda _p: "city")
    return chips
