"""A self-contained HTML quality report (metrics tables, embedded PNG figures, notes) and figure helpers.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never through pyplot, so that
nothing leaks into a notebook's global figure state.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import Patch

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.geo.atomic import write_text_atomic

#: metric-name suffix → unit shown in the report
UNITS: dict[str, str] = {"_m2": "m²", "_m": "m", "_s": "s", "_pct": "%", "_px": "px", "_deg": "°"}
#: group of metric names without a dot
DEFAULT_GROUP = "general"
#: largest side, in pixels, of a raster drawn in a figure (larger ones are subsampled)
MAX_DRAWN_SIDE = 1000
Legend = Mapping[int, tuple[str, tuple[int, int, int]]]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #2a6f97; padding-bottom: .3rem; }
h2 { color: #2a6f97; margin-top: 2.2rem; }
.meta { color: #666; font-size: .9rem; }
table { border-collapse: collapse; margin: .5rem 0 1.2rem; font-size: .92rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .8rem; text-align: left; }
th { background: #f2f5f8; }
td.value { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.2rem 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #444; font-size: .9rem; }
"""


@dataclass
class Figure:
    """A figure of the report: a title, a caption and the matplotlib figure drawn as PNG."""

    title: str
    caption: str
    figure: MplFigure


def _new_figure(figsize: tuple[float, float]) -> MplFigure:
    fig = MplFigure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def split_metric_name(key: str) -> tuple[str, str, str]:
    """(group, name, unit) of a metric key: "dsm.nmad_m" → ("dsm", "nmad", "m").

    A unit suffix on the group applies to its members: "wall_time_s.chain" → ("wall_time", "chain", "s").
    """
    group, _, name = key.partition(".") if "." in key else (DEFAULT_GROUP, "", key)
    for suffix, unit in UNITS.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return group, name[: -len(suffix)], unit
    for suffix, unit in UNITS.items():
        if group.endswith(suffix) and len(group) > len(suffix):
            return group[: -len(suffix)], name, unit
    return group, name, ""


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{full}."))
        else:
            out[full] = value
    return out


def format_value(value: Any) -> str:
    """A metric value as text: floats with 6 significant digits, NaN as "n/a"."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return "n/a" if not math.isfinite(value) else f"{float(value):.6g}"
    return str(value)


def _png_base64(fig: MplFigure, dpi: int) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(
    title: str,
    metrics: Mapping[str, Any],
    figures: Sequence[Figure] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    notes: Sequence[str] | None = None,
    dpi: int = 100,
) -> str:
    """The report as an HTML string (see :func:`render_report`)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">Generated {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} by ai4geo_lab.</p>',
    ]
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for key, value in _flatten(metrics).items():
        group, name, unit = split_metric_name(str(key))
        groups.setdefault(group, []).append((name, format_value(value), unit))
    if groups:
        parts.append("<h2>Metrics</h2>")
        for group, rows in groups.items():
            parts += [f"<h3>{esc(group)}</h3>", '<table class="metrics">',
                      "<thead><tr><th>metric</th><th>value</th><th>unit</th></tr></thead>", "<tbody>"]
            parts += [f'<tr><td>{esc(n)}</td><td class="value">{esc(v)}</td><td>{esc(u)}</td></tr>'
                      for n, v, u in rows]
            parts += ["</tbody>", "</table>"]
    if figures:
        parts.append("<h2>Figures</h2>")
        for fig in figures:
            parts += [
                "<figure>",
                f'<img src="data:image/png;base64,{_png_base64(fig.figure, dpi)}" alt="{esc(fig.title)}">',
                f"<figcaption><strong>{esc(fig.title)}</strong>"
                + (f" — {esc(fig.caption)}" if fig.caption else "") + "</figcaption>",
                "</figure>",
            ]
    if tables:
        parts.append("<h2>Tables</h2>")
        for name, df in tables.items():
            parts += [f"<h3>{esc(str(name))}</h3>",
                      df.to_html(escape=True, border=0, classes="data", na_rep="n/a",
                                 float_format="{:.6g}".format)]
    if notes:
        parts += ["<h2>Notes</h2>", "<ul>", *(f"<li>{esc(str(n))}</li>" for n in notes), "</ul>"]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def render_report(
    path: str | Path,
    title: str,
    metrics: Mapping[str, Any],
    figures: list[Figure] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    notes: list[str] | None = None,
    dpi: int = 100,
) -> Path:
    """Write a self-contained HTML report atomically and return its path.

    ``metrics`` keys are "group.name_unit" (e.g. "dsm.nmad_m": group "dsm", unit from the suffix _m, _m2, _s,
    _pct, _px, _deg); nested dicts are flattened with dots. Figures are embedded as base64 PNG, tables
    rendered by ``DataFrame.to_html``; all text is HTML-escaped.
    """
    path = Path(path)
    text = render_html(title, metrics, figures, tables, notes, dpi=dpi)
    return write_text_atomic(path, text)


def _subsample(array: np.ndarray, categorical: bool = False, max_side: int = MAX_DRAWN_SIDE) -> np.ndarray:
    """The raster at most ``max_side`` pixels a side: aggregated by datashader (mean, or mode for classes)."""
    a = np.asarray(array)
    if a.ndim != 2:
        raise InvalidInputError(f"a raster figure needs a 2D array, got shape {a.shape}")
    rows, cols = a.shape
    if max(rows, cols) <= max_side:
        return a
    import datashader
    import xarray as xr

    scale = max_side / max(rows, cols)
    canvas = datashader.Canvas(plot_width=max(1, round(cols * scale)), plot_height=max(1, round(rows * scale)),
                               x_range=(-0.5, cols - 0.5), y_range=(-0.5, rows - 0.5))
    coords = {"y": np.arange(rows, dtype=np.float64), "x": np.arange(cols, dtype=np.float64)}
    data = a if categorical else a.astype(np.float32)
    out = canvas.raster(xr.DataArray(data, dims=("y", "x"), coords=coords),
                        downsample_method="mode" if categorical else "mean")
    return np.asarray(out.values)


def _robust_limits(
    arrays: Sequence[np.ndarray], vmin: float | None, vmax: float | None
) -> tuple[float, float]:
    """vmin/vmax, defaulting to the 2nd and 98th percentiles of all finite values."""
    if vmin is not None and vmax is not None:
        return vmin, vmax
    finite = np.concatenate([np.asarray(a, dtype=np.float64)[np.isfinite(a)] for a in arrays])
    lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
    return (float(lo) if vmin is None else vmin), (float(hi) if vmax is None else vmax)


def _class_rgba(array: np.ndarray, legend: Legend) -> np.ndarray:
    """RGBA image of a class raster; codes absent from the legend are transparent."""
    codes = list(legend)
    lut = np.zeros((len(codes) + 1, 4))
    for i, code in enumerate(codes):
        lut[i, :3] = np.asarray(legend[code][1], dtype=np.float64) / 255.0
        lut[i, 3] = 1.0
    idx = np.full(array.shape, len(codes), dtype=np.intp)
    for i, code in enumerate(codes):
        idx[array == code] = i
    return lut[idx]


def _draw(ax: Any, array: np.ndarray, cmap: str, vmin: float, vmax: float, legend: Legend | None) -> Any:
    a = _subsample(array, categorical=legend is not None)
    ax.set_xticks([])
    ax.set_yticks([])
    if legend is not None:
        return ax.imshow(_class_rgba(a, legend), interpolation="nearest")
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.85")
    return ax.imshow(np.ma.masked_invalid(a.astype(np.float64)), cmap=colormap, vmin=vmin, vmax=vmax,
                     interpolation="nearest")


def _legend_handles(legend: Legend) -> list[Patch]:
    # matplotlib's stubs list tuples and strings as colours; an RGB array is one too
    return [Patch(facecolor=np.asarray(rgb) / 255.0, edgecolor="0.3", label=name)  # type: ignore[arg-type]
            for name, rgb in legend.values()]


def raster_figure(
    array: np.ndarray,
    title: str,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    legend: Legend | None = None,
) -> MplFigure:
    """One raster: continuous with a colour bar (NaN grey, robust 2–98 % limits by default), or a class raster
    in the ``legend``'s colours (code → (name, RGB)) with a legend."""
    fig = _new_figure((6.5, 5.5))
    ax = fig.add_subplot()
    ax.set_title(title)
    lo, hi = (0.0, 1.0) if legend is not None else _robust_limits([array], vmin, vmax)
    image = _draw(ax, array, cmap, lo, hi, legend)
    if legend is not None:
        ax.legend(handles=_legend_handles(legend), loc="upper left", bbox_to_anchor=(1.02, 1),
                  fontsize="small")
    else:
        fig.colorbar(image, ax=ax, shrink=0.85)
    return fig


def side_by_side(
    arrays: Sequence[np.ndarray],
    titles: Sequence[str],
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    legend: Legend | None = None,
    suptitle: str | None = None,
) -> MplFigure:
    """Rasters in one row with shared colour limits and one colour bar (or one class legend)."""
    if len(arrays) != len(titles) or not arrays:
        raise InvalidInputError(f"side_by_side needs as many titles as arrays (≥ 1), got {len(arrays)} "
                                f"arrays and {len(titles)} titles")
    n = len(arrays)
    fig = _new_figure((4.2 * n + 1.5, 4.6))
    axes = [fig.add_subplot(1, n, i + 1) for i in range(n)]
    lo, hi = (0.0, 1.0) if legend is not None else _robust_limits(arrays, vmin, vmax)
    image = None
    for ax, array, title in zip(axes, arrays, titles, strict=True):
        ax.set_title(title)
        image = _draw(ax, array, cmap, lo, hi, legend)
    if legend is not None:
        fig.legend(handles=_legend_handles(legend), loc="outside right upper", fontsize="small")
    elif image is not None:
        fig.colorbar(image, ax=axes, shrink=0.85)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def error_histogram(errors: np.ndarray, title: str, bins: int = 80) -> MplFigure:
    """Histogram of the finite errors between their 0.5th and 99.5th percentiles (the tails are clipped into
    the outer bins), with zero, the median and a box of n, bias, RMSE and NMAD."""
    e = np.asarray(errors, dtype=np.float64).ravel()
    e = e[np.isfinite(e)]
    fig = _new_figure((6.5, 4.2))
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_ylabel("pixels")
    if e.size == 0:
        ax.text(0.5, 0.5, "no valid value", ha="center", va="center", transform=ax.transAxes)
        return fig
    lo, hi = np.percentile(e, [0.5, 99.5])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    ax.hist(np.clip(e, lo, hi), bins=bins, range=(lo, hi), color="#2a6f97")
    med = float(np.median(e))
    ax.axvline(0.0, color="0.2", linewidth=1)
    ax.axvline(med, color="#d62828", linestyle="--", linewidth=1, label=f"median {med:.3g}")
    nmad = 1.4826 * float(np.median(np.abs(e - med)))
    stats = f"n = {e.size}\nbias = {e.mean():.3g}\nRMSE = {np.sqrt(np.mean(e * e)):.3g}\nNMAD = {nmad:.3g}"
    ax.text(0.98, 0.95, stats, ha="right", va="top", transform=ax.transAxes, fontsize="small",
            bbox={"facecolor": "white", "edgecolor": "0.7"})
    ax.legend(loc="upper left", fontsize="small")
    return fig


def relief_figure(dem: np.ndarray, gsd: float, title: str) -> MplFigure:
    """An elevation model as colour (height) over shaded relief, with a colour bar."""
    from ai4geo_lab.geo.relief import hillshade

    fig = _new_figure((6.5, 5.5))
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    shade = _subsample(hillshade(np.nan_to_num(dem, nan=float(np.nanmedian(dem))), gsd))
    ax.imshow(shade, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    lo, hi = _robust_limits([dem], None, None)
    colormap = matplotlib.colormaps["terrain"].with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(_subsample(dem).astype(np.float64)), cmap=colormap, vmin=lo, vmax=hi,
                      alpha=0.55, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.85, label="m")
    return fig
