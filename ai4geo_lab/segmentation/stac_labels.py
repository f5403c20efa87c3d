"""Labelled building datasets shared as STAC (the label extension): read them as chips, write new ones.

A label item (``label:type`` vector or raster) has a ``labels`` asset — building polygons (GeoJSON, one file or a
folder of them) or a raster mask — and points to its imagery by a ``source`` link (to an image or to an item whose
data assets are images) or by image assets of its own (a GeoTIFF, or a folder of them). Relative hrefs resolve
against the item's file; images may be georeferenced by a ``.aux.xml`` beside them (GDAL reads it) and be in any
CRS. :func:`read_label_dataset` turns an item, a collection or a catalog into :class:`~.chips.Chip` lists like the
project's own loaders (:mod:`~ai4geo_lab.segmentation.datasets`) give, so training and evaluation take them;
:func:`write_label_dataset` cuts an image and its building polygons into such a collection.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError, OutputNotWritableError
from ai4geo_lab.geo.raster import open_raster
from ai4geo_lab.geo.vector import read_vector
from ai4geo_lab.segmentation.chips import (
    IGNORE,
    VECTOR_SUFFIXES,
    Chip,
    _burn,
    gsd_metres,
    image_chips,
    xyz_zoom_group,
)

#: Item property naming the region of a dataset's chips (their ``source``: scores are given per region).
REGION_PROPERTY = "ai4geo:region"
#: The property (and its value) of the building polygons that :func:`write_label_dataset` writes.
CLASS_PROPERTY, BUILDING = "class", "building"
IMAGE_SUFFIXES = (".tif", ".tiff")
LABEL_SCHEMA = "https://stac-extensions.github.io/label/v1.0.1/schema.json"
PROJECTION_SCHEMA = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
STAC_NAMES = ("catalog.json", "collection.json", "stac-item.json", "item.json")


def _local(href: str | None) -> Path | None:
    """A local path from an absolute href (``file://`` or a plain path); None for URLs and templates."""
    if not href or "{" in href:
        return None
    if href.startswith("file://"):
        return Path(href[7:])
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", href):
        return None
    return Path(href)


def read_stac(path: str | Path) -> Any:
    """The STAC object (item, collection or catalog) of a JSON file, or of a folder holding ``catalog.json``,
    ``collection.json`` or one item file."""
    import pystac

    path = Path(path).expanduser()
    if not path.exists():
        raise InputNotFoundError(f"{path} does not exist", "give a STAC item, collection or catalog (JSON)")
    if path.is_dir():
        found = [path / n for n in STAC_NAMES if (path / n).is_file()] or sorted(path.glob("*.json"))
        if not found:
            raise InvalidInputError(f"{path} holds no STAC file", "give a STAC item, collection or catalog file")
        if len(found) > 1 and found[0].name not in STAC_NAMES:
            raise InvalidInputError(f"{path} holds {len(found)} JSON files and no catalog.json or collection.json",
                                    "give the item file itself")
        path = found[0]
    try:
        return pystac.read_file(str(path.resolve()))
    except Exception as exc:  # JSON, STAC type and I/O errors of a user's file alike
        reason = " ".join(str(exc).split())[:200]
        raise InvalidInputError(f"{path} is not a STAC item, collection or catalog: {reason}",
                                "give a STAC JSON file with the label extension") from exc


def is_label_item(item: Any) -> bool:
    """Whether a STAC item uses the label extension."""
    return "label:type" in item.properties or any("/label/" in e for e in item.stac_extensions)


def label_items(path: str | Path) -> list[Any]:
    """The label items of an item, collection or catalog file (items of other kinds, such as the source imagery
    of a catalog, are passed over). Raises when there is none."""
    import pystac

    obj = read_stac(path)
    items = [obj] if isinstance(obj, pystac.Item) else list(obj.get_items(recursive=True))
    labelled = [i for i in items if is_label_item(i)]
    if not labelled:
        what = "item" if isinstance(obj, pystac.Item) else f"{type(obj).__name__.lower()} ({len(items)} items)"
        raise InvalidInputError(f"{path}: the STAC {what} has no label extension (no label:type)",
                                "give items that follow https://github.com/stac-extensions/label")
    for item in labelled:
        kind = item.properties.get("label:type")
        if kind not in ("vector", "raster"):
            raise InvalidInputError(f"label item {item.id} has label:type {kind!r}", "it must be vector or raster")
    return labelled


def _images_at(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return [path] if path.is_file() else []


def _is_image_asset(key: str, asset: Any) -> bool:
    roles = asset.roles or []
    if "labels" in roles or key == "labels":
        return False
    media = (asset.media_type or "").lower()
    href = asset.href.lower()
    return "data" in roles or "tiff" in media or href.endswith(IMAGE_SUFFIXES) or key in ("image", "chips")


def item_images(item: Any) -> list[Path]:
    """The local images of a label item: its ``source`` links (images, folders of them, or items whose data
    assets are images), else its own image assets."""
    import pystac

    images: list[Path] = []
    for link in item.links:
        if link.rel != "source":
            continue
        path = _local(link.get_absolute_href())
        if path is None or not path.exists():
            continue
        if path.suffix.lower() == ".json":
            src = pystac.read_file(str(path))
            if isinstance(src, pystac.Item):
                for key, asset in src.assets.items():
                    local = _local(asset.get_absolute_href())
                    if _is_image_asset(key, asset) and local is not None:
                        images += _images_at(local)
        else:
            images += _images_at(path)
    if not images:
        for key, asset in item.assets.items():
            local = _local(asset.get_absolute_href())
            if _is_image_asset(key, asset) and local is not None:
                images += _images_at(local)
    if not images:
        raise InvalidInputError(f"label item {item.id} names no local image",
                                "give it a source link or an image asset that points to GeoTIFFs on disk")
    return sorted(dict.fromkeys(images))


def item_labels(item: Any) -> list[Path]:
    """The local files or folders of a label item's label assets (role ``labels``, or the key ``labels``)."""
    out = []
    for key, asset in item.assets.items():
        if key == "labels" or "labels" in (asset.roles or []):
            path = _local(asset.get_absolute_href())
            if path is None:
                raise InvalidInputError(f"label item {item.id}: labels at {asset.href} are not local",
                                        "download them beside the item")
            if not path.exists():
                raise InputNotFoundError(f"label item {item.id}: labels {path} do not exist")
            out.append(path)
    if not out:
        raise InvalidInputError(f"label item {item.id} has no labels asset", "add an asset with the role 'labels'")
    return out


def building_filter(item: Any, frame: Any) -> Any:
    """The building features of a vector label asset, by the item's ``label:classes``.

    A class property named ``building`` (OSM style) keeps every feature whose value is set and not "no"; a
    property whose classes include "building" keeps the features of that class; otherwise every feature is a
    building.
    """
    for entry in item.properties.get("label:classes") or []:
        prop, classes = entry.get("name"), [str(c).lower() for c in entry.get("classes") or []]
        if not prop or prop not in frame.columns:
            continue
        values = frame[prop].astype("string").str.lower()
        if prop.lower() == "building":
            return frame[values.notna() & (values != "no")]
        if "building" in classes:
            return frame[values == "building"]
    return frame


def _read_labels(item: Any, path: Path) -> Any:
    try:
        return read_vector(path)
    except InvalidInputError as exc:
        tasks = ", ".join(item.properties.get("label:tasks") or []) or "not given"
        raise InvalidInputError(f"label item {item.id}: {path.name} holds no vector features (label:tasks: {tasks})",
                                "give an item whose labels are building polygons (GeoJSON…) or raster masks") from exc


def _vector_labels(item: Any, labels: list[Path], images: list[Path]) -> dict[Path, Any]:
    """Each image's building polygons: per-image files (``<stem>.geojson``…) when the label folders have them,
    else every vector file of the labels, joined."""
    import pandas as pd

    files = [p for lab in labels for p in (sorted(lab.iterdir()) if lab.is_dir() else [lab])
             if p.suffix.lower() in VECTOR_SUFFIXES]
    if not files:
        raise InvalidInputError(f"label item {item.id}: no vector file in {', '.join(map(str, labels))}",
                                "label:type vector needs GeoJSON (or another vector format) labels")
    by_stem = {p.stem: p for p in files}
    if any(img.stem in by_stem for img in images):
        out = {}
        for img in images:
            if img.stem not in by_stem:
                raise InvalidInputError(f"label item {item.id}: no labels for {img.name}",
                                        f"add {img.stem}.geojson (an empty collection if it has no building)")
            out[img] = building_filter(item, _read_labels(item, by_stem[img.stem]))
        return out
    frames = [_read_labels(item, p) for p in files]
    crs = next((f.crs for f in frames if f.crs is not None), None)
    frames = [f.to_crs(crs) if f.crs is not None and crs is not None and f.crs != crs else f for f in frames]
    joined = building_filter(item, pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])
    return dict.fromkeys(images, joined)


def raster_mask(label: Path, transform: Any, shape: tuple[int, int], crs: Any) -> np.ndarray:
    """A label raster resampled (nearest) onto a pixel grid: 1 where non-zero, 0 where zero, :data:`IGNORE`
    where it has no data or does not reach."""
    from rasterio.warp import Resampling, reproject

    dst = np.full(shape, np.nan, np.float32)
    with open_raster(label) as src:
        if src.crs is None and crs is not None:
            raise InvalidInputError(f"label raster {label} has no CRS", "georeference it like its image")
        reproject(src.read(1).astype(np.float32), dst, src_transform=src.transform, src_crs=src.crs,
                  src_nodata=src.nodata, dst_transform=transform, dst_crs=crs or src.crs, dst_nodata=np.nan,
                  resampling=Resampling.nearest)
    return np.where(np.isnan(dst), IGNORE, dst != 0).astype(np.uint8)


def _raster_labels(item: Any, labels: list[Path], images: list[Path]) -> dict[Path, Path]:
    files = [p for lab in labels for p in _images_at(lab)]
    if not files:
        raise InvalidInputError(f"label item {item.id}: no raster in {', '.join(map(str, labels))}",
                                "label:type raster needs GeoTIFF masks")
    if len(files) == 1:
        return dict.fromkeys(images, files[0])
    by_name = {p.name: p for p in files} | {p.stem: p for p in files}
    out = {}
    for img in images:
        lab = by_name.get(img.name) or by_name.get(img.stem)
        if lab is None:
            raise InvalidInputError(f"label item {item.id}: no label raster named like {img.name}")
        out[img] = lab
    return out


def item_region(item: Any) -> str:
    """The region of an item's chips: its ``ai4geo:region`` property, else its collection's id, else its id."""
    return str(item.properties.get(REGION_PROPERTY) or item.collection_id or item.id)


def read_label_dataset(path: str | Path, region: str | None = None, bands: Sequence[int] | None = None,
                       chip_size: int = 1024, limit: int | None = None, min_valid: float = 0.5) -> list[Chip]:
    """Chips (image bands and 0/1 building mask on the image's pixel grid) of the label items of a STAC item,
    collection or catalog file.

    ``region`` names the chips' source (default: :func:`item_region`); ``bands`` are 1-based bands to read
    (default: all); images larger than ``chip_size`` are cut; ``limit`` keeps the first images of each item.
    """
    chips: list[Chip] = []
    for item in label_items(path):
        images = item_images(item)[:limit]
        labels = item_labels(item)
        name = region or item_region(item)
        if item.properties["label:type"] == "vector":
            vectors = _vector_labels(item, labels, images)
            for img in images:
                chips += image_chips(img, partial(_burn, vectors[img]), name,
                                     bands, chip_size, xyz_zoom_group, min_valid)
        else:
            rasters = _raster_labels(item, labels, images)
            for img in images:
                chips += image_chips(img, partial(raster_mask, rasters[img]),
                                     name, bands, chip_size, xyz_zoom_group, min_valid)
    if not chips:
        raise InvalidInputError(f"no usable chip in the label items of {path}")
    return chips


# ---- writing ---------------------------------------------------------------------------------------------------------


#: Label files read as masks by :func:`write_label_dataset` (others are read as vectors).
MASK_SUFFIXES = (".tif", ".tiff", ".vrt")


def _write_chip_polygons(vector: Any, bounds: tuple[float, float, float, float], crs: Any,
                         path: Path) -> tuple[Any, dict[str, Any]]:
    """A chip's building polygons as WGS84 GeoJSON at ``path``; its label asset and label fields."""
    import pystac

    feats = _chip_labels(vector, bounds, crs)
    path.write_text(feats.to_json(drop_id=True) if len(feats) else
                    json.dumps({"type": "FeatureCollection", "features": []}))
    fields = {"label:description": "building footprints", "label:type": "vector",
              "label:properties": [CLASS_PROPERTY],
              "label:classes": [{"name": CLASS_PROPERTY, "classes": [BUILDING]}],
              "label:overviews": [{"property_key": CLASS_PROPERTY,
                                   "counts": [{"name": BUILDING, "count": len(feats)}]}]}
    return pystac.Asset(str(path.resolve()), media_type=pystac.MediaType.GEOJSON, roles=["labels"],
                        title="building footprints"), fields


def _write_chip_mask(mask_file: Path, path: Path, transform: Any, shape: tuple[int, int],
                     crs: Any) -> tuple[Any, dict[str, Any]]:
    """A chip's building mask (1/0, :data:`IGNORE` unlabelled) on its grid at ``path``; its label asset and fields."""
    import pystac

    from ai4geo_lab.geo.raster import write_raster

    mask = raster_mask(mask_file, transform, shape, crs)
    write_raster(path, mask, transform, crs, IGNORE, cog=False)
    fields = {"label:description": f"building mask: 1 building, 0 not, {IGNORE} unlabelled", "label:type": "raster",
              "label:properties": None, "label:classes": [{"name": None, "classes": [0, 1]}],
              "ai4geo:labelled_pixels": int((mask != IGNORE).sum()),
              "ai4geo:building_pixels": int((mask == 1).sum())}
    return pystac.Asset(str(path.resolve()), media_type=pystac.MediaType.GEOTIFF, roles=["labels"],
                        title="building mask"), fields


def _image_datetime(tags: dict[str, str]) -> dt.datetime:
    stamp = tags.get("TIFFTAG_DATETIME") or tags.get("ACQUISITIONDATETIME")
    if stamp:
        for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
            try:
                return dt.datetime.strptime(stamp[:19], fmt).replace(tzinfo=dt.UTC)
            except ValueError:
                continue
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _chip_labels(vector: Any, bounds: tuple[float, float, float, float], crs: Any) -> Any:
    """The building polygons meeting a chip (in the image CRS), clipped to it, as GeoJSON-ready WGS84 features."""
    import geopandas as gpd
    from shapely.geometry import box

    chip = box(*bounds)
    hits = vector[vector.intersects(chip)]
    geoms = [g for g in hits.geometry.intersection(chip) if g is not None and not g.is_empty]
    polys = []
    for g in geoms:  # keep the areal parts of what the clip made (no slivers of lines or points)
        parts = getattr(g, "geoms", [g])
        polys += [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
    frame = gpd.GeoDataFrame({CLASS_PROPERTY: [BUILDING] * len(polys)}, geometry=polys, crs=crs)
    return frame.to_crs("EPSG:4326")


def write_label_dataset(image: str | Path, labels: str | Path, out: str | Path, chip_size: int = 512,
                        region: str | None = None, min_valid: float = 0.5, overwrite: bool = False) -> Path:
    """Cut ``image`` into chips of ``chip_size`` px with its ``labels`` — building polygons (any vector format
    and CRS) or a building mask (a GeoTIFF: non-zero building, zero not, nodata unlabelled; any grid) — and write
    them as a STAC collection with the label extension; returns the path of ``collection.json``.

    Each chip has two items, each in its own folder: the image item (asset ``image``: the chip, a lossless
    GeoTIFF; its grid in the projection extension's fields) and the label item (``<id>-labels``: asset
    ``labels``, the polygons clipped to the chip, WGS84 GeoJSON with property ``class`` = ``building``, or the
    mask on the chip's grid, uint8 1/0 with nodata 255; a ``source`` link to the image item). Windows smaller
    than half a chip, or with less than ``min_valid`` valid pixels, are left out. Items are dated by the
    image's TIFF date tag, else by the time of writing; ``gsd`` is the pixel size in metres, ``ai4geo:region``
    the region.
    """
    import pystac
    import rasterio
    from rasterio.warp import transform_geom
    from rasterio.windows import Window
    from rasterio.windows import bounds as window_bounds
    from shapely.geometry import box, mapping, shape

    image, out = Path(image), Path(out)
    if chip_size < 16:
        raise InvalidInputError(f"chip size {chip_size} px is too small", "give at least 16 px")
    region = region or image.stem
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", region):
        raise InvalidInputError(f"region name {region!r} is not usable in file names",
                                "use letters, digits, '-', '_' or '.'")
    collection_file = out / "collection.json"
    if collection_file.exists() and not overwrite:
        raise OutputNotWritableError(f"{out} already holds a dataset", "choose another folder, or overwrite")
    mask_file = Path(labels) if Path(labels).suffix.lower() in MASK_SUFFIXES else None
    vector = None if mask_file is not None else read_vector(labels)
    with open_raster(image, georeferenced=True) as src:
        crs, profile = src.crs, src.profile
        if vector is not None:
            vector = vector.set_crs(crs) if vector.crs is None else vector.to_crs(crs)
            vector = vector[vector.geometry.notna() & ~vector.geometry.is_empty]
            vector = vector[vector.geom_type.isin(["Polygon", "MultiPolygon"])]
            vector = vector.assign(geometry=vector.geometry.make_valid())
        when = _image_datetime(src.tags())
        lat = (src.bounds.top + src.bounds.bottom) / 2 if crs.is_geographic else None
        gsd = gsd_metres(src.transform, crs, lat)
        try:
            if overwrite and out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputNotWritableError(f"cannot write to {out}: {exc.strerror}") from exc
        collection = pystac.Collection(
            id=f"{region}-buildings", title=f"Buildings of {region}",
            description=f"Chips of {image.name} ({chip_size} px) with building "
                        f"{'masks' if mask_file else 'footprints'} from {Path(labels).name}.",
            extent=pystac.Extent(pystac.SpatialExtent([[-180.0, -90.0, 180.0, 90.0]]),
                                 pystac.TemporalExtent([[when, None]])),
            license="other")
        n_items = 0
        for row in range(0, src.height, chip_size):
            for col in range(0, src.width, chip_size):
                win = Window(col, row, min(chip_size, src.width - col), min(chip_size, src.height - row))
                if win.width < min(chip_size, src.width) // 2 or win.height < min(chip_size, src.height) // 2:
                    continue
                data = src.read(window=win)
                valid = ~np.ma.getmaskarray(src.read(window=win, masked=True)).any(axis=0)
                if valid.mean() < min_valid:
                    continue
                item_id = f"{region}-{row}-{col}"
                transform = src.window_transform(win)
                chip_profile = {"driver": "GTiff", "width": int(win.width), "height": int(win.height),
                                "count": src.count, "dtype": profile["dtype"], "crs": crs, "transform": transform,
                                "nodata": src.nodata, "compress": "deflate"}
                (out / item_id).mkdir(exist_ok=True)
                with rasterio.open(out / item_id / f"{item_id}.tif", "w", **chip_profile) as dst:
                    dst.write(data)
                bounds = window_bounds(win, src.transform)
                (out / f"{item_id}-labels").mkdir(exist_ok=True)
                if mask_file is not None:
                    label_asset, label_fields = _write_chip_mask(
                        mask_file, out / f"{item_id}-labels" / f"{item_id}.tif", transform,
                        (int(win.height), int(win.width)), crs)
                else:
                    assert vector is not None
                    label_asset, label_fields = _write_chip_polygons(
                        vector, bounds, crs, out / f"{item_id}-labels" / f"{item_id}.geojson")
                footprint = mapping(shape(transform_geom(crs, "EPSG:4326", mapping(box(*bounds)), precision=9)))
                bbox = list(shape(footprint).bounds)
                props = {REGION_PROPERTY: region, "gsd": gsd}
                source = pystac.Item(id=item_id, geometry=footprint, bbox=bbox, datetime=when,
                                     properties=dict(props))
                epsg = crs.to_epsg()
                source.stac_extensions.append(PROJECTION_SCHEMA)
                source.properties |= {"proj:shape": [int(win.height), int(win.width)],
                                      "proj:transform": list(transform)[:6],
                                      **({"proj:code": f"EPSG:{epsg}"} if epsg else {"proj:wkt2": crs.to_wkt()})}
                source.add_asset("image", pystac.Asset(str((out / item_id / f"{item_id}.tif").resolve()),
                                                       media_type=pystac.MediaType.GEOTIFF, roles=["data"],
                                                       title="image chip"))
                item = pystac.Item(id=f"{item_id}-labels", geometry=footprint, bbox=bbox, datetime=when,
                                   properties=dict(props))
                item.add_asset("labels", label_asset)
                item.add_link(pystac.Link("source", source, media_type=pystac.MediaType.JSON,
                                          title="the labelled image chip"))
                # the label extension's fields written as they are (pystac's helper for it is deprecated)
                item.stac_extensions.append(LABEL_SCHEMA)
                item.properties |= {"label:tasks": ["segmentation"], **label_fields}
                collection.add_item(source)
                collection.add_item(item)
                n_items += 1
    if n_items == 0:
        raise InvalidInputError(f"{image} gives no chip of {chip_size} px with enough valid pixels",
                                "give a smaller chip size")
    collection.update_extent_from_items()
    collection.normalize_hrefs(str(out.resolve()))
    collection.make_all_asset_hrefs_relative()
    collection.save(pystac.CatalogType.SELF_CONTAINED)
    return collection_file
