"""STAC items for every product a run writes, carrying its processing lineage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pystac
from shapely.geometry import shape

from ai4geo_lab import __version__

MEDIA_TYPES = {
    ".tif": pystac.MediaType.COG,
    ".gpkg": "application/geopackage+sqlite3",
    ".json": "application/city+json",
    ".html": pystac.MediaType.HTML,
}


def product_item(
    product_id: str,
    path: Path,
    geometry: dict,
    datetime: dt.datetime,
    step: str,
    params: dict[str, Any],
    inputs: dict[str, Path],
    epsg: int | None,
    software: dict[str, str] | None = None,
    properties: dict[str, Any] | None = None,
) -> pystac.Item:
    """A STAC item for one product file, with its lineage (inputs, step, parameters, software versions) and any
    further ``properties`` (e.g. per-run statistics)."""
    item = pystac.Item(
        id=product_id,
        geometry=geometry,
        bbox=list(shape(geometry).bounds),
        datetime=datetime,
        properties={
            "processing:lineage": f"made by the ai4geo_lab step '{step}' from "
            + ", ".join(f"{k}={Path(v).name}" for k, v in sorted(inputs.items())),
            "processing:software": {"ai4geo-lab": __version__, **(software or {})},
            "ai4geo:step": step,
            "ai4geo:parameters": params,
            "ai4geo:inputs": {k: str(v) for k, v in sorted(inputs.items())},
            **(properties or {}),
        },
    )
    if epsg:
        item.properties["proj:code"] = f"EPSG:{epsg}"
    item.add_asset("data", pystac.Asset(href=str(path), media_type=MEDIA_TYPES.get(path.suffix),
                                        roles=["data"], title=path.name))
    return item


def write_catalog(root: Path, items: list[pystac.Item], title: str, catalog_id: str = "ai4geo-run") -> Path:
    """Write a self-contained STAC catalogue of a run's products under ``root/stac``."""
    catalog = pystac.Catalog(id=catalog_id, description=title, title=title)
    for item in items:
        catalog.add_item(item)
    catalog.normalize_hrefs(str(root / "stac"))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return root / "stac" / "catalog.json"
