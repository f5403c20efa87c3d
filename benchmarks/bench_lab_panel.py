"""Benchmark: the AI4GEO search panel and the AI4GEO Map in a real ``jupyter-lab``, in Chromium.

Panel (default). For each run: a fresh Lab (own settings and workspace, the sample city as local catalogue) on
127.0.0.1, then Debian's Chromium (Playwright) opens it and clicks the search panel's tab. Printed, from the
process start:
  server   the first ``/api/status`` answer;
  shell    the Lab's side bar shown in the page;
  panel    the panel ready (map drawn, providers, collections, queryables and saved AOIs loaded);
  search   a first search of the embedded catalogue answered in the panel (after ``panel``).
Map (``--map``). A synthetic float32 DSM COG of about 1 GB (16,384 px square, tiled, deflate, overviews) and a
GeoJSON of 20,000 building polygons are put in the Lab's root; for each run the DSM is opened with the file
browser's "Open on map" and the buildings after it. Printed:
  layer added   from the click on "Open on map" to the DSM's layer listed (map tab open, raster described);
  first tiles   from the click to every raster tile of the first view drawn in the page;
  buildings     from the click to the 20,000 polygons drawn;
  pan fps       frames per second while the map is dragged over the buildings for 2 s (animation frames
                counted in the page), with the longest frame.
A screenshot of each map run is kept beside the data (``--keep``).
Usage: python benchmarks/bench_lab_panel.py [--runs 3] [--map]   (needs the extension installed:
       bash scripts/setup.sh)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import requests


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def lab(tmp: Path, root: Path, ws: Path) -> Iterator[tuple[str, str, float]]:
    """A fresh ``jupyter-lab`` serving ``root`` (own settings and workspace; offline base map): (url, token,
    start time), up until its first ``/api/status`` answer."""
    settings = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    token, port = secrets.token_hex(8), _port()
    env = {**os.environ, "AI4GEO_WORKSPACE": str(ws), "JUPYTER_CONFIG_DIR": str(tmp / "cfg"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "lws")}
    t0 = time.monotonic()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "jupyter-lab"), "--allow-root", "--no-browser",
                             f"--ServerApp.token={token}", "--ip", "127.0.0.1", "--port", str(port),
                             f"--ServerApp.root_dir={root}", "--Ai4geoLab.tile_url=", "--LabApp.news_url="],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if requests.get(f"{url}/api/status", params={"token": token}, timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield url, token, t0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def one_run(tmp: Path, city: Path, browser) -> dict[str, float]:
    from ai4geo_lab.catalog import add_local_catalog

    ws, root = tmp / "ws", tmp / "lab"
    root.mkdir(parents=True)
    add_local_catalog(city, workspace=ws)
    out: dict[str, float] = {}
    with lab(tmp, root, ws) as (url, token, t0):
        out["server"] = time.monotonic() - t0
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/lab?token={token}")
        tab = page.locator(".jp-SideBar [data-id='ai4geo-search']")
        tab.wait_for(timeout=120_000)
        out["shell"] = time.monotonic() - t0
        tab.click()
        page.wait_for_selector("#ai4geo-search[data-ready='true']", timeout=120_000)
        out["panel"] = time.monotonic() - t0
        t1 = time.monotonic()
        page.locator("#ai4geo-search .ai4geo-search-button").click()
        page.wait_for_function("() => document.querySelector('#ai4geo-search .ai4geo-summary').dataset.count",
                               timeout=60_000)
        out["search"] = time.monotonic() - t1
        page.close()
    return out


#: A UTM grid of the synthetic map data (metres): origin and pixel size of the DSM.
X0, Y0, GSD, EPSG = 500_000.0, 4_800_000.0, 0.5, 32631


def write_big_dsm(path: Path, side: int = 16384) -> float:
    """A float32 DSM COG of ``side`` px square (relief, blocks of buildings), written by windows; its data size
    in GB."""
    import numpy as np
    import rasterio
    import rasterio.shutil
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    rng = np.random.default_rng(0)
    plain = path.with_suffix(".plain.tif")
    profile = {"driver": "GTiff", "width": side, "height": side, "count": 1, "dtype": "float32",
               "crs": f"EPSG:{EPSG}", "transform": from_origin(X0, Y0, GSD, GSD), "tiled": True,
               "blockxsize": 512, "blockysize": 512, "compress": "deflate", "predictor": 3, "nodata": float("nan"),
               "BIGTIFF": "YES"}
    xs = np.arange(side, dtype=np.float32)
    with rasterio.open(plain, "w", **profile) as dst:
        for row in range(0, side, 1024):
            ys = np.arange(row, row + 1024, dtype=np.float32)[:, None]
            z = 200 + 40 * np.sin(xs / 1500.0) * np.cos(ys / 1100.0) + 5 * np.sin(xs / 90.0 + ys / 70.0)
            blocks = rng.random((1024 // 32, side // 32)) < 0.3
            z = z + np.kron(blocks, np.ones((32, 32), np.float32)) * rng.uniform(3, 30, (1024, 1)).astype("f4")
            dst.write(z.astype("float32")[None], window=Window(0, row, side, 1024))
    rasterio.shutil.copy(plain, path, driver="COG", compress="DEFLATE", predictor="FLOATING_POINT",
                         blocksize=512, overview_resampling="average", BIGTIFF="YES", num_threads="ALL_CPUS")
    plain.unlink()
    return side * side * 4 / 1e9


def write_buildings(path: Path, n: int = 20_000) -> None:
    """``n`` building polygons (8–16 m rectangles, turned at random) over the DSM's centre, as GeoJSON."""
    import geopandas as gpd
    import numpy as np
    from shapely import affinity
    from shapely.geometry import box

    rng = np.random.default_rng(1)
    cols = int(np.ceil(np.sqrt(n)))
    cx, cy = X0 + 16384 * GSD / 2, Y0 - 16384 * GSD / 2
    polys = []
    for i in range(n):
        x = cx + (i % cols - cols / 2) * 20 + rng.uniform(-2, 2)
        y = cy + (i // cols - cols / 2) * 20 + rng.uniform(-2, 2)
        w, h = rng.uniform(8, 16, 2)
        polys.append(affinity.rotate(box(x - w / 2, y - h / 2, x + w / 2, y + h / 2), rng.uniform(0, 90)))
    frame = gpd.GeoDataFrame({"height": rng.uniform(3, 30, n).round(1)}, geometry=polys, crs=f"EPSG:{EPSG}")
    frame.to_crs(4326).to_file(path, driver="GeoJSON")


PAN_FPS = """async () => {
  const times = []; let on = true;
  const tick = t => { times.push(t); if (on) { requestAnimationFrame(tick); } };
  requestAnimationFrame(tick);
  window.__ai4geoStopFrames = () => { on = false; return times; };
}"""


def map_run(tmp: Path, root: Path, browser) -> dict[str, float]:
    """Open the big DSM, then the buildings, on a map; the times to draw them and the frame rate of a pan."""
    out: dict[str, float] = {}
    with lab(tmp, root, tmp / "ws") as (url, token, _):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/lab?token={token}")

        def open_on_map(name: str) -> float:
            item = page.locator(".jp-DirListing-item", has_text=name).first
            item.wait_for(timeout=120_000)
            item.click(button="right")
            t1 = time.monotonic()
            page.locator(".lm-Menu-item", has_text="Open on map").click()
            return t1

        t1 = open_on_map("dsm_1gb.tif")
        page.locator(".ai4geo-mapview-layer[data-path='dsm_1gb.tif'][data-state='loaded']").wait_for(
            timeout=120_000)
        out["layer added"] = time.monotonic() - t1
        page.wait_for_function("() => { const t = [...document.querySelectorAll('.ai4geo-raster-tiles img')];"
                               " return t.length > 0 && t.every(i => i.complete && i.naturalWidth > 0) }",
                               timeout=120_000, polling=16)
        out["first tiles"] = time.monotonic() - t1
        t1 = open_on_map("buildings_20k.geojson")
        page.locator(".ai4geo-mapview-layer[data-path='buildings_20k.geojson'][data-state='loaded']").wait_for(
            timeout=120_000)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        out["buildings"] = time.monotonic() - t1
        page.wait_for_timeout(1000)
        box = page.locator(".ai4geo-mapview-map").first.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.evaluate(PAN_FPS)
        t1, i = time.monotonic(), 0
        while time.monotonic() - t1 < 2.0:
            i += 1
            page.mouse.move(x + 150 * np.sin(i / 15), y + 100 * np.cos(i / 20))
        times = page.evaluate("() => window.__ai4geoStopFrames()")
        page.mouse.up()
        gaps = np.diff(times)
        out["pan fps"] = 1000 * len(gaps) / (times[-1] - times[0])
        out["longest frame ms"] = float(gaps.max())
        page.screenshot(path=str(root / f"map-{tmp.name}.png"))
        page.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--map", action="store_true", help="the AI4GEO Map: a 1 GB DSM COG and 20,000 buildings")
    ap.add_argument("--keep", type=Path, default=None, help="keep (and reuse) the map data in this folder")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from ai4geo_lab.sample import make_sample_city

    with tempfile.TemporaryDirectory(prefix="ai4geo-bench-lab-") as tmp:
        rows = []
        if args.map:
            root = args.keep or Path(tmp) / "data"
            root.mkdir(parents=True, exist_ok=True)
            if not (root / "dsm_1gb.tif").is_file():
                t0 = time.monotonic()
                gb = write_big_dsm(root / "dsm_1gb.tif")
                print(f"DSM COG: {gb:.2f} GB of float32 ({(root / 'dsm_1gb.tif').stat().st_size / 1e9:.2f} GB on "
                      f"disk, deflate), written in {time.monotonic() - t0:.0f} s", flush=True)
            if not (root / "buildings_20k.geojson").is_file():
                write_buildings(root / "buildings_20k.geojson")
        else:
            city = make_sample_city(Path(tmp) / "city", seed=3, size_m=200.0, gsd=1.0).root
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            for i in range(args.runs):
                run = Path(tmp) / f"run{i}"
                rows.append(map_run(run, root, browser) if args.map else one_run(run, city, browser))
                print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in rows[-1].items()), flush=True)
            browser.close()
    for key in rows[0]:
        values = sorted(r[key] for r in rows)
        print(f"{key:>16}: median {values[len(values) // 2]:.2f} (min {values[0]:.2f}, max {values[-1]:.2f})")
    if args.map:
        print("targets: first tiles <= 1 s, pan >= 30 fps")
    print(f"load average during the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
