"""Training chips: GeoTIFF images with vector building labels rasterised on the fly, and their augmentations.

Labels are a folder of per-image vector files (``<image stem>.geojson``/``.gpkg``) or one vector file for all
images, in any CRS (reprojected to each image's). Large images are cut into chips of ``chip_size`` px.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from rasterio.features import rasterize
from rasterio.windows import Window

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.geo.raster import open_raster
from ai4geo_lab.geo.vector import read_vector
from ai4geo_lab.segmentation.infer import band_limits, scale_inputs

VECTOR_SUFFIXES = (".geojson", ".gpkg", ".json", ".shp")
#: Mask value of pixels without a label (outside the tiles of a mosaic): left out of losses and scores.
IGNORE = 255


@dataclass
class Chip:
    """One training or validation sample: raw bands (C, H, W), the building mask (0/1, :data:`IGNORE` where
    unlabelled), its group and source (the region: band limits are pooled per source), its pixel size in metres
    and, when read from a georeferenced image, the affine ``transform`` and ``crs`` of its pixel grid."""

    image: np.ndarray
    mask: np.ndarray
    group: str
    source: str
    name: str
    gsd_m: float | None = None
    transform: Any = None
    crs: Any = None

    def with_bands(self, bands: Sequence[int]) -> Chip:
        """The same chip with its bands picked (0-based, repeats allowed: ``[0, 0, 0]`` feeds a panchromatic
        band to an RGB model)."""
        return replace(self, image=self.image[list(bands)])


def gsd_metres(transform: Any, crs: Any, lat: float | None = None) -> float | None:
    """Pixel size in metres of a grid (geographic CRS: at latitude ``lat``), None without a CRS."""
    if crs is None:
        return None
    size = (abs(transform.a) + abs(transform.e)) / 2
    if crs.is_geographic:
        lat = transform.f if lat is None else lat
        return size * 111_320.0 * float(np.cos(np.radians(lat))) ** 0.5  # geometric mean of the two axes
    return size * float(crs.linear_units_factor[1]) if crs.linear_units_factor else size

def xyz_zoom_group(path: Path) -> str:
    """``z<zoom>`` of an XYZ-named chip (``…-<x>-<y>-<z>.tif``), else ``all``."""
    m = re.search(r"-(\d+)-(\d+)-(\d+)$", path.stem)
    return f"z{m.group(3)}" if m else "all"


def _xyz(chip: Chip) -> tuple[int, int, int] | None:
    m = re.search(r"-(\d+)-(\d+)-(\d+)@0,0$", chip.name)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def xyz_mosaics(chips: Sequence[Chip]) -> list[Chip]:
    """Chips of XYZ map tiles joined into one chip per block of touching tiles (same source and zoom).

    A building cut by a tile edge is whole again and the network sees its surroundings, as it does on a real
    raster. Pixels of a block's bounding box that no tile covers are NaN with mask :data:`IGNORE`. Chips that
    are not whole XYZ tiles are returned unchanged.
    """
    from scipy.ndimage import label

    tiles: dict[tuple[str, str, int], dict[tuple[int, int], Chip]] = {}
    out: list[Chip] = []
    for chip in chips:
        key = _xyz(chip)
        if key is None or chip.image.shape[1] != chip.image.shape[2]:
            out.append(chip)
        else:
            tiles.setdefault((chip.source, chip.group, key[2]), {})[key[:2]] = chip
    for (source, group, _zoom), pos in sorted(tiles.items()):
        side = next(iter(pos.values())).image.shape[1]
        x0, y0 = min(x for x, _ in pos), min(y for _, y in pos)
        occupied = np.zeros((max(y for _, y in pos) - y0 + 1, max(x for x, _ in pos) - x0 + 1), bool)
        for x, y in pos:
            occupied[y - y0, x - x0] = True
        blocks, n = label(occupied)
        for k in range(1, n + 1):
            rows, cols = np.nonzero(blocks == k)
            r0, c0 = rows.min(), cols.min()
            members = [pos[(int(c + x0), int(r + y0))] for r, c in zip(rows, cols, strict=True)]
            bands = members[0].image.shape[0]
            image = np.full((bands, (rows.max() - r0 + 1) * side, (cols.max() - c0 + 1) * side), np.nan, np.float32)
            mask = np.full(image.shape[1:], IGNORE, np.uint8)
            for r, c, chip in zip(rows, cols, members, strict=True):
                win = np.s_[(r - r0) * side:(r - r0 + 1) * side, (c - c0) * side:(c - c0 + 1) * side]
                image[(slice(None), *win)] = chip.image
                mask[win] = chip.mask
            name = f"{members[0].name.split('@')[0]}+{len(members) - 1}"
            out.append(Chip(image, mask, group, source, name, members[0].gsd_m))
    return out


def _labels_for(image: Path, labels: Path) -> Path | None:
    if labels.is_file():
        return labels
    for suffix in VECTOR_SUFFIXES:
        cand = labels / f"{image.stem}{suffix}"
        if cand.is_file():
            return cand
    return None


def _burn(vector: Any, transform: Any, shape: tuple[int, int], crs: Any) -> np.ndarray:
    if vector is None or len(vector) == 0:
        return np.zeros(shape, np.uint8)
    if vector.crs is not None and crs is not None and vector.crs != crs:
        vector = vector.to_crs(crs)
    geoms = [g for g in vector.geometry if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros(shape, np.uint8)
    return rasterize(((g, 1) for g in geoms), out_shape=shape, transform=transform, fill=0, dtype="uint8")


def read_chips(images: Sequence[str | Path], labels: str | Path, source: str, bands: Sequence[int] | None = None,
               chip_size: int = 256, group: Callable[[Path], str] = xyz_zoom_group,
               min_valid: float = 0.5) -> list[Chip]:
    """Chips of ``images`` with masks rasterised from ``labels`` (a folder of per-image files or one file).

    ``bands`` are 1-based band indexes to read (default: all). Images larger than ``chip_size`` are cut into
    windows of that size; windows with less than ``min_valid`` valid pixels are skipped. An image without a
    label file (folder mode) is an error: a silently empty mask would teach the model that it has no buildings.
    """
    labels = Path(labels)
    if not labels.exists():
        raise InputNotFoundError(f"labels {labels} do not exist", "give a vector file or a folder of them")
    shared = read_vector(labels) if labels.is_file() else None
    chips: list[Chip] = []
    for image in map(Path, images):
        if not image.is_file():
            raise InputNotFoundError(f"image {image} does not exist")
        vec = shared
        if vec is None:
            lab = _labels_for(image, labels)
            if lab is None:
                raise InvalidInputError(f"no labels for {image.name} in {labels}",
                                        f"add {image.stem}.geojson (an empty collection if it has no building)")
            vec = read_vector(lab)
        chips += image_chips(image, partial(_burn, vec), source, bands,
                             chip_size, group, min_valid)
    if not chips:
        raise InvalidInputError(f"no usable chip in {len(images)} images of {source}")
    return chips


def image_chips(image: Path, mask_of: Callable[[Any, tuple[int, int], Any], np.ndarray], source: str,
                bands: Sequence[int] | None = None, chip_size: int = 256,
                group: Callable[[Path], str] = xyz_zoom_group, min_valid: float = 0.5) -> list[Chip]:
    """Chips of one image, cut into windows of ``chip_size`` (see :func:`read_chips`); ``mask_of(transform,
    (rows, cols), crs)`` gives each window's building mask on its pixel grid."""
    chips: list[Chip] = []
    with open_raster(image) as src:
        idx = list(bands) if bands else list(range(1, src.count + 1))
        if max(idx) > src.count:
            raise InvalidInputError(f"{image.name} has {src.count} bands, band {max(idx)} was asked for")
        for row in range(0, src.height, chip_size):
            for col in range(0, src.width, chip_size):
                win = Window(col, row, min(chip_size, src.width - col), min(chip_size, src.height - row))
                if win.width < min(chip_size, src.width) // 2 or win.height < min(chip_size, src.height) // 2:
                    continue  # a sliver at the right or bottom edge (an image smaller than a chip is one chip)
                data = src.read(idx, window=win, masked=True).astype(np.float32).filled(np.nan)
                if np.isfinite(data).all(axis=0).mean() < min_valid:
                    continue
                transform = src.window_transform(win)
                mask = mask_of(transform, (int(win.height), int(win.width)), src.crs)
                chips.append(Chip(data, mask, group(image), source, f"{image.stem}@{row},{col}",
                                  gsd_metres(src.transform, src.crs), transform, src.crs))
    return chips


def source_limits(chips: Sequence[Chip]) -> dict[str, np.ndarray]:
    """Per-source band limits (see :func:`band_limits`), pooled over a subsample of each source's chips."""
    out: dict[str, np.ndarray] = {}
    for src in sorted({c.source for c in chips}):
        sample = np.concatenate([c.image[:, ::4, ::4].reshape(c.image.shape[0], -1)
                                 for c in chips if c.source == src], axis=1)
        out[src] = band_limits(sample)
    return out


def scaled(chip: Chip, limits: dict[str, np.ndarray]) -> np.ndarray:
    """The chip's network input (its source's limits; invalid pixels 0)."""
    return scale_inputs(chip.image, limits[chip.source])[0]


class AugmentParams(BaseModel):
    """Augmentations that make a model generalise across resolutions, sensors and roofs (all off by default:
    the plain :func:`augment` of the shipped RGB recipe).

    Probabilities are per training view. Photometric changes act on the scaled input (about 0…1).
    """

    model_config = ConfigDict(extra="forbid")
    gsd_range: tuple[float, float] | None = Field(
        default=None, description="resample each view to a random ground pixel size in this range (m, log-uniform) "
        "instead of the random rescale; chips without a pixel size keep the rescale")
    hue: float = Field(default=0.0, ge=0, le=0.5, description="largest hue rotation (turns) of RGB inputs")
    saturation: float = Field(default=0.0, ge=0, lt=1, description="saturation × 1 ± this (RGB inputs)")
    gamma: float = Field(default=0.0, ge=0, lt=1, description="gamma in [1/(1+g), 1+g] (log-uniform)")
    contrast: float = Field(default=0.0, ge=0, lt=1, description="contrast × 1 ± this about mid-grey")
    brightness: float = Field(default=0.0, ge=0, lt=1, description="brightness ± this")
    grey: float = Field(default=0.0, ge=0, le=1, description="chance of a greyscale view with random channel "
                        "weights (always when the model takes one band and the chip has several)")
    nir: float = Field(default=0.0, ge=0, le=1, description="largest share of a simulated near infrared in a grey "
                       "view of RGB (a panchromatic band reaches into it, where vegetation is bright)")
    roofs: float = Field(default=0.0, ge=0, le=1, description="chance of roofs recoloured one by one (each "
                         "building's pixels given a random gain and offset: dark shingles, light concrete, metal)")
    texture: float = Field(default=0.0, ge=0, le=1, description="chance of rough, streaky texture over the "
                           "ground (canopy, brush, oblique trunks): texture alone does not make a building")
    invert: float = Field(default=0.0, ge=0, le=1, description="chance of a view with its grey levels inverted "
                          "(shapes, not brightness, tell roofs from the ground)")
    trees: float = Field(default=0.0, ge=0, le=1, description="chance of synthetic tree crowns (lit domes with cast "
                         "shadows) drawn over the ground of a view: bright, textured, not buildings")
    blur: float = Field(default=0.0, ge=0, le=1, description="chance of a Gaussian blur (optics)")
    blur_sigma: float = Field(default=1.2, ge=0, description="largest blur sigma (px)")
    noise: float = Field(default=0.0, ge=0, le=1, description="chance of Gaussian noise")
    noise_sigma: float = Field(default=0.04, ge=0, description="largest noise sigma (scaled units)")


#: The generalising recipe's augmentations (resolution left to the caller's ``gsd_range``).
WIDE_AUGMENT = AugmentParams(hue=0.5, saturation=0.6, gamma=0.5, contrast=0.35, brightness=0.15, grey=0.2,
                             nir=0.7, trees=0.0, blur=0.4, noise=0.4)


def grey_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random non-negative channel weights summing to 1 (a panchromatic band of random spectral response)."""
    return rng.dirichlet(np.full(n, 2.0)).astype(np.float32)


def to_bands(x: np.ndarray, n_out: int, weights: np.ndarray | None = None) -> np.ndarray:
    """``x`` (C, H, W) as ``n_out`` bands: as it is, one band repeated, or several mixed into one grey band
    (``weights``: per input band, default equal) and repeated."""
    c = x.shape[0]
    if c == n_out:
        return x
    if c == 1:
        return np.repeat(x, n_out, axis=0)
    if n_out == 1 or weights is not None:
        w = np.full(c, 1.0 / c, np.float32) if weights is None else np.asarray(weights, np.float32)
        return np.repeat(np.tensordot(w, x, axes=1)[None], n_out, axis=0).astype(np.float32)
    raise InvalidInputError(f"cannot turn {c} bands into {n_out}", "give images with the model's bands")


def _restretch(g: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """A grey band stretched between its 2nd and 98th percentile (as a raster's band is at prediction)."""
    vals = g[valid]
    if vals.size < 16:
        return g
    lo, hi = np.percentile(vals, [2.0, 98.0])
    return np.clip((g - lo) / max(float(hi - lo), 1e-3), -0.5, 1.5)


def near_infrared(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stand-in for the near-infrared band of scaled RGB (3, H, W): bright where the excess green index
    (2G − R − B, smoothed) says vegetation, the red band elsewhere (soil, roofs and roads reflect about as much
    near infrared as red)."""
    from scipy.ndimage import gaussian_filter

    r, g, b = rgb
    exg = gaussian_filter(2 * g - r - b, 1.0, mode="nearest")
    veg = np.clip((exg - 0.03) / 0.15, 0.0, 1.0)
    veg = veg * veg * (3 - 2 * veg)  # smoothstep
    return (veg * rng.uniform(0.7, 1.1) + (1 - veg) * r).astype(np.float32)


def tree_canopy(shape: tuple[int, int], rng: np.random.Generator, gsd_m: float = 0.5,
                cover: float = 0.4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic tree crowns over ``shape`` px at ``gsd_m`` m/px covering about ``cover`` of it: returns their
    brightness (0…1: domes lit from a random sun, leaf texture), where they are, and where their shadows fall."""
    from scipy.ndimage import gaussian_filter, shift

    h, w = shape
    height = np.zeros(shape, np.float32)
    radius_px = rng.uniform(1.5, 6.0) / gsd_m
    n = int(cover * h * w / (np.pi * radius_px ** 2) * 1.5) + 1
    for _ in range(min(n, 400)):
        r = radius_px * rng.uniform(0.6, 1.4)
        cy, cx = rng.uniform(-r, h + r), rng.uniform(-r, w + r)
        y0, y1, x0, x1 = max(0, int(cy - r)), min(h, int(cy + r) + 1), max(0, int(cx - r)), min(w, int(cx + r) + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / r ** 2
        top = rng.uniform(0.6, 1.0) * r
        height[y0:y1, x0:x1] = np.maximum(height[y0:y1, x0:x1], top * np.sqrt(np.clip(1 - d2, 0, None)))
    canopy = height > 0
    bumpy = height + gaussian_filter(rng.normal(0, 0.35 * radius_px / 4, shape), 0.7).astype(np.float32) * canopy
    az, elev = rng.uniform(0, 2 * np.pi), np.radians(rng.uniform(25, 65))
    gy, gx = np.gradient(bumpy)
    lit = (np.sin(elev) + np.cos(elev) * (gx * np.cos(az) + gy * np.sin(az))) / np.sqrt(1 + gx ** 2 + gy ** 2)
    bright = np.clip(rng.uniform(0.6, 1.0) * lit + rng.normal(0, 0.08, shape), 0, 1).astype(np.float32)
    reach = radius_px / np.tan(elev)  # a crown's shadow falls about its height / tan(elevation) away
    shadow = shift(canopy.astype(np.float32), (-reach * np.sin(az), -reach * np.cos(az)), order=0) > 0.5
    return bright * canopy, canopy, shadow & ~canopy


def recolour_roofs(x: np.ndarray, buildings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``x`` (C, H, W) with each 8-connected building of the ``buildings`` mask given its own random tone: most
    made darker or lighter than they were (gain 0.25–1.4, offset ±0.25), some left as they are; the change fades
    over a pixel at the outline so that it draws no edge of its own."""
    from scipy.ndimage import gaussian_filter, label

    parts, n = label(buildings, structure=np.ones((3, 3)))
    if n == 0:
        return x
    keep = rng.random(n + 1) < 0.25
    gain = np.where(keep, 1.0, np.exp(rng.uniform(np.log(0.25), np.log(1.4), n + 1))).astype(np.float32)
    offset = np.where(keep, 0.0, rng.uniform(-0.25, 0.25, n + 1)).astype(np.float32)
    gain[0], offset[0] = 1.0, 0.0  # the ground
    g = gaussian_filter(gain[parts], 0.7)
    o = gaussian_filter(offset[parts], 0.7)
    return (x * g + o).astype(np.float32)


def _hue_saturation(x: np.ndarray, rng: np.random.Generator, aug: AugmentParams) -> np.ndarray:
    """RGB rotated about the grey axis by a random hue angle, its saturation scaled."""
    grey = x.mean(axis=0, keepdims=True)
    d = x - grey
    if aug.hue > 0:
        a = 2 * np.pi * rng.uniform(-aug.hue, aug.hue)
        k = np.full(3, 1 / np.sqrt(3), np.float32)  # Rodrigues rotation about (1, 1, 1)
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], np.float32)
        rot = np.eye(3, dtype=np.float32) + np.sin(a) * kx + (1 - np.cos(a)) * (kx @ kx)
        d = np.tensordot(rot.astype(np.float32), d, axes=1)
    if aug.saturation > 0:
        d = d * rng.uniform(1 - aug.saturation, 1 + aug.saturation)
    return (grey + d).astype(np.float32)


def photometric_view(x: np.ndarray, rng: np.random.Generator, aug: AugmentParams, n_out: int,
                     valid: np.ndarray | None = None, labelled: np.ndarray | None = None,
                     ground: np.ndarray | None = None, gsd_m: float | None = None) -> np.ndarray:
    """The appearance changes of :class:`AugmentParams` on one scaled view (C, H, W), which ends with ``n_out``
    bands: hue and saturation (3 bands), greyscale with random channel weights (re-stretched over the valid
    ``labelled`` pixels), gamma, brightness/contrast, blur, noise. Invalid pixels (``valid`` False) stay 0."""
    from scipy.ndimage import gaussian_filter

    valid = np.ones(x.shape[1:], bool) if valid is None else valid
    stats = valid if labelled is None else valid & labelled
    rgb = x
    if x.shape[0] == 3 and (aug.hue > 0 or aug.saturation > 0):
        x = _hue_saturation(x, rng, aug)
    grey = x.shape[0] == 1
    if x.shape[0] > 1 and (n_out == 1 or rng.random() < aug.grey):
        g = np.tensordot(grey_weights(rng, x.shape[0]), x, axes=1)
        if aug.nir > 0 and x.shape[0] == 3:
            share = rng.uniform(0, aug.nir)
            g = (1 - share) * g + share * near_infrared(rgb, rng)
        x, grey = np.repeat(_restretch(g, stats)[None], n_out, axis=0), True
    x = to_bands(x, n_out)
    if aug.roofs > 0 and ground is not None and labelled is not None and rng.random() < aug.roofs:
        x = recolour_roofs(x, labelled & ~ground, rng)
    if aug.trees > 0 and ground is not None and rng.random() < aug.trees:
        bright, canopy, shadow = tree_canopy(x.shape[1:], rng, gsd_m or 0.5, rng.uniform(0.15, 0.6))
        canopy &= ground  # crowns over the ground only: buildings keep their labelled pixels
        x = np.where(shadow & ground, x * rng.uniform(0.2, 0.5), x)
        x = np.where(canopy, bright * rng.uniform(0.7, 1.3) - rng.uniform(0.0, 0.2), x).astype(np.float32)
    if aug.texture > 0 and ground is not None and rng.random() < aug.texture:
        sy, sx = rng.uniform(0.6, 4.0, 2)
        rough = gaussian_filter(rng.normal(0, 1, x.shape[1:]).astype(np.float32), (sy, sx))
        rough /= max(float(rough.std()), 1e-6)
        x = x + (rng.uniform(0.05, 0.3) * rough * ground)[None]
    if aug.invert > 0 and rng.random() < aug.invert:
        x = 1.0 - x
    if aug.gamma > 0:
        gamma = float(np.exp(rng.uniform(-1, 1) * np.log1p(aug.gamma)))
        x = np.sign(x) * np.abs(x) ** gamma
    if aug.contrast > 0 or aug.brightness > 0:
        x = (x - 0.5) * rng.uniform(1 - aug.contrast, 1 + aug.contrast) + 0.5 \
            + rng.uniform(-aug.brightness, aug.brightness)
    if aug.blur > 0 and rng.random() < aug.blur:
        x = gaussian_filter(x, (0, *(2 * [rng.uniform(0.3, max(aug.blur_sigma, 0.3))])), mode="nearest")
    if aug.noise > 0 and rng.random() < aug.noise:
        shape = (1, *x.shape[1:]) if grey else x.shape  # a grey image has one noise for all its bands
        x = x + rng.normal(0, rng.uniform(0, aug.noise_sigma), shape).astype(np.float32)
    x = np.clip(x, -0.5, 1.5)
    x[:, ~valid] = 0.0
    return np.asarray(x, np.float32)


def augment(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, crop: int,
            scale_range: tuple[float, float] = (0.7, 1.4), photometric: bool = True,
            aug: AugmentParams | None = None, gsd_m: float | None = None,
            n_out: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A random training view: rescaled (log-uniform in ``scale_range``), cropped to ``crop`` px, one of the 8
    flips/rotations, and jittered in gain, offset and gamma per band. Returns (C, crop, crop), (crop, crop).

    With ``aug`` (:class:`AugmentParams`): a chip of ``gsd_m`` metres per pixel is seen at a random ground pixel
    size of ``aug.gsd_range`` (smoothed before it is shrunk, as optics would), and the appearance changes of
    :func:`photometric_view` replace the jitter; the view has ``n_out`` bands (default: the chip's). Pixels
    added where a chip is too small for the window are 0 and unlabelled (:data:`IGNORE`).
    """
    from scipy.ndimage import gaussian_filter, zoom

    if aug is not None and aug.gsd_range is not None and gsd_m:
        s = gsd_m / float(np.exp(rng.uniform(*np.log(aug.gsd_range))))
    else:
        s = float(np.exp(rng.uniform(*np.log(scale_range))))
    side = max(8, round(crop / s))
    c, h, w = x.shape
    if h < side or w < side:  # pad to the source window needed
        ph, pw = max(0, side - h), max(0, side - w)
        if aug is not None:
            x = np.pad(x, ((0, 0), (0, ph), (0, pw)), constant_values=np.nan)
            mask = np.pad(mask, ((0, ph), (0, pw)), constant_values=IGNORE)
        else:
            x = np.pad(x, ((0, 0), (0, ph), (0, pw)), mode="reflect" if ph < h and pw < w else "edge")
            mask = np.pad(mask, ((0, ph), (0, pw)), mode="reflect" if ph < h and pw < w else "edge")
        h, w = mask.shape
    r0, c0 = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    xs, ms = x[:, r0:r0 + side, c0:c0 + side], mask[r0:r0 + side, c0:c0 + side]
    valid = np.isfinite(xs).all(axis=0)
    xs = np.where(np.isfinite(xs), xs, 0.0)
    if side != crop:
        f = crop / side
        if aug is not None and f < 0.8:  # anti-aliasing: a shrunk view is as sharp as a coarser sensor's
            xs = gaussian_filter(xs, (0, 0.5 / f - 0.5, 0.5 / f - 0.5), mode="nearest")
        xs = zoom(xs, (1, f, f), order=1, grid_mode=True, mode="nearest")[:, :crop, :crop]
        ms = zoom(ms, f, order=0, grid_mode=True, mode="nearest")[:crop, :crop]
        valid = zoom(valid, f, order=0, grid_mode=True, mode="nearest")[:crop, :crop]
    k = int(rng.integers(4))
    xs, ms, valid = np.rot90(xs, k, axes=(1, 2)), np.rot90(ms, k), np.rot90(valid, k)
    if rng.random() < 0.5:
        xs, ms, valid = xs[:, :, ::-1], ms[:, ::-1], valid[:, ::-1]
    if aug is not None:
        xs = photometric_view(np.ascontiguousarray(xs, np.float32), rng, aug, n_out or c,
                              np.ascontiguousarray(valid), np.asarray(ms != IGNORE), np.asarray(ms == 0),
                              gsd_m / s if gsd_m else None)
    elif photometric:
        gain = rng.uniform(0.8, 1.2, (c, 1, 1)).astype(np.float32)
        offset = rng.uniform(-0.08, 0.08, (c, 1, 1)).astype(np.float32)
        gamma = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
        xs = np.clip(xs * gain + offset, -0.5, 1.5)
        xs = np.sign(xs) * np.abs(xs) ** gamma
    if aug is None and n_out is not None:
        xs = to_bands(np.asarray(xs, np.float32), n_out)
    return np.ascontiguousarray(xs, dtype=np.float32), np.ascontiguousarray(ms, dtype=np.float32)
