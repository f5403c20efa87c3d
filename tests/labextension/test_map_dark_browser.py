"""The AI4GEO Map under "JupyterLab Dark", in a real jupyter-lab driven in Debian's Chromium: after the theme is
switched from the Settings menu, the layer list, the map's controls and the side panels are dark (only the base map
keeps its own colours)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args
from tests.labextension.test_map_state_browser import _open_on_map


def _luminance(png: bytes) -> np.ndarray:
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


@pytest.mark.browser
@pytest.mark.slow
def test_dark_theme(tmp_path, jupyter_lab, chromium):
    pytest.importorskip("rio_tiler")
    from tests.maps.conftest import write_products

    root = tmp_path / "lab"
    root.mkdir()
    write_products(tmp_path / "made")["dsm"].rename(root / "dsm.tif")
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/lab?token={token}")
    try:
        _open_on_map(page, "dsm.tif")
        view = page.locator(".ai4geo-mapview").first
        side = view.locator(".ai4geo-mapview-side")
        zoom = view.locator(".leaflet-control-zoom")
        light_side = np.median(_luminance(side.screenshot()))
        assert light_side > 200  # the light theme first

        page.locator(".lm-MenuBar-item", has_text="Settings").click()
        page.locator(".lm-Menu-item", has_text="Theme").first.hover()
        page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
        page.wait_for_selector("body[data-jp-theme-name='JupyterLab Dark']", state="attached", timeout=30_000)
        page.wait_for_timeout(800)
        page.mouse.move(5, 880)
        page.screenshot(path=str(ARTIFACTS / "lab_map_dark.png"))

        # the layer list (its background, legend and buttons), the zoom buttons, the scale and attribution
        assert np.median(_luminance(side.screenshot())) < 70
        assert np.median(_luminance(view.locator(".ai4geo-mapview-layer").screenshot())) < 70
        assert np.median(_luminance(zoom.screenshot())) < 90
        assert np.median(_luminance(view.locator(".leaflet-control-scale-line").screenshot())) < 110
        assert np.median(_luminance(view.locator(".leaflet-control-attribution").screenshot())) < 110
        # the side panels: the clusters panel and the search panel (outside its map)
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='ai4geo-clusters']").click()
        panel = page.locator("#ai4geo-clusters")
        panel.wait_for(state="visible", timeout=10_000)
        assert np.median(_luminance(panel.screenshot())) < 70
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='ai4geo-search']").click()
        search = page.locator("#ai4geo-search")
        search.wait_for(state="visible", timeout=10_000)
        page.wait_for_timeout(500)
        shot = _luminance(search.screenshot(path=str(ARTIFACTS / "lab_search_dark.png")))
        box = search.bounding_box()
        map_box = search.locator(".ai4geo-map").bounding_box()
        top = int(map_box["y"] - box["y"])
        bottom = int(map_box["y"] + map_box["height"] - box["y"])
        outside = np.concatenate([shot[:max(top, 1)].ravel(), shot[bottom:].ravel()])
        assert np.median(outside) < 70
        assert np.median(_luminance(search.locator(".leaflet-control-zoom").screenshot())) < 90
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_map_dark_failure.png"))
        raise
