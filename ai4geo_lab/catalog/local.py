"""The embedded local catalogue: static STAC catalogues on disk, indexed in memory, searched with no network.

A static catalogue is read once (following ``child`` and ``item`` links from its root) into column arrays and an
R-tree; a search is then a few vectorised comparisons, so thousands of items answer in milliseconds. The index is
rebuilt when a root file changes.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError

_LOCK = threading.Lock()
_CACHE: dict[tuple[str, ...], tuple[tuple[float, ...], LocalIndex]] = {}


def _to_path(href: str, base: Path) -> Path:
    parsed = urlparse(href)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # http(s), s3...: not a local file
        raise ValueError(href)
    p = Path(href)
    return p if p.is_absolute() else (base / p).resolve()


def _absolute_assets(item: dict[str, Any], base: Path) -> dict[str, Any]:
    assets = {}
    for key, asset in (item.get("assets") or {}).items():
        asset = dict(asset)
        href = asset.get("href", "")
        with contextlib.suppress(ValueError):  # a remote href stays as it is
            asset["href"] = str(_to_path(href, base))
        assets[key] = asset
    return assets


def _datetime64(props: dict[str, Any]) -> np.datetime64:
    value = props.get("datetime") or props.get("start_datetime")
    if not value:
        return np.datetime64("NaT", "ns")
    when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(when, "ns")


def read_static_catalog(root: Path) -> list[dict[str, Any]]:
    """Every item reachable from a static STAC catalogue/collection file (or an ItemCollection), with absolute
    local asset paths and its collection id."""
    if root.is_dir():
        root = next((root / n for n in ("catalog.json", "collection.json") if (root / n).is_file()), root)
    if not root.is_file():
        raise InputNotFoundError(f"no STAC catalogue at {root}", "give a catalog.json, collection.json or a folder "
                                                                 "holding one")
    items: list[dict[str, Any]] = []
    seen: set[Path] = set()
    stack: list[tuple[Path, str | None]] = [(root.resolve(), None)]
    while stack:
        path, parent_collection = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read the STAC file {path}: {exc}", "check the catalogue") from exc
        kind = doc.get("type")
        base = path.parent
        if kind == "Feature":
            doc["collection"] = doc.get("collection") or parent_collection
            doc["assets"] = _absolute_assets(doc, base)
            items.append(doc)
            continue
        if kind == "FeatureCollection":
            for feat in doc.get("features", []):
                feat["assets"] = _absolute_assets(feat, base)
                items.append(feat)
            continue
        collection = doc.get("id") if kind == "Collection" else parent_collection
        for link in reversed(doc.get("links", [])):
            if link.get("rel") in ("child", "item"):
                try:
                    stack.append((_to_path(link["href"], base), collection))
                except ValueError:
                    continue  # remote links are not followed offline
    return items


@dataclass
class LocalIndex:
    """Column arrays over the items of some static catalogues, and an R-tree of their footprints."""

    items: list[dict[str, Any]]
    ids: np.ndarray = field(init=False)
    collections: np.ndarray = field(init=False)
    datetimes: np.ndarray = field(init=False)
    cloud: np.ndarray = field(init=False)
    geometries: np.ndarray = field(init=False)
    tree: shapely.STRtree = field(init=False)
    _collection_names: list[str] = field(init=False, repr=False)
    _collection_codes: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.ids = np.array([it.get("id", "") for it in self.items], dtype=object)
        self.collections = np.array([it.get("collection") or "" for it in self.items], dtype=object)
        self.datetimes = np.array([_datetime64(it.get("properties") or {}) for it in self.items],
                                  dtype="datetime64[ns]")
        self.cloud = np.array([(it.get("properties") or {}).get("eo:cloud_cover", np.nan) for it in self.items],
                              dtype=float)
        self.geometries = np.array([shape(it["geometry"]) if it.get("geometry") else shapely.box(*it["bbox"])
                                    for it in self.items], dtype=object)
        self.tree = shapely.STRtree(self.geometries)
        names, codes = np.unique(self.collections.astype(str), return_inverse=True)
        self._collection_names = [str(n) for n in names]
        self._collection_codes = codes.astype(np.int32)

    @classmethod
    def from_paths(cls, paths: list[Path]) -> LocalIndex:
        """Index the catalogues at ``paths`` (cached until one of their root files changes)."""
        key = tuple(str(Path(p).resolve()) for p in paths)
        stamps = tuple(Path(p).stat().st_mtime if Path(p).exists() else -1.0 for p in key)
        with _LOCK:
            hit = _CACHE.get(key)
            if hit and hit[0] == stamps:
                return hit[1]
        items: list[dict[str, Any]] = []
        for p in key:
            items.extend(read_static_catalog(Path(p)))
        index = cls(items)
        with _LOCK:
            _CACHE[key] = (stamps, index)
        return index

    def collection_ids(self) -> list[str]:
        """The collections present, sorted."""
        return [c for c in self._collection_names if c]

    def search(self, geometry: BaseGeometry | None, collections: list[str] | None, start: np.datetime64 | None,
               end: np.datetime64 | None, max_cloud: float | None = None,
               queryables: dict[str, Any] | None = None) -> np.ndarray:
        """Indices of the matching items, newest first (then by id)."""
        mask = np.ones(len(self.items), dtype=bool)
        if collections:
            wanted = [i for i, name in enumerate(self._collection_names) if name in set(collections)]
            mask &= np.isin(self._collection_codes, wanted)
        if start is not None:
            mask &= self.datetimes >= start
        if end is not None:
            mask &= self.datetimes <= end
        if max_cloud is not None:
            mask &= self.cloud <= max_cloud  # NaN (no cloud cover given) never matches
        if geometry is not None:
            spatial = np.zeros_like(mask)
            spatial[self.tree.query(geometry, predicate="intersects")] = True
            mask &= spatial
        idx = np.flatnonzero(mask)
        for key, wanted in (queryables or {}).items():
            allowed = set(wanted) if isinstance(wanted, list | tuple | set) else {wanted}
            idx = np.array([i for i in idx if (self.items[i].get("properties") or {}).get(key) in allowed], dtype=int)
        order = np.lexsort((self.ids[idx].astype(str), -self.datetimes[idx].astype("int64")))
        return idx[order]
