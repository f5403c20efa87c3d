""""Go to" on the AI4GEO Map, in a real jupyter-lab driven in Debian's Chromium: a box or a point typed in the field
takes the map there (the DSM seen from far away fills the view after its box is typed), and text that names no
place is marked, with its message beside the field."""

from __future__ import annotations

import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args, _saturated_share
from tests.labextension.test_stac_map_browser import tiles_loaded


def _view(page) -> tuple[float, float, int]:
    lat, lon, zoom = page.locator(".ai4geo-mapview-map").get_attribute("data-view").split(",")
    return float(lat), float(lon), int(zoom)


@pytest.mark.browser
@pytest.mark.slow
def test_go_to_a_box_a_point_and_a_typo(tmp_path, jupyter_lab, chromium):
    pytest.importorskip("rio_tiler")
    from ai4geo_lab.maps import raster_info
    from tests.maps.conftest import write_products

    root = tmp_path / "lab"
    products = write_products(root)
    west, south, east, north = raster_info(products["dsm"])["bounds"]
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/lab?token={token}")
    try:
        item = page.locator(".jp-DirListing-item", has_text="dsm.tif").first
        item.wait_for(timeout=60_000)
        item.click(button="right")
        page.locator(".lm-Menu-item", has_text="Open on map").click()
        page.wait_for_selector(".ai4geo-mapview-layer[data-state='loaded']", timeout=60_000)
        view = page.locator(".ai4geo-mapview")
        field = view.locator(".ai4geo-goto-input")
        message = view.locator(".ai4geo-goto-message")

        # far away first: a point typed as "lat, lon"
        field.fill("48.8566, 2.3522")
        field.press("Enter")
        page.wait_for_function("() => { const v = document.querySelector('.ai4geo-mapview-map').dataset.view;"
                               " return v && Math.abs(Number(v.split(',')[0]) - 48.8566) < 1e-3 }", timeout=20_000)
        _, lon, zoom = _view(page)
        assert lon == pytest.approx(2.3522, abs=1e-3) and zoom >= 15
        assert message.inner_text() == "" and "ai4geo-invalid" not in (field.get_attribute("class") or "")
        # the DSM's box (west, south, east, north): the map goes there and the DSM fills the view
        field.fill(f"{west:.6f}, {south:.6f}, {east:.6f}, {north:.6f}")
        field.press("Enter")
        page.wait_for_function(
            f"() => {{ const v = (document.querySelector('.ai4geo-mapview-map').dataset.view || '').split(',');"
            f" return Math.abs(Number(v[0]) - {(south + north) / 2}) < 1e-3"
            f" && Math.abs(Number(v[1]) - {(west + east) / 2}) < 1e-3 }}", timeout=20_000)
        tiles_loaded(page)
        shot = view.locator(".ai4geo-mapview-map").screenshot(path=str(ARTIFACTS / "lab_map_goto_box.png"))
        assert _saturated_share(shot) > 0.2  # the DSM's colours fill much of the view
        # a typo: marked, with its message beside the field, and the map stays where it is
        before = _view(page)
        field.fill("48.85 2.35 x")
        field.press("Enter")
        message.wait_for(state="visible", timeout=10_000)
        assert "not a place" in message.inner_text() and "ai4geo-invalid" in field.get_attribute("class")
        field.fill("2.5, 1.0, 2.4, 1.1")  # west > east
        field.press("Enter")
        page.wait_for_function("() => document.querySelector('.ai4geo-goto-message').textContent"
                               ".includes('west < east')", timeout=10_000)
        view.screenshot(path=str(ARTIFACTS / "lab_map_goto_error.png"))
        assert _view(page) == before
        field.press("Escape")
        assert message.inner_text() == "" and field.input_value() == ""
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_map_goto_failure.png"))
        raise
