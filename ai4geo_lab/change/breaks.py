"""Break detection along a time series of an index (e.g. NDVI): a seasonal model fitted on a stable history,
then a moving sum of standardised residuals over the monitoring period (in the spirit of BFAST Monitor).

Pure functions on in-memory arrays (T, H, W) with a validity mask (cloud-free observations). For each pixel:

1. fit ``y = a + b·t + Σ_k (c_k cos 2πkt + s_k sin 2πkt)`` (t in years) by least squares on the valid
   observations before ``history_end`` (then once more without residuals beyond 3σ, to shed missed clouds);
2. standardise the monitoring residuals by their forecast error (the history's σ, widened by the
   uncertainty of the fitted model) and sum them over ``h`` consecutive valid observations
   (MOSUM / √h, ~N(0, 1) without change); monitoring dates on which the whole scene departs from the model
   (median standardised residual beyond ``scene_check``: haze, snow, missed clouds) are left out;
3. the first window whose MOSUM passes ``threshold`` (in the chosen direction) holds the break; it is dated
   at the observation of that window from which the sum of residuals to the window's end is most extreme,
   its magnitude is the median residual from there on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ai4geo_lab.errors import ConfigError, InvalidInputError
from ai4geo_lab.landcover.features import quiet_nan

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class BreakParams:
    """Settings of :func:`detect_breaks`."""

    history_end: float              # days since the first observation: the end of the stable history
    harmonics: int = 1              # number of seasonal harmonics
    trend: bool = False             # a linear trend in the model
    h: int = 3                      # valid observations per moving window
    threshold: float = 3.5          # MOSUM / √h beyond which a window is a break
    direction: str = "decrease"     # decrease (e.g. clearing), increase, or both
    min_history: int = 6            # fewer valid history observations: no decision (NaN)
    robust: bool = True             # refit once without history residuals beyond 3σ
    scene_check: float | None = 2.0  # drop monitoring dates whose median standardised residual is beyond this


@dataclass
class BreakResult:
    """Per-pixel break detection: where, when and how much."""

    breaks: np.ndarray      # (H, W) bool
    index: np.ndarray       # (H, W) int: observation index of the break, −1 when none
    time: np.ndarray        # (H, W) float: days since the first observation, NaN when none
    magnitude: np.ndarray   # (H, W) float: median residual after the break (index units), NaN when none
    sigma: np.ndarray       # (H, W) float: residual σ of the history fit, NaN when not fitted
    n_history: np.ndarray   # (H, W) int: valid observations of the history
    decided: np.ndarray     # (H, W) bool: enough history and monitoring observations to decide


def design_matrix(times_days: np.ndarray, harmonics: int = 1, trend: bool = False) -> np.ndarray:
    """Columns: 1, (t), cos/sin of each harmonic, with t in years since the first time."""
    t = (np.asarray(times_days, np.float64) - float(np.min(times_days))) / DAYS_PER_YEAR
    cols = [np.ones_like(t)]
    if trend:
        cols.append(t)
    for k in range(1, harmonics + 1):
        cols += [np.cos(2 * np.pi * k * t), np.sin(2 * np.pi * k * t)]
    return np.stack(cols, axis=1)


def fit_harmonic(y: np.ndarray, valid: np.ndarray, X: np.ndarray,
                 with_inverse: bool = False) -> tuple[np.ndarray, ...]:
    """Per-pixel weighted least squares of ``y`` (T, P) on ``X`` (T, K) over ``valid`` (T, P).

    Returns coefficients (P, K), residual σ (P,) and the number of observations (P,) — and, with
    ``with_inverse``, the inverses of the normal matrices (P, K, K); NaN where there are not more
    observations than coefficients (or the system is singular).
    """
    w = valid.astype(np.float64)
    yz = np.where(valid, y, 0.0).astype(np.float64)
    A = np.einsum("tp,ti,tj->pij", w, X, X)
    b = np.einsum("tp,ti,tp->pi", w, X, yz)
    n = w.sum(axis=0)
    k = X.shape[1]
    coef = np.full((y.shape[1], k), np.nan)
    ok = n > k
    if ok.any():
        A_ok = A[ok] + np.eye(k)[None] * 1e-9
        det = np.linalg.det(A_ok)
        good = np.abs(det) > 1e-12
        idx = np.flatnonzero(ok)[good]
        coef[idx] = np.linalg.solve(A_ok[good], b[ok][good][..., None])[..., 0]
    inv = np.full((y.shape[1], k, k), np.nan)
    if with_inverse and ok.any():
        inv[idx] = np.linalg.inv(A_ok[good])
    pred = X @ coef.T                                   # (T, P)
    res = np.where(valid, y - pred, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rss = np.nansum(res**2, axis=0)
        sigma = np.sqrt(rss / np.maximum(n - k, 1))
    sigma[~np.isfinite(coef).all(axis=1)] = np.nan
    if with_inverse:
        return coef, sigma, n.astype(np.int64), inv
    return coef, sigma, n.astype(np.int64)


def detect_breaks(series: np.ndarray, times_days: np.ndarray, valid: np.ndarray | None,
                  params: BreakParams) -> BreakResult:
    """Breaks of a (T, H, W) index series observed at ``times_days`` (see the module docstring)."""
    y = np.asarray(series, np.float64)
    if y.ndim != 3:
        raise InvalidInputError(f"a series must be (T, H, W), got shape {y.shape}")
    t_count, h_, w_ = y.shape
    times = np.asarray(times_days, np.float64)
    if times.shape != (t_count,) or np.any(np.diff(times) < 0):
        raise InvalidInputError(f"times must be {t_count} increasing values (days)", "sort the series by date")
    if params.direction not in ("decrease", "increase", "both"):
        raise ConfigError(f"unknown direction '{params.direction}'", "choose decrease, increase or both")
    if params.h < 1:
        raise ConfigError("h must be ≥ 1 observation")
    ok = np.isfinite(y) if valid is None else (np.asarray(valid, bool) & np.isfinite(y))
    P = h_ * w_
    y2, ok2 = y.reshape(t_count, P), ok.reshape(t_count, P)
    X = design_matrix(times, params.harmonics, params.trend)
    hist = times - times[0] < params.history_end
    if not hist.any() or hist.all():
        raise ConfigError(f"history_end {params.history_end:g} days leaves no history or no monitoring period",
                          f"the series spans {times[-1] - times[0]:.0f} days")
    hv = ok2 & hist[:, None]
    coef, sigma, n_hist = fit_harmonic(y2, hv, X)
    if params.robust:
        z = np.abs(y2 - (X @ coef.T)) / sigma[None]
        hv = hv & ~(z > 3.0)
    coef, sigma, n_hist, inv = fit_harmonic(y2, hv, X, with_inverse=True)
    sigma = np.where(sigma > 1e-6, sigma, np.nan)
    fitted = np.isfinite(sigma) & (n_hist >= params.min_history)
    mon = ~hist
    ym, om, tm = y2[mon], ok2[mon], np.flatnonzero(mon)
    with np.errstate(invalid="ignore"):
        resid = ym - X[mon] @ np.nan_to_num(coef).T         # (M, P)
        # a forecast's error: noise plus the error of the fitted coefficients, σ²(1 + xᵀ(XᵀX)⁻¹x)
        lev = np.einsum("mi,pij,mj->mp", X[mon], np.nan_to_num(inv), X[mon])
        z = resid / (sigma[None] * np.sqrt(1.0 + np.clip(lev, 0, None)))
    if params.scene_check is not None:
        # a date whose whole scene departs from the model is haze, snow or a missed cloud, not a land change
        with np.errstate(all="ignore"), quiet_nan():
            scene = np.nanmedian(np.where(om & fitted[None], z, np.nan), axis=1)
        bad = np.isfinite(scene) & (np.abs(scene) > params.scene_check)
        om = om & ~bad[:, None]
    # valid monitoring observations first, in time order (stable sort), then window sums over them
    order = np.argsort(~om, axis=0, kind="stable")
    zc = np.take_along_axis(np.where(om, z, 0.0), order, axis=0)
    rc = np.take_along_axis(np.where(om, resid, np.nan), order, axis=0)
    n_mon = om.sum(axis=0)
    csum = np.vstack([np.zeros((1, P)), np.cumsum(zc, axis=0)])
    hh = params.h
    m_count = zc.shape[0]
    decided = fitted & (n_mon >= hh)
    index = np.full(P, -1, np.int64)
    start = np.full(P, m_count, np.int64)               # compacted position of the break's first observation
    if m_count >= hh:
        mosum = (csum[hh:] - csum[:-hh]) / np.sqrt(hh)   # window j covers compacted obs j … j+h−1
        inside = (np.arange(m_count - hh + 1)[:, None] + hh) <= n_mon[None]
        if params.direction == "decrease":
            hit = mosum <= -params.threshold
        elif params.direction == "increase":
            hit = mosum >= params.threshold
        else:
            hit = np.abs(mosum) >= params.threshold
        hit &= inside & decided[None]
        has = hit.any(axis=0)
        first = np.argmax(hit, axis=0)
        pix = np.flatnonzero(has)
        # date the break inside its window: the start whose sum to the window's end is most extreme
        win = zc[first[pix][None] + np.arange(hh)[:, None], pix[None]]          # (h, n)
        suffix = np.cumsum(win[::-1], axis=0)[::-1] / np.sqrt(np.arange(hh, 0, -1))[:, None]
        score = {"decrease": -suffix, "increase": suffix}.get(params.direction, np.abs(suffix))
        at = first[pix] + np.argmax(score, axis=0)
        index[pix] = tm[order[at, pix]]
        start[pix] = at
    brk = index >= 0
    btime = np.where(brk, times[np.clip(index, 0, None)] - times[0], np.nan)
    mag = np.full(P, np.nan)
    if brk.any():
        pos = np.arange(m_count)[:, None]
        after = (pos >= start[None]) & (pos < n_mon[None])
        with np.errstate(all="ignore"), quiet_nan():
            mag_all = np.nanmedian(np.where(after, rc, np.nan), axis=0)
        mag[brk] = mag_all[brk]
    shape = (h_, w_)
    return BreakResult(brk.reshape(shape), index.reshape(shape), btime.reshape(shape), mag.reshape(shape),
                       sigma.reshape(shape), n_hist.reshape(shape), decided.reshape(shape))
