"""Vectors on the AI4GEO Map in a real jupyter-lab driven in Debian's Chromium: thousands of buildings from a
GeoPackage (in UTM) opened from the file browser are drawn in the map canvas; a GeoJSON and a GeoTIFF open on a
map by double-click; a file that cannot be read gives one clear line."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args


def _share_of(png: bytes, rgb: tuple[int, int, int], tol: int = 70) -> float:
    """Share of the pixels near the colour ``rgb`` blended at any opacity over the light offline base."""
    from PIL import Image

    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)
    base = np.array([244.0, 247.0, 251.0])
    target = np.array(rgb, float)
    # the opacity that best explains each pixel as base·(1−a) + colour·a, and how far the pixel is from that
    a = np.clip(((px - base) @ (target - base)) / ((target - base) @ (target - base)), 0, 1)
    blended = base + a[..., None] * (target - base)
    near = np.abs(px - blended).max(-1) < tol / 3
    return float((near & (a > 0.25)).mean())


def _item(page, name: str):
    item = page.locator(".jp-DirListing-item", has_text=name)
    item.first.wait_for(timeout=60_000)
    return item.first


@pytest.mark.browser
@pytest.mark.slow
def test_vectors_and_double_click(tmp_path, jupyter_lab, chromium):
    pytest.importorskip("rio_tiler")
    from tests.maps.conftest import write_products
    from tests.maps.test_vectors import write_vectors

    root = tmp_path / "lab"
    made = write_vectors(tmp_path / "made", n_side=60)  # 3,600 buildings in UTM 31N
    root.mkdir()
    made["gpkg"].rename(root / "buildings.gpkg")
    made["geojson"].rename(root / "small.geojson")
    write_products(tmp_path / "rasters")["dsm"].rename(root / "dsm.tif")
    (root / "junk.gpkg").write_bytes(b"\x00 this is not a GeoPackage" * 40)
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/lab?token={token}")
    try:
        _drive(page, root)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_vector_failure.png"))
        raise


def _drive(page, root) -> None:
    # ---- right-click → Open on map: the buildings drawn in the layer's colour ----
    _item(page, "buildings.gpkg").click(button="right")
    page.locator(".lm-Menu-item", has_text="Open on map").click()
    layer = page.locator(".ai4geo-mapview-layer[data-type='vector'][data-state='loaded']")
    layer.wait_for(timeout=60_000)
    assert layer.get_attribute("data-features") == "3600"
    assert "3,600 features · Polygon · from EPSG:32631" in layer.locator(".ai4geo-layer-meta").inner_text()
    colour = layer.get_attribute("data-colour")
    rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    view = page.locator(".ai4geo-mapview").first
    the_map = view.locator(".ai4geo-mapview-map")
    page.wait_for_timeout(500)  # the zoom to the layer
    assert view.locator("canvas").count() >= 1  # features are drawn on a canvas, not as thousands of SVG nodes
    shot = the_map.screenshot(path=str(ARTIFACTS / "lab_map_buildings.png"))
    covered = _share_of(shot, rgb)
    assert covered > 0.12, covered  # 12 m buildings every 20 m: a good part of the view

    # panning keeps them drawn
    box = the_map.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2 + 60, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)
    assert _share_of(the_map.screenshot(), rgb) > 0.08

    # a click on a building shows its attributes
    page.mouse.click(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2 + 60)
    # (the click may fall between buildings: the pop-up is checked only when it comes)
    popup = page.locator(".ai4geo-feature")
    if popup.count():
        assert "height" in popup.inner_text()

    # ---- a file that cannot be read: one line, no server path, no stack ----
    _item(page, "junk.gpkg").click(button="right")
    page.locator(".lm-Menu-item", has_text="Open on map").click()
    status = view.locator(".ai4geo-status.ai4geo-error")
    status.wait_for(timeout=30_000)
    text = status.inner_text()
    assert text.startswith("junk.gpkg cannot be read as vector data"), text
    assert "\n" not in text and str(root) not in text and "Traceback" not in text and "File " not in text
    assert view.locator(".ai4geo-mapview-layer").count() == 1  # the buildings stay

    # ---- double-click: map documents for a GeoJSON and a GeoTIFF (not a text editor, not a broken image) ----
    _item(page, "small.geojson").dblclick()
    doc = page.locator(".jp-Document.ai4geo-map-document", has=page.locator(
        ".ai4geo-mapview-layer[data-path='small.geojson'][data-state='loaded']"))
    doc.wait_for(timeout=60_000)
    assert page.locator(".lm-TabBar-tab.lm-mod-current", has_text="small.geojson").count() == 1
    _item(page, "dsm.tif").dblclick()
    raster = page.locator(".ai4geo-mapview-layer[data-path='dsm.tif'][data-state='loaded']")
    raster.wait_for(timeout=60_000)
    assert page.locator(".jp-ImageViewer").count() == 0
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "lab_map_double_click_dsm.png"))
