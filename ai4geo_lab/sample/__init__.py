"""The embedded sample city: a deterministic synthetic city with ground truth for every product of the chain.

``make_sample_city(out, seed=0, size_m=600, gsd=0.5)`` writes, in a few seconds::

    OUT/sample.json                              metadata (seed, grid, dates, view angles, counts)
    OUT/images/date{1,2}/ortho.tif               RGB+NIR ortho, reflectance × 10000 (uint16)
    OUT/images/date{1,2}/pan_{fwd,bwd}.tif       panchromatic stereo pair, sensor geometry, RPC tags
    OUT/truth/date{1,2}/{dsm,dtm,landcover}.tif, buildings.gpkg
    OUT/truth/change.tif, change.gpkg            what changed between the dates
    OUT/catalog/catalog.json                     STAC catalogue of all of it
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from pyproj import Transformer

from ai4geo_lab import __version__
from ai4geo_lab.change.classes import CHANGE_CLASSES
from ai4geo_lab.errors import ConfigError, InputNotFoundError, OutputNotWritableError
from ai4geo_lab.geo.raster import write_raster
from ai4geo_lab.geo.vector import write_vector
from ai4geo_lab.landcover.legend import SAMPLE_CITY
from ai4geo_lab.sample.render import affine_view, ortho_reflectance, render_view
from ai4geo_lab.sample.scene import CRS, Scene, evolve, make_scene
from ai4geo_lab.sample.stac import write_catalog

DATES = {"date1": "2024-06-15T10:30:00Z", "date2": "2025-06-20T10:30:00Z"}
VIEW_ANGLES_DEG = {"pan_fwd": 8.0, "pan_bwd": -8.0}
DN_SCALE = 10000.0

__all__ = ["DATES", "SampleCity", "make_sample_city"]


@dataclass(frozen=True)
class SampleCity:
    """A sample city on disk: paths and metadata."""

    root: Path
    seed: int
    size_m: float
    gsd: float
    crs: str
    dates: dict[str, str]
    meta: dict[str, Any]

    @classmethod
    def load(cls, root: str | Path) -> SampleCity:
        """Open a sample city written by :func:`make_sample_city`."""
        root = Path(root)
        path = root / "sample.json"
        if not path.is_file():
            raise InputNotFoundError(f"{root} holds no sample city (no sample.json)",
                                     "make one with `ai4geo sample make --out DIR`")
        meta = json.loads(path.read_text())
        return cls(root, meta["seed"], meta["size_m"], meta["gsd"], meta["crs"], meta["dates"], meta)

    def image(self, date: str, name: str) -> Path:
        """``images/<date>/<name>.tif`` (name: ortho, pan_fwd, pan_bwd)."""
        return self.root / "images" / date / f"{name}.tif"

    def truth(self, date: str, name: str) -> Path:
        """``truth/<date>/<name>`` (dsm, dtm, landcover: .tif; buildings: .gpkg)."""
        return self.root / "truth" / date / (f"{name}.gpkg" if name == "buildings" else f"{name}.tif")

    @property
    def change_raster(self) -> Path:
        """Pixel truth of change (codes of :data:`~ai4geo_lab.change.classes.CHANGE_CLASSES`)."""
        return self.root / "truth" / "change.tif"

    @property
    def change_vector(self) -> Path:
        """One polygon per changed building or tree group."""
        return self.root / "truth" / "change.gpkg"

    @property
    def catalog(self) -> Path:
        """The STAC catalogue."""
        return self.root / "catalog" / "catalog.json"

    @property
    def hmin(self) -> float:
        """Lowest height of the scene (m)."""
        return self.meta["height_range"][0]

    @property
    def hmax(self) -> float:
        """Highest height of the scene (m)."""
        return self.meta["height_range"][1]

    @property
    def terrain_range(self) -> tuple[float, float]:
        """Lowest and highest ground of the area (m): what a coarse global DEM would tell."""
        return tuple(self.meta["terrain_range"])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check(seed: int, size_m: float, gsd: float) -> None:
    if not 100 <= size_m <= 5000:
        raise ConfigError(f"size_m must be between 100 and 5000 m, got {size_m:g}", "e.g. --size-m 600")
    if not 0 < gsd <= 5:
        raise ConfigError(f"gsd must be > 0 and ≤ 5 m, got {gsd:g}", "e.g. --gsd 0.5")
    if size_m / gsd > 6000:
        raise ConfigError(f"{size_m:g} m at {gsd:g} m/px is {size_m / gsd:.0f} px a side (more than 6000)",
                          "raise --gsd or lower --size-m")
    if seed < 0:
        raise ConfigError(f"seed must be ≥ 0, got {seed}")


def _buildings_frame(scene: Scene) -> gpd.GeoDataFrame:
    rows = [{"building_id": b.building_id, "height": round(b.height, 3), "eave_height": round(b.eave_height, 3),
             "roof_type": b.roof_type, "base_elevation": round(scene.building_base.get(b.building_id, np.nan), 3),
             "shape": b.shape, "geometry": b.polygon} for b in scene.buildings]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


def _write_date(root: Path, date: str, scene: Scene, rng: np.random.Generator, hmin: float, hmax: float) -> None:
    img, truth = root / "images" / date, root / "truth" / date
    t, crs = scene.transform, CRS
    write_raster(truth / "dsm.tif", scene.dsm, t, crs, nodata=-9999.0)
    write_raster(truth / "dtm.tif", scene.dtm, t, crs, nodata=-9999.0)
    write_raster(truth / "landcover.tif", scene.landcover, t, crs, nodata=0, tags={"LEGEND": SAMPLE_CITY.name})
    write_vector(_buildings_frame(scene), truth / "buildings.gpkg", layer="buildings")
    refl = ortho_reflectance(scene, rng)
    write_raster(img / "ortho.tif", np.round(refl * DN_SCALE).astype(np.uint16), t, crs, nodata=0,
                 band_names=["red", "green", "blue", "nir"], tags={"REFLECTANCE_SCALE": str(DN_SCALE)})
    for name, angle in VIEW_ANGLES_DEG.items():
        view = affine_view(t, scene.shape, hmin, hmax, angle, name)
        rendering = render_view(scene, refl, view, rng)
        write_raster(img / f"{name}.tif", np.round(rendering.image * DN_SCALE).astype(np.uint16), None, None,
                     rpcs=view.rpc.to_rasterio(), tags={"VIEW_ANGLE_DEG": str(angle)})


def _change_frame(before: Scene, after: Scene, changes: dict[str, list]) -> gpd.GeoDataFrame:
    from shapely.geometry import Point
    from shapely.ops import unary_union

    rows = []
    names = {code: name for code, (name, _) in CHANGE_CLASSES.items()}
    by_id = {b.building_id: b for b in before.buildings} | {b.building_id: b for b in after.buildings}
    for key, code in (("demolished", 1), ("new", 2), ("raised", 3)):
        for bid in changes[key]:
            rows.append({"object_id": f"building-{bid}", "change": names[code], "code": code,
                         "geometry": by_id[bid].polygon})
    for g in changes["cleared_groups"]:
        crowns = [Point(t.x, t.y).buffer(t.radius) for t in before.trees if t.group == g]
        rows.append({"object_id": f"trees-{g}", "change": names[4], "code": 4, "geometry": unary_union(crowns)})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


def make_sample_city(out: str | Path, seed: int = 0, size_m: float = 600.0, gsd: float = 0.5,
                     overwrite: bool = False) -> SampleCity:
    """Generate the sample city in ``out`` (deterministic per seed); see the module docstring for the layout."""
    from ai4geo_lab.sample.scene import change_raster

    _check(seed, size_m, gsd)
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise OutputNotWritableError(f"{out} already exists and is not empty",
                                     "choose another folder or pass overwrite=True (--overwrite)")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        tmp.chmod(0o777 & ~_umask())
    except OSError as exc:
        raise OutputNotWritableError(f"cannot write in {out.parent} ({exc.strerror})",
                                     "choose a writable folder") from exc
    try:
        rng = np.random.default_rng(seed)
        before, ctx = make_scene(rng, size_m, gsd)
        after, changes = evolve(rng, before, ctx)
        hmin = float(min(before.dsm.min(), after.dsm.min())) - 2.0
        hmax = float(max(before.dsm.max(), after.dsm.max())) + 2.0
        for date, scene in (("date1", before), ("date2", after)):
            _write_date(tmp, date, scene, np.random.default_rng([seed, int(date[-1])]), hmin, hmax)
        change = change_raster(before, after, changes)
        write_raster(tmp / "truth" / "change.tif", change, before.transform, CRS)
        write_vector(_change_frame(before, after, changes), tmp / "truth" / "change.gpkg", layer="change")
        bounds = before.transform.c, before.transform.f + before.shape[0] * before.transform.e, \
            before.transform.c + before.shape[1] * before.transform.a, before.transform.f
        to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
        xs, ys = to_ll.transform([bounds[0], bounds[2], bounds[2], bounds[0], bounds[0]],
                                 [bounds[1], bounds[1], bounds[3], bounds[3], bounds[1]])
        footprint = {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in zip(xs, ys, strict=True)]]}
        cloud = {d: float(np.round(np.random.default_rng([seed, 99, i]).uniform(0, 30), 1))
                 for i, d in enumerate(DATES)}
        meta = {
            "generator": f"ai4geo_lab {__version__}", "seed": seed, "size_m": size_m, "gsd": gsd, "crs": CRS,
            "bounds": list(bounds), "shape": list(before.shape), "transform": list(before.transform)[:6],
            "dates": DATES, "view_angles_deg": VIEW_ANGLES_DEG, "height_range": [hmin, hmax],
            "terrain_range": [float(before.dtm.min()), float(before.dtm.max())],
            "footprint_wgs84": footprint, "cloud_cover": cloud,
            "counts": {"buildings_date1": len(before.buildings), "buildings_date2": len(after.buildings),
                       "trees_date1": len(before.trees), "trees_date2": len(after.trees),
                       **{k: len(v) for k, v in changes.items()}},
        }
        (tmp / "sample.json").write_text(json.dumps(meta, indent=1))
        write_catalog(tmp, footprint, DATES, meta, cloud)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SampleCity.load(out)
