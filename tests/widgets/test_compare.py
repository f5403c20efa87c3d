"""Swipe view and time slider: pictures from arrays, the slider moves the swipe / the date."""

from __future__ import annotations

import io

import matplotlib.image
import numpy as np
import pytest

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.landcover.legend import SAMPLE_CITY
from ai4geo_lab.widgets import SwipeView, TimeSlider
from ai4geo_lab.widgets.compare import display_rgb, png_bytes, swipe_composite


def _decode(png: bytes) -> np.ndarray:
    return (matplotlib.image.imread(io.BytesIO(png))[..., :3] * 255).round().astype(np.uint8)


def test_pictures_of_images_classes_and_bands():
    img = np.stack([np.linspace(0, 1, 20).reshape(4, 5)] * 4)
    rgb = display_rgb(img, bands=(3, 1, 0))
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8 and rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
    classes = np.array([[1, 6], [0, 3]], np.uint8)
    pic = display_rgb(classes, legend=SAMPLE_CITY)
    assert pic[0, 0].tolist() == list(SAMPLE_CITY.classes[0].color) and pic[1, 0].tolist() == [0, 0, 0]
    band = np.array([[0.0, np.nan], [0.5, 1.0]])
    one = display_rgb(band, cmap="gray", vmin=0, vmax=1)
    assert one[0, 1].tolist() == [0, 0, 0] and one[1, 1].tolist() == [255, 255, 255]
    with pytest.raises(InvalidInputError):
        display_rgb(np.zeros((2, 3, 3)), bands=(0, 1, 2, 5))
    assert _decode(png_bytes(one)).shape == (2, 2, 3)


def test_swipe_composite_and_view():
    before = np.zeros((10, 20, 3), np.uint8)
    after = np.full((10, 20, 3), 200, np.uint8)
    c = swipe_composite(before, after, 0.25, line=None)
    assert (c[:, :5] == 0).all() and (c[:, 5:] == 200).all()
    h = swipe_composite(before, after, 0.5, vertical=False)
    assert (h[:4] == 0).all() and (h[4] == 255).all() and (h[5:] == 200).all()
    view = SwipeView(before, after, labels=("2024", "2025"), position=0.5)
    assert "2024" in view.caption.value and "50%" in view.caption.value
    shown = _decode(view.image.value)
    assert (shown[:, :9] == 0).all() and (shown[:, 10:] == 200).all()
    view.slider.value = 0.9  # the user drags the slider: the picture follows
    shown = _decode(view.image.value)
    assert (shown[:, :17] == 0).all() and (shown[:, 18:] == 200).all() and "90%" in view.caption.value
    view.position = 2.0
    assert view.position == 1.0 and (view.composite() == 0).all()
    with pytest.raises(InvalidInputError, match="differ in shape"):
        SwipeView(before, after[:5])
    arrays = SwipeView(np.zeros((4, 8, 8)), np.ones((4, 8, 8)))  # raw arrays are pictured first
    assert arrays.before.shape == (8, 8, 3)


def test_time_slider_steps_through_dates():
    frames = [np.full((6, 6), v, np.float32) for v in (0.0, 0.5, 1.0)]
    ts = TimeSlider(frames, labels=["2017-01", "2017-05", "2017-09"], cmap="gray", vmin=0, vmax=1)
    assert ts.index == 0 and "2017-01" in ts.caption.value and (_decode(ts.image.value) == 0).all()
    ts.slider.value = 2
    assert "2017-09" in ts.caption.value and "(3/3)" in ts.caption.value
    assert (_decode(ts.image.value) == 255).all()
    ts.index = 1
    assert 120 <= int(_decode(ts.image.value)[0, 0, 0]) <= 135 and ts.play.max == 2
    with pytest.raises(InvalidInputError, match="labels"):
        TimeSlider(frames, labels=["a"])
    with pytest.raises(InvalidInputError, match="at least one"):
        TimeSlider([])
