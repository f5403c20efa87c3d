"""Rational polynomial camera (RPC) models: the one module that reads sensor geometry.

Conventions (those of GDAL and of the RPC00B standard):
- image coordinates are ``(row, col)`` in pixels with ``(0, 0)`` the *centre* of the first pixel;
- ground coordinates are WGS84 longitude, latitude (degrees) and ellipsoidal height (metres);
- the 20 coefficients of each polynomial follow the RPC00B term order
  ``1, L, P, H, LP, LH, PH, L², P², H², PLH, L³, LP², LH², L²P, P³, PH², L²H, P²H, H³``
  with ``L`` the normalised longitude, ``P`` the normalised latitude and ``H`` the normalised height.

This module holds the model and its projections; geometry files (OSSIM ``.geom``, DIMAP RPC XML, GeoTIFF RPC
tags) are read and validated by :mod:`ai4geo_lab.geo.sensor` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rasterio.rpc import RPC

from ai4geo_lab.errors import InvalidInputError

ArrayLike = np.ndarray | float


def _terms(L: np.ndarray, P: np.ndarray, H: np.ndarray) -> list[np.ndarray]:
    """The 20 RPC00B monomials, in order."""
    one = np.ones_like(L)
    return [
        one, L, P, H, L * P, L * H, P * H, L * L, P * P, H * H,
        P * L * H, L**3, L * P * P, L * H * H, L * L * P, P**3, P * H * H, L * L * H, P * P * H, H**3,
    ]


def _height_powers(coef: np.ndarray, L: np.ndarray, P: np.ndarray) -> list[np.ndarray]:
    """Coefficients ``[a0, a1, a2, a3]`` of the polynomial as a cubic in ``H`` for fixed ``L, P``."""
    c = coef
    a0 = (c[0] + c[1] * L + c[2] * P + c[4] * L * P + c[7] * L * L + c[8] * P * P + c[11] * L**3
          + c[12] * L * P * P + c[14] * L * L * P + c[15] * P**3)
    a1 = c[3] + c[5] * L + c[6] * P + c[10] * P * L + c[17] * L * L + c[18] * P * P
    a2 = c[9] + c[13] * L + c[16] * P
    a3 = np.full_like(L, c[19])
    return [a0, a1, a2, a3]


@dataclass(frozen=True)
class HeightSweep:
    """An RPC model pre-evaluated on fixed ground positions, projecting them fast at any height.

    For a fixed (lon, lat) every RPC polynomial is a cubic in height; ``project(h)`` then costs a few
    multiply-adds per point. Used by the renderers of the sample city.
    """

    rpc: RPCModel
    coefs: tuple[list[np.ndarray], ...]

    def project(self, h: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Image ``(row, col)`` of the prepared ground positions at height(s) ``h`` (metres)."""
        r = self.rpc
        H = (np.asarray(h, dtype=np.float64) - r.height_off) / r.height_scale

        def cubic(a: list[np.ndarray]) -> np.ndarray:
            return ((a[3] * H + a[2]) * H + a[1]) * H + a[0]

        ln, ld, sn, sd = (cubic(a) for a in self.coefs)
        return ln / ld * r.line_scale + r.line_off, sn / sd * r.samp_scale + r.samp_off


@dataclass(frozen=True)
class RPCModel:
    """An RPC00B sensor model mapping (lon, lat, h) to image (row, col)."""

    line_off: float
    samp_off: float
    lat_off: float
    lon_off: float
    height_off: float
    line_scale: float
    samp_scale: float
    lat_scale: float
    lon_scale: float
    height_scale: float
    line_num: np.ndarray = field(repr=False)
    line_den: np.ndarray = field(repr=False)
    samp_num: np.ndarray = field(repr=False)
    samp_den: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        for name in ("line_num", "line_den", "samp_num", "samp_den"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (20,):
                raise InvalidInputError(f"RPC {name} has {arr.size} coefficients instead of 20")
            object.__setattr__(self, name, arr)

    # --- projections -----------------------------------------------------------------------------
    def _normalise(self, lon: ArrayLike, lat: ArrayLike, h: ArrayLike) -> tuple[np.ndarray, ...]:
        L = (np.asarray(lon, dtype=np.float64) - self.lon_off) / self.lon_scale
        P = (np.asarray(lat, dtype=np.float64) - self.lat_off) / self.lat_scale
        H = (np.asarray(h, dtype=np.float64) - self.height_off) / self.height_scale
        return np.broadcast_arrays(L, P, H)

    def project(self, lon: ArrayLike, lat: ArrayLike, h: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Image ``(row, col)`` of ground points (degrees, degrees, metres)."""
        L, P, H = self._normalise(lon, lat, h)
        t = _terms(L, P, H)

        def poly(c: np.ndarray) -> np.ndarray:
            return sum(ci * ti for ci, ti in zip(c, t, strict=True))

        row = poly(self.line_num) / poly(self.line_den) * self.line_scale + self.line_off
        col = poly(self.samp_num) / poly(self.samp_den) * self.samp_scale + self.samp_off
        return row, col

    def height_sweep(self, lon: ArrayLike, lat: ArrayLike) -> HeightSweep:
        """Prepare fast projections of fixed ground positions at many heights."""
        L = (np.asarray(lon, dtype=np.float64) - self.lon_off) / self.lon_scale
        P = (np.asarray(lat, dtype=np.float64) - self.lat_off) / self.lat_scale
        L, P = np.broadcast_arrays(L, P)
        coefs = tuple(_height_powers(c, L, P) for c in (self.line_num, self.line_den,
                                                         self.samp_num, self.samp_den))
        return HeightSweep(self, coefs)

    def localize(self, row: ArrayLike, col: ArrayLike, h: ArrayLike, iterations: int = 10,
                 tol_px: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """Ground ``(lon, lat)`` of image points at height(s) ``h``, by Newton iterations on ``project``."""
        row, col, h = np.broadcast_arrays(np.asarray(row, float), np.asarray(col, float), np.asarray(h, float))
        lon = np.full(row.shape, self.lon_off)
        lat = np.full(row.shape, self.lat_off)
        dlon, dlat = self.lon_scale * 1e-4, self.lat_scale * 1e-4
        for _ in range(iterations):
            r0, c0 = self.project(lon, lat, h)
            r1, c1 = self.project(lon + dlon, lat, h)
            r2, c2 = self.project(lon, lat + dlat, h)
            a, b = (r1 - r0) / dlon, (r2 - r0) / dlat
            c, d = (c1 - c0) / dlon, (c2 - c0) / dlat
            er, ec = row - r0, col - c0
            det = a * d - b * c
            lon = lon + (d * er - b * ec) / det
            lat = lat + (a * ec - c * er) / det
            if np.all(np.abs(er) < tol_px) and np.all(np.abs(ec) < tol_px):
                break
        return lon, lat

    # --- conversions -----------------------------------------------------------------------------
    def to_rasterio(self) -> RPC:
        """The model as rasterio RPC tags (``dataset.rpcs = model.to_rasterio()``)."""
        return RPC(
            height_off=self.height_off, height_scale=self.height_scale,
            lat_off=self.lat_off, lat_scale=self.lat_scale,
            long_off=self.lon_off, long_scale=self.lon_scale,
            line_off=self.line_off, line_scale=self.line_scale,
            samp_off=self.samp_off, samp_scale=self.samp_scale,
            line_num_coeff=list(self.line_num), line_den_coeff=list(self.line_den),
            samp_num_coeff=list(self.samp_num), samp_den_coeff=list(self.samp_den),
            err_bias=None, err_rand=None,
        )

    @classmethod
    def from_rasterio(cls, rpc: RPC) -> RPCModel:
        """Build from rasterio's RPC tags."""
        return cls(
            line_off=rpc.line_off, samp_off=rpc.samp_off, lat_off=rpc.lat_off, lon_off=rpc.long_off,
            height_off=rpc.height_off, line_scale=rpc.line_scale, samp_scale=rpc.samp_scale,
            lat_scale=rpc.lat_scale, lon_scale=rpc.long_scale, height_scale=rpc.height_scale,
            line_num=np.array(rpc.line_num_coeff), line_den=np.array(rpc.line_den_coeff),
            samp_num=np.array(rpc.samp_num_coeff), samp_den=np.array(rpc.samp_den_coeff),
        )
