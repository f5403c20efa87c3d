"""The edges of the AI4GEO Map in a real jupyter-lab driven in Debian's Chromium: a DSM with NaN nodata (as the
chain writes them) opens, and is drawn up to each of its corners (no notch); the graticule's labels stay clear of
the map's controls (none is clipped beneath the zoom buttons)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args


def _boxes(page, selector: str) -> list[dict]:
    return page.evaluate(
        "s => [...document.querySelectorAll(s)].map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.left, y: r.top, r: r.right, b: r.bottom, text: e.textContent} })", selector)


def _overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["r"] and b["x"] < a["r"] and a["y"] < b["b"] and b["y"] < a["b"]


@pytest.mark.browser
@pytest.mark.slow
def test_dsm_corners_and_graticule_labels(tmp_path, jupyter_lab, chromium):
    pytest.importorskip("rio_tiler")
    from affine import Affine
    from PIL import Image

    from ai4geo_lab.geo.raster import write_raster
    from tests.maps.conftest import ORIGIN, UTM

    root = tmp_path / "lab"
    root.mkdir()
    # mid-ramp heights everywhere but two blocks in the middle (the 2–98 % stretch's ends), so that every corner
    # is drawn in a clear colour; on the zone's central meridian: north-up on the map, its corners those of the picture
    dsm = np.full((300, 300), 150.0, np.float32)
    dsm[100:200, 100:127] = 100.0
    dsm[100:200, 173:200] = 200.0
    write_raster(root / "dsm.tif", dsm,
                 Affine(1.0, 0, ORIGIN[0], 0, -1.0, ORIGIN[1]), UTM, nodata=float("nan"))
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/lab?token={token}")
    try:
        item = page.locator(".jp-DirListing-item", has_text="dsm.tif")
        item.wait_for(timeout=60_000)
        item.click(button="right")
        page.locator(".lm-Menu-item", has_text="Open on map").click()
        page.wait_for_selector(".ai4geo-mapview-layer[data-state='loaded']", timeout=60_000)
        page.wait_for_function("() => { const t = [...document.querySelectorAll('.ai4geo-raster-tiles img')];"
                               " return t.length > 0 && t.every(i => i.complete) }", timeout=60_000)
        page.wait_for_timeout(700)  # tiles fade in
        the_map = page.locator(".ai4geo-mapview-map")
        shot = the_map.screenshot(path=str(ARTIFACTS / "lab_map_dsm_corners.png"))

        # the drawn DSM: a filled rectangle, with each corner drawn
        rgb = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)
        coloured = (rgb.max(-1) - rgb.min(-1)) > 40
        coloured[-30:] = False  # the attribution's link and flag
        rows, cols = np.flatnonzero(coloured.any(1)), np.flatnonzero(coloured.any(0))
        top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
        assert bottom - top > 300 and right - left > 300, (top, bottom, left, right)
        for r0, c0 in ((top, left), (top, right - 11), (bottom - 11, left), (bottom - 11, right - 11)):
            corner = coloured[r0 + 2:r0 + 10, c0 + 2:c0 + 10]
            assert corner.all(), (r0, c0, corner.mean())
        assert coloured[top + 2:bottom - 2, left + 2:right - 2].mean() > 0.9  # (graticule lines cross it)

        # the graticule's labels: some of each kind, none beneath a control, none cut by the map's edges
        mbox = _boxes(page, ".ai4geo-mapview-map")[0]
        labels = _boxes(page, ".ai4geo-mapview-map .ai4geo-grid-label > span")
        controls = _boxes(page, ".ai4geo-mapview-map .leaflet-control")
        assert any("." in lb["text"] for lb in labels) and len(labels) >= 4, labels
        lat_labels = _boxes(page, ".ai4geo-mapview-map .ai4geo-grid-label-y > span")
        assert lat_labels and len(_boxes(page, ".ai4geo-mapview-map .ai4geo-grid-label-x > span"))
        for lb in labels:
            assert not any(_overlap(lb, c) for c in controls), (lb, controls)
            assert mbox["x"] <= lb["x"] and lb["r"] <= mbox["r"] and mbox["y"] <= lb["y"] and lb["b"] <= mbox["b"], lb
        # the top latitude label is shown in full, not under the zoom buttons
        top_label = min(lat_labels, key=lambda lb: lb["y"])
        zoom = _boxes(page, ".ai4geo-mapview-map .leaflet-control-zoom")[0]
        assert top_label["y"] < zoom["b"] + 150 and not _overlap(top_label, zoom)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_map_edges_failure.png"))
        raise
