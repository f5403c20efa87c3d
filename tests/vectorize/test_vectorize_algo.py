"""mask_to_polygons and regularisation on rasterised shapes with known outlines."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import rasterio.features
from affine import Affine
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box

from ai4geo_lab.vectorize.algo import dominant_angle, mask_to_polygons, regularize, regularize_polygon

#: 0.5 m pixels, UTM-like origin: coordinates must come out in map units
T = Affine(0.5, 0.0, 500_000.0, 0.0, -0.5, 4_000_000.0)
CENTRE = (500_050.0, 3_999_950.0)


def rasterize(*polys: Polygon, shape: tuple[int, int] = (200, 200)) -> np.ndarray:
    return rasterio.features.rasterize([(p, 1) for p in polys], out_shape=shape, transform=T, dtype="uint8")


def iou(a: Polygon, b: Polygon) -> float:
    return a.intersection(b).area / a.union(b).area


def n_corners(poly: Polygon) -> int:
    return len(poly.exterior.coords) - 1


def rotated_rectangle(angle: float) -> Polygon:
    x, y = CENTRE
    return affinity.rotate(box(x - 20, y - 8, x + 20, y + 8), angle, origin=CENTRE)


def l_shape(angle: float) -> Polygon:
    poly = Polygon([(0, 0), (30, 0), (30, 10), (12, 10), (12, 25), (0, 25)])
    poly = affinity.translate(poly, CENTRE[0] - 15, CENTRE[1] - 12)
    return affinity.rotate(poly, angle, origin=CENTRE)


def test_rotated_rectangle_gives_one_polygon_then_four_corners() -> None:
    truth = rotated_rectangle(30)
    gdf = mask_to_polygons(rasterize(truth), T, crs="EPSG:32631")
    assert len(gdf) == 1
    assert gdf.crs.to_epsg() == 32631
    poly = gdf.geometry.iloc[0]
    assert iou(poly, truth) >= 0.9
    assert abs(gdf["area_m2"].iloc[0] - truth.area) / truth.area < 0.05
    reg = regularize_polygon(poly, tolerance_m=1.0)
    assert n_corners(reg) == 4
    assert iou(reg, truth) >= 0.9
    assert abs(dominant_angle(reg) - 30.0) < 2.0


def test_rotated_l_shape_is_squared() -> None:
    truth = l_shape(20)
    poly = mask_to_polygons(rasterize(truth), T).geometry.iloc[0]
    reg = regularize_polygon(poly, tolerance_m=1.0)
    assert reg.is_valid
    assert n_corners(reg) <= 8
    assert iou(reg, truth) >= 0.9
    # every corner of the regularised outline is a right angle
    ring = np.asarray(reg.exterior.coords)[:-1]
    v1, v2 = np.roll(ring, -1, axis=0) - ring, ring - np.roll(ring, 1, axis=0)
    cos = np.abs(np.sum(v1 * v2, axis=1)) / (np.linalg.norm(v1, axis=1) * np.linalg.norm(v2, axis=1))
    assert cos.max() < 0.05


def test_courtyard_keeps_its_hole() -> None:
    x, y = CENTRE
    square = box(x - 25, y - 25, x + 25, y + 25).difference(box(x - 10, y - 10, x + 10, y + 10))
    truth = affinity.rotate(square, 15, origin=CENTRE)
    gdf = mask_to_polygons(rasterize(truth), T)
    assert len(gdf) == 1
    poly = gdf.geometry.iloc[0]
    assert len(poly.interiors) == 1
    assert iou(poly, truth) >= 0.9
    reg = regularize(gdf, tolerance_m=1.0).geometry.iloc[0]
    assert len(reg.interiors) == 1
    assert iou(reg, truth) >= 0.9
    assert n_corners(reg) == 4 and len(reg.interiors[0].coords) - 1 == 4


def test_tiny_blobs_and_small_holes_are_dropped() -> None:
    x, y = CENTRE
    mask = rasterize(box(x - 10, y - 10, x + 10, y + 10), box(x + 30, y + 30, x + 33, y + 33))  # 400 m², 9 m²
    mask[100, 100] = 0  # a 0.25 m² hole inside the big one
    gdf = mask_to_polygons(mask, T, min_area_m2=25.0)
    assert len(gdf) == 1
    assert len(gdf.geometry.iloc[0].interiors) == 0
    assert gdf.geometry.iloc[0].area == np.float64(400.0)
    assert len(mask_to_polygons(mask, T, min_area_m2=5.0)) == 2


def test_coordinates_are_in_map_units_and_exteriors_ccw() -> None:
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[2:12, 5:25] = 1  # rows 2..11, cols 5..24
    gdf = mask_to_polygons(mask, T, min_area_m2=1.0, simplify_m=0.0)
    poly = gdf.geometry.iloc[0]
    assert poly.bounds == (500_002.5, 3_999_994.0, 500_012.5, 3_999_999.0)
    assert poly.exterior.is_ccw
    assert poly.area == 50.0


def test_empty_mask_gives_an_empty_frame() -> None:
    gdf = mask_to_polygons(np.zeros((10, 10), dtype=np.uint8), T, crs="EPSG:2154")
    assert len(gdf) == 0 and isinstance(gdf, gpd.GeoDataFrame) and gdf.crs.to_epsg() == 2154
    assert len(regularize(gdf, 1.0)) == 0


def test_irregular_shape_falls_back_to_simplified_input() -> None:
    x, y = CENTRE
    circle = affinity.translate(Polygon(np.c_[np.cos(np.linspace(0, 2 * np.pi, 64)),
                                              np.sin(np.linspace(0, 2 * np.pi, 64))] * 15), x, y)
    reg = regularize_polygon(circle, tolerance_m=0.5)
    assert reg.is_valid and iou(reg, circle) >= 0.8


def test_regularize_keeps_columns_and_handles_multipolygons() -> None:
    a, b = rotated_rectangle(10), affinity.translate(rotated_rectangle(10), 0, 60)
    gdf = gpd.GeoDataFrame({"name": ["a", "ab"]}, geometry=[a.buffer(0.3, join_style="mitre"),
                                                            MultiPolygon([a, b])], crs="EPSG:32631")
    out = regularize(gdf, 1.0)
    assert list(out["name"]) == ["a", "ab"] and out.crs == gdf.crs
    assert n_corners(out.geometry.iloc[0]) == 4
    assert len(out.geometry.iloc[1].geoms) == 2
