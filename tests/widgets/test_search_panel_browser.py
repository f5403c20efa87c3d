"""The search panel in a real kernel, in a real JupyterLab, in a real Chromium: draw, search, see footprints."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FOOTPRINT_STROKE = "#e4572e"
SELECTED_STROKE = "#17bebb"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path, small_city):
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
    token = secrets.token_hex(16)
    port = _free_port()
    env = {**os.environ, "AI4GEO_WORKSPACE": str(tmp_path / "ws"), "JUPYTER_CONFIG_DIR": str(tmp_path / "jcfg"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-ws")}
    exe = str(Path(sys.executable).parent / "jupyter-lab")
    log = (tmp_path / "lab.log").open("wb")
    proc = subprocess.Popen([exe, "--allow-root", "--no-browser", f"--ServerApp.token={token}", "--ip", "127.0.0.1",
                             "--port", str(port), f"--ServerApp.root_dir={root}",
                             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"{url}/api/status", params={"token": token}, timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"jupyter-lab did not start: {(tmp_path / 'lab.log').read_text()[-800:]}")
        time.sleep(0.3)
    yield url, token
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)  # the server asks to confirm a first Ctrl-C
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    log.close()


@pytest.mark.browser
@pytest.mark.slow
def test_draw_search_and_see_footprints(lab):
    from playwright.sync_api import sync_playwright

    url, token = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/lab/tree/search.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
            page.click(".jp-Notebook .jp-Cell .jp-InputArea-editor")
            page.keyboard.press("Shift+Enter")
            page.wait_for_selector(".ai4geo-search-panel .leaflet-container", timeout=90_000)
            page.wait_for_selector(".leaflet-draw-draw-rectangle", timeout=30_000)
            box = page.locator(".ai4geo-search-panel .leaflet-container").bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

            page.click(".leaflet-draw-draw-rectangle")
            page.mouse.move(cx - 90, cy - 70)
            page.mouse.down()
            page.mouse.move(cx + 90, cy + 70, steps=10)
            page.mouse.up()
            panel = page.locator(".ai4geo-search-panel")
            panel.get_by_text("AOI:").wait_for(timeout=30_000)

            panel.locator("button", has_text="Search").click()
            panel.get_by_text("2 items").wait_for(timeout=60_000)
            footprints = page.locator(f".ai4geo-search-panel path[stroke='{FOOTPRINT_STROKE}']")
            footprints.first.wait_for(timeout=30_000)
            assert footprints.count() == 2  # two ortho images of the sample city, both in the drawn rectangle
            page.screenshot(path=str(ARTIFACTS / "search_panel_results.png"))

            # a click on a footprint selects its row and highlights it; a row selection highlights footprints
            selected = page.locator(f".ai4geo-search-panel path[stroke='{SELECTED_STROKE}']")
            select = panel.locator("select[multiple]")
            fp = footprints.last.bounding_box()
            page.mouse.click(fp["x"] + 8, fp["y"] + fp["height"] / 2)  # inside the footprint, outside the AOI
            selected.first.wait_for(timeout=30_000)
            assert selected.count() == 1
            page.wait_for_function("s => s.selectedOptions.length === 1", arg=select.element_handle(), timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "search_panel_clicked.png"))
            select.select_option(index=[0, 1])
            page.wait_for_function(f"() => document.querySelectorAll(\".ai4geo-search-panel path[stroke='"
                                   f"{SELECTED_STROKE}']\").length === 2", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "search_panel_selected.png"))
        finally:
            browser.close()
