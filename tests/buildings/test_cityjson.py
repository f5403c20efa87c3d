"""LOD1 CityJSON: watertight, outward-oriented prisms with exact heights; broken documents are caught."""

from __future__ import annotations

import copy
import json
from collections import Counter

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import MultiPolygon, box

from ai4geo_lab.buildings.cityjson import lod1_cityjson, validate_cityjson
from ai4geo_lab.errors import ConfigError

X0, Y0 = 652_000.0, 6_862_000.0


def buildings() -> gpd.GeoDataFrame:
    courtyard = box(X0 + 100, Y0, X0 + 150, Y0 + 50).difference(box(X0 + 110, Y0 + 10, X0 + 140, Y0 + 40))
    return gpd.GeoDataFrame(
        {"building_id": ["box", "court"], "height": [10.0, 7.25], "base_elevation": [35.5, 36.0],
         "roof_type": ["flat", "gable"], "n_pixels": np.array([200, 1600], dtype=np.int64)},
        geometry=[box(X0, Y0, X0 + 10, Y0 + 20), courtyard], crs="EPSG:2154")


def real_vertices(doc: dict) -> np.ndarray:
    t = doc["transform"]
    return np.asarray(doc["vertices"], dtype=float) * t["scale"] + t["translate"]


def shell_edges(shell: list) -> Counter:
    edges: Counter = Counter()
    for surface in shell:
        for ring in surface:
            for a, b in zip(ring, ring[1:] + ring[:1], strict=True):
                edges[(a, b)] += 1
    return edges


def ring_normal(points: np.ndarray) -> np.ndarray:
    """Newell's normal of a planar ring (right-hand rule)."""
    nxt = np.roll(points, -1, axis=0)
    return np.array([np.sum((points[:, 1] - nxt[:, 1]) * (points[:, 2] + nxt[:, 2])),
                     np.sum((points[:, 2] - nxt[:, 2]) * (points[:, 0] + nxt[:, 0])),
                     np.sum((points[:, 0] - nxt[:, 0]) * (points[:, 1] + nxt[:, 1]))])


def test_box_and_courtyard_make_a_valid_document() -> None:
    doc = lod1_cityjson(buildings(), 2154)
    assert validate_cityjson(doc) == []
    json.dumps(doc)  # plain JSON types only
    assert doc["type"] == "CityJSON" and doc["version"] == "2.0"
    assert doc["metadata"]["referenceSystem"] == "https://www.opengis.net/def/crs/EPSG/0/2154"
    assert all(isinstance(c, int) for v in doc["vertices"] for c in v)
    assert set(doc["CityObjects"]) == {"box", "court"}
    # box: 4 footprint corners × 2; courtyard: (4 outer + 4 inner) × 2
    assert len(doc["vertices"]) == 8 + 16
    xyz = real_vertices(doc)
    np.testing.assert_allclose(doc["metadata"]["geographicalExtent"],
                               [X0, Y0, 35.5, X0 + 150, Y0 + 50, 45.5], atol=1e-6)
    for oid, base, height in (("box", 35.5, 10.0), ("court", 36.0, 7.25)):
        obj = doc["CityObjects"][oid]
        assert obj["type"] == "Building"
        assert obj["attributes"]["measuredHeight"] == height
        geom = obj["geometry"][0]
        assert geom["type"] == "Solid" and geom["lod"] == "1.2"
        shell = geom["boundaries"][0]
        idx = sorted({v for surface in shell for ring in surface for v in ring})
        z = np.unique(np.round(xyz[idx, 2], 6))
        np.testing.assert_allclose(z, [base, base + height])
        # watertight: every directed edge once, with its reverse once
        edges = shell_edges(shell)
        assert all(n == 1 and edges[(b, a)] == 1 for (a, b), n in edges.items())
        # floor faces down, roof up, walls horizontal
        floor, roof = (ring_normal(xyz[s[0]]) for s in shell[:2])
        assert floor[2] < 0 and roof[2] > 0
        assert all(abs(ring_normal(xyz[s[0]])[2]) < 1e-6 for s in shell[2:])
    court = doc["CityObjects"]["court"]["geometry"][0]
    assert len(court["boundaries"][0][1]) == 2  # roof: outer ring and courtyard ring
    assert len(court["boundaries"][0]) == 2 + 4 + 4  # floor, roof, outer walls, inner walls
    assert doc["CityObjects"]["court"]["attributes"]["roof_type"] == "gable"
    assert doc["CityObjects"]["court"]["attributes"]["n_pixels"] == 1600


def test_box_wall_normals_point_outwards() -> None:
    doc = lod1_cityjson(buildings().iloc[:1], 2154)
    xyz = real_vertices(doc)
    shell = doc["CityObjects"]["box"]["geometry"][0]["boundaries"][0]
    centre = xyz.mean(axis=0)
    for surface in shell:
        pts = xyz[surface[0]]
        assert np.dot(ring_normal(pts), pts.mean(axis=0) - centre) > 0


def test_multipolygon_gives_a_multisolid_and_bad_rows_are_left_out() -> None:
    gdf = gpd.GeoDataFrame(
        {"height": [5.0, np.nan, 0.0]},
        geometry=[MultiPolygon([box(X0, Y0, X0 + 5, Y0 + 5), box(X0 + 10, Y0, X0 + 15, Y0 + 5)]),
                  box(X0, Y0 + 20, X0 + 5, Y0 + 25), box(X0, Y0 + 40, X0 + 5, Y0 + 45)], crs="EPSG:2154")
    doc = lod1_cityjson(gdf, 2154, lod="1.1")
    assert validate_cityjson(doc) == []
    assert list(doc["CityObjects"]) == ["building_0"]
    geom = doc["CityObjects"]["building_0"]["geometry"][0]
    assert geom["type"] == "MultiSolid" and len(geom["boundaries"]) == 2 and geom["lod"] == "1.1"
    assert doc["CityObjects"]["building_0"]["attributes"]["baseElevation"] == 0.0
    with pytest.raises(ConfigError):
        lod1_cityjson(gdf.drop(columns="height"), 2154)


def box_shell(doc: dict) -> list:
    return doc["CityObjects"]["box"]["geometry"][0]["boundaries"][0]


def test_broken_documents_are_reported() -> None:
    good = lod1_cityjson(buildings(), 2154)

    bad = copy.deepcopy(good)
    box_shell(bad)[2][0][0] = len(bad["vertices"]) + 5
    assert any("out of range" in p for p in validate_cityjson(bad))

    bad = copy.deepcopy(good)
    del box_shell(bad)[3]  # a missing wall: an open shell
    problems = validate_cityjson(bad)
    assert any("not closed" in p for p in problems)

    bad = copy.deepcopy(good)
    box_shell(bad)[1][0].reverse()  # the roof faces down
    assert any("same direction" in p for p in validate_cityjson(bad))

    bad = copy.deepcopy(good)
    for surface in box_shell(bad):
        for ring in surface:
            ring.reverse()  # closed, but inside out
    assert any("oriented inwards" in p for p in validate_cityjson(bad))

    bad = copy.deepcopy(good)
    box_shell(bad)[4][0] = box_shell(bad)[4][0][:2]
    assert any("fewer than 3" in p for p in validate_cityjson(bad))

    bad = copy.deepcopy(good)
    bad["CityObjects"]["court"]["geometry"] = []
    bad["CityObjects"]["box"]["geometry"][0]["boundaries"] = []
    bad["metadata"]["geographicalExtent"][3] += 10
    bad["version"] = "1.0"
    problems = validate_cityjson(bad)
    assert any("'court' has no geometry" in p for p in problems)
    assert any("non-empty" in p for p in problems)
    assert any("geographicalExtent" in p for p in problems)
    assert any("version" in p for p in problems)
    assert validate_cityjson([]) != []
