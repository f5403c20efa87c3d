"""The AI4GEO Map in a real jupyter-lab driven in Debian's Chromium: a DSM in the root, right-click → Open on map,
its pixels on the map (over the offline base: the tile server cannot be reached), its legend and the value under
the mouse."""

from __future__ import annotations

import io
import json
import re
import socket
from pathlib import Path

import numpy as np
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ai4geo_lab"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _lab_args(tmp_path: Path) -> tuple[list[str], Path | None]:
    """Server options, and the folder of the extension under test: the one built in this source tree when there
    is one (it takes precedence over an installed copy), else the installed one."""
    with socket.socket() as s:  # a tile server nobody answers for: the map must fall back to its offline base
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/{{z}}/{{x}}/{{y}}.png"
    args = ["--ServerApp.jpserver_extensions={'ai4geo_lab.server': True}", f"--Ai4geoLab.tile_url={dead}"]
    built = PACKAGE / "labextension"
    if (built / "package.json").is_file():
        extra = tmp_path / "labextensions"
        extra.mkdir()
        (extra / "ai4geo-lab").symlink_to(built)
        args.append(f"--LabApp.extra_labextensions_path={extra}")
        return args, built
    from jupyter_core.paths import jupyter_path

    for folder in jupyter_path("labextensions"):
        if (Path(folder) / "ai4geo-lab" / "package.json").is_file():
            return args, Path(folder) / "ai4geo-lab"
    pytest.skip("the Lab extension is neither built nor installed (bash scripts/setup.sh)")
    raise AssertionError  # unreachable


def lab_page(tmp_path: Path, root: Path, jupyter_lab, chromium, env: dict | None = None, width: int = 1500,
             height: int = 1000):
    """A jupyter-lab on ``root`` with the extension under test (offline tile server), opened in a new page."""
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, env, tuple(args))
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.goto(f"{url}/lab?token={token}")
    return page


def open_on_map(page, name: str, layers: int) -> None:
    """Right-click ``name`` in the file browser → Open on map; wait until the map holds ``layers`` layers."""
    item = page.locator(".jp-DirListing-item", has_text=name)
    item.wait_for(timeout=60_000)
    item.click(button="right")
    page.locator(".lm-Menu-item", has_text="Open on map").click()
    page.wait_for_selector(f".ai4geo-mapview[data-layers='{layers}']", timeout=60_000)


def wait_for_tiles(page) -> None:
    """Until the raster layers are loaded and every tile image drawn (and faded in)."""
    page.wait_for_selector(".ai4geo-mapview-layer[data-state='loaded']", timeout=60_000)
    page.wait_for_function("() => { const t = [...document.querySelectorAll('.ai4geo-raster-tiles img')];"
                           " return t.length > 0 && t.every(i => i.complete) }", timeout=60_000)
    page.wait_for_timeout(600)  # Leaflet fades tiles in


def _saturated_share(png: bytes) -> float:
    """Share of the pixels with a clear colour (the offline base map is grey-blue, its lines grey)."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return float(((rgb.max(-1) - rgb.min(-1)) > 40).mean())


@pytest.mark.browser
@pytest.mark.slow
def test_open_a_dsm_on_the_map(tmp_path, jupyter_lab, chromium):
    pytest.importorskip("rio_tiler")
    from ai4geo_lab.maps import raster_info
    from tests.maps.conftest import write_products

    root = tmp_path / "lab"
    dsm = write_products(tmp_path / "made")["dsm"]
    root.mkdir()
    dsm.rename(root / "dsm.tif")
    info = raster_info(root / "dsm.tif")
    args, extension = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/lab?token={token}")
    try:
        # the build under test is the one served
        config = json.loads(page.locator("#jupyter-config-data").text_content())
        served = [e for e in config["federated_extensions"] if e["name"] == "ai4geo-lab"]
        assert served and (extension / served[0]["load"]).is_file(), served

        page.locator(".jp-Launcher-section .jp-LauncherCard", has_text="AI4GEO Map").wait_for(timeout=60_000)
        item = page.locator(".jp-DirListing-item[data-file-type='tiff']", has_text="dsm.tif")
        item.wait_for(timeout=60_000)
        item.click(button="right")
        page.locator(".lm-Menu-item", has_text="Open on map").click()

        view = page.locator(".ai4geo-mapview")
        page.wait_for_selector(".ai4geo-mapview[data-layers='1']", timeout=60_000)
        page.wait_for_function("() => (document.querySelector('.ai4geo-mapview-map').dataset.base || '')"
                               ".startsWith('offline')", timeout=30_000)
        wait_for_tiles(page)
        the_map = view.locator(".ai4geo-mapview-map")
        shot = the_map.screenshot(path=str(ARTIFACTS / "lab_map_dsm.png"))
        assert _saturated_share(shot) > 0.1  # the DSM's colours cover a good part of the map

        # the legend: the colour bar and its 2–98 % values in metres
        layer = view.locator(".ai4geo-mapview-layer")
        assert layer.locator(".ai4geo-layer-title").inner_text() == "dsm.tif"
        assert layer.locator(".ai4geo-legend-bar").is_visible()
        ends = layer.locator(".ai4geo-legend-ends").inner_text()
        lo, hi = info["stretch"]
        assert f"{lo:.1f} m" in ends and f"{hi:.1f} m" in ends, ends

        # the value under the mouse
        box = the_map.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.move(box["x"] + box["width"] / 2 + 5, box["y"] + box["height"] / 2 + 3, steps=3)
        readout = view.locator(".ai4geo-mapview-value[data-state='value']")
        readout.wait_for(timeout=30_000)
        text = readout.inner_text()
        assert re.fullmatch(r"dsm\.tif: [\d.]+ m", text), text
        assert info["range"][0] <= float(readout.get_attribute("data-value")) <= info["range"][1]
        page.screenshot(path=str(ARTIFACTS / "lab_map_dsm_hover.png"))

        # opacity: the layer fades, the base map shows through
        layer.locator(".ai4geo-opacity").fill("0.2")
        assert page.evaluate("() => document.querySelector('.ai4geo-raster-tiles').style.opacity") == "0.2"
        page.wait_for_timeout(300)
        faded = the_map.screenshot(path=str(ARTIFACTS / "lab_map_dsm_faded.png"))
        assert _saturated_share(faded) < _saturated_share(shot)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_map_failure.png"))
        raise
