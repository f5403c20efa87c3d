"""Search results in the Lab's search panel, in a real jupyter-lab driven in Debian's Chromium: a series of nine
ortho images of the sample city (each on its own part of the city, from January to September) is found from the
catalogue extent, an AOI drawn over it and searched; the table sorts by date and by cloud cover as a person reads
it, the date histogram's range narrows the rows and the footprints drawn on the map, and a quicklook is drawn on
its footprint."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pytest

from tests.labextension.test_map_browser import ARTIFACTS, lab_page

# (month, day, cloud cover or None), listed out of date order: the server's order is not the sorted one
SERIES = [(5, 2, 7.2), (1, 10, 12.5), (9, 30, 33.0), (3, 20, None), (7, 1, 0.5), (2, 5, 3.0), (8, 19, 18.0),
          (3, 28, 40.0), (6, 15, 25.0)]
FOOTPRINT = (228, 87, 46)  # the footprints' outline colour (#e4572e)


def _series_catalogue(city_root: Path, out: Path) -> Path:
    """Nine items of the collection 'city-series', each on one cell of a 3 × 3 grid over the city (with gaps
    between cells), all with the city's ortho image as their data."""
    import pystac

    city = pystac.Catalog.from_file(str(city_root / "catalog" / "catalog.json"))
    ortho = next(i for i in city.get_items(recursive=True) if i.id == "ortho-date1")
    ortho.make_asset_hrefs_absolute()
    west, south, east, north = ortho.bbox
    dx, dy = (east - west) / 3, (north - south) / 3
    items = []
    for n, (month, day, cloud) in enumerate(SERIES):
        col, row = n % 3, n // 3
        x0, y0 = west + (col + 0.1) * dx, north - (row + 0.9) * dy
        x1, y1 = west + (col + 0.9) * dx, north - (row + 0.1) * dy
        geometry = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}
        props = {"platform": "ai4geo-sample", "instruments": ["rgbn"]}
        if cloud is not None:
            props["eo:cloud_cover"] = cloud
        item = pystac.Item(f"series-2024-{month:02d}-{day:02d}-cell{n}", geometry, [x0, y0, x1, y1],
                           dt.datetime(2024, month, day, 10, 30, tzinfo=dt.UTC), props)
        item.add_asset("ortho", pystac.Asset(ortho.assets["ortho"].href, media_type=pystac.MediaType.COG,
                                             roles=["data"]))
        items.append(item)
    extent = pystac.Extent(pystac.SpatialExtent([list(ortho.bbox)]),
                           pystac.TemporalExtent([[dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                                                   dt.datetime(2024, 10, 1, tzinfo=dt.UTC)]]))
    collection = pystac.Collection("city-series", "Ortho images of the sample city through 2024", extent,
                                   title="city-series", license="CC-BY-4.0")
    collection.add_items(items)
    catalog = pystac.Catalog("city-series-catalog", "A series over the sample city", title="city series")
    catalog.add_child(collection)
    catalog.normalize_hrefs(str(out))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return out / "catalog.json"


@pytest.mark.browser
@pytest.mark.slow
def test_results_table_histogram_and_quicklook(tmp_path, small_city, jupyter_lab, chromium):
    page = series_lab(tmp_path, small_city, jupyter_lab, chromium, 1500, 1500)
    try:
        _drive(page)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "lab_results_failure.png"))
        raise


def series_lab(tmp_path: Path, small_city, jupyter_lab, chromium, width: int, height: int):
    """A Lab whose local catalogue holds the series of :func:`_series_catalogue`, opened in a new page."""
    from ai4geo_lab.catalog import add_local_catalog

    ws = tmp_path / "ws"
    add_local_catalog(_series_catalogue(small_city.root, tmp_path / "series"), workspace=ws)
    root = tmp_path / "lab"
    root.mkdir()
    return lab_page(tmp_path, root, jupyter_lab, chromium, {"AI4GEO_WORKSPACE": str(ws)}, width, height)


def search_over_city(page, panel) -> None:
    """Find the city from the catalogue extent, draw an AOI over it on the panel's map and search: nine items."""
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-map').dataset.catalogue === '1'",
                           timeout=30_000)
    panel.locator(".ai4geo-zoom-catalogue a").click()
    page.wait_for_timeout(600)
    extent = panel.locator("path.ai4geo-catalogue-extent").bounding_box()
    panel.locator(".leaflet-pm-icon-rectangle").click()
    page.mouse.move(extent["x"] + 0.8 * extent["width"], extent["y"] + 0.8 * extent["height"])
    page.mouse.down()
    page.mouse.up()
    page.mouse.move(extent["x"] + 0.2 * extent["width"], extent["y"] + 0.2 * extent["height"], steps=12)
    page.mouse.down()
    page.mouse.up()
    page.wait_for_selector("#ai4geo-search .ai4geo-aoi-status[data-aoi='drawn']")
    panel.locator(".ai4geo-search-button").click()
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-summary').dataset.count === '9'",
                           timeout=60_000)


def distinct_colours(a: np.ndarray) -> int:
    """How many different colours an RGB array holds (an image has many, a plain map few)."""
    return len(np.unique(a.reshape(-1, 3), axis=0))


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _outline_pixels(shot: np.ndarray, box: dict, origin: dict) -> int:
    """How many pixels of the footprint colour lie on the edges of a box (page coordinates) in a map screenshot."""
    x0, y0 = int(box["x"] - origin["x"]), int(box["y"] - origin["y"])
    x1, y1 = int(x0 + box["width"]), int(y0 + box["height"])
    ring = np.zeros(shot.shape[:2], dtype=bool)
    ring[max(y0 - 2, 0):y1 + 3, max(x0 - 2, 0):x1 + 3] = True
    ring[y0 + 4:y1 - 3, x0 + 4:x1 - 3] = False
    close = (np.abs(shot - np.array(FOOTPRINT)).sum(axis=2) < 90) & ring
    return int(close.sum())


def _column(panel, cls: str) -> list[str]:
    """The cells of a column, top to bottom as they are seen."""
    cells = panel.locator(f".ai4geo-results tbody td.{cls}")
    found = [(cells.nth(i).bounding_box()["y"], cells.nth(i).inner_text().strip()) for i in range(cells.count())]
    return [text for _, text in sorted(found)]


def _drive(page) -> None:
    page.locator(".jp-SideBar [data-id='ai4geo-search']").wait_for(timeout=60_000)
    page.locator(".jp-SideBar [data-id='ai4geo-search']").click()
    panel = page.locator("#ai4geo-search")
    page.wait_for_selector("#ai4geo-search[data-ready='true']", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-collection').value === "
                           "'city-series'", timeout=30_000)

    # find the city from the catalogue extent, draw an AOI over it, search
    search_over_city(page, panel)
    count = panel.locator(".ai4geo-results-count")
    assert count.inner_text() == "9 of 9 results"
    assert panel.locator(".ai4geo-results tbody tr").count() == 9
    headers = [t.strip() for t in panel.locator(".ai4geo-results thead th").all_inner_texts()]
    assert headers == ["", "", "Date", "Cloud %", "Collection", "Platform", "Id"], headers
    # a missing cloud cover is a dash; the id is shortened, whole on hover
    assert _column(panel, "ai4geo-col-cloud").count("—") == 1
    one_id = panel.locator(".ai4geo-results tbody tr[data-id='series-2024-05-02-cell0'] td.ai4geo-col-id")
    assert one_id.get_attribute("title") == "series-2024-05-02-cell0"
    assert len(one_id.inner_text()) < len("series-2024-05-02-cell0") and "…" in one_id.inner_text()
    assert panel.locator(".ai4geo-results tbody td.ai4geo-col-platform").first.inner_text() == "ai4geo-sample / rgbn"

    # sort by date: ascending, then descending, with the arrow on the header
    dates = sorted(f"2024-{m:02d}-{d:02d}" for m, d, _ in SERIES)
    date_header = panel.locator(".ai4geo-sort[data-key='date']")
    date_header.click()
    assert _column(panel, "ai4geo-col-date") == dates
    assert date_header.inner_text() == "Date ▲"
    assert panel.locator("th:has(.ai4geo-sort[data-key='date'])").get_attribute("aria-sort") == "ascending"
    date_header.click()
    assert _column(panel, "ai4geo-col-date") == dates[::-1]
    assert date_header.inner_text() == "Date ▼"

    # sort by cloud cover with the keyboard: numbers in order, the missing one last both ways
    clouds = sorted(c for _, _, c in SERIES if c is not None)
    cloud_header = panel.locator(".ai4geo-sort[data-key='cloud']")
    cloud_header.focus()
    page.keyboard.press("Enter")
    assert _column(panel, "ai4geo-col-cloud") == [f"{c:.1f}" for c in clouds] + ["—"]
    assert cloud_header.inner_text() == "Cloud % ▲" and date_header.inner_text() == "Date"
    page.keyboard.press("Enter")  # the focus stays on the header
    assert _column(panel, "ai4geo-col-cloud") == [f"{c:.1f}" for c in clouds[::-1]] + ["—"]
    # numbers are right-aligned: their right edges line up
    cells = panel.locator(".ai4geo-results tbody td.ai4geo-col-cloud")
    rights = set()
    for i in range(cells.count() - 1):
        r = cells.nth(i).evaluate("td => { const r = document.createRange(); r.selectNodeContents(td); "
                                  "return Math.round(r.getBoundingClientRect().right) }")
        rights.add(r)
    assert len(rights) == 1, rights
    # at the side bar's width the date and the cloud cover are seen without scrolling
    scroll = panel.locator(".ai4geo-results-scroll").bounding_box()
    cloud_box = panel.locator(".ai4geo-sort[data-key='cloud']").bounding_box()
    assert cloud_box["x"] + cloud_box["width"] <= scroll["x"] + scroll["width"] + 1, (cloud_box, scroll)
    panel.screenshot(path=str(ARTIFACTS / "lab_results_sorted.png"))

    # the date histogram: months January to September, every bar drawn
    histogram = panel.locator(".ai4geo-histogram")
    assert histogram.get_attribute("data-unit") == "month"
    assert panel.locator(".ai4geo-histogram-bars rect.ai4geo-bar").count() == 9
    assert panel.locator(".ai4geo-range-text").inner_text() == "2024-01 – 2024-09"

    # every footprint on the map, each an outline seen in the map's pixels
    map_node = panel.locator(".ai4geo-map")
    origin = map_node.bounding_box()
    paths = panel.locator("path.ai4geo-footprint[data-id]")
    assert paths.count() == 9
    boxes = {paths.nth(i).get_attribute("data-id"): paths.nth(i).bounding_box() for i in range(9)}
    page.mouse.move(5, 1000)
    shot = _pixels(map_node.screenshot())
    assert all(_outline_pixels(shot, b, origin) > 40 for b in boxes.values()), \
        {k: _outline_pixels(shot, b, origin) for k, b in boxes.items()}

    # narrow the range with the sliders' keys: March to June
    page.locator(".ai4geo-range-from").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.locator(".ai4geo-range-to").focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    assert panel.locator(".ai4geo-range-text").inner_text() == "2024-03 – 2024-06"
    assert count.inner_text() == "4 of 9 results"
    kept = {f"series-2024-{m:02d}-{d:02d}-cell{n}" for n, (m, d, _) in enumerate(SERIES) if 3 <= m <= 6}
    rows = set(panel.locator(".ai4geo-results tbody tr").evaluate_all("rs => rs.map(r => r.dataset.id)"))
    assert rows == kept
    assert _column(panel, "ai4geo-col-cloud") == ["40.0", "25.0", "7.2", "—"]  # still sorted, cloudiest first
    assert {paths.nth(i).get_attribute("data-id") for i in range(paths.count())} == kept
    page.mouse.move(5, 1000)
    shot = _pixels(map_node.screenshot(path=str(ARTIFACTS / "lab_results_narrowed_map.png")))
    for item, box in boxes.items():
        seen = _outline_pixels(shot, box, origin)
        assert (seen > 40) if item in kept else (seen < 5), (item, seen)
    panel.screenshot(path=str(ARTIFACTS / "lab_results_narrowed.png"))

    # drag over the bars: July to September; "clear" brings everything back
    bars = panel.locator(".ai4geo-histogram-bars").bounding_box()
    step = bars["width"] / 9
    page.mouse.move(bars["x"] + 6.5 * step, bars["y"] + bars["height"] / 2)
    page.mouse.down()
    page.mouse.move(bars["x"] + 8.5 * step, bars["y"] + bars["height"] / 2, steps=6)
    page.mouse.up()
    assert panel.locator(".ai4geo-range-text").inner_text() == "2024-07 – 2024-09"
    assert count.inner_text() == "3 of 9 results"
    assert panel.locator("path.ai4geo-footprint[data-id]").count() == 3
    panel.locator(".ai4geo-range-clear").click()
    assert count.inner_text() == "9 of 9 results"
    assert panel.locator("path.ai4geo-footprint[data-id]").count() == 9

    # a quicklook drawn on its footprint: the image's pixels inside the footprint's outline
    target = "series-2024-01-10-cell1"
    row = panel.locator(f".ai4geo-results tbody tr[data-id='{target}']")
    row.scroll_into_view_if_needed()
    origin = map_node.bounding_box()
    page.mouse.move(5, 1000)
    before = _pixels(map_node.screenshot())
    row.locator(".ai4geo-quicklook-button").click()
    page.wait_for_function("() => { const i = document.querySelector('#ai4geo-search img.ai4geo-quicklook-overlay');"
                           " return i && i.complete && i.naturalWidth > 0 }", timeout=60_000)
    assert row.locator(".ai4geo-quicklook-button").get_attribute("aria-pressed") == "true"
    page.wait_for_timeout(300)
    page.mouse.move(5, 1000)
    after = _pixels(map_node.screenshot(path=str(ARTIFACTS / "lab_results_quicklook.png")))
    box = panel.locator(f"path.ai4geo-footprint[data-id='{target}']").bounding_box()
    ix0, iy0 = int(box["x"] - origin["x"] + 0.2 * box["width"]), int(box["y"] - origin["y"] + 0.2 * box["height"])
    ix1, iy1 = int(box["x"] - origin["x"] + 0.8 * box["width"]), int(box["y"] - origin["y"] + 0.8 * box["height"])
    inside_before, inside_after = before[iy0:iy1, ix0:ix1], after[iy0:iy1, ix0:ix1]
    # before: the plain map under a faint fill (and the AOI's outline); after: the image, many colours
    assert distinct_colours(inside_after) > 4 * distinct_colours(inside_before), (
        distinct_colours(inside_after), distinct_colours(inside_before))
    assert np.abs(inside_after - inside_before).mean() > 20
    # the image lies on the footprint: it covers the footprint's box, not the map around it
    look = panel.locator("img.ai4geo-quicklook-overlay").bounding_box()
    assert abs(look["x"] - box["x"]) < 4 and abs(look["width"] - box["width"]) < 6, (look, box)
    # and another cell's inside did not change
    other = boxes["series-2024-09-30-cell2"]
    ox0, oy0 = int(other["x"] - origin["x"] + 0.3 * other["width"]), int(other["y"] - origin["y"] + 0.3 *
                                                                         other["height"])
    assert np.abs(after[oy0:oy0 + 10, ox0:ox0 + 10] - before[oy0:oy0 + 10, ox0:ox0 + 10]).mean() < 3

    # a row click selects the item (its checkbox, its footprint in the selection colour) and zooms to it
    small = box["width"]
    row.locator("td.ai4geo-col-date").click()
    page.wait_for_timeout(700)
    assert "ai4geo-selected" in (row.get_attribute("class") or "")
    assert row.locator("input.ai4geo-select").is_checked()
    footprint = panel.locator(f"path.ai4geo-footprint[data-id='{target}']")
    assert footprint.get_attribute("stroke") == "#17bebb"
    assert footprint.bounding_box()["width"] > 1.5 * small
    assert panel.locator(".ai4geo-download").inner_text() == "Download selected (1)"
    panel.screenshot(path=str(ARTIFACTS / "lab_results_selected.png"))
