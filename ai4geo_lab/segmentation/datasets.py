"""The building datasets the project trains and scores on: Kampala (RGB), Atlanta (panchromatic), the sample city.

Each loader returns :class:`~ai4geo_lab.segmentation.chips.Chip` lists; data folders are given by the caller
(the real data is not shipped in the package).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ai4geo_lab.errors import ConfigError, InputNotFoundError
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


# ---- datasets by name or path: the loaders above and STAC label datasets behind one interface ----------------------

#: Environment variable naming the buildings data folder (kampala/, atlanta/, banepa/).
DATA_ENV = "AI4GEO_BUILDINGS_DATA"
#: Banepa's label item, under the buildings data folder.
BANEPA_ITEM = Path("banepa", "buildings-banepa-segmentation", "stac-item.json")

#: The built-in datasets: name → (what it is, its path under the buildings data folder).
BUILTIN_DATASETS: dict[str, tuple[str, Path]] = {
    "kampala-train": ("Kampala (Uganda), OpenAerialMap RGB tiles at 3 zooms, OSM labels: train split",
                      Path("kampala", "train")),
    "kampala-val": ("Kampala val split, tile by tile", Path("kampala", "val")),
    "kampala-val-joined": ("Kampala val split, touching tiles joined", Path("kampala", "val")),
    "atlanta": ("Atlanta (USA), SpaceNet 0.5 m panchromatic, 150 px chips", Path("atlanta")),
    "banepa": ("Banepa (Nepal), OpenAerialMap RGB 0.13 m, OSM labels, read from its STAC label item",
               BANEPA_ITEM),
    "sample-city": ("the package's synthetic sample city, seed 0 (made in a temporary folder)", Path(".")),
    "sample-city-train": ("sample cities of seeds 11, 12, 13, for training (seed 0 is kept for scoring)",
                          Path(".")),
}
#: Seeds of the ``sample-city-train`` dataset.
TRAIN_CITY_SEEDS = (11, 12, 13)


def default_data_root() -> Path:
    """The buildings data folder: ``$AI4GEO_BUILDINGS_DATA``, else ``../shared/data/buildings`` from the working
    folder or beside the project checkout."""
    import os

    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    candidates = [Path.cwd().parent / "shared" / "data" / "buildings",
                  Path(__file__).resolve().parents[3] / "shared" / "data" / "buildings"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def list_datasets(data: str | Path | None = None) -> list[dict[str, str | bool]]:
    """The built-in datasets: name, description, path and whether it is there."""
    root = Path(data) if data is not None else default_data_root()
    return [{"name": name, "description": text, "path": str(root / rel), "available": (root / rel).exists()}
            for name, (text, rel) in BUILTIN_DATASETS.items()]


def load_dataset(dataset: str | Path, data: str | Path | None = None, limit: int | None = None,
                 chip_size: int = 1024, work: str | Path | None = None) -> list[Chip]:
    """The chips of a built-in dataset (a name of :data:`BUILTIN_DATASETS`, its files under the buildings data
    folder ``data``) or of a STAC label item, collection or catalog at a path; at most ``limit`` chips."""
    from ai4geo_lab.segmentation.stac_labels import read_label_dataset

    name = str(dataset)
    if name in BUILTIN_DATASETS:
        root = Path(data) if data is not None else default_data_root()
        if not name.startswith("sample-city"):
            _need(root / BUILTIN_DATASETS[name][1], f"dataset {name}")
        if name.startswith("kampala-"):
            split = name.split("-")[1]
            chips = kampala_chips(root / "kampala", split, limit, mosaic=name.endswith("-joined"))
        elif name == "atlanta":
            chips = atlanta_chips(root / "atlanta")
        elif name == "banepa":
            chips = read_label_dataset(root / BANEPA_ITEM, region="banepa", chip_size=chip_size, limit=limit)
        else:
            import tempfile

            seeds = TRAIN_CITY_SEEDS if name == "sample-city-train" else (0,)
            chips = sample_city_chips(work or tempfile.mkdtemp(prefix="ai4geo-city-"), seeds)
    elif Path(name).expanduser().exists():
        chips = read_label_dataset(Path(name).expanduser(), chip_size=chip_size, limit=limit)
    else:
        raise InputNotFoundError(f"no dataset {name!r}: not a built-in name nor an existing path",
                                 f"give a STAC label item, collection or catalog, or one of "
                                 f"{', '.join(BUILTIN_DATASETS)}")
    return chips[:limit] if limit is not None else chips


def parse_weighted(entry: str) -> tuple[str, float]:
    """``NAME`` or ``NAME:WEIGHT`` (a built-in name or a STAC path, and its sampling weight, default 1)."""
    name, sep, tail = str(entry).rpartition(":")
    if sep and name:
        try:
            weight = float(tail)
        except ValueError:
            return str(entry), 1.0
        if not weight >= 0:
            raise ConfigError(f"the weight of {name} must be a number ≥ 0, got {tail}", "write NAME:WEIGHT")
        return name, weight
    return str(entry), 1.0


def weighted_datasets(entries: Sequence[str | tuple[str, float]], data: str | Path | None = None,
                      work: str | Path | None = None, chip_size: int = 1024,
                      join_tiles: bool = True) -> tuple[list[Chip], dict[str, float]]:
    """The chips of several datasets (``NAME[:WEIGHT]`` strings or (name, weight) pairs; see
    :func:`load_dataset`) and the sampling share of each region (chip ``source``) for
    :class:`~ai4geo_lab.segmentation.training.TrainParams` ``source_shares``: a dataset's weight split evenly
    among its regions, summed over datasets. ``join_tiles``: touching XYZ map tiles joined into blocks
    (:func:`~ai4geo_lab.segmentation.chips.xyz_mosaics`), so views at coarse resolutions stay whole."""
    chips: list[Chip] = []
    shares: dict[str, float] = {}
    for entry in entries:
        name, weight = parse_weighted(entry) if isinstance(entry, str) else (str(entry[0]), float(entry[1]))
        got = load_dataset(name, data, chip_size=chip_size, work=work)
        if join_tiles:
            got = xyz_mosaics(got)
        regions = sorted({c.source for c in got})
        for r in regions:
            shares[r] = shares.get(r, 0.0) + weight / len(regions)
        chips += got
    if not chips or not any(v > 0 for v in shares.values()):
        raise ConfigError("no training chips with a positive weight", "give datasets as NAME[:WEIGHT]")
    return chips, shares
