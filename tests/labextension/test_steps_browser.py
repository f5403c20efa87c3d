"""Run a step from its form, in a real jupyter-lab driven in Debian's Chromium: the "Run a step" panel, the input
picked from the file browser, a bad parameter shown beside its field, then fixed; the run followed tile by tile and
its products painted on the AI4GEO Map; a second step's input taken from the map's layers, its `run_step` call
inserted into a notebook; the panel in the dark theme."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args, _saturated_share
from tests.labextension.test_map_dark_browser import _luminance
from tests.labextension.test_stac_map_browser import tiles_loaded
from tests.labextension.test_vector_map_browser import _item


def _field(panel, name: str):
    return panel.locator(f".ai4geo-steps-field[data-field='{name}']")


@pytest.mark.browser
@pytest.mark.slow
def test_run_a_step_from_its_form(tmp_path, jupyter_lab, chromium, small_city):
    pytest.importorskip("rio_tiler")
    root = tmp_path / "lab"
    (root / "data").mkdir(parents=True)
    shutil.copy(small_city.truth("date1", "dsm"), root / "data" / "dsm.tif")
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))

    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab?token={token}")
    try:
        # pick the input in the file browser
        _item(page, "data").dblclick()
        _item(page, "dsm.tif").click()

        # the panel: the steps in words, the form of the one picked
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='ai4geo-steps']").click()
        panel = page.locator("#ai4geo-steps")
        page.wait_for_selector("#ai4geo-steps[data-ready='true']", timeout=60_000)
        step = panel.locator(".ai4geo-steps-step")
        assert "Building mask" in step.inner_text() and "Terrain" in step.inner_text()
        step.select_option("building_mask")
        assert panel.locator(".ai4geo-steps-form").get_attribute("data-step") == "building_mask"
        step.select_option("terrain")
        assert "DTM from the DSM" in panel.locator(".ai4geo-steps-description").inner_text()
        engine = _field(panel, "params.engine").locator("select")
        assert engine.input_value() == "morphology"  # an enum is a select, its default chosen
        smooth = _field(panel, "params.morphology.smooth_m")
        assert smooth.locator("input").input_value() == "5.0" or smooth.locator("input").input_value() == "5"
        assert "smoothing of the DTM" in smooth.inner_text() and "default 5" in smooth.inner_text()
        assert smooth.locator("input").get_attribute("min") == "0"
        assert panel.locator(".ai4geo-steps-out").input_value() == "runs/terrain"

        _field(panel, "inputs.dsm").locator(".ai4geo-steps-use-selected").click()
        assert panel.locator("input[data-field='inputs.dsm']").input_value() == "data/dsm.tif"
        panel.locator(".ai4geo-steps-tile").fill("64")

        # a bad value: the message beside its field, nothing started
        smooth.locator("input").fill("-2")
        panel.locator(".ai4geo-steps-run").click()
        error = smooth.locator(".ai4geo-field-error")
        error.wait_for(state="visible", timeout=30_000)
        assert "greater than or equal to 0" in error.inner_text()
        assert "ai4geo-invalid" in smooth.get_attribute("class")
        assert _field(panel, "inputs.dsm").locator(".ai4geo-field-error").inner_text() == ""
        assert panel.get_attribute("data-state") == "refused"
        panel.screenshot(path=str(ARTIFACTS / "lab_steps_bad_field.png"))

        # fixed: the message goes, the run is followed to its end, the products painted on the map
        smooth.locator("input").fill("3")
        assert not error.is_visible()
        panel.locator(".ai4geo-steps-run").click()
        page.wait_for_selector("#ai4geo-steps[data-state='running'], #ai4geo-steps[data-state='done']",
                               timeout=60_000)
        page.wait_for_selector("#ai4geo-steps[data-state='done']", timeout=180_000)
        bars = panel.locator(".ai4geo-steps-bar")
        assert bars.count() == 2
        for i in range(2):
            bar = bars.nth(i)
            assert bar.get_attribute("data-done") == bar.get_attribute("data-total") == "16"
            assert "16 / 16 tiles" in bar.inner_text()
        assert "terrain: done" in panel.locator(".ai4geo-steps-log").inner_text()
        assert not panel.locator(".ai4geo-steps-form .ai4geo-field-error:visible").count()
        assert not panel.locator(".ai4geo-steps-cancel").is_visible()  # nothing left to cancel
        panel.screenshot(path=str(ARTIFACTS / "lab_steps_done.png"))

        view = page.locator(".ai4geo-mapview").first
        page.wait_for_selector(".ai4geo-mapview[data-layers='2']", timeout=60_000)
        for name in ("dtm", "ndsm"):
            view.locator(f".ai4geo-mapview-layer[data-path='runs/terrain/terrain/{name}.tif'][data-state='loaded']"
                         ).wait_for(timeout=60_000)
        tiles_loaded(page)
        shot = view.locator(".ai4geo-mapview-map").screenshot(path=str(ARTIFACTS / "lab_steps_products_map.png"))
        assert _saturated_share(shot) > 0.1  # the products' colours on the map, not only a request

        # the next step takes the nDSM from the map's layers; its call goes into a notebook
        step.select_option("building_mask")
        layers = _field(panel, "inputs.ndsm").locator(".ai4geo-steps-layers")
        layers.focus()
        layers.select_option("runs/terrain/terrain/ndsm.tif")
        assert panel.locator("input[data-field='inputs.ndsm']").input_value() == "runs/terrain/terrain/ndsm.tif"
        _field(panel, "params.min_height").locator("input").fill("3")
        panel.locator(".ai4geo-steps-code").click()
        page.wait_for_function("() => (document.querySelector('.jp-Notebook .jp-Cell.jp-mod-active .cm-content')"
                               "?.textContent || '').includes('run_step(')", timeout=120_000)
        code = page.locator(".jp-Notebook .jp-Cell.jp-mod-active .cm-content").inner_text()
        # the notebook opened in data/ (where the file browser is): the paths are given from there
        assert 'run_step("building_mask", {"ndsm": "../runs/terrain/terrain/ndsm.tif"}, {"min_height": 3}, ' \
               '"../runs/building_mask", tile_size=64)' in code, code
        # the inserted call runs in the notebook's kernel and makes the mask
        page.locator(".jp-Notebook .jp-Cell.jp-mod-active .cm-content").click()
        page.keyboard.press("Shift+Enter")
        page.locator(".jp-OutputArea-output", has_text="mask.tif").first.wait_for(timeout=120_000)
        assert (root / "runs" / "building_mask" / "building_mask" / "mask.tif").is_file()
        page.screenshot(path=str(ARTIFACTS / "lab_steps_code.png"))

        # the dark theme: the panel follows it
        panel.wait_for(state="visible")  # still open beside the notebook
        assert np.median(_luminance(panel.screenshot())) > 200
        page.locator(".lm-MenuBar-item", has_text="Settings").click()
        page.locator(".lm-Menu-item", has_text="Theme").first.hover()
        page.get_by_role("menuitem", name="JupyterLab Dark", exact=True).click()
        page.wait_for_selector("body[data-jp-theme-name='JupyterLab Dark']", state="attached", timeout=30_000)
        page.wait_for_timeout(800)
        page.mouse.move(700, 990)
        dark = panel.screenshot(path=str(ARTIFACTS / "lab_steps_dark.png"))
        assert np.median(_luminance(dark)) < 70
        assert np.median(_luminance(panel.locator(".ai4geo-steps-params").screenshot())) < 70
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_steps_failure.png"))
        raise
