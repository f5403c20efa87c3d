"""Land cover and a change mask on the AI4GEO Map in a real jupyter-lab driven in Debian's Chromium: opened from the
file browser, each class is drawn in its legend's colour in the map canvas, the legend lists the class names, and
the value under the mouse is read as the class's name."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.labextension.test_map_browser import ARTIFACTS, lab_page, open_on_map, wait_for_tiles


def _has_colour(png: bytes, hex_colour: str, tol: int = 12) -> float:
    """Share of the pixels within ``tol`` of ``hex_colour`` in each channel."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    want = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return float((np.abs(rgb - want).max(-1) <= tol).mean())


@pytest.mark.browser
@pytest.mark.slow
def test_land_cover_and_change_on_the_map(tmp_path, jupyter_lab, chromium):
    pytest.importorskip("rio_tiler")
    from ai4geo_lab.maps import raster_info
    from tests.maps.conftest import write_products

    root = tmp_path / "lab"
    root.mkdir()
    made = write_products(tmp_path / "made")
    for kind in ("landcover", "change"):
        made[kind].rename(root / f"{kind}.tif")
    legend = raster_info(root / "landcover.tif")["legend"]["items"]
    change_colour = raster_info(root / "change.tif")["legend"]["items"][0]["color"]
    page = lab_page(tmp_path, root, jupyter_lab, chromium, width=1400, height=900)
    try:
        open_on_map(page, "landcover.tif", 1)
        view = page.locator(".ai4geo-mapview")
        layer = view.locator(".ai4geo-mapview-layer").first
        layer.locator(".ai4geo-opacity").fill("1")
        wait_for_tiles(page)
        the_map = view.locator(".ai4geo-mapview-map")
        shot = the_map.screenshot(path=str(ARTIFACTS / "lab_map_landcover.png"))
        for item in legend:  # four vertical stripes, one per class, each in its legend colour
            assert _has_colour(shot, item["color"]) > 0.01, item
        text = layer.inner_text()
        assert all(item["label"] in text for item in legend), text

        # the class under the mouse, by name: the third stripe from the left is grassland (code 3)
        box = the_map.bounding_box()
        grass = next(i for i in legend if i["value"] == 3)
        readout = view.locator(".ai4geo-mapview-value[data-state='value']")
        found = False
        for dx in range(-200, 201, 20):  # walk across the stripes until grassland is read
            page.mouse.move(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] * 0.6, steps=2)
            page.wait_for_timeout(150)
            if readout.count() and grass["label"] in readout.inner_text():
                found = True
                break
        assert found, "no value under the mouse named the grassland class"

        # the change mask on top, in its colour
        open_on_map(page, "change.tif", 2)
        page.wait_for_function("() => [...document.querySelectorAll('.ai4geo-mapview-layer')]"
                               ".every(l => l.dataset.state === 'loaded')", timeout=60_000)
        page.wait_for_timeout(800)
        shot = the_map.screenshot(path=str(ARTIFACTS / "lab_map_change.png"))
        assert _has_colour(shot, change_colour, tol=40) > 0.01
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_map_classes_failure.png"))
        raise
