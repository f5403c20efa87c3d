"""The sample city's STAC catalogue: what an offline catalogue search finds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pystac

COLLECTIONS = {
    "sample-pan-stereo": "Panchromatic along-track stereo pairs in sensor geometry, with RPC models (GeoTIFF tags)",
    "sample-ortho": "RGB+NIR ortho images, reflectance × 10000",
    "sample-truth": "Ground truth: DSM, DTM, land cover, building footprints; change between the dates",
}


def _item(item_id: str, footprint: dict, when: str, props: dict[str, Any], assets: dict[str, tuple[Path, str, str]],
          root: Path) -> pystac.Item:
    coords = np.array(footprint["coordinates"][0])
    item = pystac.Item(item_id, footprint, [*coords.min(axis=0).tolist(), *coords.max(axis=0).tolist()],
                       dt.datetime.fromisoformat(when.replace("Z", "+00:00")), props)
    for key, (path, media, role) in assets.items():
        item.add_asset(key, pystac.Asset(str(path), media_type=media, roles=[role], title=path.name))
    return item


def write_catalog(root: Path, footprint: dict, dates: dict[str, str], meta: dict[str, Any],
                  cloud_cover: dict[str, float]) -> Path:
    """Write ``root/catalog/catalog.json`` (self-contained, relative links) and return its path."""
    cog, gpkg = pystac.MediaType.COG, "application/geopackage+sqlite3"
    catalog = pystac.Catalog("ai4geo-sample-city", "The ai4geo_lab sample city: images and ground truth",
                             title="ai4geo_lab sample city")
    coords = np.array(footprint["coordinates"][0])
    bbox = [*coords.min(axis=0).tolist(), *coords.max(axis=0).tolist()]
    times = sorted(dt.datetime.fromisoformat(d.replace("Z", "+00:00")) for d in dates.values())
    collections = {
        cid: pystac.Collection(cid, desc, pystac.Extent(pystac.SpatialExtent([bbox]),
                                                          pystac.TemporalExtent([[times[0], times[-1]]])),
                               license="CC-BY-4.0", title=cid)
        for cid, desc in COLLECTIONS.items()
    }
    common = {"gsd": meta["gsd"], "proj:code": meta["crs"], "platform": "ai4geo-sample"}
    for date, when in dates.items():
        img = root / "images" / date
        truth = root / "truth" / date
        cc = cloud_cover[date]
        collections["sample-pan-stereo"].add_item(_item(
            f"pan-stereo-{date}", footprint, when,
            {**common, "eo:cloud_cover": cc, "view:off_nadir": abs(meta["view_angles_deg"]["pan_fwd"]),
             "instruments": ["pan"]},
            {"pan_fwd": (img / "pan_fwd.tif", cog, "data"), "pan_bwd": (img / "pan_bwd.tif", cog, "data")}, root))
        collections["sample-ortho"].add_item(_item(
            f"ortho-{date}", footprint, when, {**common, "eo:cloud_cover": cc, "view:off_nadir": 0.0},
            {"ortho": (img / "ortho.tif", cog, "data")}, root))
        collections["sample-truth"].add_item(_item(
            f"truth-{date}", footprint, when, {**common},
            {"dsm": (truth / "dsm.tif", cog, "data"), "dtm": (truth / "dtm.tif", cog, "data"),
             "landcover": (truth / "landcover.tif", cog, "data"), "buildings": (truth / "buildings.gpkg", gpkg,
                                                                                "data")}, root))
    collections["sample-truth"].add_item(_item(
        "truth-change", footprint, dates["date2"], {**common},
        {"change": (root / "truth" / "change.tif", cog, "data"),
         "change_vector": (root / "truth" / "change.gpkg", gpkg, "data")}, root))
    for c in collections.values():
        catalog.add_child(c)
    catalog.normalize_hrefs(str(root / "catalog"))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog" / "catalog.json"
