"""The extension beside ipyleaflet in one page: a notebook shows an ipyleaflet map (whose CSS sets every
`.leaflet-container` to 100 % height), and the search panel's map keeps its own size, the AI4GEO Map fills its tab,
and the notebook's map keeps the size ipyleaflet gives it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from tests.labextension.test_map_browser import lab_page

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "id": "leaf", "metadata": {}, "outputs": [],
               "source": "import ipyleaflet\nm = ipyleaflet.Map(center=(27.63, 85.52), zoom=3)\nm"}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _box(page, selector: str) -> dict:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box


def _grey_lines(png: bytes) -> float:
    """Share of pixels darker than the offline base's background (outlines, graticule)."""
    from PIL import Image

    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(int)
    return float((grey < 200).mean())


@pytest.mark.browser
@pytest.mark.slow
def test_panel_and_map_keep_their_size_beside_an_ipyleaflet_widget(tmp_path, jupyter_lab, chromium):
    pytest.importorskip("ipyleaflet")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    root = tmp_path / "lab"
    root.mkdir()
    (root / "leaf.ipynb").write_text(json.dumps(NOTEBOOK))
    page = lab_page(tmp_path, root, jupyter_lab, chromium)
    try:
        # an AI4GEO Map tab first, from the launcher
        page.locator(".jp-Launcher-section .jp-LauncherCard", has_text="AI4GEO Map").click(timeout=60_000)
        page.wait_for_function("() => (document.querySelector('.ai4geo-mapview-map').dataset.base || '')"
                               ".startsWith('offline')", timeout=60_000)

        # the notebook, run: its ipyleaflet map is shown
        page.locator(".jp-DirListing-item", has_text="leaf.ipynb").dblclick(timeout=60_000)
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        widget_map = ".jp-OutputArea .leaflet-container"
        for _ in range(4):  # a cell run while the kernel is still connecting is dropped: run it again
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Shift+Enter")
            try:
                page.wait_for_selector(widget_map, timeout=30_000)
                break
            except PlaywrightTimeout:
                continue
        page.wait_for_selector(widget_map, timeout=60_000)
        page.wait_for_function(f"() => document.querySelector('{widget_map}').getBoundingClientRect().height > 100",
                               timeout=60_000)
        widget_height = _box(page, widget_map)["height"]

        # the search panel: its map stays 320 px tall, the Search button in view
        page.locator(".jp-SideBar [data-id='ai4geo-search']").click()
        page.wait_for_selector("#ai4geo-search[data-ready='true']", timeout=60_000)
        panel_map = _box(page, "#ai4geo-search .ai4geo-map")
        assert 300 <= panel_map["height"] <= 340, panel_map
        search = _box(page, "#ai4geo-search .ai4geo-search-button")
        assert search["y"] + search["height"] < 1000, search
        shot = page.locator("#ai4geo-search .ai4geo-map").screenshot(path=str(ARTIFACTS / "ipyleaflet_panel.png"))
        assert _grey_lines(shot) > 0.002  # the offline base is drawn (outlines, graticule), not a blank box
        page.screenshot(path=str(ARTIFACTS / "ipyleaflet_page.png"))

        # the notebook's own map is not resized by the extension's styles
        assert abs(_box(page, widget_map)["height"] - widget_height) < 2

        # the AI4GEO Map fills its tab
        page.locator(".lm-TabBar-tab", has_text="AI4GEO Map").first.click()
        main = _box(page, ".ai4geo-mapview-main")
        the_map = _box(page, ".ai4geo-mapview-map")
        assert the_map["height"] == pytest.approx(main["height"], abs=2) and the_map["height"] > 500, the_map
        page.screenshot(path=str(ARTIFACTS / "ipyleaflet_page_map.png"))
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "ipyleaflet_page_failure.png"))
        raise
