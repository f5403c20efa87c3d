"""Epipolar rectification of a stereo pair over one ground tile, from local affine approximations of the RPC models.

Over a few hundred metres a pushbroom satellite camera is, to a small fraction of a pixel, an affine camera: image
``(col, row) = A · (x, y, h) + b`` in local metric ground coordinates. Two affine cameras have parallel epipolar
lines, and two affine maps of the images make them horizontal: one row coordinate shared by both images, and a
column coordinate in which the ground at the reference height ``h0`` has no disparity, so that disparity is
proportional to height (``d = k · (h − h0)``). How far the affine models stray from the RPC models over the tile is
measured (:attr:`Rectification.row_error_px`) so that a caller can refuse a tile too large for the approximation.

Pure functions: RPC projections come in as callables; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ai4geo_lab.errors import InvalidInputError

#: Ground → image (row, col) of one view, for local ground coordinates ``(x, y, h)`` in metres.
GroundProjection = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def fit_affine_camera(rows: np.ndarray, cols: np.ndarray, x: np.ndarray, y: np.ndarray,
                      h: np.ndarray) -> tuple[np.ndarray, float]:
    """The 2 × 4 matrix ``M`` with ``(col, row) ≈ M · (x, y, h, 1)`` by least squares, and its largest error (px)."""
    design = np.column_stack([x.ravel(), y.ravel(), h.ravel(), np.ones(x.size)])
    target = np.column_stack([cols.ravel(), rows.ravel()])
    sol, *_ = np.linalg.lstsq(design, target, rcond=None)
    err = float(np.abs(design @ sol - target).max())
    return sol.T, err


@dataclass(frozen=True)
class Rectification:
    """Two affine maps from image pixels ``(col, row)`` to rectified ``(x, v)``; rows are epipolar lines.

    ``left``/``right``: 2 × 3 matrices (OpenCV's convention). ``shape``: rows, cols of the rectified images, which
    cover the tile at every searched height. Disparity ``d = x_left − x_right`` of a ground point at height ``h`` is
    ``disparity_per_m · (h − h0)`` (positive upwards). ``row_error_px``: the largest difference, over the tile and
    the searched heights, between the rectified rows of a ground point in the two views, by the RPC models;
    ``disparity_error_px`` likewise for the disparity predicted from the height.
    """

    left: np.ndarray
    right: np.ndarray
    shape: tuple[int, int]
    disparity_per_m: float
    h0: float
    row_error_px: float
    disparity_error_px: float
    left_camera: np.ndarray
    right_camera: np.ndarray

    def disparity_range(self, hmin: float, hmax: float) -> tuple[float, float]:
        """Disparities (px) of heights ``hmin`` and ``hmax``."""
        return self.disparity_per_m * (hmin - self.h0), self.disparity_per_m * (hmax - self.h0)

    def height(self, disparity: np.ndarray) -> np.ndarray:
        """Heights (m) of disparities (px)."""
        return self.h0 + disparity / self.disparity_per_m

    def to_image(self, which: str, x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image ``(row, col)`` of rectified ``(x, v)`` of the ``left`` or ``right`` view."""
        inv = cv2.invertAffineTransform(self.left if which == "left" else self.right)
        col = inv[0, 0] * x + inv[0, 1] * v + inv[0, 2]
        row = inv[1, 0] * x + inv[1, 1] * v + inv[1, 2]
        return row, col

    def to_rectified(self, which: str, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rectified ``(x, v)`` of image ``(row, col)`` of the ``left`` or ``right`` view."""
        m = self.left if which == "left" else self.right
        return m[0, 0] * col + m[0, 1] * row + m[0, 2], m[1, 0] * col + m[1, 1] * row + m[1, 2]

    def ground(self, x: np.ndarray, v: np.ndarray, disparity: np.ndarray) -> tuple[np.ndarray, ...]:
        """Ground ``(x, y, h)`` (local metres) of left rectified pixels ``(x, v)`` matched at ``disparity``."""
        h = self.height(disparity)
        row, col = self.to_image("left", x, v)
        m = self.left_camera
        dh = h - self.h0
        rhs_c = col - m[0, 2] * dh - m[0, 3]
        rhs_r = row - m[1, 2] * dh - m[1, 3]
        det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
        gx = (m[1, 1] * rhs_c - m[0, 1] * rhs_r) / det
        gy = (m[0, 0] * rhs_r - m[1, 0] * rhs_c) / det
        return gx, gy, h

    def warp(self, which: str, image: np.ndarray, origin: tuple[int, int] = (0, 0),
             interpolation: int = cv2.INTER_CUBIC) -> np.ndarray:
        """The rectified image of one view from its window ``image`` whose first pixel is ``origin`` (row, col)
        of the full image; pixels outside the window are NaN."""
        m = (self.left if which == "left" else self.right).astype(np.float64)
        # rectified ← window pixels: shift the window's pixels to full-image pixels first
        m = m.copy()
        m[:, 2] += m[:, 0] * origin[1] + m[:, 1] * origin[0]
        rows, cols = self.shape
        out = cv2.warpAffine(image.astype(np.float32), m, (cols, rows), flags=interpolation,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
        inside = cv2.warpAffine(np.ones(image.shape, np.uint8), m, (cols, rows), flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out[inside == 0] = np.nan
        return out


def rectify(left: GroundProjection, right: GroundProjection, x: np.ndarray, y: np.ndarray, hmin: float,
            hmax: float, margin_px: int = 8, zoom: float = 1.0) -> Rectification:
    """Rectify the two views over the ground points ``(x, y)`` (local metres) seen at heights ``hmin..hmax``.

    The rectified images cover every point at every height, plus ``margin_px``, with ``zoom`` times the left
    image's resolution.
    """
    h0 = 0.5 * (hmin + hmax)
    levels = np.linspace(hmin, hmax, 5)
    xs, hs = np.meshgrid(x.ravel(), levels)
    ys, _ = np.meshgrid(y.ravel(), levels)
    xs, ys, hs = xs.ravel(), ys.ravel(), hs.ravel()
    rl, cl = left(xs, ys, hs)
    rr, cr = right(xs, ys, hs)
    ml, _ = fit_affine_camera(rl, cl, xs, ys, hs - h0)
    mr, _ = fit_affine_camera(rr, cr, xs, ys, hs - h0)
    al, ar = ml[:, :3], mr[:, :3]
    # rows: u_l · A_l = u_r · A_r (the null space of the 3 × 4 system), normalised to |u_l| = 1
    system = np.hstack([al.T, -ar.T])
    _, sv, vt = np.linalg.svd(system)
    n = vt[-1]
    u_l, u_r = n[:2], n[2:]
    scale = np.linalg.norm(u_l)
    if scale < 1e-9 or sv[-2] < 1e-9 * sv[0]:
        raise InvalidInputError("the two images' geometry gives no epipolar direction over the tile",
                                "check that the images form a stereo pair of the same area")
    u_l, u_r = u_l / scale, u_r / scale
    # columns: perpendicular to the left rows; the right's chosen so the ground at h0 has no disparity
    w_l = np.array([u_l[1], -u_l[0]])
    w_r = np.linalg.solve(ar[:, :2].T, al[:, :2].T @ w_l)
    k = float(w_l @ al[:, 2] - w_r @ ar[:, 2])
    if abs(k) < 1e-6:
        raise InvalidInputError("the two images see the tile from the same direction: no stereo base",
                                "give a stereo pair")
    if k < 0:  # columns run the other way, so that disparity grows with height
        w_l, w_r, k = -w_l, -w_r, -k
    left_m = zoom * np.vstack([w_l, u_l])  # (x, v) ← (col, row)
    right_m = zoom * np.vstack([w_r, u_r])
    k *= zoom
    # offsets: the right's so that one ground point has the same (x − k·h, v) in both views
    off_l = np.zeros(2)
    off_r = left_m @ ml[:, 3] - right_m @ mr[:, 3]
    xl, vl = left_m @ np.vstack([cl, rl]) + off_l[:, None]
    xr, vr = right_m @ np.vstack([cr, rr]) + off_r[:, None]
    # the rectified frame starts at the smallest coordinate of either view
    x0 = min(xl.min(), xr.min()) - margin_px
    v0 = min(vl.min(), vr.min()) - margin_px
    off_l -= (x0, v0)
    off_r -= (x0, v0)
    xl, xr, vl, vr = xl - x0, xr - x0, vl - v0, vr - v0
    shape = (int(np.ceil(max(vl.max(), vr.max()) + margin_px)) + 1,
             int(np.ceil(max(xl.max(), xr.max()) + margin_px)) + 1)
    row_err = float(np.abs(vl - vr).max())
    disp_err = float(np.abs((xl - xr) - k * (hs - h0)).max())
    return Rectification(np.column_stack([left_m, off_l]), np.column_stack([right_m, off_r]), shape, k, h0,
                         row_err, disp_err, ml, mr)
