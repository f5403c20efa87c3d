"""The AI4GEO Map kept with the workspace, in a real jupyter-lab driven in Debian's Chromium: a map tab with a DSM
(faded) and buildings (hidden), zoomed in and panned, comes back as it was after the page is reloaded."""

from __future__ import annotations

import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args, _saturated_share
from tests.labextension.test_stac_map_browser import tiles_loaded
from tests.labextension.test_vector_map_browser import _item

VECTORS_PAINTED = """() => [...document.querySelectorAll('.ai4geo-mapview .leaflet-overlay-pane canvas')].some(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < d.length; i += 4) { if (d[i]) { return true; } }
  return false;
})"""


def _open_on_map(page, name: str) -> None:
    _item(page, name).click(button="right")
    page.locator(".lm-Menu-item", has_text="Open on map").click()
    page.locator(f".ai4geo-mapview-layer[data-path='{name}'][data-state='loaded']").wait_for(timeout=60_000)


@pytest.mark.browser
@pytest.mark.slow
def test_the_map_comes_back_after_a_reload(tmp_path, jupyter_lab, chromium):
    pytest.importorskip("rio_tiler")
    from tests.maps.test_stac import write_catalogue

    root = tmp_path / "lab"
    run = root / "run"
    write_catalogue(run)
    (run / "dsm.tif").rename(root / "dsm.tif")
    (run / "buildings.geojson").rename(root / "buildings.geojson")
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/lab?token={token}")
    kept = None
    try:
        _open_on_map(page, "dsm.tif")
        _open_on_map(page, "buildings.geojson")
        page.wait_for_function(VECTORS_PAINTED, timeout=10_000)  # the buildings are drawn on the canvas
        view = page.locator(".ai4geo-mapview").first
        the_map = view.locator(".ai4geo-mapview-map")
        view.locator(".ai4geo-mapview-layer[data-path='buildings.geojson'] .ai4geo-visible").uncheck()
        view.locator(".ai4geo-mapview-layer[data-path='dsm.tif'] .ai4geo-opacity").fill("0.6")
        # onto the DSM, zoomed in and panned
        view.locator(".ai4geo-mapview-layer[data-path='dsm.tif'] .ai4geo-layer-zoom").click()
        page.wait_for_timeout(500)
        before = the_map.get_attribute("data-view")
        view.locator(".leaflet-control-zoom-in").click()
        page.wait_for_function(f"() => document.querySelector('.ai4geo-mapview-map').dataset.view !== '{before}'")
        box = the_map.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 40, steps=8)
        page.mouse.up()
        page.wait_for_timeout(400)
        kept = the_map.get_attribute("data-view")
        assert kept != before
        tiles_loaded(page)
        shot = the_map.screenshot(path=str(ARTIFACTS / "lab_map_state_before_reload.png"))
        page.wait_for_timeout(2500)  # the map's state, then the workspace, are saved a moment after the last change

        page.reload()
        layer = page.locator(".ai4geo-mapview-layer[data-path='dsm.tif'][data-state='loaded']")
        layer.wait_for(timeout=60_000)
        page.locator(".ai4geo-mapview-layer[data-path='buildings.geojson'][data-state='loaded']").wait_for(
            timeout=60_000)
        view = page.locator(".ai4geo-mapview").first
        the_map = view.locator(".ai4geo-mapview-map")
        lat, lon, zoom = (float(v) for v in kept.split(","))
        page.wait_for_function(
            "([lat, lon, zoom]) => { const v = (document.querySelector('.ai4geo-mapview-map').dataset.view || '')"
            ".split(',').map(Number); return v.length === 3 && v[2] === zoom && Math.abs(v[0] - lat) < 2e-5"
            " && Math.abs(v[1] - lon) < 2e-5 }", arg=[lat, lon, zoom], timeout=20_000)
        assert page.locator(".lm-TabBar-tab", has_text="AI4GEO Map").count() == 1
        assert layer.locator(".ai4geo-layer-title").inner_text() == "dsm.tif"
        assert layer.locator(".ai4geo-opacity").input_value() == "0.6"
        hidden = view.locator(".ai4geo-mapview-layer[data-path='buildings.geojson']")
        assert hidden.get_attribute("data-visible") == "false"
        assert not hidden.locator(".ai4geo-visible").is_checked()
        assert page.evaluate("() => document.querySelector('.ai4geo-raster-tiles').style.opacity") == "0.6"
        tiles_loaded(page)
        again = the_map.screenshot(path=str(ARTIFACTS / "lab_map_state_after_reload.png"))
        share = _saturated_share(again)
        assert share > 0.1 and abs(share - _saturated_share(shot)) < 0.1, (share, _saturated_share(shot))
        # the hidden buildings draw nothing: vectors go on a canvas, which holds no painted pixel
        assert page.evaluate(VECTORS_PAINTED) is False
    except Exception:
        print("view kept:", kept, "view now:", page.evaluate(
            "() => document.querySelector('.ai4geo-mapview-map')?.dataset.view"))
        page.screenshot(path=str(ARTIFACTS / "lab_map_state_failure.png"))
        raise
