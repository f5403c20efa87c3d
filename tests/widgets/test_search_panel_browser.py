"""The search panel in a real kernel, in a real JupyterLab, in a real Chromium: draw, search, see footprints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FOOTPRINT_STROKE = "#e4572e"
SELECTED_STROKE = "#17bebb"
BASE_STROKE = "#8a94a6"  # graticule and country outlines
EXTENT_STROKE = "#7c3aed"  # the local catalogue's extent


@pytest.fixture
def lab(tmp_path, small_city, jupyter_lab):
    """``jupyter-lab`` on 127.0.0.1 with a notebook that opens a SearchPanel over the sample city."""
    from shapely.geometry import shape

    from ai4geo_lab.catalog.local import read_static_catalog

    items = read_static_catalog(small_city.root / "catalog" / "catalog.json")
    centre = shape(items[0]["geometry"]).centroid
    root = tmp_path / "lab"
    root.mkdir()
    code = (f"from ai4geo_lab.catalog import add_local_catalog\n"
            f"add_local_catalog({str(small_city.root)!r})\n"
            f"from ai4geo_lab.widgets import SearchPanel\n"
            f"panel = SearchPanel(provider='local', collection='sample-ortho', center=({centre.y}, {centre.x}), "
            f"zoom=17)\npanel")
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "panel", "metadata": {}, "outputs": [],
                     "source": code}],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (root / "search.ipynb").write_text(json.dumps(nb))
    url, token, _ = jupyter_lab(root, {"AI4GEO_WORKSPACE": str(tmp_path / "ws")})
    return url, token


@pytest.mark.browser
@pytest.mark.slow
def test_draw_search_and_see_footprints(lab, chromium):
    url, token = lab
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/search.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    # the kernel itself idle (the indicator says idle before the kernel is connected on a busy machine)
    page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=60_000)
    page.click(".jp-Notebook .jp-Cell .jp-InputArea-editor")
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector(".ai4geo-search-panel .leaflet-container", timeout=90_000)
    page.wait_for_selector(".leaflet-draw-draw-rectangle", timeout=30_000)
    # offline, the map is not blank: the graticule (and country outlines) and the local catalogue's extent
    for stroke in (BASE_STROKE, EXTENT_STROKE):
        page.wait_for_function(f"() => [...document.querySelectorAll(\".ai4geo-search-panel path[stroke='{stroke}']\")]"
                               ".some(p => { const r = p.getBoundingClientRect(); return r.width + r.height > 20 })",
                               timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "search_panel_offline_base.png"))
    box = page.locator(".ai4geo-search-panel .leaflet-container").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    page.click(".leaflet-draw-draw-rectangle")
    page.mouse.move(cx - 90, cy - 70)
    page.mouse.down()
    page.mouse.move(cx + 90, cy + 70, steps=10)
    page.mouse.up()
    panel = page.locator(".ai4geo-search-panel")
    panel.get_by_text("AOI: drawn").wait_for(timeout=30_000)

    panel.locator("button", has_text="Search").click()
    panel.get_by_text("2 items").wait_for(timeout=60_000)
    footprints = page.locator(f".ai4geo-search-panel path[stroke='{FOOTPRINT_STROKE}']")
    footprints.first.wait_for(timeout=30_000)
    assert footprints.count() == 2  # two ortho images of the sample city, both in the drawn rectangle
    page.screenshot(path=str(ARTIFACTS / "search_panel_results.png"))

    # the results as a table: a header of sort buttons, then a line per item (checkbox, QL, date, cloud, ...)
    table = panel.locator(".ai4geo-results")
    checks = table.locator("input[type='checkbox']")
    assert checks.count() == 2
    dates = table.locator(".ai4geo-cell").filter(has_text="20")
    assert [t.strip() for t in dates.all_inner_texts()][:2] == ["2025-06-20", "2024-06-15"]
    table.locator("button.ai4geo-sort", has_text="Cloud %").click()
    page.wait_for_function("() => [...document.querySelectorAll('.ai4geo-results .ai4geo-sort')]"
                           ".some(b => b.innerText.includes('Cloud % ▲'))", timeout=30_000)
    page.wait_for_function("() => [...document.querySelectorAll('.ai4geo-results button.ai4geo-cell')]"
                           ".find(b => /^20/.test(b.innerText)).innerText.trim() === '2024-06-15'", timeout=30_000)

    # a click on a footprint checks its row and highlights it; a click on a row selects it too
    selected = page.locator(f".ai4geo-search-panel path[stroke='{SELECTED_STROKE}']")
    page.locator(".ai4geo-search-panel .leaflet-container").scroll_into_view_if_needed()
    fp = footprints.last.bounding_box()
    page.mouse.click(fp["x"] + 8, fp["y"] + fp["height"] / 2)  # inside the footprint, outside the AOI
    selected.first.wait_for(timeout=30_000)
    assert selected.count() == 1
    page.wait_for_function("() => document.querySelectorAll(\".ai4geo-results input[type='checkbox']:checked\")"
                           ".length === 1", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "search_panel_clicked.png"))
    unchecked = table.locator("input[type='checkbox']:not(:checked)")
    row_of = unchecked.first.evaluate("c => [...c.closest('.ai4geo-results').querySelectorAll(\"input[type="
                                      "'checkbox']\")].indexOf(c)")
    table.locator("button.ai4geo-cell").nth(row_of * 5).click()  # the date cell of the other row
    page.wait_for_function(f"() => document.querySelectorAll(\".ai4geo-search-panel path[stroke='"
                           f"{SELECTED_STROKE}']\").length === 2", timeout=30_000)
    assert panel.locator("button", has_text="Download selected (2)").count() == 1

    # QL draws the item's quicklook on its footprint
    table.locator("button", has_text="QL").first.click()
    page.wait_for_selector(".ai4geo-search-panel img.leaflet-image-layer[src^='data:image/png']", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "search_panel_selected.png"))
    look = page.locator(".ai4geo-search-panel img.leaflet-image-layer")
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=look.element_handle(), timeout=30_000)
    look_box, map_box = look.bounding_box(), page.locator(".ai4geo-search-panel .leaflet-container").bounding_box()
    assert look_box["width"] > 20 and look_box["height"] > 20  # drawn over its footprint, on the map
    assert map_box["x"] <= look_box["x"] + look_box["width"] / 2 <= map_box["x"] + map_box["width"]
    page.locator(".ai4geo-search-panel .leaflet-container").screenshot(path=str(ARTIFACTS /
                                                                                "search_panel_quicklook.png"))
