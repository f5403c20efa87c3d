"""The Lab's search form guides, in a real jupyter-lab driven in Debian's Chromium: each bad input is marked where
it is with its message beside it (in words), stale results go away on error, an unreadable upload is told of the
user's file only, a repaired geometry is said, a saved AOI is replaced only once confirmed, and drawn AOIs can be
edited, cleared and deleted."""

from __future__ import annotations

import json
import re

import pytest

from tests.labextension.test_map_browser import ARTIFACTS, lab_page

BOWTIE = {"type": "Polygon", "coordinates": [[[1.0, 43.0], [1.01, 43.01], [1.01, 43.0], [1.0, 43.01], [1.0, 43.0]]]}


def _beside(page, input_selector: str) -> str:
    """The message shown beside a field (in its field's slot)."""
    return page.evaluate("s => { const i = document.querySelector(s); const f = i.closest('.ai4geo-field');"
                         " return f ? f.querySelector('.ai4geo-field-error').textContent : null }", input_selector)


def _hollow(png: bytes) -> float:
    """Share of the pixels inside an icon's central disc that look like its background (its corner pixel):
    none for a solid dot, many for an outline."""
    import io

    import numpy as np
    from PIL import Image

    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L")).astype(int)
    h, w = grey.shape
    yy, xx = np.mgrid[0:h, 0:w]
    inside = (yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2 < (0.3 * min(h, w)) ** 2
    return float((np.abs(grey - grey[0, 0]) < 40)[inside].mean())


@pytest.mark.browser
@pytest.mark.slow
def test_the_search_form_guides(tmp_path, small_city, jupyter_lab, chromium):
    from ai4geo_lab.catalog import add_local_catalog

    ws = tmp_path / "ws"
    add_local_catalog(small_city.root, workspace=ws)
    root = tmp_path / "lab"
    root.mkdir()
    page = lab_page(tmp_path, root, jupyter_lab, chromium, {"AI4GEO_WORKSPACE": str(ws)})
    panel = page.locator("#ai4geo-search")
    try:
        # the side bar's globe is drawn as an outline (the theme's icon rules once filled it into a grey dot)
        icon = page.locator(".jp-SideBar [data-id='ai4geo-search'] svg").first
        icon.wait_for(timeout=60_000)
        assert _hollow(icon.screenshot(path=str(ARTIFACTS / "search_form_icon.png"))) > 0.15
        page.locator(".jp-SideBar [data-id='ai4geo-search']").click(timeout=60_000)
        page.wait_for_selector("#ai4geo-search[data-ready='true']", timeout=60_000)
        page.wait_for_function("() => document.querySelector('.ai4geo-collection').value === 'sample-ortho'")
        search = panel.locator(".ai4geo-search-button")
        # the collection's own filters are labelled in words, not by their API names (gsd, proj:code, …)
        panel.locator(".ai4geo-queryable").first.wait_for(timeout=30_000)
        labels = panel.locator(".ai4geo-queryable > span").all_inner_texts()
        assert "Ground sample distance (m)" in labels and not any(":" in t for t in labels), labels
        # the primary button stands out in the theme's accent colour, the others do not
        accent, plain = page.evaluate("() => ['.ai4geo-search-button', '.ai4geo-insert'].map(s => getComputedStyle("
                                      "document.querySelector('#ai4geo-search ' + s)).backgroundColor)")
        r, _, b = (int(v) for v in re.findall(r"\d+", accent)[:3])
        assert accent != plain and b > r + 60, (accent, plain)

        # results first, so that an error must take them away
        search.click()
        page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-summary').dataset.count === '2'",
                               timeout=60_000)
        assert panel.locator(".ai4geo-results tbody tr").count() == 2

        # a cloud cover over 100 %: marked where it is, the message beside it, the old results gone
        panel.locator(".ai4geo-max-cloud").fill("150")
        search.click()
        page.wait_for_selector("#ai4geo-search .ai4geo-max-cloud.ai4geo-invalid", timeout=30_000)
        assert _beside(page, "#ai4geo-search .ai4geo-max-cloud") == "at most 100"
        assert panel.locator(".ai4geo-status").inner_text() == "correct the marked field"
        assert panel.locator(".ai4geo-results tbody tr").count() == 0
        assert panel.locator(".ai4geo-summary").inner_text() == ""
        panel.locator(".ai4geo-max-cloud").screenshot(path=str(ARTIFACTS / "search_form_cloud.png"))
        page.screenshot(path=str(ARTIFACTS / "search_form_cloud_page.png"))

        # dates the wrong way round: said beside End, as days (no time stamps)
        panel.locator(".ai4geo-max-cloud").fill("")
        panel.locator(".ai4geo-start").fill("2024-02-01")
        panel.locator(".ai4geo-end").fill("2024-01-01")
        search.click()
        page.wait_for_selector("#ai4geo-search .ai4geo-end.ai4geo-invalid", timeout=30_000)
        assert not panel.locator(".ai4geo-max-cloud.ai4geo-invalid").count()  # the last error only
        said = _beside(page, "#ai4geo-search .ai4geo-end")
        assert said.startswith("the end date 2024-01-01 is before the start date 2024-02-01"), said
        assert "T23:59" not in said and "Z" not in said
        panel.locator(".ai4geo-start").fill("")
        panel.locator(".ai4geo-end").fill("")

        # an upload that is no vector file: one line about the user's file, beside the upload field
        upload = panel.locator(".ai4geo-upload input[type=file]")
        upload.set_input_files(files=[{"name": "junk.gpkg", "mimeType": "application/octet-stream",
                                       "buffer": b"garbage" * 20}])
        page.wait_for_selector("#ai4geo-search .ai4geo-upload input.ai4geo-invalid", timeout=30_000)
        said = _beside(page, "#ai4geo-search .ai4geo-upload input")
        assert said.startswith("junk.gpkg cannot be read"), said
        assert "/tmp" not in said and "ai4geo-upload" not in said and "\n" not in said

        # a self-intersecting polygon: saved under the file's name, repaired, and the user is told
        bowtie = {"name": "bowtie.geojson", "mimeType": "application/geo+json",
                  "buffer": json.dumps(BOWTIE).encode()}
        upload.set_input_files(files=[bowtie])
        page.wait_for_selector("#ai4geo-search .ai4geo-aoi-status[data-aoi='bowtie']", timeout=30_000)
        assert not panel.locator(".ai4geo-invalid").count()  # the upload's error went with the good file
        warning = panel.locator(".ai4geo-aoi-warning").inner_text()
        assert "repaired" in warning and "Self-intersection" in warning, warning
        page.screenshot(path=str(ARTIFACTS / "search_form_repaired.png"))

        # the same file again: asked before replacing; Cancel keeps the saved one and says why beside the name
        upload.set_input_files(files=[bowtie])
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=30_000)
        assert "An AOI named 'bowtie' is already saved" in dialog.inner_text()
        page.screenshot(path=str(ARTIFACTS / "search_form_replace_dialog.png"))
        dialog.locator("button", has_text="Cancel").click()
        page.wait_for_selector("#ai4geo-search .ai4geo-aoi-name.ai4geo-invalid", timeout=30_000)
        assert "already saved" in panel.locator(".ai4geo-aoi-error").inner_text()
        upload.set_input_files(files=[bowtie])
        page.locator(".jp-Dialog button", has_text="Replace").click(timeout=30_000)
        page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-status').textContent"
                               ".startsWith(\"AOI 'bowtie' read from bowtie.geojson and saved\")", timeout=30_000)
        assert not panel.locator(".ai4geo-invalid").count()

        # edit the AOI's corners on the map: it becomes a drawn AOI, to be saved again
        panel.locator(".ai4geo-edit-aoi").click()
        panel.locator(".ai4geo-map .marker-icon").first.wait_for(timeout=30_000)
        panel.locator(".ai4geo-map").scroll_into_view_if_needed()
        frame = panel.locator(".ai4geo-map").bounding_box()
        inside = [b for b in (m.bounding_box() for m in panel.locator(".ai4geo-map .marker-icon").all())
                  if b and frame["x"] + 60 < b["x"] < frame["x"] + frame["width"] - 60
                  and frame["y"] + 40 < b["y"] < frame["y"] + frame["height"] - 60]
        assert inside, "no corner of the AOI to move inside the map"
        box = inside[0]
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 25, box["y"] + 20, steps=8)
        page.mouse.up()
        page.wait_for_selector("#ai4geo-search .ai4geo-aoi-status[data-aoi='drawn']", timeout=30_000)
        assert "edited" in panel.locator(".ai4geo-aoi-status").inner_text()
        panel.locator(".ai4geo-edit-aoi").click()  # Done
        assert panel.locator(".ai4geo-edit-aoi").inner_text() == "Edit"

        # clear it: searching is over everywhere again
        panel.locator(".ai4geo-clear-aoi").click()
        assert panel.locator(".ai4geo-aoi-status").get_attribute("data-aoi") == "none"
        search.click()
        page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-summary').dataset.count === '2'",
                               timeout=60_000)

        # delete the saved AOI, once confirmed
        panel.locator(".ai4geo-saved").select_option("bowtie")
        panel.locator(".ai4geo-delete-aoi").click()
        page.locator(".jp-Dialog button", has_text="Delete").click(timeout=30_000)
        page.wait_for_function("() => ![...document.querySelectorAll('#ai4geo-search .ai4geo-saved option')]"
                               ".some(o => o.value === 'bowtie')", timeout=30_000)
        assert not (ws / "aois" / "bowtie.geojson").exists()
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "search_form_failure.png"))
        raise
