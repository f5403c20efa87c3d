"""Tiles, information and values of a georeferenced raster (GeoTIFF/COG in any CRS), coloured by product kind.

Kinds: ``height`` (DSM, nDSM, DTM: a terrain ramp stretched to the file's 2–98 % range), ``classes`` (land cover:
the colours of a land-cover legend), ``probability`` (a 0–1 ramp), ``mask`` (one colour, 0 transparent) and
``image`` (RGB or grey, each band stretched to its 2–98 % range). Nodata is transparent. The kind is guessed from
the file's name and folder (the pipeline writes ``OUT/<step>/<product>.tif``), else from its content.

Tiles are read with rio-tiler, which picks the overview fit for the zoom and warps to Web Mercator. What a tile
needs from the whole file (the stretch, the legend) is computed once per file version from a small read.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from rasterio.enums import Resampling
from rasterio.warp import transform, transform_bounds
from rasterio.windows import Window

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError, MissingDependencyError
from ai4geo_lab.geo.raster import open_raster, raster_read_errors

Kind = Literal["height", "classes", "probability", "mask", "image"]
KINDS: tuple[str, ...] = get_args(Kind)
TILE_SIZE = 256
SUMMARY_PX = 1024  # longer side of the read that gives the stretch and the classes present

#: file-name words that tell a product's kind
_NAME_KINDS: dict[str, Kind] = {
    **dict.fromkeys(("dsm", "ndsm", "dtm", "dem", "chm", "height", "heights", "elevation"), "height"),
    **dict.fromkeys(("landcover", "lulc", "classes", "classification", "classified", "labels"), "classes"),
    **dict.fromkeys(("probability", "probabilities", "proba", "prob"), "probability"),
    **dict.fromkeys(("mask", "masks", "change", "changes", "cloud", "clouds"), "mask"),
    **dict.fromkeys(("ortho", "image", "rgb", "pan", "ms"), "image"),
}

#: ramps as (position 0–1, RGB) stops
HEIGHT_RAMP: list[tuple[float, tuple[int, int, int]]] = [
    (0.0, (38, 115, 77)), (0.2, (112, 168, 84)), (0.4, (222, 214, 132)), (0.6, (189, 140, 82)),
    (0.8, (140, 98, 70)), (1.0, (245, 245, 240))]
PROBABILITY_RAMP: list[tuple[float, tuple[int, int, int]]] = [
    (0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)), (0.75, (94, 201, 98)), (1.0, (253, 231, 37))]
MASK_COLOR = (228, 26, 28)
UNKNOWN_CLASS_COLOR = (128, 128, 128)


def _hex(rgb: tuple[int, ...]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb[:3])


def _ramp_lut(stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """A (256, 4) RGBA table interpolated between the stops."""
    pos = np.array([s[0] for s in stops])
    cols = np.array([s[1] for s in stops], dtype=np.float64)
    x = np.linspace(0, 1, 256)
    lut = np.full((256, 4), 255, np.uint8)
    for c in range(3):
        lut[:, c] = np.round(np.interp(x, pos, cols[:, c])).astype(np.uint8)
    return lut


def guess_kind(path: str | Path) -> Kind | None:
    """The product kind its name tells (``dsm.tif`` → height, ``landcover/…`` → classes), else None."""
    path = Path(path)
    for name in (path.stem, path.parent.name, path.parent.parent.name):
        for word in re.split(r"[^a-z0-9]+", name.lower()):
            if word in _NAME_KINDS:
                return _NAME_KINDS[word]
        for word, kind in _NAME_KINDS.items():  # glued words: "landcover2020", "S2_dsm_v2"
            if len(word) >= 4 and word in name.lower():
                return kind
    return None


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _check_kind(kind: str) -> str:
    if kind != "auto" and kind not in KINDS:
        raise InvalidInputError(f"unknown product kind '{kind}'", f"one of: auto, {', '.join(KINDS)}")
    return kind


def _legend(name: str | None) -> Any:
    """A built-in land-cover legend by name (None: none chosen)."""
    if name is None or name == "":
        return None
    from ai4geo_lab.landcover.legend import BUILTIN_LEGENDS

    if name.lower() not in BUILTIN_LEGENDS:
        raise InvalidInputError(f"unknown legend '{name}'", f"one of: {', '.join(BUILTIN_LEGENDS)}")
    return BUILTIN_LEGENDS[name.lower()]


def _valid(data: np.ma.MaskedArray) -> np.ndarray:
    """Valid pixels of a masked read (nodata, the dataset mask and NaN excluded), as a bool array."""
    valid = ~np.ma.getmaskarray(data)
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(np.ma.getdata(data))
    return valid


def _class_table(codes: list[int], legend: Any, palette: dict[int, tuple[int, ...]] | None,
                 tags: dict[str, str]) -> tuple[Any, list[dict[str, Any]]]:
    """The legend a class raster is shown with, and its items for the codes present."""
    if legend is None:
        legend = _legend(tags.get("LEGEND") or tags.get("legend"))
    if legend is None and palette is None:
        from ai4geo_lab.landcover.legend import BUILTIN_LEGENDS, DEFAULT_LEGEND

        candidates = [DEFAULT_LEGEND, *(v for v in BUILTIN_LEGENDS.values() if v is not DEFAULT_LEGEND)]
        legend = next((lg for lg in candidates if set(codes) <= set(lg.codes)), DEFAULT_LEGEND)
    items = []
    names = legend.names if legend is not None else {}
    colours = {c.code: c.color for c in legend.classes} if legend is not None else {}
    for code in codes:
        rgb = palette[code][:3] if palette and code in palette else colours.get(code, UNKNOWN_CLASS_COLOR)
        items.append({"value": code, "label": names.get(code, f"class {code}"), "color": _hex(tuple(rgb))})
    return legend, items


@functools.lru_cache(maxsize=64)
def _summary(path: str, stamp: tuple[int, int], kind: str, legend_name: str | None) -> dict[str, Any]:
    """What a map needs to know of a file (cached per file version): see :func:`raster_info`."""
    del stamp  # part of the cache key only
    with open_raster(path, georeferenced=True) as src:
        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
        scale = max(1.0, max(src.width, src.height) / SUMMARY_PX)
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        try:
            palette = {int(k): tuple(v) for k, v in src.colormap(1).items()}
        except ValueError:
            palette = None
        tags = src.tags()
        name_kind = guess_kind(path)
        if kind == "auto":
            kind = name_kind or ("classes" if palette else "image" if src.count >= 3 else "")
        indexes = [1, 2, 3] if kind == "image" and src.count >= 3 else [1]
        data = src.read(indexes, out_shape=(len(indexes), *shape), masked=True, resampling=Resampling.nearest)
        valid = _valid(data)
        integer = np.issubdtype(np.dtype(src.dtypes[0]), np.integer)
        band1 = np.ma.getdata(data[0])[valid[0]]
        if kind == "":  # a single band that its name does not explain: look at the values
            present = np.unique(band1) if integer and band1.size else np.array([])
            if integer and present.size and set(present.tolist()) <= {0, 1, 255}:
                kind = "mask"
            elif not integer and band1.size and band1.min() >= 0 and band1.max() <= 1:
                kind = "probability"
            else:
                kind = "image"
        info: dict[str, Any] = {
            "bounds": [west, south, east, north], "crs": src.crs.to_string(), "width": src.width,
            "height": src.height, "count": src.count, "dtype": src.dtypes[0], "nodata": src.nodata,
            "resolution": [abs(src.res[0]), abs(src.res[1])], "kind": kind,
            "overviews": len(src.overviews(1)),
            "descriptions": [d or "" for d in src.descriptions],
        }
        lo = float(band1.min()) if band1.size else None
        hi = float(band1.max()) if band1.size else None
        info["range"] = [lo, hi]
        stretch: list[list[float]] = []
        for b in range(len(indexes)):
            values = np.ma.getdata(data[b])[valid[b]].astype(np.float64)
            if values.size:
                p2, p98 = np.percentile(values, [2, 98])
                stretch.append([float(p2), float(p98) if p98 > p2 else float(p2) + 1e-6])
            else:
                stretch.append([0.0, 1.0])
        if kind == "height":
            p2, p98 = stretch[0]
            unit = "m"
            info["stretch"] = [p2, p98]
            info["legend"] = {"type": "ramp", "unit": unit, "stops": [
                {"value": p2 + t * (p98 - p2), "color": _hex(rgb)} for t, rgb in HEIGHT_RAMP]}
        elif kind == "probability":
            top = 100.0 if hi is not None and hi > 1.0 else 1.0  # probabilities stored as percent
            info["stretch"] = [0.0, top]
            info["legend"] = {"type": "ramp", "unit": "", "stops": [
                {"value": t * top, "color": _hex(rgb)} for t, rgb in PROBABILITY_RAMP]}
        elif kind == "classes":
            codes = sorted(int(c) for c in np.unique(band1) if 0 <= c <= 255 and c != (src.nodata or 0)) \
                if band1.size else []
            legend, items = _class_table(codes, _legend(legend_name), palette, tags)
            info["legend"] = {"type": "classes", "name": legend.name if legend is not None else "palette",
                              "items": items}
        elif kind == "mask":
            info["legend"] = {"type": "classes", "name": "mask",
                              "items": [{"value": 1, "label": Path(path).stem, "color": _hex(MASK_COLOR)}]}
        else:
            info["indexes"] = indexes
            info["stretch"] = stretch
            labels = [info["descriptions"][i - 1] or f"band {i}" for i in indexes]
            info["legend"] = {"type": "image", "label": ("RGB: " if len(indexes) == 3 else "grey: ")
                              + ", ".join(labels)}
        return info


def _raster_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"raster {path} does not exist", "check the path")
    if path.is_dir():
        raise InvalidInputError(f"{path.name} is a folder, not a raster", "give a GeoTIFF file")
    return path


def raster_info(path: str | Path, kind: str = "auto", legend: str | None = None) -> dict[str, Any]:
    """Bounds (EPSG:4326, ``[west, south, east, north]``), CRS, size, bands, dtype, the product kind (``kind``
    "auto" guesses it), the value range, the stretch a map uses and a legend: ``{type: "ramp", stops: [{value,
    color}], unit}``, ``{type: "classes", items: [{value, label, color}]}`` or ``{type: "image", label}``.

    ``legend`` names a built-in land-cover legend for class rasters (default: the file's ``LEGEND`` tag, its
    palette, else the first built-in legend holding every code present).
    """
    path = _raster_file(path)
    info = dict(_summary(str(path), _stamp(path), _check_kind(kind), legend))
    info["stamp"] = "{:x}-{:x}".format(*_stamp(path))
    return info


def _lut(info: dict[str, Any]) -> np.ndarray:
    """The (256, 4) RGBA table of a single-band kind (index: the stretched value, or the class code)."""
    kind = info["kind"]
    if kind == "height":
        return _ramp_lut(HEIGHT_RAMP)
    if kind == "probability":
        return _ramp_lut(PROBABILITY_RAMP)
    lut = np.zeros((256, 4), np.uint8)
    if kind == "mask":
        lut[1:] = (*MASK_COLOR, 200)
        return lut
    lut[1:] = (*UNKNOWN_CLASS_COLOR, 160)
    for item in info["legend"]["items"]:
        rgb = bytes.fromhex(item["color"][1:])
        lut[int(item["value"])] = (*rgb, 255)
    return lut


@functools.cache
def _empty_tile() -> bytes:
    from rio_tiler.utils import render

    return render(np.zeros((3, TILE_SIZE, TILE_SIZE), np.uint8), mask=np.zeros((TILE_SIZE, TILE_SIZE), np.uint8),
                  img_format="PNG")


def warm_up() -> None:
    """Import the tile reader ahead of the first tile (the server does it in the background at start)."""
    _rio_tiler()


def _rio_tiler() -> Any:
    try:
        import rio_tiler.io
        import rio_tiler.utils
    except ImportError as exc:
        raise MissingDependencyError("serving map tiles needs rio-tiler", "pip install rio-tiler") from exc
    return rio_tiler


def colourise(info: dict[str, Any], data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """A (4, H, W) uint8 RGBA picture of ``data`` (bands first, as :func:`raster_info` chose them) for its kind;
    pixels not ``valid`` are transparent."""
    kind = info["kind"]
    if kind == "image":
        out = np.zeros((4, *data.shape[1:]), np.uint8)
        for b, (lo, hi) in enumerate(info["stretch"]):
            x = (data[b].astype(np.float64) - lo) / (hi - lo)
            out[b] = np.round(np.clip(np.nan_to_num(x), 0, 1) * 255).astype(np.uint8)
        if len(info["stretch"]) == 1:
            out[1] = out[2] = out[0]
        out[3] = np.where(valid, 255, 0)
        return out
    band = data[0]
    if kind in ("height", "probability"):
        lo, hi = info["stretch"]
        x = np.clip(np.nan_to_num((band.astype(np.float64) - lo) / (hi - lo)), 0, 1)
        idx = np.round(x * 255).astype(np.uint8)
    elif kind == "mask":
        idx = (np.nan_to_num(band) != 0).astype(np.uint8)
    else:
        idx = np.clip(np.nan_to_num(band), 0, 255).astype(np.uint8)
    rgba = _lut(info)[idx]  # H, W, 4
    rgba[..., 3] = np.where(valid, rgba[..., 3], 0)
    return np.moveaxis(rgba, -1, 0)


def raster_tile(path: str | Path, z: int, x: int, y: int, kind: str = "auto", legend: str | None = None) -> bytes:
    """The Web-Mercator tile ``z/x/y`` of the raster, as a 256 px RGBA PNG coloured as :func:`raster_info` says
    (a transparent tile where the raster is not)."""
    rio_tiler = _rio_tiler()
    info = raster_info(path, kind, legend)
    if not (0 <= z <= 30 and 0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidInputError(f"no tile {z}/{x}/{y}", "z from 0 to 30, x and y from 0 to 2**z - 1")
    smooth = info["kind"] in ("height", "probability", "image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rio-tiler's notes on missing overviews or nodata
        with raster_read_errors(path), rio_tiler.io.Reader(str(path)) as reader:
            if not reader.tile_exists(x, y, z):
                return _empty_tile()
            img = reader.tile(x, y, z, tilesize=TILE_SIZE, indexes=info.get("indexes", [1]),
                              resampling_method="nearest",
                              reproject_method="bilinear" if smooth else "nearest")
    data = np.ma.getdata(img.array)
    valid = ~np.asarray(np.ma.getmaskarray(img.array).any(axis=0), dtype=bool)
    if np.issubdtype(data.dtype, np.floating):
        valid &= np.isfinite(data).all(axis=0)
    if not valid.any():
        return _empty_tile()
    rgba = colourise(info, data, valid)
    return rio_tiler.utils.render(rgba[:3], mask=rgba[3], img_format="PNG")


def raster_value(path: str | Path, lon: float, lat: float, kind: str = "auto",
                 legend: str | None = None) -> dict[str, Any]:
    """The raster's value at (``lon``, ``lat``) in EPSG:4326: ``{inside, value, values, label}`` — ``value`` is
    None outside the raster or on nodata, ``values`` holds every band, ``label`` is the class name for class
    rasters (and the unit for heights)."""
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInputError(f"no point at lon={lon}, lat={lat}", "longitude −180…180, latitude −90…90")
    info = raster_info(path, kind, legend)
    out: dict[str, Any] = {"lon": lon, "lat": lat, "inside": False, "value": None, "values": None, "label": None,
                           "kind": info["kind"]}
    with open_raster(path, georeferenced=True) as src:
        xs, ys = transform("EPSG:4326", src.crs, [lon], [lat])
        row, col = src.index(xs[0], ys[0])
        if not (0 <= row < src.height and 0 <= col < src.width):
            return out
        out["inside"] = True
        data = src.read(window=Window(col, row, 1, 1), masked=True)
        valid = _valid(data)[:, 0, 0]
        if not valid.any():
            return out
        values = [v.item() if ok else None for v, ok in zip(np.ma.getdata(data)[:, 0, 0], valid, strict=True)]
    out["values"] = values
    out["value"] = values[0]
    if info["kind"] in ("classes", "mask") and values[0] is not None:
        names = {int(i["value"]): i["label"] for i in info["legend"]["items"]}
        code = int(values[0])
        out["label"] = names.get(code, f"class {code}") if info["kind"] == "classes" else (
            "on" if code else "off")
    elif info["kind"] == "height":
        out["label"] = "m"
    return out


__all__ = ["KINDS", "Kind", "colourise", "guess_kind", "raster_info", "raster_tile", "raster_value"]
