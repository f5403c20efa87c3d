"""Sensor geometry files: OSSIM .geom, DIMAP RPC XML, GeoTIFF RPC tags; validation; footprints."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.geo.raster import write_raster
from ai4geo_lab.geo.rpc import RPCModel
from ai4geo_lab.geo.sensor import (
    footprint,
    overlap,
    read_dimap_rpc,
    read_geom,
    read_sensor,
    validate_rpc,
)
from tests.conftest import shared_data

SHAPE = (300, 400)


def known_model() -> RPCModel:
    """A non-affine RPC00B model of a 300 × 400 px image near Toulouse (made-up but well-behaved coefficients)."""
    line_num = np.zeros(20)
    samp_num = np.zeros(20)
    line_den = np.zeros(20)
    samp_den = np.zeros(20)
    line_num[:4] = [0.01, -0.02, -1.01, 0.03]
    line_num[[4, 7, 8, 10, 15]] = [1e-3, -2e-4, 3e-4, 1e-5, -2e-6]
    samp_num[:4] = [-0.005, 1.02, 0.015, -0.002]
    samp_num[[5, 9, 11, 19]] = [2e-4, -1e-4, 3e-6, 1e-7]
    line_den[:3] = [1.0, 2e-3, -1e-3]
    samp_den[[0, 2, 6]] = [1.0, 1e-3, 5e-5]
    return RPCModel(line_off=149.5, samp_off=199.5, lat_off=43.6, lon_off=1.44, height_off=200.0,
                    line_scale=150.0, samp_scale=200.0, lat_scale=0.0012, lon_scale=0.0022, height_scale=300.0,
                    line_num=line_num, line_den=line_den, samp_num=samp_num, samp_den=samp_den)


def dimap_xml(rpc: RPCModel, version: str = "2.0") -> str:
    """A DIMAP RPC document holding ``rpc`` (1-based pixel offsets in v2, 0.5-shifted in v3)."""
    v3 = version.startswith("3")
    shift = 0.5 if v3 else 1.0

    def block(prefix: str, coefs: np.ndarray) -> str:
        return "".join(f"<{prefix}_{i}>{float(c)!r}</{prefix}_{i}>" for i, c in enumerate(coefs, start=1))

    inverse_tag = "GroundtoImage_Values" if v3 else "Inverse_Model"
    direct_tag = "ImagetoGround_Values" if v3 else "Direct_Model"
    unit = np.eye(20)[1]  # image-to-ground coefficients: present in real files, unused here
    one = np.eye(20)[0]
    direct = "".join(block(f"{a}_{b}_COEFF", unit if b == "NUM" else one)
                     for a in (("LON", "LAT") if v3 else ("SAMP", "LINE")) for b in ("NUM", "DEN"))
    coefs = (block("SAMP_NUM_COEFF", rpc.samp_num) + block("SAMP_DEN_COEFF", rpc.samp_den)
             + block("LINE_NUM_COEFF", rpc.line_num) + block("LINE_DEN_COEFF", rpc.line_den))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Dimap_Document>
 <Metadata_Identification><METADATA_FORMAT version="{version}">DIMAP</METADATA_FORMAT>
  <METADATA_PROFILE>PHR_SENSOR</METADATA_PROFILE></Metadata_Identification>
 <Rational_Function_Model><Global_RFM>
  <{direct_tag}>{direct}<ERR_BIAS_X>0.0</ERR_BIAS_X></{direct_tag}>
  <{inverse_tag}>{coefs}<ERR_BIAS_ROW>0.0</ERR_BIAS_ROW><ERR_BIAS_COL>0.0</ERR_BIAS_COL></{inverse_tag}>
  <RFM_Validity>
   <LONG_SCALE>{rpc.lon_scale!r}</LONG_SCALE><LONG_OFF>{rpc.lon_off!r}</LONG_OFF>
   <LAT_SCALE>{rpc.lat_scale!r}</LAT_SCALE><LAT_OFF>{rpc.lat_off!r}</LAT_OFF>
   <HEIGHT_SCALE>{rpc.height_scale!r}</HEIGHT_SCALE><HEIGHT_OFF>{rpc.height_off!r}</HEIGHT_OFF>
   <SAMP_SCALE>{rpc.samp_scale!r}</SAMP_SCALE><SAMP_OFF>{rpc.samp_off + shift!r}</SAMP_OFF>
   <LINE_SCALE>{rpc.line_scale!r}</LINE_SCALE><LINE_OFF>{rpc.line_off + shift!r}</LINE_OFF>
  </RFM_Validity>
 </Global_RFM></Rational_Function_Model>
</Dimap_Document>
"""


def ossim_geom(rpc: RPCModel) -> str:
    """An OSSIM keyword list holding ``rpc``."""
    lines = ["type:  ossimRpcModel", "polynomial_format:  B",
             f"line_off:  {rpc.line_off!r}", f"samp_off:  {rpc.samp_off!r}", f"lat_off:  {rpc.lat_off!r}",
             f"long_off:  {rpc.lon_off!r}", f"height_off:  {rpc.height_off!r}", f"line_scale:  {rpc.line_scale!r}",
             f"samp_scale:  {rpc.samp_scale!r}", f"lat_scale:  {rpc.lat_scale!r}", f"long_scale:  {rpc.lon_scale!r}",
             f"height_scale:  {rpc.height_scale!r}"]
    for name, coefs in (("line_num", rpc.line_num), ("line_den", rpc.line_den), ("samp_num", rpc.samp_num),
                        ("samp_den", rpc.samp_den)):
        lines += [f"{name}_coeff_{i:02d}:  {float(c)!r}" for i, c in enumerate(coefs)]
    return "\n".join(lines) + "\n"


def pleiades_geom(rpc: RPCModel, shape: tuple[int, int]) -> str:
    """The keyword list OTB writes for a Pléiades image (``ossimPleiadesModel``): adjustment block, RPC00B model,
    DIMAP support data (some values in triple quotes), sorted by key as OSSIM writes them."""
    rows, cols = shape
    body = [line for line in ossim_geom(rpc).splitlines() if not line.startswith("type:")]
    body += [f"adjustment_0.adj_param_{i}.{k}:  {v}" for i, name in enumerate(("intrack_offset", "crtrack_offset"))
             for k, v in (("center", 0), ("description", name), ("lock_flag", 0), ("parameter", 0), ("sigma", 50),
                          ("units", "pixel"))]
    body += ["adjustment_0.number_of_params:  2", "number_of_adjustments:  1", "bias_error:  0", "image_id:  ",
             f"number_lines:  {rows}", f"number_samples:  {cols}", f"rect:  0 0 {cols - 1} {rows - 1}",
             "sensor:  PHR 1A", "support_data.band_name_list:  \"\"\"P \"\"\"",
             "support_data.incident_angle:  \"\"\"15.97 16.02 16.08 \"\"\"",
             "support_data.image_date:  2013-01-01T10:00:00.5Z", f"support_data.image_size:  {cols} {rows}",
             "support_data.reference_ground_point:  29.97 31.13 0 WGE", "support_data.processing_level:  SENSOR",
             "support_data.type:  ossimPleiadesDimapSupportData", "type:  ossimPleiadesModel"]
    return "\n".join(sorted(body)) + "\n"


def ground_points(rpc: RPCModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = np.linspace(-0.9, 0.9, 5)
    L, P, H = np.meshgrid(g, g, g)
    return rpc.lon_off + L * rpc.lon_scale, rpc.lat_off + P * rpc.lat_scale, rpc.height_off + H * rpc.height_scale


def assert_same_projection(a: RPCModel, b: RPCModel, tol: float = 1e-9) -> None:
    lon, lat, h = ground_points(a)
    ra, ca = a.project(lon, lat, h)
    rb, cb = b.project(lon, lat, h)
    assert np.abs(ra - rb).max() < tol and np.abs(ca - cb).max() < tol


def image(path: Path, rpcs: RPCModel | None = None, transform: Affine | None = None) -> Path:
    data = np.full(SHAPE, 100, np.uint16)
    if transform is None:
        return write_raster(path, data, None, None, rpcs=rpcs.to_rasterio() if rpcs else None, cog=False)
    with rasterio.open(path, "w", driver="GTiff", height=SHAPE[0], width=SHAPE[1], count=1, dtype="uint16",
                       transform=transform) as dst:
        dst.write(data, 1)
        if rpcs is not None:
            dst.rpcs = rpcs.to_rasterio()
    return path


@pytest.mark.parametrize("version", ["2.0", "3.0"])
def test_dimap_rpc_xml(tmp_path, version):
    rpc = known_model()
    xml = tmp_path / "RPC_PHR1A_P_201301010000000_SEN_1_1-001.XML"
    xml.write_text(dimap_xml(rpc, version))
    back = read_dimap_rpc(xml)
    assert back.line_off == pytest.approx(rpc.line_off) and back.samp_off == pytest.approx(rpc.samp_off)
    assert_same_projection(rpc, back)
    # a Pléiades product layout: the image finds its RPC file by product name
    img = image(tmp_path / "IMG_PHR1A_P_201301010000000_SEN_1_1-001_R1C1.tif")
    sensor = read_sensor(img)
    assert sensor.kind == "dimap" and sensor.geomodel == xml
    assert_same_projection(rpc, sensor.rpc)


def test_dimap_agrees_with_shareloc(tmp_path):
    """An independent reader (shareloc, CARS's geometry library) reads the same model from the same XML."""
    pytest.importorskip("shareloc")
    from shareloc.geomodels import GeoModel

    rpc = known_model()
    xml = tmp_path / "RPC_test.XML"
    xml.write_text(dimap_xml(rpc, "2.0"))
    ours = read_dimap_rpc(xml)
    theirs = GeoModel(str(xml), "RPC")  # top-left-corner pixel convention: 0.5 px from ours
    lon, lat, h = (a.ravel() for a in ground_points(rpc))
    row, col, _ = theirs.inverse_loc(lon, lat, h)
    r2, c2 = ours.project(lon, lat, h)
    assert np.abs(np.asarray(row) - 0.5 - r2).max() < 1e-6 and np.abs(np.asarray(col) - 0.5 - c2).max() < 1e-6


def test_ossim_geom_and_geotiff_tags(tmp_path):
    rpc = known_model()
    (tmp_path / "a.geom").write_text(ossim_geom(rpc))
    assert_same_projection(rpc, read_geom(tmp_path / "a.geom"))
    a = read_sensor(image(tmp_path / "a.tif"))
    assert a.kind == "geom" and a.geomodel == tmp_path / "a.geom"
    b = read_sensor(image(tmp_path / "b.tif", rpcs=rpc))
    assert b.kind == "geotiff" and b.geomodel is None and b.shape == SHAPE
    assert_same_projection(a.rpc, b.rpc)
    # a .geom beside an image with the same RPC tags is accepted
    (tmp_path / "b.geom").write_text(ossim_geom(rpc))
    assert read_sensor(tmp_path / "b.tif").kind == "geom"


def test_missing_and_incomplete_geometry(tmp_path):
    with pytest.raises(InvalidInputError, match="no RPC model"):
        read_sensor(image(tmp_path / "plain.tif"))
    rpc = known_model()
    (tmp_path / "cut.geom").write_text("\n".join(
        line for line in ossim_geom(rpc).splitlines() if not line.startswith("samp_den_coeff_07")))
    with pytest.raises(InvalidInputError, match="samp_den_coeff_07"):
        read_geom(tmp_path / "cut.geom")
    xml = dimap_xml(rpc).replace("<LAT_SCALE>", "<LAT_SCALX>").replace("</LAT_SCALE>", "</LAT_SCALX>")
    (tmp_path / "RPC_cut.XML").write_text(xml)
    with pytest.raises(InvalidInputError, match="LAT_SCALE"):
        read_dimap_rpc(tmp_path / "RPC_cut.XML")
    (tmp_path / "a.geom").write_text(ossim_geom(rpc).replace("polynomial_format:  B", "polynomial_format:  A"))
    with pytest.raises(InvalidInputError, match="RPC00B"):
        read_geom(tmp_path / "a.geom")


def test_inconsistent_rpc_is_refused(tmp_path):
    rpc = known_model()
    # tags and a .geom that disagree (a 3-pixel shift)
    image(tmp_path / "c.tif", rpcs=rpc)
    (tmp_path / "c.geom").write_text(ossim_geom(replace(rpc, line_off=rpc.line_off + 3)))
    with pytest.raises(InvalidInputError, match=r"disagree by 3\.0 px"):
        read_sensor(tmp_path / "c.tif")
    # the geometry of a much larger image
    (tmp_path / "d.geom").write_text(ossim_geom(replace(rpc, line_off=5000.0)))
    with pytest.raises(InvalidInputError, match="outside the model's domain"):
        read_sensor(image(tmp_path / "d.tif"))
    # a vanishing denominator, a zero scale
    den = rpc.line_den.copy()
    den[1] = 1.5
    with pytest.raises(InvalidInputError, match="denominator vanishes"):
        validate_rpc(replace(rpc, line_den=den), SHAPE)
    with pytest.raises(InvalidInputError, match="not positive"):
        validate_rpc(replace(rpc, height_scale=0.0), SHAPE)


def test_sensor_crop_offset_is_folded(tmp_path):
    """A crop carrying its place in the full image as a pixel transform projects to its own pixels."""
    full = replace(known_model(), line_off=1149.5, samp_off=2199.5, line_scale=1150.0, samp_scale=2200.0)
    (tmp_path / "crop.geom").write_text(ossim_geom(full))
    crop = read_sensor(image(tmp_path / "crop.tif", transform=Affine(1, 0, 2000.0, 0, 1, 1000.0)))
    lon, lat, h = ground_points(full)
    rf, cf = full.project(lon, lat, h)
    rc, cc = crop.rpc.project(lon, lat, h)
    assert np.allclose(rc, rf - 1000.0, atol=1e-7) and np.allclose(cc, cf - 2000.0, atol=1e-7)


def test_footprint_of_the_sample_city_views(small_city):
    """The footprint of a rendered view has the image's ground area and moves with height by the view angle."""
    pan = read_sensor(small_city.image("date1", "pan_fwd"))
    rows, cols = pan.shape
    h = float(np.mean(small_city.terrain_range))
    poly = footprint(small_city.image("date1", "pan_fwd"), h)
    to_utm = Transformer.from_crs("EPSG:4326", small_city.crs, always_xy=True)
    xs, ys = to_utm.transform(*poly.exterior.xy)
    from shapely.geometry import Polygon

    utm = Polygon(zip(xs, ys, strict=True))
    assert utm.area == pytest.approx(rows * cols * small_city.gsd**2, rel=1e-3)
    # the city (its ortho grid) is seen by both views: it lies in their overlap
    with rasterio.open(small_city.image("date1", "ortho")) as src:
        west, b, r, t = src.bounds
    city = Polygon([(west, b), (r, b), (r, t), (west, t)])
    both = overlap([pan, read_sensor(small_city.image("date1", "pan_bwd"))], h)
    xs, ys = to_utm.transform(*both.exterior.xy)
    assert Polygon(zip(xs, ys, strict=True)).buffer(1e-6).contains(city)
    # 100 m higher, a view 8° off nadir sees the ground 100·tan 8° ≈ 14 m further along track
    hi = Polygon(zip(*to_utm.transform(*pan.footprint(h + 100).exterior.xy), strict=True))
    assert abs(hi.centroid.y - utm.centroid.y) == pytest.approx(100 * np.tan(np.radians(8)), rel=0.01)


def test_footprint_of_real_pleiades_pairs():
    """The real pairs: each pixel covers about 0.3-0.6 m² on the ground, and the two images of a pair overlap."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    for folder, names in (("gizeh", ("img1", "img2")), ("kahramanmaras", ("pre_event_img1", "pre_event_img2"))):
        sensors = [read_sensor(shared_data("pleiades", folder, f"{n}.tif")) for n in names]
        assert all(s.kind == "geom" for s in sensors)
        for s in sensors:
            area = abs(geod.geometry_area_perimeter(s.footprint())[0])
            px = area / (s.shape[0] * s.shape[1])
            assert 0.2 < px < 0.6, (folder, px)
        common = overlap(sensors)
        assert common.area > 0.5 * min(s.footprint().area for s in sensors)


@pytest.mark.realdata
def test_ossim_pleiades_model_geom(tmp_path):
    """OTB's ``ossimPleiadesModel`` keyword lists hold the RPC00B model: read for both engines, as written."""
    gizeh = shared_data("pleiades", "gizeh")
    rpc = read_geom(gizeh / "img1.geom")
    geom = tmp_path / "img1.geom"
    geom.write_text(pleiades_geom(rpc, (13644, 40000)))
    back = read_geom(geom)
    lon, lat, h = ground_points(rpc)
    ra, ca = rpc.project(lon, lat, h)
    rb, cb = back.project(lon, lat, h)
    assert np.hypot(ra - rb, ca - cb).max() < 0.01
    # beside the image it is the image's geometry, in the crop's own pixels as the original .geom gives them
    (tmp_path / "img1.tif").write_bytes((gizeh / "img1.tif").read_bytes())
    ours, original = read_sensor(tmp_path / "img1.tif"), read_sensor(gizeh / "img1.tif")
    assert ours.kind == "geom" and ours.geomodel == geom
    ra, ca = original.rpc.project(lon, lat, h)
    rb, cb = ours.rpc.project(lon, lat, h)
    assert np.hypot(ra - rb, ca - cb).max() < 0.01
    # CARS is given the file itself: its geometry library reads the same model from it
    pytest.importorskip("shareloc")
    from shareloc.geomodels import GeoModel

    row, col, _ = GeoModel(str(geom), "RPC").inverse_loc(lon.ravel(), lat.ravel(), h.ravel())
    r2, c2 = back.project(lon.ravel(), lat.ravel(), h.ravel())  # top-left-corner convention: 0.5 px from ours
    assert np.abs(np.asarray(row) - 0.5 - r2).max() < 0.01 and np.abs(np.asarray(col) - 0.5 - c2).max() < 0.01


def test_truncated_ossim_pleiades_model_geom_is_refused(tmp_path):
    text = pleiades_geom(known_model(), SHAPE)
    (tmp_path / "cut.geom").write_text(text[: text.index("samp_den_coeff_05")])
    with pytest.raises(InvalidInputError, match="not a complete RPC model: 'samp_off' is missing"):
        read_geom(tmp_path / "cut.geom")
    # cut inside a quoted value
    (tmp_path / "open.geom").write_text(text.replace('"""15.97 16.02 16.08 """', '"""15.97 16.02'))
    with pytest.raises(InvalidInputError, match=r"'support_data\.incident_angle' is not closed"):
        read_geom(tmp_path / "open.geom")
    # complete, it reads; another OSSIM model type is still refused
    (tmp_path / "ok.geom").write_text(text)
    assert_same_projection(known_model(), read_geom(tmp_path / "ok.geom"))
    (tmp_path / "spot5.geom").write_text(text.replace("type:  ossimPleiadesModel", "type:  ossimSpot5Model"))
    with pytest.raises(InvalidInputError, match="ossimSpot5Model', not an RPC model"):
        read_geom(tmp_path / "spot5.geom")
