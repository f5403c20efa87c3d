"""Vectorising a mask tile by tile gives the whole mask's polygons; regularisation meets its targets."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio.features
import shapely
from affine import Affine
from shapely import affinity
from shapely.geometry import Polygon, box

from ai4geo_lab.execution.tiles import TileGrid
from ai4geo_lab.geo.vector import read_vector
from ai4geo_lab.quality.polygons import polygon_scores
from ai4geo_lab.vectorize.algo import mask_to_polygons, regularize, vectorize_tiles
from tests.conftest import shared_data

T = Affine(0.5, 0.0, 500_000.0, 0.0, -0.5, 4_000_000.0)


def burn(polys: list[Polygon], shape: tuple[int, int], transform: Affine = T) -> np.ndarray:
    return rasterio.features.rasterize([(p, 1) for p in polys], out_shape=shape, transform=transform, dtype="uint8")


def tiles(mask: np.ndarray, tile: int, overlap: int = 0) -> list[tuple[np.ndarray, Affine]]:
    """The mask cut into the halo windows of a tile grid, each with its own transform."""
    out = []
    for t in TileGrid(*mask.shape, tile_size=tile, overlap=overlap):
        r, c, h, w = int(t.halo.row_off), int(t.halo.col_off), int(t.halo.height), int(t.halo.width)
        out.append((mask[r:r + h, c:c + w], T @ Affine.translation(c, r)))
    return out


def scene() -> list[Polygon]:
    """Buildings placed across the tile borders of 64 px tiles: rotated, with a courtyard, plus a speck."""
    x, y = 500_000.0, 4_000_000.0
    court = box(x + 20, y - 60, x + 60, y - 20).difference(box(x + 30, y - 50, x + 50, y - 30))
    rot = affinity.rotate(box(x + 70, y - 40, x + 95, y - 25), 27, origin="centroid")
    ell = Polygon([(x + 5, y - 95), (x + 45, y - 95), (x + 45, y - 85), (x + 17, y - 85), (x + 17, y - 70),
                   (x + 5, y - 70)])
    speck = box(x + 80, y - 80, x + 81.5, y - 78.5)  # 2.25 m²
    return [court, rot, ell, speck]


@pytest.mark.parametrize(("tile", "overlap"), [(64, 0), (50, 7), (33, 1)])
def test_tiles_merge_to_the_whole_mask_polygons(tile: int, overlap: int) -> None:
    mask = burn(scene(), (220, 220))
    whole = mask_to_polygons(mask, T, min_area_m2=5.0)
    pieces = tiles(mask, tile, overlap)
    assert len(pieces) > 9
    tiled = vectorize_tiles(pieces, min_area_m2=5.0)
    assert len(tiled) == len(whole) == 3  # no duplicates, speck dropped, pieces merged
    assert shapely.symmetric_difference(whole.union_all(), tiled.union_all()).area == 0  # no seams
    for poly in tiled.geometry:  # the same outlines, vertex for vertex
        assert any(poly.equals_exact(other, 1e-6) for other in whole.geometry)
    assert sum(len(p.interiors) for p in tiled.geometry) == 1  # the courtyard is kept


def test_corner_contacts_stay_separate_across_tiles() -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 10:20] = 1
    mask[20:30, 20:30] = 1  # touches the first square at one corner only, on a tile corner
    assert len(vectorize_tiles(tiles(mask, 20), min_area_m2=1.0)) == 2


def test_regularisation_leaves_no_overlap_between_neighbours() -> None:
    x, y = 500_000.0, 4_000_000.0
    a = affinity.rotate(box(x, y, x + 20, y + 10), 3, origin="centroid")
    b = box(x + 19.6, y - 2, x + 35, y + 12)  # touching a's slanted right side, neighbours overlap once squared
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(geometry=[a.difference(b), b], crs="EPSG:32631")
    out = regularize(gdf, 1.0, snap_angle_deg=20)
    assert all(out.geometry.is_valid)
    assert shapely.intersection(out.geometry.iloc[0], out.geometry.iloc[1]).area < 1e-6
    kept = regularize(gdf, 1.0, remove_overlap=False)
    assert shapely.intersection(kept.geometry.iloc[0], kept.geometry.iloc[1]).area > 1e-3  # it was needed


def _targets(truth, gsd: float, min_area: float) -> tuple[dict, dict]:
    minx, miny, maxx, maxy = truth.total_bounds
    transform = Affine(gsd, 0, np.floor(minx) - 5, 0, -gsd, np.ceil(maxy) + 5)
    mask = burn(list(truth.geometry), (int((maxy - miny + 10) / gsd) + 2, int((maxx - minx + 10) / gsd) + 2),
                transform)
    raw = mask_to_polygons(mask, transform, min_area_m2=min_area, crs=truth.crs)
    reg = regularize(raw, gsd)
    assert reg.geometry.is_valid.all()
    a, b = reg.sindex.query(reg.geometry, predicate="overlaps")
    assert np.all(shapely.area(shapely.intersection(reg.geometry.to_numpy()[a], reg.geometry.to_numpy()[b])) < 1e-4)
    return polygon_scores(raw, truth), polygon_scores(reg, truth)


def test_regularisation_targets_on_the_sample_city(small_city) -> None:
    before, after = _targets(read_vector(small_city.truth("date1", "buildings")), 0.5, 25.0)
    assert after["n_matched"] == before["n_matched"] == before["n_ref"]
    assert abs(after["n_ratio"] - 1.0) <= 0.15 < abs(before["n_ratio"] - 1.0)
    assert before["iou"] - after["iou"] <= 0.02
    assert after["c_iou"] > before["c_iou"]


@pytest.mark.realdata
def test_regularisation_targets_on_kampala_osm_outlines() -> None:
    import geopandas as gpd

    osm = gpd.read_file(shared_data("buildings", "kampala", "aoi_buildings_osm.geojson")).to_crs(32636)
    before, after = _targets(osm, 0.30, 2.0)
    assert after["n_matched"] >= 0.8 * len(osm)
    assert abs(after["n_ratio"] - 1.0) <= 0.15 < abs(before["n_ratio"] - 1.0)
    assert before["iou"] - after["iou"] <= 0.02
    assert after["polis"] < 0.5  # metres, at 0.30 m pixels
