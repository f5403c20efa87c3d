"""CityJSON in 3D, in a real jupyter-lab driven in Debian's Chromium (WebGL on SwiftShader): a city written by the
project's own writer opens by double-click; its roofs and walls show in their legend colours, a click on a building
shows its attributes, switching the LOD changes the picture, and broken or foreign files say so in the view."""

from __future__ import annotations

import colorsys
import io
import json

import numpy as np
import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args

READY = ".ai4geo-city3d[data-state='ready']"


def _rgb(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float) / 255.0


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mx, mn = rgb.max(-1), rgb.min(-1)
    delta = mx - mn
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    safe = np.where(delta > 0, delta, 1.0)
    hue = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4)) * 60
    sat = np.where(mx > 0, delta / np.where(mx > 0, mx, 1.0), 0.0)
    return hue, sat, mx


def _colour_mask(rgb: np.ndarray, colour: str, tol: float = 10.0) -> np.ndarray:
    """Pixels of the hue of `colour` (a lit, shaded surface keeps its hue while its brightness varies)."""
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    want, _, _ = colorsys.rgb_to_hsv(r, g, b)
    hue, sat, val = _hsv(rgb)
    d = np.abs(hue - want * 360)
    d = np.minimum(d, 360 - d)
    return (d < tol) & (sat > 0.35) & (val > 0.12)


def _luminance(rgb_or_png) -> np.ndarray:
    rgb = _rgb(rgb_or_png) * 255 if isinstance(rgb_or_png, bytes) else rgb_or_png
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def _legend(view) -> dict[str, str]:
    items = view.locator(".ai4geo-city3d-legend-item")
    return {items.nth(i).get_attribute("data-cls"): items.nth(i).get_attribute("data-color")
            for i in range(items.count())}


def _drawn(page, action) -> None:
    """Run `action` and wait until the 3D view has drawn a new frame (the view draws on change only)."""
    before = int(page.locator(".ai4geo-city3d").first.get_attribute("data-frames") or 0)
    action()
    page.wait_for_function(f"() => Number(document.querySelector('.ai4geo-city3d').dataset.frames) > {before}",
                           timeout=10_000)
    page.wait_for_timeout(150)


def _settled(page) -> None:
    """Wait until the 3D view has drawn and draws no more (its size settled)."""
    page.wait_for_function("() => Number(document.querySelector('.ai4geo-city3d').dataset.frames) > 0",
                           timeout=30_000)
    last = None
    for _ in range(50):
        frames = page.locator(".ai4geo-city3d").first.get_attribute("data-frames")
        if frames == last:
            return
        last = frames
        page.wait_for_timeout(300)


def _open(page, name: str):
    item = page.locator(".jp-DirListing-item", has_text=name).first
    item.wait_for(timeout=60_000)
    return item


@pytest.mark.browser
@pytest.mark.slow
def test_cityjson_in_3d(tmp_path, jupyter_lab, chromium):
    from ai4geo_lab.buildings.cityjson import buildings_cityjson
    from tests.buildings.test_roofs import _models

    models = _models()  # a flat, a shed, a gable and a hip roof, an L-shaped shed, a flat roof round a courtyard
    doc = buildings_cityjson(models, 2154)
    root = tmp_path / "lab"
    root.mkdir()
    (root / "town.city.json").write_text(json.dumps(doc))
    (root / "blocks.json").write_text(json.dumps(doc))  # a CityJSON without the usual name
    (root / "broken.city.json").write_text('{"type": "CityJSON", "vertices": [[0, 0, 0]')
    (root / "empty.city.json").write_text(json.dumps({"type": "CityJSON", "version": "2.0", "CityObjects": {},
                                                      "vertices": []}))
    (root / "other.json").write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{url}/lab?token={token}")
    try:
        item = _open(page, "town.city.json")
        assert item.get_attribute("data-file-type") == "ai4geo-cityjson"
        item.dblclick()
        page.wait_for_selector(READY, timeout=60_000)
        view = page.locator(".ai4geo-city3d").first
        assert view.get_attribute("data-lod") == "2.2"  # the most detailed LOD first
        _settled(page)
        canvas = view.locator(".ai4geo-city3d-canvas")
        shot = canvas.screenshot(path=str(ARTIFACTS / "lab_city3d_lod22.png"))
        rgb = _rgb(shot)
        legend = _legend(view)
        assert {"roof", "wall", "ground"} <= set(legend), legend
        roof, wall = _colour_mask(rgb, legend["roof"]), _colour_mask(rgb, legend["wall"])
        assert roof.mean() > 0.01 and wall.mean() > 0.005, (roof.mean(), wall.mean())
        # walls are lit from one side: two tones at least (shaded meshes, not flat colour)
        wall_values = _hsv(rgb)[2][wall]
        assert np.percentile(wall_values, 90) - np.percentile(wall_values, 10) > 0.08
        status = view.locator(".ai4geo-city3d-status").inner_text()
        assert f"{len(models)} objects at LOD 2.2" in status and "EPSG:2154" in status, status

        # a click on a roof: the building's attributes beside the view, the building highlighted
        ys, xs = np.nonzero(roof)
        k = len(ys) // 2
        box = canvas.bounding_box()
        scale = rgb.shape[1] / box["width"]
        _drawn(page, lambda: page.mouse.click(box["x"] + xs[k] / scale, box["y"] + ys[k] / scale))
        pick = view.locator(".ai4geo-city3d-pick[data-state='picked']")
        pick.wait_for(timeout=10_000)
        ident = pick.get_attribute("data-id")
        attributes = doc["CityObjects"][ident]["attributes"]
        height = pick.locator("td[data-key='measuredHeight']").inner_text()
        assert height == f"{attributes['measuredHeight']:.2f} m", height
        assert pick.locator("td[data-key='roofType']").inner_text() == attributes["roofType"]
        assert "Building" in pick.locator(".ai4geo-city3d-pick-title").inner_text()
        picked = _rgb(canvas.screenshot(path=str(ARTIFACTS / "lab_city3d_pick.png")))
        assert _colour_mask(picked, "#2fb8ff").mean() > 0.002  # the highlight colour shows

        # LOD 1.2: flat-topped blocks, another picture (same camera)
        lod = view.locator(".ai4geo-city3d-lod")
        assert lod.locator("option").all_inner_texts() == ["LOD 1.2", "LOD 2.2"]
        _drawn(page, lambda: lod.select_option("1.2"))
        page.wait_for_selector(".ai4geo-city3d[data-lod='1.2'][data-state='ready']", timeout=30_000)
        lod12 = _rgb(canvas.screenshot(path=str(ARTIFACTS / "lab_city3d_lod12.png")))
        assert view.locator(".ai4geo-city3d-pick[data-state='none']").count() == 1  # the pick is cleared
        changed = np.abs(lod12 - rgb).max(-1) > 0.1
        assert changed.mean() > 0.01, changed.mean()
        assert _colour_mask(lod12, legend["roof"]).mean() > 0.005
        # the fit button brings every building back into view after a zoom
        _drawn(page, view.locator(".ai4geo-city3d-fit").click)
        fit = _rgb(canvas.screenshot())
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(6):
            _drawn(page, lambda: page.mouse.wheel(0, -400))
        zoomed = _rgb(canvas.screenshot())
        _drawn(page, view.locator(".ai4geo-city3d-fit").click)
        fitted = _rgb(canvas.screenshot())
        assert (np.abs(zoomed - fitted).max(-1) > 0.1).mean() > 0.01
        assert (np.abs(fitted - fit).max(-1) > 0.1).mean() < 0.001  # the same view as before the zoom
        page.screenshot(path=str(ARTIFACTS / "lab_city3d.png"))

        # JupyterLab Dark: the panel and the canvas background follow the theme, the buildings keep their colours
        page.locator(".lm-MenuBar-item", has_text="Settings").click()
        page.locator(".lm-Menu-item", has_text="Theme").first.hover()
        page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
        page.wait_for_selector("body[data-jp-theme-name='JupyterLab Dark']", state="attached", timeout=30_000)
        page.wait_for_timeout(800)
        page.mouse.move(5, 880)
        page.screenshot(path=str(ARTIFACTS / "lab_city3d_dark.png"))
        assert np.median(_luminance(view.locator(".ai4geo-city3d-side").screenshot())) < 70
        dark = _rgb(canvas.screenshot())
        assert np.median(_luminance(dark)) < 0.3  # the background
        assert _colour_mask(dark, legend["roof"]).mean() > 0.005

        # a CityJSON named *.json: "Open on map" opens it in 3D
        _open(page, "blocks.json").click(button="right")
        page.locator(".lm-Menu-item", has_text="Open on map").click()
        page.wait_for_selector(".ai4geo-city3d-document:not(.lm-mod-hidden) " + READY, timeout=60_000)

        # a broken file and a JSON that is no CityJSON: one line in the view, no blank canvas
        _open(page, "broken.city.json").dblclick()
        message = page.locator(".ai4geo-city3d-document:not(.lm-mod-hidden) .ai4geo-city3d-message[data-state='error']")
        message.wait_for(timeout=30_000)
        assert message.inner_text().startswith("This file is not valid JSON"), message.inner_text()
        assert message.is_visible() and "\n" not in message.inner_text()
        page.screenshot(path=str(ARTIFACTS / "lab_city3d_broken.png"))
        _open(page, "other.json").click(button="right")
        page.locator(".lm-Menu-item", has_text="Open in 3D").click()
        # the new document's message (the broken file's stays in its own, possibly still shown, tab)
        message = page.locator(".ai4geo-city3d-document:not(.lm-mod-hidden) .ai4geo-city3d-message[data-state='error']",
                               has_text="CityJSON")
        message.wait_for(timeout=30_000)
        assert message.inner_text() == 'This is not a CityJSON file (its type is "FeatureCollection").'
        _open(page, "empty.city.json").dblclick()
        message = page.locator(".ai4geo-city3d-document:not(.lm-mod-hidden) .ai4geo-city3d-message[data-state='error']")
        message.wait_for(timeout=30_000)
        assert message.inner_text().startswith("This CityJSON file has no geometry to show"), message.inner_text()
        assert not errors, errors
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_city3d_failure.png"))
        raise


def _block_city(n_side: int) -> dict:
    """A CityJSON of n_side² LOD1 boxes (8 shared vertices, 6 semantic surfaces each) in Lambert-93 coordinates."""
    i, j = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    x0, y0 = (i * 20_000).ravel(), (j * 20_000).ravel()  # millimetres: 20 m apart, 12 m wide
    z1 = 6_000 + (i * 7 + j * 13).ravel() % 10 * 2_000
    corners = [(0, 0), (12_000, 0), (12_000, 12_000), (0, 12_000)]
    verts = np.zeros((len(x0), 8, 3), dtype=np.int64)
    for k, (dx, dy) in enumerate(corners):
        verts[:, k] = np.stack([x0 + dx, y0 + dy, np.zeros_like(x0)], -1)
        verts[:, k + 4] = np.stack([x0 + dx, y0 + dy, z1], -1)
    objects = {}
    for b in range(len(x0)):
        v = [8 * b + k for k in range(8)]
        shell = [[[v[0], v[3], v[2], v[1]]], [[v[4], v[5], v[6], v[7]]]]
        shell += [[[v[k], v[(k + 1) % 4], v[(k + 1) % 4 + 4], v[k + 4]]] for k in range(4)]
        objects[f"b{b}"] = {"type": "Building", "attributes": {"measuredHeight": float(z1[b]) / 1000},
                            "geometry": [{"type": "Solid", "lod": "1.2", "boundaries": [shell], "semantics": {
                                "surfaces": [{"type": "GroundSurface"}, {"type": "RoofSurface"},
                                             {"type": "WallSurface"}], "values": [[0, 1, 2, 2, 2, 2]]}}]}
    return {"type": "CityJSON", "version": "2.0",
            "transform": {"scale": [0.001, 0.001, 0.001], "translate": [652_000.0, 6_862_000.0, 35.0]},
            "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/2154"},
            "CityObjects": objects, "vertices": verts.reshape(-1, 3).tolist()}


HEARTBEAT = """() => { window.__gaps = []; let last = performance.now();
  window.__beat = setInterval(() => { const t = performance.now(); window.__gaps.push(t - last); last = t; }, 20); }"""


@pytest.mark.browser
@pytest.mark.slow
def test_a_large_city_stays_responsive(tmp_path, jupyter_lab, chromium):
    n_side = 120  # 14,400 buildings, 172,800 triangles
    root = tmp_path / "lab"
    root.mkdir()
    (root / "large.city.json").write_text(json.dumps(_block_city(n_side)))
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/lab?token={token}")
    try:
        item = _open(page, "large.city.json")
        page.evaluate(HEARTBEAT)
        item.dblclick()
        page.wait_for_selector(READY, timeout=120_000)
        _settled(page)
        gaps = page.evaluate("() => { clearInterval(window.__beat); return window.__gaps; }")
        # the page never froze for long while the file was read and triangulated in slices
        print(f"longest pause of the page: {max(gaps):.0f} ms")
        assert max(gaps) < 2_000, max(gaps)
        view = page.locator(".ai4geo-city3d").first
        assert f"{n_side * n_side} objects at LOD 1.2" in view.locator(".ai4geo-city3d-status").inner_text()
        canvas = view.locator(".ai4geo-city3d-canvas")
        rgb = _rgb(canvas.screenshot(path=str(ARTIFACTS / "lab_city3d_large.png")))
        legend = _legend(view)
        assert _colour_mask(rgb, legend["roof"]).mean() > 0.02 and _colour_mask(rgb, legend["wall"]).mean() > 0.01
        # merged meshes: an orbit step redraws the whole city quickly
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        start = page.evaluate("() => performance.now()")
        _drawn(page, lambda: page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2, steps=2))
        elapsed = page.evaluate("() => performance.now()") - start
        page.mouse.up()
        assert elapsed < 3_000, elapsed
        moved = _rgb(canvas.screenshot())
        assert (np.abs(moved - rgb).max(-1) > 0.1).mean() > 0.05  # the view turned
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_city3d_large_failure.png"))
        raise
