"""Features for land-cover classification: spectral indices, temporal statistics, spatial context.

Pure functions on in-memory arrays of one tile. Bands are named by their common names (STAC ``eo:common_name``:
``blue``, ``green``, ``red``, ``nir``, ``swir16``...); an index is computed when the image has its bands.
A time series is an array (T, B, H, W) with an optional validity mask (T, H, W) (False: cloud or no data).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter

from ai4geo_lab.errors import ConfigError, InvalidInputError

#: Sentinel-2 L1C bands B01…B12 (with B8A and B10) by common name, in the usual file order.
S2_BANDS = ("coastal", "blue", "green", "red", "rededge1", "rededge2", "rededge3", "nir", "nir08", "nir09",
            "cirrus", "swir16", "swir22")
#: Bands of a 4-band VHR image (the sample city's ortho).
RGBN_BANDS = ("red", "green", "blue", "nir")

_S2_IDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
_ALIASES = dict(zip(_S2_IDS, S2_BANDS, strict=True)) | {"nir08a": "nir08", "swir1": "swir16", "swir2": "swir22"}

#: Version of the file format of saved land-cover models (tree ensembles and CNNs alike).
MODEL_FORMAT = 1


def common_band_names(names: Sequence[str]) -> list[str]:
    """Band names mapped to common names (``B04`` → ``red``; unknown names kept, lower-cased)."""
    out = []
    for n in names:
        key = n.strip()
        out.append(_ALIASES.get(key.upper(), _ALIASES.get(key.lower(), key.lower())))
    return out


def _nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (a - b) / (a + b)
    return np.where(np.isfinite(out), out, np.nan).astype(np.float32)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    return np.where(np.isfinite(out), out, np.nan).astype(np.float32)


@dataclass(frozen=True)
class Index:
    """A spectral index: the bands it needs and how it is computed from them."""

    bands: tuple[str, ...]
    fn: Callable[..., np.ndarray]
    description: str


#: The spectral indices, by name (reflectance 0–1 in, float32 out, NaN where undefined).
INDICES: dict[str, Index] = {
    "ndvi": Index(("nir", "red"), _nd, "vegetation: (NIR − red) / (NIR + red)"),
    "ndwi": Index(("green", "nir"), _nd, "open water (McFeeters): (green − NIR) / (green + NIR)"),
    "mndwi": Index(("green", "swir16"), _nd, "water, built-up suppressed: (green − SWIR1) / (green + SWIR1)"),
    "ndbi": Index(("swir16", "nir"), _nd, "built-up: (SWIR1 − NIR) / (SWIR1 + NIR)"),
    "ndmi": Index(("nir", "swir16"), _nd, "vegetation moisture: (NIR − SWIR1) / (NIR + SWIR1)"),
    "nbr": Index(("nir", "swir22"), _nd, "burn ratio: (NIR − SWIR2) / (NIR + SWIR2)"),
    "ndre": Index(("nir08", "rededge1"), _nd, "red edge: (NIR narrow − RE1) / (NIR narrow + RE1)"),
    "savi": Index(("nir", "red"), lambda n, r: _ratio(1.5 * (n - r), n + r + 0.5), "soil-adjusted vegetation"),
    "evi": Index(("nir", "red", "blue"), lambda n, r, b: _ratio(2.5 * (n - r), n + 6 * r - 7.5 * b + 1),
                 "enhanced vegetation"),
    "bsi": Index(("swir16", "red", "nir", "blue"), lambda s, r, n, b: _nd(s + r, n + b), "bare soil"),
    "gndvi": Index(("nir", "green"), _nd, "green NDVI: (NIR − green) / (NIR + green)"),
    "brightness": Index(("red", "green", "blue"), lambda r, g, b: ((r + g + b) / 3).astype(np.float32),
                        "mean visible reflectance"),
}


def available_indices(band_names: Sequence[str]) -> list[str]:
    """The indices of :data:`INDICES` that an image with these bands can give."""
    have = set(common_band_names(band_names))
    return [name for name, idx in INDICES.items() if set(idx.bands) <= have]


def spectral_indices(image: np.ndarray, band_names: Sequence[str],
                     indices: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Indices of one image (B, H, W) as an array (K, H, W) and their names.

    ``indices`` defaults to every index the bands allow; naming one whose bands are missing is an error.
    """
    names = common_band_names(band_names)
    if image.shape[0] != len(names):
        raise InvalidInputError(f"the image has {image.shape[0]} bands but {len(names)} band names were given",
                                "give one name per band")
    wanted = list(indices) if indices is not None else available_indices(names)
    pos = {n: i for i, n in enumerate(names)}
    out = []
    for name in wanted:
        if name not in INDICES:
            raise ConfigError(f"unknown spectral index '{name}'", f"known: {', '.join(INDICES)}")
        idx = INDICES[name]
        missing = [b for b in idx.bands if b not in pos]
        if missing:
            raise ConfigError(f"index '{name}' needs band(s) {', '.join(missing)}, which the image lacks",
                              f"the image has: {', '.join(names)}")
        out.append(idx.fn(*(image[pos[b]].astype(np.float32) for b in idx.bands)))
    arr = np.stack(out) if out else np.zeros((0, *image.shape[1:]), np.float32)
    return arr, wanted


def simple_cloud_mask(image: np.ndarray, band_names: Sequence[str], blue_max: float = 0.2,
                      cirrus_max: float = 0.012) -> np.ndarray:
    """True where a pixel looks clear: blue reflectance below ``blue_max`` (and cirrus below ``cirrus_max``).

    A crude test for thick clouds and haze over vegetated land; use a real cloud mask when there is one.
    """
    names = common_band_names(band_names)
    ok = np.all(np.isfinite(image), axis=0)
    if "blue" in names:
        ok &= image[names.index("blue")] < blue_max
    if "cirrus" in names:
        ok &= image[names.index("cirrus")] < cirrus_max
    return ok


#: Statistics of :func:`temporal_features`, by name.
TEMPORAL_STATS = ("mean", "std", "min", "max", "p10", "p50", "p90", "amplitude", "argmax", "valid")


def temporal_features(series: np.ndarray, valid: np.ndarray | None = None,
                      stats: Sequence[str] = TEMPORAL_STATS, names: Sequence[str] | None = None,
                      times: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Per-pixel statistics over time of a (T, F, H, W) series; masked or NaN dates are left out.

    Returns (len(stats)·F, H, W) — ``valid`` is the fraction of valid dates (once, not per feature) — and
    names ``<feature>_<stat>``. ``argmax`` is the time (0–1 over the span of ``times``, default evenly spaced)
    of the maximum. Pixels with no valid date get NaN.
    """
    series = np.asarray(series, np.float32)
    if series.ndim != 4:
        raise InvalidInputError(f"a time series must be (T, F, H, W), got shape {series.shape}")
    t, f = series.shape[:2]
    names = list(names) if names is not None else [f"f{i}" for i in range(f)]
    data = series.copy()
    if valid is not None:
        data[~np.broadcast_to(np.asarray(valid, bool)[:, None], data.shape)] = np.nan
    finite = np.isfinite(data)
    any_valid = finite.any(axis=0)
    tt = np.linspace(0, 1, t) if times is None else (np.asarray(times, float) - times[0]) / max(
        float(times[-1] - times[0]), 1e-9)
    out, out_names = [], []
    filled_lo = np.where(finite, data, np.inf)
    with np.errstate(invalid="ignore"), quiet_nan():
        for stat in stats:
            if stat == "valid":
                out.append(finite.all(axis=1).mean(axis=0, dtype=np.float32)[None])
                out_names.append("valid_fraction")
                continue
            if stat == "mean":
                v = np.nanmean(data, axis=0)
            elif stat == "std":
                v = np.nanstd(data, axis=0)
            elif stat == "min":
                v = np.nanmin(np.where(any_valid, data, 0), axis=0)
            elif stat == "max":
                v = np.nanmax(np.where(any_valid, data, 0), axis=0)
            elif stat in ("p10", "p50", "p90"):
                v = nan_percentile(data, int(stat[1:]))
            elif stat == "amplitude":
                v = np.nanmax(np.where(any_valid, data, 0), axis=0) - np.min(filled_lo, axis=0)
            elif stat == "argmax":
                idx = np.argmax(np.where(finite, data, -np.inf), axis=0)
                v = tt[idx].astype(np.float32)
            else:
                raise ConfigError(f"unknown temporal statistic '{stat}'", f"known: {', '.join(TEMPORAL_STATS)}")
            v = np.where(any_valid, v, np.nan).astype(np.float32)
            out.append(v)
            out_names += [f"{n}_{stat}" for n in names]
    return np.concatenate(out).astype(np.float32), out_names


def nan_percentile(data: np.ndarray, q: float) -> np.ndarray:
    """Percentile ``q`` over axis 0, ignoring NaN (linear interpolation; NaN where nothing is valid).

    Vectorised: numpy's ``nanpercentile`` loops over pixels in Python when some values are NaN.
    """
    srt = np.sort(data, axis=0)                       # NaN sort last
    n = np.isfinite(data).sum(axis=0)
    pos = np.clip((n - 1) * (q / 100.0), 0, None)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    frac = (pos - lo).astype(np.float32)
    a = np.take_along_axis(srt, lo[None], axis=0)[0]
    b = np.take_along_axis(srt, hi[None], axis=0)[0]
    out = a + (b - a) * frac
    return np.where(n > 0, out, np.nan).astype(np.float32)


@contextlib.contextmanager
def quiet_nan() -> Iterator[None]:
    """Silence numpy's 'all-NaN slice' and 'mean of empty slice' warnings inside a block."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def nan_uniform_filter(arr: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Local mean and standard deviation over ``size × size`` windows of each (…, H, W) plane, NaN-aware."""
    a = np.asarray(arr, np.float32)
    ok = np.isfinite(a)
    z = np.where(ok, a, 0).astype(np.float64)
    axes = (0,) * (a.ndim - 2)
    shape = (*([1] * len(axes)), size, size)
    n = uniform_filter(ok.astype(np.float64), shape, mode="nearest")
    s1 = uniform_filter(z, shape, mode="nearest")
    s2 = uniform_filter(z * z, shape, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = np.maximum(s2 / n - mean * mean, 0)
    mean[n == 0] = np.nan
    var[n == 0] = np.nan
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


@dataclass(frozen=True)
class FeatureSpec:
    """Which features to compute from an image time series."""

    band_names: tuple[str, ...]
    indices: tuple[str, ...] | None = None      # None: every index the bands allow
    stats: tuple[str, ...] = TEMPORAL_STATS
    per_date: bool = True                        # also each date's bands and indices (NaN where masked)
    context: tuple[int, ...] = (5,)              # window sizes of local mean/std of the temporal means
    context_of: tuple[str, ...] = ("ndvi", "ndwi", "ndbi", "ndmi", "brightness")
    extra_names: tuple[str, ...] = ()            # names of extra per-pixel layers (e.g. "ndsm")

    @property
    def halo(self) -> int:
        """Pixels of context a tile needs around it."""
        return max(self.context, default=1) // 2 + 1


def series_features(series: np.ndarray, spec: FeatureSpec, valid: np.ndarray | None = None,
                    extra: np.ndarray | None = None,
                    times: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """The feature stack (F, H, W) of a (T, B, H, W) reflectance series, and the feature names.

    Bands and indices of each date, their temporal statistics, the local mean and standard deviation of
    the temporal means of a few indices (``spec.context`` windows), and ``extra`` layers (E, H, W) as they are.
    A single image is a series of length 1 (then only the per-date values and context are kept).
    """
    series = np.asarray(series, np.float32)
    if series.ndim == 3:
        series = series[None]
    t, b = series.shape[:2]
    if b != len(spec.band_names):
        raise InvalidInputError(f"the series has {b} bands but the feature spec names {len(spec.band_names)}",
                                "give one band name per band")
    names_b = common_band_names(spec.band_names)
    per_date = []
    idx_names: list[str] = []
    for k in range(t):
        ind, idx_names = spectral_indices(series[k], names_b, spec.indices)
        per_date.append(np.concatenate([series[k], ind]))
    stack = np.stack(per_date)                      # (T, B + K, H, W)
    layer_names = [*names_b, *idx_names]
    if valid is not None:
        stack[~np.broadcast_to(np.asarray(valid, bool)[:, None], stack.shape)] = np.nan
    feats, names = [], []
    if spec.per_date or t == 1:
        feats.append(stack.reshape(-1, *stack.shape[2:]))
        names += [f"t{k}_{n}" for k in range(t) for n in layer_names]
    if t > 1 and spec.stats:
        tf, tn = temporal_features(stack, None, spec.stats, layer_names, times)
        feats.append(tf)
        names += tn
    ctx_layers = [n for n in spec.context_of if n in layer_names]
    if spec.context and ctx_layers:
        with quiet_nan():
            means = np.nanmean(stack[:, [layer_names.index(n) for n in ctx_layers]], axis=0)
        for size in spec.context:
            m, s = nan_uniform_filter(means, size)
            feats += [m, s]
            names += [f"{n}_mean{size}" for n in ctx_layers] + [f"{n}_std{size}" for n in ctx_layers]
    if extra is not None:
        extra = np.asarray(extra, np.float32)
        extra = extra[None] if extra.ndim == 2 else extra
        if len(spec.extra_names) != extra.shape[0]:
            raise InvalidInputError(f"{extra.shape[0]} extra layers but {len(spec.extra_names)} extra names")
        feats.append(extra)
        names += list(spec.extra_names)
    return np.concatenate(feats).astype(np.float32), names
