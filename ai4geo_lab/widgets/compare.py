"""Before/after swipe view and time slider (ipywidgets): compare two dates or step through a series.

The pictures are made here from arrays (``display_rgb``: a stretch for images, a legend for classes, a colour
map for one band) and shown as PNG, so the widgets work offline and without a tile server::

    SwipeView(before_rgb, after_rgb, labels=("2024-06-15", "2025-06-20"))
    TimeSlider([ndvi_1, ndvi_2, ...], labels=dates, cmap="RdYlGn", vmin=-0.2, vmax=0.9)
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from ai4geo_lab.errors import InvalidInputError, MissingDependencyError


def _widgets() -> Any:
    try:
        import ipywidgets
    except ImportError as exc:  # pragma: no cover - a dependency
        raise MissingDependencyError("the widgets need ipywidgets", "pip install ipywidgets") from exc
    return ipywidgets


def display_rgb(array: np.ndarray, bands: Sequence[int] = (0, 1, 2), legend: Any = None, cmap: str = "viridis",
                vmin: float | None = None, vmax: float | None = None, percentiles: tuple[float, float] = (2, 98),
                ) -> np.ndarray:
    """An (H, W, 3) uint8 picture of a raster array.

    (B, H, W) images: the ``bands`` stretched between ``percentiles`` (each band on its own); (H, W) class
    rasters with a ``legend`` (:class:`~ai4geo_lab.landcover.legend.Legend`): its colours; other (H, W)
    arrays: ``cmap`` between ``vmin`` and ``vmax`` (default: the percentiles). NaN is black.
    """
    a = np.asarray(array)
    if a.ndim == 2 and legend is not None:
        return legend.rgb(a)
    if a.ndim == 3:
        if max(bands) >= a.shape[0]:
            raise InvalidInputError(f"bands {list(bands)} asked of an image of {a.shape[0]} bands")
        out = np.zeros((*a.shape[1:], 3), np.uint8)
        for i, b in enumerate(bands):
            out[..., i] = _stretch(a[b].astype(np.float64), None, None, percentiles)
        return out
    if a.ndim != 2:
        raise InvalidInputError(f"cannot picture an array of shape {a.shape}", "give (H, W) or (B, H, W)")
    import matplotlib

    v = a.astype(np.float64)
    scaled = _stretch(v, vmin, vmax, percentiles) / 255.0
    rgb = (matplotlib.colormaps[cmap](scaled)[..., :3] * 255).astype(np.uint8)
    rgb[~np.isfinite(v)] = 0
    return rgb


def _stretch(v: np.ndarray, vmin: float | None, vmax: float | None, pct: tuple[float, float]) -> np.ndarray:
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return np.zeros(v.shape, np.uint8)
    lo = float(np.percentile(finite, pct[0])) if vmin is None else vmin
    hi = float(np.percentile(finite, pct[1])) if vmax is None else vmax
    if hi <= lo:
        hi = lo + 1e-9
    out = np.clip((v - lo) / (hi - lo), 0, 1) * 255
    return np.nan_to_num(out, nan=0).astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG encoding of an (H, W, 3) uint8 picture."""
    import matplotlib.image

    buf = io.BytesIO()
    matplotlib.image.imsave(buf, np.ascontiguousarray(rgb), format="png")
    return buf.getvalue()


def swipe_composite(before: np.ndarray, after: np.ndarray, position: float, vertical: bool = True,
                    line: tuple[int, int, int] | None = (255, 255, 255)) -> np.ndarray:
    """``before`` left of (or above) ``position`` (0–1 of the width or height), ``after`` beyond, with a line."""
    if before.shape != after.shape:
        raise InvalidInputError(f"the two pictures differ in shape: {before.shape} and {after.shape}",
                                "resample both dates onto one grid")
    out = after.copy()
    n = before.shape[1] if vertical else before.shape[0]
    cut = int(np.rint(float(np.clip(position, 0, 1)) * n))
    if vertical:
        out[:, :cut] = before[:, :cut]
        if line is not None and 0 < cut < n:
            out[:, cut - 1] = line
    else:
        out[:cut] = before[:cut]
        if line is not None and 0 < cut < n:
            out[cut - 1] = line
    return out


class SwipeView:
    """Two pictures of one place, one swiped over the other with a slider (``position`` 0–1)."""

    def __init__(self, before: np.ndarray, after: np.ndarray, labels: tuple[str, str] = ("before", "after"),
                 position: float = 0.5, vertical: bool = True, width: int = 600, **picture: Any) -> None:
        w = _widgets()
        self.before = before if before.ndim == 3 and before.shape[-1] == 3 and before.dtype == np.uint8 \
            else display_rgb(before, **picture)
        self.after = after if after.ndim == 3 and after.shape[-1] == 3 and after.dtype == np.uint8 \
            else display_rgb(after, **picture)
        if self.before.shape != self.after.shape:
            raise InvalidInputError(f"the two dates differ in shape: {self.before.shape[:2]} and "
                                    f"{self.after.shape[:2]}", "resample both onto one grid")
        self.vertical = vertical
        self.slider = w.FloatSlider(value=position, min=0.0, max=1.0, step=0.01, readout=False,
                                    description="swipe", layout=w.Layout(width=f"{width}px"))
        self.image = w.Image(format="png", layout=w.Layout(width=f"{width}px"))
        self.caption = w.HTML()
        self.labels = labels
        self.slider.observe(lambda change: self.render(), names="value")
        self.widget = w.VBox([self.caption, self.image, self.slider])
        self.render()

    @property
    def position(self) -> float:
        """Where the swipe is (0: all after, 1: all before)."""
        return float(self.slider.value)

    @position.setter
    def position(self, value: float) -> None:
        self.slider.value = float(np.clip(value, 0, 1))

    def composite(self) -> np.ndarray:
        """The picture shown now."""
        return swipe_composite(self.before, self.after, self.position, self.vertical)

    def render(self) -> None:
        """Redraw for the slider's position."""
        self.image.value = png_bytes(self.composite())
        left, right = self.labels
        self.caption.value = f"<b>{left}</b> ◀ {self.position:.0%} ▶ <b>{right}</b>"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class TimeSlider:
    """A series of pictures of one place, one shown at a time, chosen with a slider (and a play button)."""

    def __init__(self, frames: Sequence[np.ndarray], labels: Sequence[str] | None = None, index: int = 0,
                 width: int = 600, interval_ms: int = 600, **picture: Any) -> None:
        w = _widgets()
        if not frames:
            raise InvalidInputError("a time slider needs at least one frame")
        self.frames = [f if f.ndim == 3 and f.shape[-1] == 3 and f.dtype == np.uint8 else display_rgb(f, **picture)
                       for f in frames]
        shapes = {f.shape for f in self.frames}
        if len(shapes) > 1:
            raise InvalidInputError(f"the frames differ in shape: {sorted(shapes)}", "resample them onto one grid")
        self.labels = list(labels) if labels is not None else [str(i) for i in range(len(frames))]
        if len(self.labels) != len(self.frames):
            raise InvalidInputError(f"{len(self.frames)} frames but {len(self.labels)} labels")
        n = len(self.frames) - 1
        self.slider = w.IntSlider(value=min(max(index, 0), n), min=0, max=n, description="date",
                                  readout=False, layout=w.Layout(width=f"{width - 80}px"))
        self.play = w.Play(value=self.slider.value, min=0, max=n, interval=interval_ms)
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.image = w.Image(format="png", layout=w.Layout(width=f"{width}px"))
        self.caption = w.HTML()
        self.slider.observe(lambda change: self.render(), names="value")
        self.widget = w.VBox([self.caption, self.image, w.HBox([self.play, self.slider])])
        self.render()

    @property
    def index(self) -> int:
        """The frame shown."""
        return int(self.slider.value)

    @index.setter
    def index(self, value: int) -> None:
        self.slider.value = int(value)

    def render(self) -> None:
        """Redraw for the slider's position."""
        self.image.value = png_bytes(self.frames[self.index])
        self.caption.value = f"<b>{self.labels[self.index]}</b> ({self.index + 1}/{len(self.frames)})"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
