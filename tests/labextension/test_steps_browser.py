"""Run a step from its form, in a real jupyter-lab driven in Debian's Chromium: the "Run a step" panel, the input
picked from the file browser, a bad parameter shown beside its field, then fixed; the run followed tile by tile and
its products painted on the AI4GEO Map; a second step's input taken from the map's layers, its `run_step` call
inserted into a notebook; the job list (state, details, Run again, Forget); the panel in the dark theme."""

from __future__ import annotations

import io
import re
import shutil

import numpy as np
import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args, _saturated_share
from tests.labextension.test_map_dark_browser import _luminance
from tests.labextension.test_stac_map_browser import tiles_loaded
from tests.labextension.test_vector_map_browser import _item


def _field(panel, name: str):
    return panel.locator(f".ai4geo-steps-field[data-field='{name}']")


def _green_share(png: bytes) -> float:
    """Share of the pixels clearly green (the "done" badge's text and border)."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return float(((rgb[..., 1] - rgb[..., 0] > 40) & (rgb[..., 1] - rgb[..., 2] > 40)).mean())


@pytest.mark.browser
@pytest.mark.slow
def test_run_a_step_from_its_form(tmp_path, jupyter_lab, chromium, small_city, own_workspace):
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

        # the job list: the run, done, in words, with its time; its details open with a click
        jobs = panel.locator(".ai4geo-jobs")
        row = jobs.locator(".ai4geo-job[data-state='done']")
        row.wait_for(timeout=30_000)
        assert jobs.locator(".ai4geo-job").count() == 1
        job_id = row.get_attribute("data-id")
        assert row.locator(".ai4geo-job-step").inner_text() == "Terrain"
        badge = row.locator(".ai4geo-job-badge")
        assert badge.inner_text() == "done"
        assert _green_share(badge.screenshot()) > 0.05  # said in green
        assert re.fullmatch(r"\d{1,2}:\d{2}(\s?[AP]M)?", row.locator(".ai4geo-job-time").inner_text())
        assert not row.locator("progress").count()  # a bar only while it runs
        assert not jobs.locator(".ai4geo-jobs-empty").is_visible()
        row.locator(".ai4geo-job-head").click()
        details = row.locator(".ai4geo-job-details")
        details.wait_for(timeout=10_000)
        assert "terrain: done" in details.locator(".ai4geo-job-log").inner_text()
        assert "Output folder runs/terrain" in details.inner_text() and "32 / 32 tiles" in details.inner_text()
        output = details.locator(".ai4geo-job-outputs li[data-path='runs/terrain/terrain/ndsm.tif']")
        assert output.locator(".ai4geo-job-open").inner_text() == "Open on map"
        assert not details.locator(".ai4geo-job-error").count() and not details.locator(".ai4geo-job-cancel").count()
        jobs.screenshot(path=str(ARTIFACTS / "lab_steps_jobs.png"))

        # Run again: the form gets the job's step, input and parameters back, from another step's form
        step.select_option("building_mask")
        details.locator(".ai4geo-job-again").click()
        page.wait_for_selector(f"#ai4geo-steps[data-filled='{job_id}']", timeout=10_000)
        assert step.input_value() == "terrain"
        assert panel.locator("input[data-field='inputs.dsm']").input_value() == "data/dsm.tif"
        assert float(_field(panel, "params.morphology.smooth_m").locator("input").input_value()) == 3
        assert _field(panel, "params.engine").locator("select").input_value() == "morphology"
        assert panel.locator(".ai4geo-steps-tile").input_value() == "64"
        assert panel.locator(".ai4geo-steps-out").input_value() == "runs/terrain"
        assert "Run runs it again" in panel.locator(".ai4geo-steps-status").inner_text()

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
        jobs.scroll_into_view_if_needed()
        dark_jobs = jobs.screenshot(path=str(ARTIFACTS / "lab_steps_jobs_dark.png"))
        assert np.median(_luminance(dark_jobs)) < 70
        assert _green_share(badge.screenshot()) > 0.05  # "done" still green on the dark background

        # Forget: the row goes, and the job's record with it
        record = own_workspace / "jobs" / f"{job_id}.json"
        assert record.is_file()
        details.locator(".ai4geo-job-forget").click()
        row.wait_for(state="detached", timeout=10_000)
        assert jobs.locator(".ai4geo-job").count() == 0
        assert jobs.locator(".ai4geo-jobs-empty").inner_text() == "No job yet: Run starts one."
        assert not record.exists()
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_steps_failure.png"))
        raise


@pytest.mark.browser
@pytest.mark.slow
def test_the_jobs_of_an_earlier_server(tmp_path, jupyter_lab, chromium, small_city, own_workspace):
    """A job the previous server was running when it stopped comes back interrupted; Run again fills the form and
    the new run joins the list, above it."""
    import datetime as dt

    from ai4geo_lab.server.job_records import JobRecord, JobRecords, records_dir

    root = tmp_path / "lab"
    (root / "data").mkdir(parents=True)
    shutil.copy(small_city.truth("date1", "dsm"), root / "data" / "dsm.tif")
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    records = JobRecords(records_dir(own_workspace))
    earlier = JobRecord(id="0a1b2c3d4e5f", root=str(root.resolve()), step="terrain", inputs={"dsm": "data/dsm.tif"},
                        params={"morphology": {"smooth_m": 2.5}}, run_params={"morphology": {"smooth_m": 2.5}},
                        out="runs/earlier", tile_size=100, state="running", created=now, started=now,
                        progress={"terrain/dtm": {"done": 3, "total": 4}}, log=["[terrain] terrain: running"])
    elsewhere = earlier.model_copy(update={"id": "0a1b2c3d4e60", "root": str(tmp_path / "other"), "state": "done"})
    assert records.write(earlier) and records.write(elsewhere)
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, tuple(args))

    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab?token={token}")
    try:
        page.locator(".jp-SideBar .lm-TabBar-tab[data-id='ai4geo-steps']").click()
        page.wait_for_selector("#ai4geo-steps[data-ready='true']", timeout=60_000)
        panel = page.locator("#ai4geo-steps")
        jobs = panel.locator(".ai4geo-jobs")
        row = jobs.locator(".ai4geo-job[data-id='0a1b2c3d4e5f']")
        row.wait_for(timeout=30_000)
        assert jobs.locator(".ai4geo-job").count() == 1  # not the job of another root folder
        assert row.locator(".ai4geo-job-badge").inner_text() == "interrupted"
        row.locator(".ai4geo-job-head").click()
        details = row.locator(".ai4geo-job-details")
        error = details.locator(".ai4geo-job-error")
        error.wait_for(timeout=10_000)
        assert "stopped before the job ended" in error.inner_text() and "resume" in error.inner_text()
        assert "3 / 4 tiles" in details.inner_text()
        assert not details.locator(".ai4geo-job-cancel").count() and details.locator(".ai4geo-job-forget").count()
        jobs.screenshot(path=str(ARTIFACTS / "lab_steps_jobs_interrupted.png"))

        details.locator(".ai4geo-job-again").click()
        page.wait_for_selector("#ai4geo-steps[data-filled='0a1b2c3d4e5f']", timeout=10_000)
        assert float(_field(panel, "params.morphology.smooth_m").locator("input").input_value()) == 2.5
        assert panel.locator(".ai4geo-steps-tile").input_value() == "100"
        assert panel.locator(".ai4geo-steps-out").input_value() == "runs/earlier"
        panel.locator(".ai4geo-steps-run").click()
        page.wait_for_selector("#ai4geo-steps[data-state='done']", timeout=180_000)
        jobs.locator(".ai4geo-job[data-state='done']").wait_for(timeout=30_000)
        listed = jobs.locator(".ai4geo-job")
        assert listed.count() == 2
        assert listed.nth(0).locator(".ai4geo-job-badge").inner_text() == "done"  # newest first
        assert listed.nth(1).get_attribute("data-id") == "0a1b2c3d4e5f"
        assert (root / "runs" / "earlier" / "terrain" / "ndsm.tif").is_file()
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_steps_jobs_failure.png"))
        raise
