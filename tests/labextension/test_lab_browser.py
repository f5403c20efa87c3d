"""The Lab extension end to end: a real jupyter-lab on 127.0.0.1, driven in Debian's Chromium by Playwright.

Search panel: search the embedded catalogue, draw an AOI with the mouse, search again, insert the code into a new
notebook, run it and get the same count in the kernel. Cluster panel: start a cluster through the factory, open a
dashboard plot as a tab, stop it. Launcher: the "AI4GEO recipes" section, a recipe copied and opened.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ai4geo_lab.recipes import list_recipes
from tests.labextension.test_map_browser import _lab_args

PACKAGE = Path(__file__).resolve().parents[2] / "ai4geo_lab"


def _installed_labextension() -> Path | None:
    from jupyter_core.paths import jupyter_path

    for folder in jupyter_path("labextensions"):
        if (Path(folder) / "ai4geo-lab" / "package.json").is_file():
            return Path(folder)
    return None


@pytest.mark.slow
def test_extension_installed_and_enabled():
    """What `pip install .` must leave: the prebuilt extension and the server extension, enabled and OK."""
    if _installed_labextension() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the Lab extension is not installed")
        pytest.skip("the Lab extension is not installed in this environment (bash scripts/setup.sh installs it)")
    import re

    bin_dir = Path(sys.executable).parent

    def listing(*args: str) -> str:
        done = subprocess.run([str(bin_dir / "jupyter"), *args], capture_output=True, text=True, timeout=120)
        return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)

    text = listing("labextension", "list")
    assert re.search(r"ai4geo-lab v[\d.]+ enabled OK", text), text
    text = listing("server", "extension", "list")
    assert re.search(r"ai4geo_lab\.server enabled", text) and re.search(r"ai4geo_lab\.server\s+OK", text), text


@pytest.mark.browser
@pytest.mark.slow
def test_panels_in_a_real_lab(tmp_path, small_city, jupyter_lab, chromium):
    from ai4geo_lab.catalog import add_local_catalog, search

    artifacts = Path(__file__).resolve().parents[1] / "artifacts"
    ws = tmp_path / "ws"
    add_local_catalog(small_city.root, workspace=ws)
    everything = search(None, "sample-ortho", provider="local", workspace=ws)
    root = tmp_path / "lab"
    root.mkdir()
    args, _ = _lab_args(tmp_path)  # the extension built in this tree, else the installed one
    url, token, started = jupyter_lab(root, {"AI4GEO_WORKSPACE": str(ws)}, tuple(args))
    server_up = time.monotonic() - started

    page = chromium.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(f"{url}/lab?token={token}")
    try:
        _drive(page, root, ws, started, server_up, artifacts, everything)
    except Exception:
        page.screenshot(path=str(artifacts / "lab_failure.png"))
        raise


def _drive(page, root, ws, started, server_up, artifacts, everything):

    # ---- the launcher's recipe section (the Lab opens on a launcher) ----
    section = page.locator(".jp-Launcher-section", has=page.locator(".jp-Launcher-sectionTitle",
                                                                    has_text="AI4GEO recipes"))
    section.wait_for(timeout=60_000)
    cards = section.locator(".jp-LauncherCard")
    recipes = list_recipes()
    page.wait_for_function("n => document.querySelectorAll('.jp-Launcher-section .jp-LauncherCard').length >= n",
                           arg=len(recipes))
    assert cards.count() == len(recipes) >= 4
    assert cards.first.inner_text().strip() == recipes[0]["title"]

    # ---- the search panel ----
    page.locator(".jp-SideBar [data-id='ai4geo-search']").click()
    panel = page.locator("#ai4geo-search")
    page.wait_for_selector("#ai4geo-search[data-ready='true']", timeout=60_000)
    ready = time.monotonic() - started
    (artifacts / "lab_timing.json").write_text(json.dumps({"server_up_s": round(server_up, 2),
                                                           "panel_ready_s": round(ready, 2)}))
    print(f"\nLab start → server answering {server_up:.1f} s, → search panel usable {ready:.1f} s")
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-map').dataset.base"
                           ".startsWith('offline: the tiles cannot be loaded')", timeout=30_000)
    page.wait_for_function("() => document.querySelector('.ai4geo-collection').value === 'sample-ortho'")

    panel.locator(".ai4geo-search-button").click()  # no AOI: everything, and the map goes to the footprints
    summary = panel.locator(".ai4geo-summary")
    page.wait_for_function(f"() => document.querySelector('#ai4geo-search .ai4geo-summary').dataset.count === "
                           f"'{len(everything)}'", timeout=60_000)
    assert len(everything) == 2

    box = panel.locator(".ai4geo-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    def rectangle(x0: float, y0: float, x1: float, y1: float) -> None:
        panel.locator(".leaflet-pm-icon-rectangle").click()
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.up()
        page.mouse.move(x1, y1, steps=12)
        page.mouse.down()
        page.mouse.up()

    # far from the city's footprints: nothing there
    right = box["x"] + box["width"]
    rectangle(right - 70, box["y"] + 30, right - 30, box["y"] + 70)
    page.wait_for_selector("#ai4geo-search .ai4geo-aoi-status[data-aoi='drawn']")
    panel.locator(".ai4geo-search-button").click()
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-summary').dataset.count === '0'",
                           timeout=60_000)
    # over the city, right of and below the draw toolbar's actions (its Cancel button, shown beside the tool while
    # drawing, sits at the map's mid-height on the left)
    rectangle(cx + 60, cy + 60, cx + 5, cy + 22)
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-aoi-name').value === 'drawn-2'")
    panel.locator(".ai4geo-search-button").click()
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-summary').dataset.count === '2'",
                           timeout=60_000)
    count = int(summary.get_attribute("data-count"))
    assert panel.locator(".ai4geo-results tbody tr").count() == count
    assert panel.locator(".ai4geo-results-count").inner_text() == f"{count} of {count} results"
    page.locator("#ai4geo-search path.leaflet-interactive[stroke='#e4572e']").first.wait_for()
    panel.locator(".ai4geo-select").first.check()
    page.screenshot(path=str(artifacts / "lab_search_panel.png"))
    # a PNG made on the server from the image itself, drawn on its footprint in the map
    panel.locator(".ai4geo-quicklook-button").first.click()
    page.wait_for_function("() => { const i = document.querySelector('#ai4geo-search .ai4geo-map "
                           "img.ai4geo-quicklook-overlay'); return i && i.complete && i.naturalWidth > 0 }",
                           timeout=60_000)
    page.screenshot(path=str(artifacts / "lab_search_quicklook.png"))

    # ---- insert code: no notebook is open, so a new one; it names the saved AOI ----
    panel.locator(".ai4geo-insert").click()
    cell = page.locator(".jp-NotebookPanel .jp-Cell", has_text="load_aoi('drawn-2')")
    cell.wait_for(timeout=60_000)
    assert (ws / "aois" / "drawn-2.geojson").is_file()
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=60_000)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.screenshot(path=str(artifacts / "lab_inserted_code.png"))
    out = page.locator(".jp-NotebookPanel .jp-OutputArea-output", has_text="items on page")
    out.wait_for(timeout=90_000)
    assert out.inner_text().strip().startswith(f"{count} items on page 1")
    page.screenshot(path=str(artifacts / "lab_inserted_code_run.png"))

    # ---- download the selected product, with progress, into the inventory ----
    panel.locator(".ai4geo-download").click()
    page.wait_for_selector("#ai4geo-search .ai4geo-progress-text[data-state='done']", timeout=60_000)
    # a finished download: the bar full, counts in words
    bar = page.evaluate("() => { const p = document.querySelector('#ai4geo-search .ai4geo-progress');"
                        " return [p.value, p.max, p.hidden] }")
    assert bar[0] == bar[1] and not bar[2], bar
    said = panel.locator(".ai4geo-progress-text").inner_text()
    assert re.match(r"downloaded \d+ files? of 1 item in ", said) and "(s)" not in said, said
    page.screenshot(path=str(artifacts / "lab_download_done.png"))
    from ai4geo_lab.catalog import inventory

    assert len(inventory(ws)["item"].unique()) == 1

    # ---- the cluster panel: start, dashboard tab, stop ----
    page.locator(".jp-SideBar [data-id='ai4geo-clusters']").click()
    clusters = page.locator("#ai4geo-clusters")
    clusters.locator(".ai4geo-cluster-spec").fill("local:1")
    clusters.locator(".ai4geo-cluster-start").click()
    card = clusters.locator(".ai4geo-cluster[data-origin='server']")
    card.wait_for(timeout=90_000)
    card.locator(".ai4geo-plot[data-plot='individual-task-stream']").click()
    frame_el = page.locator(".ai4geo-dashboard iframe")
    frame_el.wait_for(timeout=30_000)
    frame = page.frame_locator(".ai4geo-dashboard iframe")
    frame.locator(".bk-Canvas, canvas, .bk-root, div[data-root-id]").first.wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts / "lab_cluster_dashboard.png"))
    card.locator(".ai4geo-stop").click()
    page.wait_for_function("() => document.querySelector('#ai4geo-clusters .ai4geo-clusters').dataset.count === '0'",
                           timeout=60_000)

    # ---- a recipe from the launcher: copied into the root, opened ----
    page.locator(".jp-SideBar [data-id='filebrowser']").click()
    page.locator("button[data-command='launcher:create'], jp-button[data-command='launcher:create']").first.click()
    target = recipes[2]
    page.locator(".jp-Launcher-section .jp-LauncherCard:visible", has_text=target["title"]).first.click()
    page.locator(".lm-TabBar-tab", has_text=target["file"]).first.wait_for(timeout=60_000)
    assert (root / target["file"]).is_file()
    page.screenshot(path=str(artifacts / "lab_recipe_opened.png"))
