"""Finding data on a fresh Lab, in a real jupyter-lab driven in Debian's Chromium: with an empty local catalogue
the search panel says so kindly and offers to add a catalogue folder; once added, its extent is drawn on the maps
and "zoom to catalogue" takes the view there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args


@pytest.mark.browser
@pytest.mark.slow
def test_empty_catalogue_then_add_a_folder(tmp_path, small_city, jupyter_lab, chromium):
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copytree(small_city.root, root / "city")
    (root / "notes").mkdir()
    ws = tmp_path / "ws"  # a fresh workspace: nothing in the local catalogue
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, {"AI4GEO_WORKSPACE": str(ws)}, tuple(args))

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/lab?token={token}")
    try:
        _drive(page, root)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_find_data_failure.png"))
        raise


def _add(page, folder: str) -> None:
    page.locator("#ai4geo-search .ai4geo-add-catalogue").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill(folder)
    dialog.locator("button.jp-mod-accept").click()
    dialog.wait_for(state="detached")


def _drive(page, root: Path) -> None:
    page.locator(".jp-SideBar [data-id='ai4geo-search']").wait_for(timeout=60_000)
    page.locator(".jp-SideBar [data-id='ai4geo-search']").click()
    panel = page.locator("#ai4geo-search")
    page.wait_for_selector("#ai4geo-search[data-ready='true']", timeout=60_000)
    page.wait_for_selector("#ai4geo-search[data-catalogue='empty']", timeout=30_000)

    # a friendly message and a button, not a red error
    empty = panel.locator(".ai4geo-empty-catalogue")
    assert empty.is_visible()
    assert empty.locator(".ai4geo-empty-title").inner_text() == "The local catalogue has no data yet."
    assert "ai4geo demo" in empty.inner_text()
    assert panel.locator(".ai4geo-add-catalogue").inner_text() == "Add a catalogue folder…"
    status = panel.locator(".ai4geo-status").first
    assert status.inner_text().strip() == "" and "ai4geo-error" not in (status.get_attribute("class") or "")
    assert panel.locator(".ai4geo-zoom-catalogue a.leaflet-disabled").count() == 1
    panel.screenshot(path=str(ARTIFACTS / "lab_search_empty_catalogue.png"))

    # a folder without a catalogue: one line beside the button, no server path
    _add(page, "notes")
    error = panel.locator(".ai4geo-empty-error")
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-empty-error').textContent !== ''")
    text = error.inner_text()
    assert text.startswith("notes holds no catalog.json"), text
    assert "\n" not in text and str(root) not in text and "Traceback" not in text

    # the sample city's folder: collections come, the message goes, the extent is drawn
    _add(page, "city")
    page.wait_for_selector("#ai4geo-search[data-catalogue='ready']", timeout=30_000)
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-collection').value !== ''")
    assert not empty.is_visible()
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-map').dataset.catalogue === '1'")
    assert "added to the local catalogue" in panel.locator(".ai4geo-status").first.inner_text()
    extent = panel.locator("path.ai4geo-catalogue-extent")
    extent.wait_for(timeout=10_000)
    page.wait_for_timeout(400)  # the zoom animation
    box = extent.bounding_box()
    map_box = panel.locator(".ai4geo-map").bounding_box()
    assert box["width"] > 0.5 * map_box["width"] or box["height"] > 0.5 * map_box["height"], (box, map_box)
    panel.screenshot(path=str(ARTIFACTS / "lab_search_catalogue_added.png"))

    # the AI4GEO Map draws the extent on load; "zoom to catalogue" takes the view there from the world view
    page.locator(".jp-Launcher-section .jp-LauncherCard", has_text="AI4GEO Map").click()
    view = page.locator(".ai4geo-mapview")
    page.wait_for_function("() => (document.querySelector('.ai4geo-mapview-map') || {dataset: {}})"
                           ".dataset.catalogue === '1'", timeout=30_000)
    dot = view.locator("path.ai4geo-catalogue-dot")
    assert dot.count() == 1  # seen at world scale, where the box is a speck
    view.locator(".ai4geo-zoom-catalogue a").click()
    page.wait_for_timeout(600)
    box = view.locator("path.ai4geo-catalogue-extent").bounding_box()
    map_box = view.locator(".ai4geo-mapview-map").bounding_box()
    assert box["width"] > 150 and box["height"] > 150, box  # the 200 m city fills a good part of the view
    centre = (box["x"] + box["width"] / 2 - map_box["x"], box["y"] + box["height"] / 2 - map_box["y"])
    assert abs(centre[0] - map_box["width"] / 2) < 30 and abs(centre[1] - map_box["height"] / 2) < 30, centre
    view.screenshot(path=str(ARTIFACTS / "lab_map_catalogue_extent.png"))
