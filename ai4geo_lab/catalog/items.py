"""Catalogue items as plain STAC dicts: EODAG products converted, quicklook assets found."""

from __future__ import annotations

import json
from typing import Any

from shapely.geometry import mapping

QUICKLOOK_KEYS = ("quicklook", "thumbnail", "overview", "preview")


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def product_to_item(product: Any) -> dict[str, Any]:
    """An EODAG ``EOProduct`` as a STAC item dict (JSON-safe)."""
    props = _jsonable(dict(product.properties))
    when = props.get("datetime") or props.get("start_datetime") or props.get("startTimeFromAscendingNode")
    props["datetime"] = when
    assets = {k: _jsonable(dict(v)) for k, v in (getattr(product, "assets", None) or {}).items()}
    ql = props.get("quicklook") or props.get("thumbnail")
    if ql and not any(k in assets for k in QUICKLOOK_KEYS):
        assets["quicklook"] = {"href": ql, "roles": ["thumbnail"], "type": "image/png"}
    geom = product.geometry
    return {"type": "Feature", "stac_version": "1.1.0", "id": props.get("id"), "collection": product.collection,
            "geometry": mapping(geom), "bbox": list(geom.bounds), "properties": props, "assets": assets,
            "links": [], "ai4geo:provider": product.provider}


def quicklook_href(item: dict[str, Any]) -> str | None:
    """The item's quicklook/thumbnail asset href, if it has one."""
    assets = item.get("assets") or {}
    for key in QUICKLOOK_KEYS:
        if key in assets:
            return assets[key].get("href")
    for asset in assets.values():
        if {"thumbnail", "overview"} & set(asset.get("roles") or []):
            return asset.get("href")
    return None
