"""What a satellite sees of the sample city: a textured ortho image and panchromatic views with RPC models.

Pure functions: arrays and models in, arrays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import Transformer
from scipy.ndimage import gaussian_filter, map_coordinates, maximum_filter, sobel

from ai4geo_lab.geo.relief import hillshade
from ai4geo_lab.geo.rpc import RPCModel
from ai4geo_lab.sample.scene import CODES, CRS, Scene

#: Surface reflectance (R, G, B, NIR) per land-cover class.
SPECTRA = {
    CODES["grass"]: (0.06, 0.10, 0.05, 0.40),
    CODES["tree"]: (0.035, 0.07, 0.03, 0.45),
    CODES["road"]: (0.19, 0.19, 0.20, 0.22),
    CODES["bare soil"]: (0.24, 0.18, 0.12, 0.30),
    CODES["water"]: (0.03, 0.05, 0.08, 0.02),
}
#: Roof colours (R, G, B, NIR), picked per building.
ROOF_PALETTE = (
    (0.36, 0.17, 0.11, 0.32),  # terracotta tiles
    (0.24, 0.24, 0.26, 0.26),  # grey concrete
    (0.11, 0.11, 0.12, 0.13),  # dark membrane
    (0.42, 0.42, 0.40, 0.44),  # light gravel
    (0.20, 0.26, 0.30, 0.27),  # blue-grey slate
)
PAN_WEIGHTS = np.array([0.3, 0.3, 0.2, 0.2])
SUN_AZIMUTH_DEG, SUN_ELEVATION_DEG = 150.0, 55.0


def _texture(rng: np.random.Generator, shape: tuple[int, int], gsd: float) -> np.ndarray:
    """Multiplicative multi-scale texture around 1 (fine grain, metre-scale blotches, ten-metre patches)."""
    t = np.zeros(shape, np.float32)
    for sigma_m, amp in ((0.4, 0.10), (1.5, 0.10), (6.0, 0.08)):
        noise = gaussian_filter(rng.standard_normal(shape).astype(np.float32), max(sigma_m / gsd, 0.5))
        t += amp * noise / (noise.std() + 1e-9)
    return 1.0 + t


def sun_shading(dsm: np.ndarray, gsd: float) -> np.ndarray:
    """Lambertian shading of the DSM under the sun (roof pitches, tree crowns, relief), 1 on flat ground."""
    cos_i = hillshade(dsm, gsd, SUN_AZIMUTH_DEG, SUN_ELEVATION_DEG)
    return np.clip(cos_i / math.sin(math.radians(SUN_ELEVATION_DEG)), 0.35, 1.3).astype(np.float32)


def ortho_reflectance(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """(4, H, W) float32 reflectance of the true ortho image (R, G, B, NIR), textured and shaded."""
    gsd = abs(scene.transform.a)
    out = np.zeros((4, *scene.shape), np.float32)
    for code, spectrum in SPECTRA.items():
        m = scene.landcover == code
        out[:, m] = np.asarray(spectrum, np.float32)[:, None]
    colours = np.zeros((len(ROOF_PALETTE) + 1, 4), np.float32)
    colours[1:] = ROOF_PALETTE
    roof_colour = np.zeros(int(scene.building_ids.max()) + 1, np.int64)
    for b in scene.buildings:
        roof_colour[b.building_id] = b.colour + 1
    m = scene.building_ids > 0
    out[:, m] = colours[roof_colour[scene.building_ids[m]]].T
    tex = _texture(rng, scene.shape, gsd)
    shade = sun_shading(scene.dsm, gsd)
    return np.clip(out * tex * shade, 0.002, 1.0)


@dataclass(frozen=True)
class View:
    """One along-track view: an off-nadir angle (degrees, positive looks north) and the RPC model."""

    name: str
    angle_deg: float
    rpc: RPCModel
    shape: tuple[int, int]


def affine_view(transform: Affine, shape: tuple[int, int], hmin: float, hmax: float, angle_deg: float,
                name: str) -> View:
    """An RPC model, affine in (lon, lat, h), of a pushbroom view along track at ``angle_deg``.

    A ground point (E, N, h) is seen at column (E − E0)/gsd and row (N0 − N − h·tan θ)/gsd: a higher point
    appears displaced away from the sensor. The affine map lon/lat → E/N is fitted over the scene (its
    residual over a few km is far below a thousandth of a pixel), so the RPC describes exactly how the
    image is rendered.
    """
    gsd = abs(transform.a)
    rows, cols = shape
    e0, n1 = transform.c, transform.f
    e1, n0 = e0 + cols * gsd, n1 - rows * gsd
    tan = math.tan(math.radians(angle_deg))
    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    ee, nn = np.meshgrid(np.linspace(e0, e1, 7), np.linspace(n0, n1, 7))
    lon, lat = to_ll.transform(ee.ravel(), nn.ravel())
    design = np.column_stack([np.ones_like(lon), lon, lat])
    ce = np.linalg.lstsq(design, ee.ravel(), rcond=None)[0]  # E = ce0 + ce1 lon + ce2 lat
    cn = np.linalg.lstsq(design, nn.ravel(), rcond=None)[0]
    # image extent: the scene's projections at both ends of the height range, plus a margin
    row_top = min((n1 - n1 - h * tan) / gsd for h in (hmin, hmax)) - 8
    row_bot = max((n1 - n0 - h * tan) / gsd for h in (hmin, hmax)) + 8
    img_rows, img_cols = math.ceil(row_bot - row_top), cols + 16
    col_shift, row_shift = 8.0, -row_top
    # row = (N1 − N − h tan)/gsd + row_shift − 0.5 ; col = (E − E0)/gsd + col_shift − 0.5  (pixel centres at 0)
    row_c = np.array([(n1 - cn[0]) / gsd + row_shift - 0.5, -cn[1] / gsd, -cn[2] / gsd, -tan / gsd])
    col_c = np.array([(-e0 + ce[0]) / gsd + col_shift - 0.5, ce[1] / gsd, ce[2] / gsd, 0.0])
    lon_off, lat_off = float(np.mean(lon)), float(np.mean(lat))
    lon_scale = float(np.ptp(lon)) / 2 or 1e-3
    lat_scale = float(np.ptp(lat)) / 2 or 1e-3
    h_off, h_scale = (hmin + hmax) / 2, max((hmax - hmin) / 2, 1.0)
    line_off, line_scale = img_rows / 2, img_rows / 2
    samp_off, samp_scale = img_cols / 2, img_cols / 2

    def normalised(c: np.ndarray, off: float, scale: float) -> np.ndarray:
        num = np.zeros(20)
        num[0] = (c[0] + c[1] * lon_off + c[2] * lat_off + c[3] * h_off - off) / scale
        num[1], num[2], num[3] = c[1] * lon_scale / scale, c[2] * lat_scale / scale, c[3] * h_scale / scale
        return num

    den = np.zeros(20)
    den[0] = 1.0
    rpc = RPCModel(line_off, samp_off, lat_off, lon_off, h_off, line_scale, samp_scale, lat_scale, lon_scale,
                   h_scale, normalised(row_c, line_off, line_scale), den, normalised(col_c, samp_off, samp_scale), den)
    return View(name, angle_deg, rpc, (img_rows, img_cols))


@dataclass
class Rendering:
    """A rendered view and, per pixel, the 3D point its line of sight hit (NaN: background)."""

    image: np.ndarray
    hit_x: np.ndarray
    hit_y: np.ndarray
    hit_h: np.ndarray
    wall: np.ndarray


def _line_of_sight(view: View, h_top: float, h_bot: float, step: int = 8) -> tuple[np.ndarray, ...]:
    """Map coordinates of every pixel's line of sight at ``h_top`` and ``h_bot``.

    Localised through the RPC on a coarse grid of pixels, then interpolated (exact for this affine model,
    and to micrometres for any smooth one over 8 px).
    """
    rows, cols = view.shape
    rr = np.unique(np.r_[np.arange(0, rows, step), rows - 1]).astype(float)
    cc = np.unique(np.r_[np.arange(0, cols, step), cols - 1]).astype(float)
    R, C = np.meshgrid(rr, cc, indexing="ij")
    to_map = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    out = []
    for h in (h_top, h_bot):
        lon, lat = view.rpc.localize(R, C, h)
        e, n = to_map.transform(lon, lat)
        # bilinear interpolation from the coarse grid to every pixel
        fr = np.interp(np.arange(rows), rr, np.arange(len(rr)))
        fc = np.interp(np.arange(cols), cc, np.arange(len(cc)))
        FR, FC = np.meshgrid(fr, fc, indexing="ij")
        out += [map_coordinates(np.asarray(e), [FR, FC], order=1), map_coordinates(np.asarray(n), [FR, FC], order=1)]
    return tuple(out)


def render_view(scene: Scene, reflectance: np.ndarray, view: View, rng: np.random.Generator,
                dh: float = 0.5) -> Rendering:
    """Ray-cast the DSM from the view: the first surface each line of sight meets, with occlusions and facades."""
    t = scene.transform
    gsd = abs(t.a)
    dsm = scene.dsm.astype(np.float64)
    h_top, h_bot = float(dsm.max()) + 1.0, float(dsm.min()) - 1.0
    e_top, n_top, e_bot, n_bot = _line_of_sight(view, h_top, h_bot)

    def to_rc(e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c, r = (e - t.c) / t.a, (n - t.f) / t.e
        return r - 0.5, c - 0.5  # array index coordinates of pixel centres

    def surface(e: np.ndarray, n: np.ndarray) -> np.ndarray:
        r, c = to_rc(e, n)
        return map_coordinates(dsm, [r, c], order=1, mode="nearest")

    def inside(e: np.ndarray, n: np.ndarray) -> np.ndarray:
        r, c = to_rc(e, n)
        return (r >= -0.5) & (r <= dsm.shape[0] - 0.5) & (c >= -0.5) & (c <= dsm.shape[1] - 0.5)

    def at(frac: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (e_top.ravel()[idx] + frac * (e_bot.ravel()[idx] - e_top.ravel()[idx]),
                n_top.ravel()[idx] + frac * (n_bot.ravel()[idx] - n_top.ravel()[idx]),
                h_top + frac * (h_bot - h_top))

    # start each ray just above the highest surface it could meet (a local maximum of the DSM)
    span = math.ceil((h_top - h_bot) * abs(math.tan(math.radians(view.angle_deg))) / gsd) + 2
    local_max = maximum_filter(dsm, size=(2 * span + 1, 3))
    n_pix = e_top.size
    idx = np.arange(n_pix)
    eb, nb = e_bot.ravel(), n_bot.ravel()
    rb, cb = to_rc(eb, nb)
    start_h = map_coordinates(local_max, [rb, cb], order=0, mode="nearest") + 0.5
    frac = np.clip((h_top - start_h) / (h_top - h_bot), 0, 1)
    hit_frac = np.full(n_pix, np.nan)
    prev = frac.copy()
    step = dh / (h_top - h_bot)
    active = idx
    while active.size:
        e, n, h = at(frac[active], active)
        below = surface(e, n) >= h
        hit = active[below]
        hit_frac[hit] = frac[hit]
        rest = active[~below]
        prev[rest] = frac[rest]
        frac[rest] += step
        active = rest[frac[rest] <= 1.0]
    # refine the crossing by bisection between the last point above and the first below
    done = np.flatnonzero(np.isfinite(hit_frac))
    lo, hi = np.maximum(hit_frac[done] - step, 0.0), hit_frac[done]
    for _ in range(8):
        mid = (lo + hi) / 2
        e, n, h = at(mid, done)
        below = surface(e, n) >= h
        hi = np.where(below, mid, hi)
        lo = np.where(below, lo, mid)
    hx, hy, hh = (np.full(n_pix, np.nan) for _ in range(3))
    hx[done], hy[done], hh[done] = at(hi, done)
    ok = np.isfinite(hx) & inside(np.nan_to_num(hx), np.nan_to_num(hy))
    hx[~ok] = hy[~ok] = hh[~ok] = np.nan

    # radiance: the ortho's panchromatic value where the ray met a roof or the ground, a facade texture on walls
    pan = np.tensordot(PAN_WEIGHTS, reflectance, axes=1)
    grad = np.hypot(sobel(dsm, axis=0), sobel(dsm, axis=1)) / (8 * gsd)
    sel = np.flatnonzero(ok)
    r, c = to_rc(hx[sel], hy[sel])
    value = np.full(n_pix, 0.05)
    value[sel] = map_coordinates(pan, [r, c], order=1, mode="nearest")
    wall = np.zeros(n_pix, bool)
    steep = map_coordinates(grad, [r, c], order=1, mode="nearest") > 3.0
    wall[sel[steep]] = True
    ground_h = map_coordinates(scene.dtm, [r[steep], c[steep]], order=1, mode="nearest")
    storey = (hh[sel[steep]] - ground_h) / 3.0
    windows = 0.5 + 0.5 * np.cos(2 * math.pi * storey) ** 8
    facade = 0.10 + 0.08 * windows + 0.02 * np.sin(hx[sel[steep]] * 1.7 + hy[sel[steep]] * 2.3)
    value[sel[steep]] = facade
    value = value * (1 + 0.01 * rng.standard_normal(n_pix))
    shape = view.shape
    return Rendering(value.reshape(shape).astype(np.float32), hx.reshape(shape), hy.reshape(shape),
                     hh.reshape(shape), wall.reshape(shape))
