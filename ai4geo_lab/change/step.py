"""The ``change`` step: 3D change between two dates from their DSMs, nDSMs and (optionally) NDVI."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ai4geo_lab.change.algo import ChangeRules, dsm_change
from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.geo.resample import read_on_grid
from ai4geo_lab.landcover.algo import ndvi

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext
    from ai4geo_lab.execution.tiles import Tile
    from ai4geo_lab.geo.grid import GroundGrid


class ChangeParams(BaseModel):
    """Thresholds of the DSM-difference change detection."""

    model_config = ConfigDict(extra="forbid")
    min_height_change: float = Field(default=3.0, gt=0, description="smallest height change kept (m)")
    object_height: float = Field(default=2.5, gt=0, description="height above ground of an object (m)")
    veg_ndvi: float = Field(default=0.3, ge=-1, le=1)
    min_area_px: int = Field(default=20, ge=0)
    opening: int = Field(default=1, ge=0, le=10)
    red_band: int = Field(default=1, ge=1)
    nir_band: int = Field(default=4, ge=1)


def change_tile(tile: Tile, grid: GroundGrid, paths: dict[str, Path], params: dict[str, Any]) -> np.ndarray:
    """Change classes of one tile."""
    params = dict(params)
    red_band, nir_band = params.pop("red_band"), params.pop("nir_band")
    arrays = {k: read_window(paths[k], tile.halo)[0] for k in ("dsm_before", "dsm_after", "ndsm_before", "ndsm_after")}
    veg = {}
    for when in ("before", "after"):
        image = paths.get(f"image_{when}")
        if image is not None:
            veg[when] = ndvi(read_window(image, tile.halo, band=red_band)[0],
                             read_window(image, tile.halo, band=nir_band)[0])
    out = dsm_change(arrays["dsm_before"], arrays["dsm_after"], arrays["ndsm_before"], arrays["ndsm_after"],
                     veg.get("before"), veg.get("after"), ChangeRules(**params))
    return out[tile.core_in_halo]


def run(ctx: StepContext, inputs: dict[str, Path], params: ChangeParams) -> dict[str, Path]:
    """The change raster, tile by tile."""
    out = ctx.tiled_raster("change", change_tile, overlap=params.opening + 8, dtype="uint8", nodata=None,
                           paths=dict(inputs), params=params.model_dump())
    return {"change": out}


# --- per-building 3D change between any two DSMs ------------------------------------------------------


class BuildingChangeParams(BaseModel):
    """Per-building height change between two DSMs (see :mod:`ai4geo_lab.change.buildings`)."""

    model_config = ConfigDict(extra="forbid")
    min_change: float = Field(default=3.0, gt=0, description="smallest median height change of a building (m)")
    object_height: float = Field(default=2.5, gt=0, description="what stands lower than this is gone (m)")
    standing_fraction: float = Field(default=0.2, ge=0, le=1, description="a drop leaving less of the footprint "
                                     "standing is a demolition, more is 'lowered' (partial collapse)")
    max_overlap: float = Field(default=0.3, ge=0, le=1, description="second-date objects overlapping first-date "
                               "buildings more than this are not new")
    erode_px: int = Field(default=1, ge=0, le=10, description="footprint erosion before statistics (px)")
    min_valid_fraction: float = Field(default=0.3, ge=0, le=1, description="fewer valid DSM pixels: undecided")
    min_area_px: int = Field(default=10, ge=1, description="smallest second-date object (px)")
    split_step: float | None = Field(default=3.0, gt=0, description="objects found in an nDSM are split where "
                                     "the surface steps by this much (m; None: never)")
    veg_ndvi: float = Field(default=0.3, ge=-1, le=1, description="NDVI of vegetation (second-date objects)")
    red_band: int = Field(default=1, ge=1)
    nir_band: int = Field(default=4, ge=1)

    def rules(self) -> Any:
        """The :class:`~ai4geo_lab.change.buildings.BuildingChangeRules` of these parameters."""
        from ai4geo_lab.change.buildings import BuildingChangeRules

        return BuildingChangeRules(min_change=self.min_change, object_height=self.object_height,
                                   standing_fraction=self.standing_fraction, max_overlap=self.max_overlap,
                                   erode_px=self.erode_px, min_valid_fraction=self.min_valid_fraction,
                                   min_area_px=self.min_area_px)


def _ids_from_vector(path: str | Path, grid: GroundGrid) -> tuple[np.ndarray, Any]:
    """Footprints rasterised onto the grid: (id raster, the footprints in the grid's CRS, index = id − 1)."""
    from rasterio.features import rasterize

    from ai4geo_lab.geo.vector import read_vector

    gdf = read_vector(path)
    if gdf.crs is not None and str(gdf.crs) != str(grid.crs):
        gdf = gdf.to_crs(grid.crs)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty].reset_index(drop=True)
    if len(gdf) == 0:
        return np.zeros(grid.shape, np.int32), gdf
    ids = rasterize([(g, i + 1) for i, g in enumerate(gdf.geometry)], out_shape=grid.shape,
                    transform=grid.transform, fill=0, dtype="int32")
    return ids, gdf


def _ids_polygons(ids: np.ndarray, grid: GroundGrid) -> dict[int, Any]:
    """One polygon per id of an id raster (union of its pixels)."""
    from rasterio.features import shapes
    from shapely.geometry import shape
    from shapely.ops import unary_union

    parts: dict[int, list[Any]] = {}
    for geom, value in shapes(ids.astype(np.int32), mask=ids > 0, connectivity=4, transform=grid.transform):
        parts.setdefault(int(value), []).append(shape(geom))
    return {k: unary_union(v) for k, v in parts.items()}


def building_change(dsm_before: str | Path, dsm_after: str | Path, footprints: str | Path | None = None,
                    footprints_after: str | Path | None = None, ndsm_before: str | Path | None = None,
                    ndsm_after: str | Path | None = None, image_after: str | Path | None = None,
                    params: BuildingChangeParams | None = None) -> Any:
    """Per-building change between any two DSM files, as a GeoDataFrame (one row per changed or kept building).

    The grid is the first DSM's; the other rasters are resampled onto it (so two DSMs of different grids,
    e.g. from two stereo pairs, can be compared where they overlap). First-date buildings come from
    ``footprints`` (any vector file) or, without it, from ``ndsm_before``; second-date buildings from
    ``footprints_after``, else from ``ndsm_after`` (vegetation removed with ``image_after``'s NDVI), else
    from where the surface rose. Columns: see :func:`~ai4geo_lab.change.buildings.building_changes`, plus
    ``geometry`` (the footprint) and ``source_id`` (the row of the footprint file it came from).
    """
    import geopandas as gpd

    from ai4geo_lab.change.buildings import building_changes, objects_from_ndsm, rise_objects
    from ai4geo_lab.errors import ConfigError, InvalidInputError
    from ai4geo_lab.geo.grid import GroundGrid

    p = params or BuildingChangeParams()
    grid = GroundGrid.like(dsm_before)
    d1 = read_on_grid(dsm_before, grid)
    d2 = read_on_grid(dsm_after, grid)
    both = np.isfinite(d1) & np.isfinite(d2)
    if not both.any():
        raise InvalidInputError(f"{dsm_before} and {dsm_after} do not overlap",
                                "give two DSMs of the same area (in any CRS)")
    n1 = read_on_grid(ndsm_before, grid) if ndsm_before else None
    n2 = read_on_grid(ndsm_after, grid) if ndsm_after else None
    if footprints is not None:
        ids1, fp1 = _ids_from_vector(footprints, grid)
    elif n1 is not None:
        ids1, fp1 = objects_from_ndsm(n1, p.object_height, min_area_px=p.min_area_px,
                                     split_step=p.split_step), None
    else:
        raise ConfigError("first-date buildings are needed", "give footprints (a vector file) or ndsm_before")
    ids2, fp2 = None, None
    if footprints_after is not None:
        ids2, fp2 = _ids_from_vector(footprints_after, grid)
    elif n2 is not None:
        veg = None
        if image_after is not None:
            red = read_on_grid(image_after, grid, p.red_band)
            nir = read_on_grid(image_after, grid, p.nir_band)
            veg = ndvi(red, nir)
        ids2 = objects_from_ndsm(n2, p.object_height, veg, p.veg_ndvi, p.min_area_px,
                                split_step=p.split_step)
    if ids2 is None:
        ids2 = rise_objects(d1, d2, ids1, p.min_change, p.min_area_px)
    records = building_changes(d1, d2, ids1, ids2, n1, n2, pixel_area=abs(grid.transform.a * grid.transform.e),
                               rules=p.rules())
    polys1 = {} if fp1 is not None else _ids_polygons(ids1, grid)
    polys2 = {} if fp2 is not None else _ids_polygons(ids2, grid)
    geoms, sources = [], []
    for r in records:
        if r["date"] == 1:
            geoms.append(fp1.geometry.iloc[r["id"] - 1] if fp1 is not None else polys1.get(r["id"]))
            sources.append(r["id"] - 1 if fp1 is not None else -1)
        else:
            geoms.append(fp2.geometry.iloc[r["id"] - 1] if fp2 is not None else polys2.get(r["id"]))
            sources.append(r["id"] - 1 if fp2 is not None else -1)
    frame = gpd.GeoDataFrame(records, geometry=geoms, crs=grid.crs)
    frame["source_id"] = sources
    return frame


def run_building_change(ctx: StepContext, inputs: dict[str, Path], params: BuildingChangeParams) -> dict[str, Path]:
    """The per-building change table (GeoPackage), from two DSMs and the first date's footprints."""
    from ai4geo_lab.geo.vector import write_vector

    frame = building_change(inputs["dsm_before"], inputs["dsm_after"], inputs.get("footprints"),
                            inputs.get("footprints_after"), inputs.get("ndsm_before"), inputs.get("ndsm_after"),
                            inputs.get("image_after"), params)
    counts = frame["change"].value_counts().to_dict()
    ctx.log(f"[{ctx.step_id}] {len(frame)} buildings: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return {"buildings": write_vector(frame, ctx.output_path("buildings", ".gpkg"), layer="building_change")}


# --- 2D change between two images ------------------------------------------------------------------------


class Change2DParams(BaseModel):
    """Index differencing (or change vector) between two images with an automatic threshold, or a learned
    classifier of the pair (``model``: see :mod:`ai4geo_lab.change.learned`)."""

    model_config = ConfigDict(extra="forbid")
    index: str = Field(default="ndvi", description="spectral index or band to difference, or 'cva' (change "
                       "vector magnitude over all bands)")
    band_names: list[str] = Field(default=["red", "green", "blue", "nir"], description="the images' bands")
    reflectance_scale: float = Field(default=10000.0, gt=0, description="image value of reflectance 1.0")
    direction: Literal["both", "decrease", "increase"] = "both"
    method: Literal["otsu", "sigma"] = Field(default="otsu", description="automatic threshold")
    threshold: float | None = Field(default=None, description="a fixed threshold instead of the automatic one")
    k: float = Field(default=3.0, gt=0, description="sigma method: median + k × robust spread")
    min_area_px: int = Field(default=20, ge=0)
    opening: int = Field(default=1, ge=0, le=10)
    closing: int = Field(default=1, ge=0, le=10)
    min_area_m2: float = Field(default=10.0, ge=0, description="smaller change polygons are dropped")
    model: str | None = Field(default=None, description="a change model file (.joblib, from "
                              "change.learned.train_change_model): classify the pair instead of thresholding")


def _change_model(path: str) -> Any:
    """The change model of a file, loaded once per process."""
    from ai4geo_lab.landcover.model import LandcoverModel

    key = str(Path(path).resolve())
    if key not in _MODELS:
        _MODELS[key] = LandcoverModel.load(key)
    return _MODELS[key]


_MODELS: dict[str, Any] = {}


def _difference(before: np.ndarray, after: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    from ai4geo_lab.change.spectral import change_vector, index_difference

    b, a = before / p["reflectance_scale"], after / p["reflectance_scale"]
    if p["index"] == "cva":
        return change_vector(b, a, normalise=False)
    return index_difference(b, a, p["band_names"], p["index"])


def change_2d_tile(tile: Tile, grid: GroundGrid, before: Path, after: Path, params: dict[str, Any],
                   threshold: float) -> np.ndarray:
    """Change codes of one tile: 1 where the difference decreased past the threshold, 2 where it increased."""
    from ai4geo_lab.change.spectral import clean_mask, threshold_change

    b = read_window(before, tile.halo, band=None)[0]
    a = read_window(after, tile.halo, band=None)[0]
    if params.get("model"):
        from ai4geo_lab.change.learned import predict_change

        scale = params["reflectance_scale"]
        return predict_change(_change_model(params["model"]), b / scale, a / scale,
                              params["band_names"])[tile.core_in_halo]
    d = _difference(b, a, params)
    mask, _ = threshold_change(d, params["direction"], threshold)
    mask = clean_mask(mask, params["min_area_px"], params["opening"], params["closing"])
    out = np.where(mask, np.where(d < 0, 1, 2), 0).astype(np.uint8)
    if params["index"] == "cva":
        out[mask] = 1
    return out[tile.core_in_halo]


def global_threshold(before: Path, after: Path, params: Change2DParams, max_px: int = 1_000_000) -> float:
    """The automatic threshold of the whole pair, from a decimated read (at most ``max_px`` pixels)."""
    import rasterio

    from ai4geo_lab.change.spectral import threshold_change
    from ai4geo_lab.geo.raster import open_raster

    if params.threshold is not None:
        return float(params.threshold)
    arrays = []
    for path in (before, after):
        with open_raster(path) as src:
            f = max(1.0, float(np.sqrt(src.width * src.height / max_px)))
            shape = (src.count, max(1, int(src.height / f)), max(1, int(src.width / f)))
            data = src.read(out_shape=shape, resampling=rasterio.enums.Resampling.nearest).astype(np.float32)
            if src.nodata is not None:
                data[data == src.nodata] = np.nan
            arrays.append(data)
    d = _difference(arrays[0], arrays[1], params.model_dump())
    _, t = threshold_change(d, params.direction, None, params.method, params.k)
    return t


def run_change_2d(ctx: StepContext, inputs: dict[str, Path], params: Change2DParams) -> dict[str, Path]:
    """The change raster and its polygons between two images: 1 decrease, 2 increase of the index; with a
    model, the change classes it learned (1 demolished building, 2 new building, 4 cleared trees)."""
    from ai4geo_lab.change.classes import CHANGE_CLASSES
    from ai4geo_lab.change.learned import CONTEXT, VISIBLE_2D
    from ai4geo_lab.geo.vector import write_vector
    from ai4geo_lab.vectorize.algo import mask_to_polygons

    if params.model:
        model = _change_model(params.model)  # a missing or foreign file fails here, before any tile
        ctx.log(f"[{ctx.step_id}] learned change: {model.kind} model {Path(params.model).name}")
        t, overlap = math.nan, max(CONTEXT) // 2 + 1
        names = [(c, CHANGE_CLASSES[c][0]) for c in VISIBLE_2D]
    else:
        t = global_threshold(inputs["image_before"], inputs["image_after"], params)
        ctx.log(f"[{ctx.step_id}] {params.index} difference, {params.direction}: threshold {t:.4g}")
        overlap, names = params.opening + params.closing + 4, [(1, "decrease"), (2, "increase")]
    out = ctx.tiled_raster("change", change_2d_tile, overlap=overlap, dtype="uint8",
                           nodata=None, before=inputs["image_before"], after=inputs["image_after"],
                           params=params.model_dump(), threshold=t)
    classes, transform = read_window(out, dtype="uint8")
    frames = []
    for code, name in names:
        gdf = mask_to_polygons(classes == code, transform, params.min_area_m2, crs=ctx.grid.crs)
        gdf["change"] = name
        frames.append(gdf)
    import geopandas as gpd
    import pandas as pd

    polys = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=ctx.grid.crs)
    polys["threshold"] = t
    return {"change": out, "polygons": write_vector(polys, ctx.output_path("polygons", ".gpkg"), layer="change")}


# --- breaks along an index time series -------------------------------------------------------------------


class BreaksParams(BaseModel):
    """Break detection along a time series (see :mod:`ai4geo_lab.change.breaks`)."""

    model_config = ConfigDict(extra="forbid")
    history_end: str | float = Field(description="end of the stable history: a date (YYYY-MM-DD) or days "
                                     "since the first observation")
    index: str | None = Field(default=None, description="index to compute from multi-band images (e.g. ndvi); "
                              "None: the images hold the index in band 1")
    band_names: list[str] | None = None
    harmonics: int = Field(default=1, ge=0, le=3)
    trend: bool = False
    h: int = Field(default=3, ge=1, le=20, description="valid observations per moving window")
    threshold: float = Field(default=3.5, gt=0, description="MOSUM/√h beyond which a window is a break")
    direction: Literal["decrease", "increase", "both"] = "decrease"
    min_history: int = Field(default=6, ge=2)
    min_area_m2: float = Field(default=0.0, ge=0, description="smaller break polygons are dropped")

    def rules(self, first: Any) -> Any:
        """The :class:`~ai4geo_lab.change.breaks.BreakParams` (history_end in days since ``first``)."""
        import datetime as dt

        from ai4geo_lab.change.breaks import BreakParams

        end = self.history_end
        if isinstance(end, str):
            when = dt.datetime.fromisoformat(end).replace(tzinfo=None)
            end = (when - first.replace(tzinfo=None)).total_seconds() / 86400
        return BreakParams(float(end), self.harmonics, self.trend, self.h, self.threshold, self.direction,
                           self.min_history)


def _index_series(series: Any, window: Any, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    data, clear = series.read(window)
    if params["index"] is None:
        return data[:, 0], clear
    from ai4geo_lab.landcover.features import spectral_indices

    names = params["band_names"] or series.bands()
    values = np.stack([spectral_indices(d, names, [params["index"]])[0][0] for d in data])
    return values, clear


def breaks_tile(tile: Tile, grid: GroundGrid, series_path: Path, params: dict[str, Any]) -> np.ndarray:
    """Break flag (1/0, NaN undecided), days since the first observation and magnitude of one tile."""
    from ai4geo_lab.change.breaks import detect_breaks
    from ai4geo_lab.landcover.series import ImageSeries

    series = ImageSeries.from_file(series_path)
    values, clear = _index_series(series, tile.halo, params)
    res = detect_breaks(values, series.times(), clear, BreaksParams.model_validate(params).rules(
        series.images[0].datetime or _epoch()))
    flag = np.where(res.decided, res.breaks.astype(np.float32), np.nan)
    out = np.stack([flag, res.time, res.magnitude]).astype(np.float32)
    return out[(slice(None), *tile.core_in_halo)]


def _epoch() -> Any:
    import datetime as dt

    return dt.datetime(1970, 1, 1)


def run_breaks(ctx: StepContext, inputs: dict[str, Path], params: BreaksParams) -> dict[str, Path]:
    """The break raster (flag, days, magnitude) and the polygons of the breaks with their dates."""
    import datetime as dt

    from ai4geo_lab.geo.vector import write_vector
    from ai4geo_lab.landcover.series import ImageSeries
    from ai4geo_lab.vectorize.algo import mask_to_polygons

    series = ImageSeries.from_file(inputs["series"])
    series.shape()
    out = ctx.tiled_raster("breaks", breaks_tile, overlap=0, dtype="float32", nodata=None,
                           band_names=["break", "days", "magnitude"], series_path=inputs["series"],
                           params=params.model_dump())
    data, transform = read_window(out, band=None)
    polys = mask_to_polygons(np.nan_to_num(data[0]) > 0, transform, params.min_area_m2, crs=ctx.grid.crs)
    first = series.images[0].datetime
    if len(polys):
        from rasterio.features import rasterize

        ids = rasterize([(g, i + 1) for i, g in enumerate(polys.geometry)], out_shape=data.shape[1:],
                        transform=transform, fill=0, dtype="int32", all_touched=True)
        ids[~(np.nan_to_num(data[0]) > 0)] = 0

        def median(band: np.ndarray, i: int) -> float:
            v = band[(ids == i + 1) & np.isfinite(band)]
            return float(np.median(v)) if v.size else float("nan")

        days = [median(data[1], i) for i in range(len(polys))]
        polys["days"] = days
        polys["magnitude"] = [median(data[2], i) for i in range(len(polys))]
        if first is not None:
            polys["date"] = [(first + dt.timedelta(days=d)).date().isoformat() if np.isfinite(d) else None
                             for d in days]
    ctx.log(f"[{ctx.step_id}] {int(np.nansum(data[0]))} pixels with a break, {len(polys)} polygons")
    return {"breaks": out, "polygons": write_vector(polys, ctx.output_path("polygons", ".gpkg"), layer="breaks")}
