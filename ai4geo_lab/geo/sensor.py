"""Sensor images and their geometry files: the one module that reads RPC models from disk.

Three sources are read, all giving an :class:`~ai4geo_lab.geo.rpc.RPCModel` in the pixel coordinates of the
image *file* (``(0, 0)`` the centre of its first pixel):

- OSSIM ``.geom`` keyword lists (as delivered with Pléiades images and made by OTB/OSSIM) of an RPC00B model:
  ``ossimRpcModel``, or OTB's ``ossimPleiadesModel`` (the same coefficients plus DIMAP support data);
- DIMAP RPC XML (``RPC_*.XML`` of Pléiades, Pléiades Neo and SPOT 6/7; DIMAP v2 and v3);
- GeoTIFF RPC tags (through GDAL/rasterio).

Sensor crops (as made by ``cars-extractroi``) carry a pixel-offset transform and no CRS: the offset is folded into
the model, so a model read here projects to the pixels of the file itself.

Every model is validated (finite coefficients, positive scales, denominators that do not vanish in the model's
domain, an image that lies in the model's domain, an inverse that round-trips), and a ``.geom`` beside an image
with RPC tags must agree with them: otherwise :class:`~ai4geo_lab.errors.InvalidInputError` says what is wrong.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import shapely
from affine import Affine
from shapely.geometry import Polygon

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.geo.raster import open_raster
from ai4geo_lab.geo.rpc import ArrayLike, RPCModel, _terms

GeomodelKind = Literal["geom", "dimap", "geotiff"]

#: Largest disagreement (pixels) tolerated between two RPC sources of the same image.
CONSISTENCY_TOL_PX = 0.5
#: How far (in normalised units) outside its fitting domain a model is still trusted.
DOMAIN_SLACK = 1.1

_OFFSETS = ("line_off", "samp_off", "lat_off", "lon_off", "height_off")
_SCALES = ("line_scale", "samp_scale", "lat_scale", "lon_scale", "height_scale")


# ---- OSSIM keyword lists -------------------------------------------------------------------------------------
#: OSSIM model types whose keyword list holds a full RPC00B model at its top level. ``ossimPleiadesModel`` (written
#: by OTB for Pléiades images) is an RPC model with the DIMAP support data added under ``support_data.*``.
OSSIM_RPC_TYPES = ("ossimRpcModel", "ossimPleiadesModel")


def read_keyword_list(path: Path) -> dict[str, str]:
    """The ``key: value`` pairs of an OSSIM keyword list (values quoted in triple quotes may span lines)."""
    kv: dict[str, str] = {}
    lines = iter(path.read_text(errors="replace").splitlines())
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        if value.startswith('"""'):
            while not (len(value) >= 6 and value.endswith('"""')):
                more = next(lines, None)
                if more is None:
                    raise InvalidInputError(f"{path}: the value of '{key.strip()}' is not closed (truncated file?)",
                                            "give the complete .geom delivered with the image")
                value += "\n" + more
            value = value[3:-3].strip()
        kv[key.strip()] = value
    return kv


def read_geom(path: str | Path) -> RPCModel:
    """Read an OSSIM ``.geom`` keyword list holding an RPC00B model (types in :data:`OSSIM_RPC_TYPES`)."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"geometry file {path} does not exist", "check the path")
    kv = read_keyword_list(path)
    kind = kv.get("type", "")
    if kind and "rpc" not in kind.lower() and kind not in OSSIM_RPC_TYPES:
        raise InvalidInputError(f"{path} holds an OSSIM model of type '{kind}', not an RPC model",
                                "give a .geom of type ossimRpcModel or ossimPleiadesModel, a DIMAP RPC XML or an "
                                "image with RPC tags")
    fmt = kv.get("polynomial_format", "B").strip().upper()
    if fmt != "B":
        raise InvalidInputError(f"{path}: RPC polynomial format '{fmt}' is not supported (only RPC00B)",
                                "convert the model to RPC00B (e.g. with GDAL or OTB)")
    what = f" ({kind})" if kind else ""

    def num(key: str) -> float:
        if key not in kv:
            raise InvalidInputError(f"{path} is not a complete RPC model{what}: '{key}' is missing",
                                    "give the complete .geom delivered with the image (a truncated copy?)")
        try:
            return float(re.split(r"\s+", kv[key])[0])
        except ValueError as exc:
            raise InvalidInputError(f"{path}: '{key}' is not a number ({kv[key]!r})") from exc

    def coefs(prefix: str) -> np.ndarray:
        return np.array([num(f"{prefix}{i:02d}") for i in range(20)])

    return RPCModel(
        line_off=num("line_off"), samp_off=num("samp_off"), lat_off=num("lat_off"), lon_off=num("long_off"),
        height_off=num("height_off"), line_scale=num("line_scale"), samp_scale=num("samp_scale"),
        lat_scale=num("lat_scale"), lon_scale=num("long_scale"), height_scale=num("height_scale"),
        line_num=coefs("line_num_coeff_"), line_den=coefs("line_den_coeff_"),
        samp_num=coefs("samp_num_coeff_"), samp_den=coefs("samp_den_coeff_"),
    )


# ---- DIMAP RPC XML ---------------------------------------------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: ET.Element, name: str) -> ET.Element | None:
    for el in root.iter():
        if _local(el.tag) == name:
            return el
    return None


def dimap_version(path: str | Path) -> str | None:
    """The DIMAP version of an XML file (``"2.0"``, ``"3.0"``…), or None if it is not a DIMAP document."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError):
        return None
    ident = _find(root, "Metadata_Identification")
    fmt = _find(ident, "METADATA_FORMAT") if ident is not None else None
    if fmt is None:
        return None
    return fmt.get("version") or "2.0"


def read_dimap_rpc(path: str | Path) -> RPCModel:
    """Read the ground-to-image RPC of a DIMAP RPC XML file (Pléiades / Pléiades Neo / SPOT 6-7, DIMAP v2 or v3).

    DIMAP counts pixels from 1 (v2: centre of the first pixel is (1, 1); v3: its top-left corner is (0, 0)); the
    offsets are converted to the 0-based pixel-centre convention of :class:`RPCModel`.
    """
    path = Path(path)
    if not path.is_file():
        raise InputNotFoundError(f"geometry file {path} does not exist", "check the path")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InvalidInputError(f"{path} is not a readable XML file ({exc})", "give the RPC_*.XML of the product") \
            from exc
    version = dimap_version(path)
    rfm = _find(root, "Global_RFM")
    if rfm is None:
        raise InvalidInputError(f"{path} holds no RPC model (no Global_RFM element)",
                                "give the RPC_*.XML file of the product, not its DIM_*.XML")
    major = float(version.split(".")[0]) if version and version[0].isdigit() else 2.0
    inverse = _find(rfm, "GroundtoImage_Values" if major >= 3 else "Inverse_Model")
    validity = _find(rfm, "RFM_Validity")
    if inverse is None or validity is None:
        raise InvalidInputError(f"{path}: the RPC model has no ground-to-image coefficients or no validity domain",
                                "give a complete RPC_*.XML file")

    def value(parent: ET.Element, name: str) -> float:
        el = _find(parent, name)
        if el is None or el.text is None:
            raise InvalidInputError(f"{path} is not a complete DIMAP RPC file: <{name}> is missing",
                                    "give the RPC_*.XML delivered with the image")
        try:
            return float(el.text)
        except ValueError as exc:
            raise InvalidInputError(f"{path}: <{name}> is not a number ({el.text!r})") from exc

    def coefs(prefix: str) -> np.ndarray:
        return np.array([value(inverse, f"{prefix}_{i}") for i in range(1, 21)])

    shift = 0.5 if major >= 3 else 1.0
    return RPCModel(
        line_off=value(validity, "LINE_OFF") - shift, samp_off=value(validity, "SAMP_OFF") - shift,
        lat_off=value(validity, "LAT_OFF"), lon_off=value(validity, "LONG_OFF"),
        height_off=value(validity, "HEIGHT_OFF"), line_scale=value(validity, "LINE_SCALE"),
        samp_scale=value(validity, "SAMP_SCALE"), lat_scale=value(validity, "LAT_SCALE"),
        lon_scale=value(validity, "LONG_SCALE"), height_scale=value(validity, "HEIGHT_SCALE"),
        line_num=coefs("LINE_NUM_COEFF"), line_den=coefs("LINE_DEN_COEFF"),
        samp_num=coefs("SAMP_NUM_COEFF"), samp_den=coefs("SAMP_DEN_COEFF"),
    )


# ---- GeoTIFF RPC tags ------------------------------------------------------------------------------------------
def read_geotiff_rpc(image: str | Path) -> RPCModel | None:
    """The RPC tags of a raster (None if it has none)."""
    with open_raster(image) as src:
        rpcs = src.rpcs
    return None if rpcs is None else RPCModel.from_rasterio(rpcs)


# ---- validation --------------------------------------------------------------------------------------------------
def _fold_offset(rpc: RPCModel, transform: Affine, where: str) -> RPCModel:
    """The model in file pixels of a sensor crop whose transform gives the crop's place in the full image."""
    a, b, c, d, e, f = (transform.a, transform.b, transform.c, transform.d, transform.e, transform.f)
    if (a, b, c, d, e, f) == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0):
        return rpc
    if b != 0 or d != 0 or a <= 0 or e <= 0:
        raise InvalidInputError(f"{where}: the image's pixel transform {tuple(transform)[:6]} is not an offset "
                                "into the full sensor image", "give the image as delivered, or a crop made by "
                                "cars-extractroi")
    # full-image centre coordinate of file pixel k: off + s * (k + 0.5) - 0.5
    return replace(rpc, line_off=(rpc.line_off - (f + 0.5 * e - 0.5)) / e, line_scale=rpc.line_scale / e,
                   samp_off=(rpc.samp_off - (c + 0.5 * a - 0.5)) / a, samp_scale=rpc.samp_scale / a)


def validate_rpc(rpc: RPCModel, shape: tuple[int, int] | None = None, where: str = "RPC model") -> None:
    """Raise :class:`InvalidInputError` if the model is unusable, or inconsistent with an image of ``shape``."""
    hint = "give the geometry file delivered with this image"
    values = np.array([getattr(rpc, k) for k in _OFFSETS + _SCALES])
    coefs = np.concatenate([rpc.line_num, rpc.line_den, rpc.samp_num, rpc.samp_den])
    if not (np.isfinite(values).all() and np.isfinite(coefs).all()):
        raise InvalidInputError(f"{where}: the RPC has non-finite offsets, scales or coefficients", hint)
    bad = [k for k in _SCALES if getattr(rpc, k) <= 0]
    if bad:
        raise InvalidInputError(f"{where}: inconsistent RPC, scale(s) {', '.join(bad)} not positive", hint)
    if abs(rpc.lat_off) > 90 or abs(rpc.lon_off) > 360:
        raise InvalidInputError(f"{where}: inconsistent RPC, offsets lat {rpc.lat_off} / lon {rpc.lon_off} "
                                "are not geographic coordinates", hint)
    for name, num in (("line", rpc.line_num), ("samp", rpc.samp_num)):
        if not np.any(num[1:4]):
            raise InvalidInputError(f"{where}: inconsistent RPC, the {name} numerator has no linear term", hint)
    # the denominators must keep one sign, away from zero, over the normalised domain
    g = np.linspace(-1.0, 1.0, 7)
    L, P, H = np.meshgrid(g, g, g, indexing="ij")

    t = np.stack(_terms(L.ravel(), P.ravel(), H.ravel()))
    for name, den in (("line", rpc.line_den), ("samp", rpc.samp_den)):
        v = den @ t
        if np.min(np.abs(v)) < 1e-6 or (v.min() < 0 < v.max()):
            raise InvalidInputError(f"{where}: inconsistent RPC, the {name} denominator vanishes inside the "
                                    "model's domain", hint)
    if shape is None:
        return
    rows, cols = shape
    for name, extent, off, scale in (("rows", rows, rpc.line_off, rpc.line_scale),
                                     ("columns", cols, rpc.samp_off, rpc.samp_scale)):
        lo, hi = (-0.5 - off) / scale, (extent - 0.5 - off) / scale
        if lo < -DOMAIN_SLACK or hi > DOMAIN_SLACK:
            raise InvalidInputError(
                f"{where}: inconsistent RPC, the image's {extent} {name} fall outside the model's domain "
                f"(offset {off:g}, scale {scale:g})", "is this the geometry file of another image (or of the full "
                "image while this is a crop without its pixel offset)?")
    # the inverse must round-trip at the image's centre and corners
    r = np.array([0.0, 0.0, rows - 1.0, rows - 1.0, (rows - 1) / 2])
    c = np.array([0.0, cols - 1.0, 0.0, cols - 1.0, (cols - 1) / 2])
    with np.errstate(all="ignore"):
        lon, lat = rpc.localize(r, c, rpc.height_off, iterations=20)
        r2, c2 = rpc.project(lon, lat, rpc.height_off)
    err = np.hypot(r2 - r, c2 - c)
    if not np.all(np.isfinite(err)) or err.max() > 0.01:
        raise InvalidInputError(f"{where}: inconsistent RPC, ground positions of the image corners cannot be "
                                "found (the model does not invert)", hint)
    nl, np_ = (lon - rpc.lon_off) / rpc.lon_scale, (lat - rpc.lat_off) / rpc.lat_scale
    if np.max(np.abs(nl)) > 1.5 or np.max(np.abs(np_)) > 1.5:
        raise InvalidInputError(f"{where}: inconsistent RPC, the image maps outside the model's ground domain", hint)


def rpc_disagreement_px(a: RPCModel, b: RPCModel, shape: tuple[int, int]) -> float:
    """Largest distance (pixels) between the projections of two models over an image of ``shape``."""
    rows, cols = shape
    r, c = np.meshgrid(np.linspace(0, rows - 1, 5), np.linspace(0, cols - 1, 5), indexing="ij")
    worst = 0.0
    for h in (a.height_off - a.height_scale / 2, a.height_off, a.height_off + a.height_scale / 2):
        lon, lat = a.localize(r, c, h)
        rb, cb = b.project(lon, lat, h)
        worst = max(worst, float(np.nanmax(np.hypot(rb - r, cb - c))))
    return worst


# ---- sensor images ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SensorImage:
    """A sensor image and its RPC model (in the file's own pixels), validated.

    ``geomodel`` is the geometry file the model came from, or None when it came from the image's RPC tags; engines
    that read geometry themselves (CARS) are given exactly that file.
    """

    image: Path
    geomodel: Path | None
    kind: GeomodelKind
    rpc: RPCModel
    shape: tuple[int, int]
    dtype: str
    nodata: float | None
    bands: int = 1

    @property
    def height_range(self) -> tuple[float, float]:
        """Heights (m) over which the model was fitted."""
        return (self.rpc.height_off - self.rpc.height_scale, self.rpc.height_off + self.rpc.height_scale)

    def ground(self, rows: np.ndarray, cols: np.ndarray, height: float | None = None) -> tuple[np.ndarray, ...]:
        """(lon, lat) of image positions at ``height`` (default: the model's mean height)."""
        h = self.rpc.height_off if height is None else height
        return self.rpc.localize(rows, cols, h)

    def footprint(self, height: float | None = None, points_per_side: int = 8) -> Polygon:
        """The image's ground footprint at ``height`` (m; default the model's mean height), EPSG:4326 polygon.

        The outline of the pixel area (corners at ±0.5 px) is localised, ``points_per_side`` points per side.
        """
        rows, cols = self.shape
        t = np.linspace(0.0, 1.0, points_per_side, endpoint=False)
        top = (np.full_like(t, -0.5), -0.5 + t * cols)
        right = (-0.5 + t * rows, np.full_like(t, cols - 0.5))
        bottom = (np.full_like(t, rows - 0.5), cols - 0.5 - t * cols)
        left = (rows - 0.5 - t * rows, np.full_like(t, -0.5))
        r = np.concatenate([top[0], right[0], bottom[0], left[0]])
        c = np.concatenate([top[1], right[1], bottom[1], left[1]])
        lon, lat = self.ground(r, c, height)
        poly = Polygon(np.column_stack([lon, lat]))
        return shapely.geometry.polygon.orient(poly if poly.is_valid else poly.buffer(0))

    def project(self, lon: ArrayLike, lat: ArrayLike, h: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Image (row, col) of ground points."""
        return self.rpc.project(lon, lat, h)


def find_geomodel(image: str | Path) -> Path | None:
    """The geometry file delivered beside an image: ``<name>.geom``, else the ``RPC_*.XML`` of its product."""
    image = Path(image)
    geom = image.with_suffix(".geom")
    if geom.is_file():
        return geom
    stem = image.stem
    if stem.upper().startswith("IMG_"):  # Pléiades/SPOT product: IMG_<product>[_R1C1] beside RPC_<product>.XML
        product = re.sub(r"_R\d+C\d+$", "", stem[4:], flags=re.IGNORECASE)
        for cand in image.parent.glob("RPC_*"):
            if cand.suffix.upper() == ".XML" and cand.stem[4:].upper() == product.upper():
                return cand
    for suffix in (".XML", ".xml"):
        cand = image.parent / f"RPC_{stem}{suffix}"
        if cand.is_file():
            return cand
    return None


def read_geomodel(path: str | Path) -> tuple[RPCModel, GeomodelKind]:
    """Read a geometry file by its kind (``.geom`` keyword list, DIMAP XML, or a raster's RPC tags)."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"geometry file {path} does not exist", "check the path")
    if path.suffix.lower() == ".geom":
        return read_geom(path), "geom"
    if path.suffix.lower() == ".xml":
        if dimap_version(path) is None and _find(ET.parse(path).getroot(), "Global_RFM") is None:
            raise InvalidInputError(f"{path} is not a DIMAP RPC file", "give the RPC_*.XML file of the product")
        return read_dimap_rpc(path), "dimap"
    rpc = read_geotiff_rpc(path)
    if rpc is None:
        raise InvalidInputError(f"{path} has no RPC tags", "give a .geom, a DIMAP RPC XML or a raster with RPC tags")
    return rpc, "geotiff"


def read_rpc(image: str | Path, geomodel: str | Path | None = None) -> RPCModel:
    """The validated RPC model of a sensor image, in the file's pixels (see :func:`read_sensor`).

    The geometry comes from ``geomodel``, else a ``.geom`` or ``RPC_*.XML`` beside the image, else its RPC tags.
    """
    return read_sensor(image, geomodel).rpc


def read_sensor(image: str | Path, geomodel: str | Path | None = None) -> SensorImage:
    """Open a sensor image with its RPC model, validated.

    ``geomodel`` defaults to the file found by :func:`find_geomodel`, else the image's own RPC tags. When both a
    geometry file and RPC tags exist they must agree within :data:`CONSISTENCY_TOL_PX` pixels.
    """
    image = Path(image).resolve()  # absolute: engines run in their own working folders
    if not image.exists():
        raise InputNotFoundError(f"image {image} does not exist", "check the path")
    with open_raster(image) as src:  # a sensor image has no georeferencing: open_raster does not warn of it
        shape, dtype, nodata, count = (src.height, src.width), src.dtypes[0], src.nodata, src.count
        transform, crs, tags = src.transform, src.crs, src.rpcs
        files = {Path(f).resolve() for f in src.files[1:]}  # sidecars GDAL read (it reads RPC_*.XML too)
    tag_rpc = RPCModel.from_rasterio(tags) if tags is not None else None
    path = Path(geomodel).resolve() if geomodel is not None else find_geomodel(image)
    if path is not None:
        model, kind = read_geomodel(path)
        source: Path | None = path if kind != "geotiff" or path != image else None
    elif tag_rpc is not None:
        model, kind, source = tag_rpc, "geotiff", None
    else:
        raise InvalidInputError(
            f"{image} has no RPC model" + (f" (it is map-projected, {crs.to_string()})" if crs is not None else ""),
            "give a sensor image with RPC tags, or a .geom / RPC_*.XML geometry file beside it")
    where = f"{image.name} ({source.name if source else 'RPC tags'})"
    if crs is None:  # a sensor crop: its transform is the pixel offset in the full image
        model = _fold_offset(model, transform, where)
    validate_rpc(model, shape, where)
    if tag_rpc is not None and source is not None and source.resolve() not in files:
        tag_model = tag_rpc if crs is not None else _fold_offset(tag_rpc, transform, f"{image.name} (RPC tags)")
        gap = rpc_disagreement_px(model, tag_model, shape)
        if gap > CONSISTENCY_TOL_PX:
            raise InvalidInputError(
                f"{image.name}: inconsistent RPC, its RPC tags and {source.name} disagree by {gap:.1f} px",
                "remove the wrong one (or name the right geometry file explicitly)")
    return SensorImage(image, source, kind, model, shape, dtype, nodata, count)


def footprint(image: str | Path, height: float | None = None, geomodel: str | Path | None = None) -> Polygon:
    """Ground footprint (EPSG:4326 polygon) of a sensor image at ``height`` metres, from its RPC model."""
    return read_sensor(image, geomodel).footprint(height)


def overlap(sensors: list[SensorImage], height: float | None = None) -> Polygon:
    """The ground area seen by every image (EPSG:4326), at ``height`` (default: mean of the models' heights)."""
    if height is None:
        height = float(np.mean([s.rpc.height_off for s in sensors]))
    area = sensors[0].footprint(height)
    for s in sensors[1:]:
        area = area.intersection(s.footprint(height))
    return area


def centre_box(images: Sequence[str | Path], width_m: float, height_m: float) -> tuple[float, float, float, float]:
    """A (west, south, east, north) box (degrees) of ``width_m`` × ``height_m`` at the centre of the images'
    overlap: a ROI for a first look at a large pair."""
    c = overlap([read_sensor(p) for p in images]).centroid
    hy = height_m / 2 / 111_320
    hx = width_m / 2 / 111_320 / np.cos(np.radians(c.y))
    return c.x - hx, c.y - hy, c.x + hx, c.y + hy

