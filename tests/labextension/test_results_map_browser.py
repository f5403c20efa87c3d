"""Search results on the main-area AI4GEO Map, in a real jupyter-lab driven in Debian's Chromium: with a map open,
a search of the side panel over the sample city draws its footprints on that map as its "Search results" layer;
a quicklook turned on in the panel, the selection and the date range follow; a click on a footprint of the map
selects the item in the panel; the layer can be removed, and "Show on map" brings the results back, on a new map
when none is open. The tile server cannot be reached: the maps use their offline base."""

from __future__ import annotations

import numpy as np
import pytest

from tests.labextension.test_map_browser import ARTIFACTS
from tests.labextension.test_results_browser import (
    FOOTPRINT,
    _outline_pixels,
    _pixels,
    distinct_colours,
    search_over_city,
    series_lab,
)

SELECTED = "#17bebb"
MAIN = ".ai4geo-mapview"


@pytest.mark.browser
@pytest.mark.slow
def test_results_drawn_on_the_main_map(tmp_path, small_city, jupyter_lab, chromium):
    page = series_lab(tmp_path, small_city, jupyter_lab, chromium, 1600, 1100)
    try:
        _drive(page)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_results_map_failure.png"))
        raise


def _footprint_share(shot: np.ndarray) -> int:
    """How many pixels of a screenshot have the footprints' outline colour."""
    return int((np.abs(shot - np.array(FOOTPRINT)).sum(axis=2) < 90).sum())


def _main_map_shot(page, name: str | None = None) -> np.ndarray:
    page.mouse.move(5, 1090)  # no tooltip over the map
    page.wait_for_timeout(400)
    the_map = page.locator(f"{MAIN} .ai4geo-mapview-map")
    return _pixels(the_map.screenshot(path=str(ARTIFACTS / name) if name else None))


def _drive(page) -> None:
    # an AI4GEO Map from the Launcher: the map the results go to
    page.locator(".jp-Launcher-section .jp-LauncherCard", has_text="AI4GEO Map").click(timeout=60_000)
    page.wait_for_selector(f"{MAIN}[data-ready='true']", timeout=60_000)
    page.wait_for_function("() => (document.querySelector('.ai4geo-mapview-map').dataset.base || '')"
                           ".startsWith('offline')", timeout=30_000)

    page.locator(".jp-SideBar [data-id='ai4geo-search']").click()
    panel = page.locator("#ai4geo-search")
    page.wait_for_selector("#ai4geo-search[data-ready='true']", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-collection').value === "
                           "'city-series'", timeout=30_000)
    show_on_map = panel.locator(".ai4geo-show-on-map")
    assert show_on_map.is_hidden()  # nothing to show yet
    empty = _main_map_shot(page)
    assert _footprint_share(empty) < 20

    # the search draws the footprints on the main map, as the "Search results" layer
    search_over_city(page, panel)
    entry = page.locator(f"{MAIN} .ai4geo-results-layer")
    entry.wait_for(timeout=30_000)
    assert entry.locator(".ai4geo-layer-title").inner_text() == "Search results"
    page.wait_for_selector(f"{MAIN} .ai4geo-results-layer[data-footprints='9']", timeout=30_000)
    assert entry.locator(".ai4geo-visible").is_checked()
    assert "9 of 9 footprints" in entry.locator(".ai4geo-layer-meta").inner_text()
    assert show_on_map.is_hidden()  # the map in use shows them already
    main_paths = page.locator(f"{MAIN} path.ai4geo-footprint[data-id]")
    assert main_paths.count() == 9
    page.wait_for_timeout(500)  # the map's zoom to the footprints
    the_map = page.locator(f"{MAIN} .ai4geo-mapview-map")
    origin = the_map.bounding_box()
    boxes = {main_paths.nth(i).get_attribute("data-id"): main_paths.nth(i).bounding_box() for i in range(9)}
    shot = _main_map_shot(page, "lab_results_map_footprints.png")
    assert _footprint_share(shot) > 9 * 100, _footprint_share(shot)
    seen = {k: _outline_pixels(shot, b, origin) for k, b in boxes.items()}
    assert all(v > 40 for v in seen.values()), seen
    # the footprints lie in the main map's area, not only in the side panel's map
    assert all(b["x"] >= origin["x"] - 2 and b["x"] + b["width"] <= origin["x"] + origin["width"] + 2
               for b in boxes.values())
    page.screenshot(path=str(ARTIFACTS / "lab_results_map_page.png"))

    # a quicklook turned on in the panel is drawn on its footprint on the main map
    target = "series-2024-01-10-cell1"
    row = panel.locator(f".ai4geo-results tbody tr[data-id='{target}']")
    box = boxes[target]
    ix0, iy0 = int(box["x"] - origin["x"] + 0.2 * box["width"]), int(box["y"] - origin["y"] + 0.2 * box["height"])
    ix1, iy1 = int(box["x"] - origin["x"] + 0.8 * box["width"]), int(box["y"] - origin["y"] + 0.8 * box["height"])
    before = shot[iy0:iy1, ix0:ix1]
    row.scroll_into_view_if_needed()
    row.locator(".ai4geo-quicklook-button").click()
    page.wait_for_function("() => { const i = document.querySelector('.ai4geo-mapview img.ai4geo-quicklook-overlay');"
                           " return i && i.complete && i.naturalWidth > 0 }", timeout=60_000)
    page.wait_for_timeout(300)
    look_shot = _main_map_shot(page, "lab_results_map_quicklook.png")
    after = look_shot[iy0:iy1, ix0:ix1]

    assert distinct_colours(after) > 4 * distinct_colours(before), (distinct_colours(after), distinct_colours(before))
    assert np.abs(after - before).mean() > 20
    look = page.locator(f"{MAIN} img.ai4geo-quicklook-overlay").bounding_box()
    assert abs(look["x"] - box["x"]) < 4 and abs(look["width"] - box["width"]) < 6, (look, box)
    assert "1 quicklook" in entry.locator(".ai4geo-layer-meta").inner_text()

    # a click on a footprint of the main map selects its item in the panel
    picked = "series-2024-09-30-cell2"
    picked_box = boxes[picked]
    page.mouse.click(picked_box["x"] + 0.3 * picked_box["width"], picked_box["y"] + 0.7 * picked_box["height"])
    picked_row = panel.locator(f".ai4geo-results tbody tr[data-id='{picked}']")
    page.wait_for_function(f"() => document.querySelector(\"#ai4geo-search tr[data-id='{picked}']\")"
                           ".classList.contains('ai4geo-selected')", timeout=10_000)
    assert picked_row.locator("input.ai4geo-select").is_checked()
    assert panel.locator(".ai4geo-download").inner_text() == "Download selected (1)"
    assert page.locator(f"{MAIN} path.ai4geo-footprint[data-id='{picked}']").get_attribute("stroke") == SELECTED
    assert panel.locator(f"path.ai4geo-footprint[data-id='{picked}']").get_attribute("stroke") == SELECTED

    # a row's checkbox in the panel highlights the footprint on the main map
    other = "series-2024-05-02-cell0"
    main_other = page.locator(f"{MAIN} path.ai4geo-footprint[data-id='{other}']")
    assert main_other.get_attribute("stroke") != SELECTED
    panel.locator(f".ai4geo-results tbody tr[data-id='{other}'] input.ai4geo-select").check()
    page.wait_for_function(f"() => document.querySelector(\".ai4geo-mapview path[data-id='{other}']\")"
                           f".getAttribute('stroke') === '{SELECTED}'", timeout=10_000)
    assert entry.get_attribute("data-selected") == "2"

    # the date range of the panel hides the other footprints on the main map too: March to June
    page.locator(".ai4geo-range-from").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.locator(".ai4geo-range-to").focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    assert panel.locator(".ai4geo-results-count").inner_text() == "4 of 9 results"
    page.wait_for_selector(f"{MAIN} .ai4geo-results-layer[data-footprints='4']", timeout=10_000)
    assert main_paths.count() == 4
    narrowed = _main_map_shot(page, "lab_results_map_narrowed.png")
    kept = {k: _outline_pixels(narrowed, b, origin) for k, b in boxes.items()}
    in_range, out_of_range = "series-2024-03-20-cell3", "series-2024-08-19-cell6"
    assert kept[in_range] > 40 and kept[out_of_range] < 5 and kept[target] < 5, kept
    panel.locator(".ai4geo-range-clear").click()
    page.wait_for_selector(f"{MAIN} .ai4geo-results-layer[data-footprints='9']", timeout=10_000)

    # the visibility box hides the layer, and shows it again
    entry.locator(".ai4geo-visible").uncheck()
    assert _footprint_share(_main_map_shot(page)) < 20
    entry.locator(".ai4geo-visible").check()
    assert _footprint_share(_main_map_shot(page)) > 9 * 100

    # removed: its footprints are gone from the main map, not from the panel's; the panel offers "Show on map"
    entry.locator(".ai4geo-layer-remove").click()
    assert page.locator(f"{MAIN} .ai4geo-results-layer").count() == 0
    assert page.locator(f"{MAIN} path.ai4geo-footprint").count() == 0
    gone = _main_map_shot(page, "lab_results_map_removed.png")
    assert _footprint_share(gone) < 20, _footprint_share(gone)
    assert all(_outline_pixels(gone, b, origin) < 5 for b in boxes.values())
    assert panel.locator("path.ai4geo-footprint[data-id]").count() == 9
    show_on_map.wait_for(state="visible", timeout=10_000)
    # a selection in the panel does not bring back what was removed
    panel.locator(f".ai4geo-results tbody tr[data-id='{other}'] input.ai4geo-select").uncheck()
    page.wait_for_timeout(300)
    assert page.locator(f"{MAIN} .ai4geo-results-layer").count() == 0
    show_on_map.click()
    page.wait_for_selector(f"{MAIN} .ai4geo-results-layer[data-footprints='9']", timeout=30_000)
    assert show_on_map.is_hidden()
    assert page.locator(f"{MAIN} path.ai4geo-footprint[data-id='{picked}']").get_attribute("stroke") == SELECTED

    # no map open: "Show on map" opens one and draws the results there
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="AI4GEO Map").locator(
        ".lm-TabBar-tabCloseIcon").click()
    page.wait_for_selector(MAIN, state="detached", timeout=10_000)
    show_on_map.wait_for(state="visible", timeout=10_000)
    show_on_map.click()
    page.wait_for_selector(f"{MAIN}[data-ready='true']", timeout=60_000)
    page.wait_for_selector(f"{MAIN} .ai4geo-results-layer[data-footprints='9']", timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('.ai4geo-mapview img.ai4geo-quicklook-overlay')"
                           ".length === 1", timeout=30_000)
    page.wait_for_timeout(800)
    reopened = _main_map_shot(page, "lab_results_map_reopened.png")
    assert _footprint_share(reopened) > 9 * 100, _footprint_share(reopened)
    assert show_on_map.is_hidden()
    page.screenshot(path=str(ARTIFACTS / "lab_results_map_reopened_page.png"))
