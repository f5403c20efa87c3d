"""OpenStreetMap layers from generated .osm / .osm.pbf / GeoJSON files and from a loopback Overpass server."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError, ProviderError
from ai4geo_lab.osm import buildings, landuse, osm_features, roads

LON, LAT, D = 1.44, 43.60, 0.001  # a 100 m grid near the sample city


def _osm_xml() -> str:
    """Two buildings (one tagged with height and levels), one road, one land-use area, and a building far away."""
    nodes, ways = [], []
    nid = [0]

    def node(x: float, y: float) -> int:
        nid[0] += 1
        nodes.append(f'<node id="{nid[0]}" version="1" lat="{LAT + y * D:.7f}" lon="{LON + x * D:.7f}"/>')
        return nid[0]

    def way(wid: int, pts: list[tuple[float, float]], tags: dict[str, str], closed: bool) -> None:
        ids = [node(x, y) for x, y in pts]
        if closed:
            ids.append(ids[0])
        refs = "".join(f'<nd ref="{i}"/>' for i in ids)
        tag = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        ways.append(f'<way id="{wid}" version="1">{refs}{tag}</way>')

    way(101, [(0, 0), (1, 0), (1, 1), (0, 1)], {"building": "yes", "height": "12 m", "building:levels": "4",
                                                 "name": "Mairie"}, True)
    way(102, [(2, 0), (3, 0), (3, 1), (2, 1)], {"building": "house"}, True)
    way(103, [(-1, 2), (5, 2)], {"highway": "residential", "name": "Rue A"}, False)
    way(104, [(0, 3), (4, 3), (4, 5), (0, 5)], {"landuse": "grass"}, True)
    way(105, [(90, 90), (91, 90), (91, 91), (90, 91)], {"building": "yes"}, True)  # outside the AOI
    return "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\" generator=\"test\">\n" + \
        "\n".join(nodes + ways) + "\n</osm>\n"


AOI = (LON - 2 * D, LAT - 2 * D, LON + 6 * D, LAT + 6 * D)


@pytest.fixture(scope="module")
def osm_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("osm") / "city.osm"
    path.write_text(_osm_xml())
    return path


def _check(layers: dict) -> None:
    b, r, lu = layers["buildings"], layers["roads"], layers["landuse"]
    assert sorted(b["osm_id"]) == ["101", "102"] and sorted(b["kind"]) == ["house", "yes"]
    mairie = b[b["osm_id"] == "101"].iloc[0]
    assert mairie["name"] == "Mairie" and mairie["height"] == 12.0 and mairie["levels"] == 4.0
    assert set(b.geometry.geom_type) <= {"Polygon", "MultiPolygon"} and b.crs.to_epsg() == 4326
    assert list(r["kind"]) == ["residential"] and r.geometry.iloc[0].geom_type in ("LineString", "MultiLineString")
    assert list(lu["kind"]) == ["grass"]
    area = lu.to_crs(32631).area.iloc[0]  # 4 × 2 cells of D degrees at latitude LAT
    assert abs(area - 8 * (D * 111_200) ** 2 * 0.7242) < 0.05 * area


def test_osm_xml_file(osm_file):
    _check(osm_features(AOI, source=osm_file))


def test_osm_pbf_file(osm_file, tmp_path):
    import osmium

    pbf = tmp_path / "city.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(osm_file)):
            writer.add(obj)
    assert pbf.read_bytes()[:64].find(b"OSMHeader") >= 0
    _check(osm_features(AOI, source=pbf))
    assert len(buildings(AOI, pbf)) == 2 and len(roads(AOI, pbf)) == 1 and len(landuse(AOI, pbf)) == 1


def test_geojson_file(osm_file, tmp_path):
    import pandas as pd

    frames = osm_features(AOI, source=osm_file)
    rows = []
    for layer, key in (("buildings", "building"), ("roads", "highway"), ("landuse", "landuse")):
        f = frames[layer].rename(columns={"kind": key})
        rows.append(f)
    merged = pd.concat(rows, ignore_index=True)
    merged = merged.rename(columns={"levels": "building:levels"})
    merged["height"] = merged["height"].map(lambda v: None if pd.isna(v) else f"{v:g}")
    path = tmp_path / "osm.geojson"
    merged.to_file(path, driver="GeoJSON")
    _check(osm_features(AOI, source=path))


class Overpass(BaseHTTPRequestHandler):
    body = b""
    status = 200
    queries: list[str] = []  # noqa: RUF012

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.queries.append(parse_qs(self.rfile.read(length).decode())["data"][0])
        self.send_response(self.status)
        self.send_header("Content-Type", "application/osm3s+xml")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture
def overpass(osm_file):
    Overpass.body = osm_file.read_bytes()
    Overpass.status = 200
    Overpass.queries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Overpass)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/interpreter"
    server.shutdown()
    server.server_close()


def test_overpass_api_on_loopback(overpass, tmp_path):
    layers = osm_features(AOI, overpass_url=overpass, workspace=tmp_path)
    _check(layers)
    assert len(Overpass.queries) == 1
    q = Overpass.queries[0]
    assert '"building"' in q and '"highway"' in q and '"landuse"' in q and "out body" in q
    assert f"{AOI[1]:.7f},{AOI[0]:.7f},{AOI[3]:.7f},{AOI[2]:.7f}" in q
    osm_features(AOI, overpass_url=overpass, workspace=tmp_path)  # answered from the workspace cache
    assert len(Overpass.queries) == 1
    buildings(AOI, overpass_url=overpass, workspace=tmp_path, cache=False)
    assert len(Overpass.queries) == 2 and '"highway"' not in Overpass.queries[1]


def test_overpass_errors(overpass, tmp_path):
    Overpass.status = 504
    with pytest.raises(ProviderError, match="busy"):
        osm_features(AOI, overpass_url=overpass, cache=False)
    with pytest.raises(ProviderError, match="cannot reach"):
        osm_features(AOI, overpass_url="http://127.0.0.1:9/api/interpreter", cache=False, timeout=5)
    with pytest.raises(InvalidInputError, match="unknown OSM layer"):
        osm_features(AOI, layers=["rivers"], source=tmp_path / "x.osm")
    with pytest.raises(InputNotFoundError):
        osm_features(AOI, source=tmp_path / "missing.osm.pbf")
