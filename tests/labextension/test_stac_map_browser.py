"""A run's STAC catalogue on the AI4GEO Map in a real jupyter-lab driven in Debian's Chromium: right-click its
``stac/catalog.json`` → Open on map adds both products it lists (a DSM as a raster layer, buildings as a vector
layer) under the catalogue's title, both drawn on the map; double-click opens it as a map document; a JSON that is
no catalogue gives one line."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args
from tests.labextension.test_vector_map_browser import _item, _share_of


def _saturated(png: bytes) -> np.ndarray:
    """Where the pixels have a clear colour (the offline base map is grey-blue, its lines grey)."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return (rgb.max(-1) - rgb.min(-1)) > 40


def tiles_loaded(page) -> None:
    page.wait_for_function("() => { const t = [...document.querySelectorAll('.ai4geo-raster-tiles img')];"
                           " return t.length > 0 && t.every(i => i.complete) }", timeout=60_000)
    page.wait_for_timeout(600)  # Leaflet fades tiles in


@pytest.mark.browser
@pytest.mark.slow
def test_open_a_run_catalogue_on_the_map(tmp_path, jupyter_lab, chromium):
    pytest.importorskip("rio_tiler")
    from tests.maps.test_stac import write_catalogue

    root = tmp_path / "lab"
    write_catalogue(root / "run", title="Run of the test city")
    (root / "notes.json").write_text('{"not": "stac"}')
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/lab?token={token}")
    try:
        _item(page, "run").dblclick()
        _item(page, "stac").dblclick()
        _item(page, "catalog.json").click(button="right")
        page.locator(".lm-Menu-item", has_text="Open on map").click()
        group = page.locator(".ai4geo-mapview-group[data-state='loaded']")
        group.wait_for(timeout=60_000)
        assert group.locator(".ai4geo-group-title").inner_text() == "Run of the test city"
        assert "2 items · 2 layers" in group.locator(".ai4geo-layer-meta").first.inner_text()
        layers = group.locator(".ai4geo-mapview-layer")
        assert layers.count() == 2
        assert sorted(layers.nth(i).get_attribute("data-path") for i in range(2)) == [
            "run/buildings.geojson", "run/dsm.tif"]
        vector = group.locator(".ai4geo-mapview-layer[data-type='vector']")
        colour = vector.get_attribute("data-colour")
        rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        tiles_loaded(page)
        view = page.locator(".ai4geo-mapview").first
        the_map = view.locator(".ai4geo-mapview-map")
        shot = the_map.screenshot(path=str(ARTIFACTS / "lab_map_stac_catalogue.png"))
        # the DSM lies west of the buildings: the map's left part shows its colours, the right part the buildings
        saturated = _saturated(shot)
        width = saturated.shape[1]
        assert saturated[:, : width * 2 // 5].mean() > 0.15, saturated[:, : width * 2 // 5].mean()
        from PIL import Image

        right = io.BytesIO()
        Image.open(io.BytesIO(shot)).crop((width * 3 // 5, 0, width, saturated.shape[0])).save(right, "PNG")
        assert _share_of(right.getvalue(), rgb) > 0.08
        assert view.locator(".ai4geo-status.ai4geo-error").count() == 0

        # a JSON that is no STAC catalogue: one line
        page.locator(".jp-BreadCrumbs-home").click()
        _item(page, "notes.json").click(button="right")
        page.locator(".lm-Menu-item", has_text="Open on map").click()
        status = view.locator(".ai4geo-status.ai4geo-error")
        status.wait_for(timeout=30_000)
        text = status.inner_text()
        assert text.startswith("notes.json cannot be read as a STAC catalogue"), text
        assert "\n" not in text and str(root) not in text
        assert view.locator(".ai4geo-mapview-layer").count() == 2

        # double-click on a catalog.json: a map document of its products
        _item(page, "run").dblclick()
        _item(page, "stac").dblclick()
        _item(page, "catalog.json").dblclick()
        doc = page.locator(".jp-Document.ai4geo-map-document", has=page.locator(
            ".ai4geo-mapview-group[data-state='loaded'][data-layers='2']"))
        doc.wait_for(timeout=60_000)
        assert page.locator(".lm-TabBar-tab.lm-mod-current", has_text="catalog.json").count() == 1
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "lab_map_stac_document.png"))
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_map_stac_failure.png"))
        raise
