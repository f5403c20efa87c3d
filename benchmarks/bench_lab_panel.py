"""Benchmark: time from starting ``jupyter-lab`` to a usable AI4GEO search panel, in Chromium.

For each run: a fresh Lab (own settings and workspace, the sample city as local catalogue) on 127.0.0.1, then
Debian's Chromium (Playwright) opens it and clicks the search panel's tab. Printed, from the process start:
  server   the first ``/api/status`` answer;
  shell    the Lab's side bar shown in the page;
  panel    the panel ready (map drawn, providers, collections, queryables and saved AOIs loaded);
  search   a first search of the embedded catalogue answered in the panel (after ``panel``).
Usage: python benchmarks/bench_lab_panel.py [--runs 3]   (needs the extension installed: bash scripts/setup.sh)
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(tmp: Path, city: Path, browser) -> dict[str, float]:
    from ai4geo_lab.catalog import add_local_catalog

    ws, root = tmp / "ws", tmp / "lab"
    root.mkdir(parents=True)
    add_local_catalog(city, workspace=ws)
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
    out: dict[str, float] = {}
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if requests.get(f"{url}/api/status", params={"token": token}, timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
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
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from ai4geo_lab.sample import make_sample_city

    with tempfile.TemporaryDirectory(prefix="ai4geo-bench-lab-") as tmp:
        city = make_sample_city(Path(tmp) / "city", seed=3, size_m=200.0, gsd=1.0).root
        rows = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            for i in range(args.runs):
                rows.append(one_run(Path(tmp) / f"run{i}", city, browser))
                print(f"run {i + 1}: " + ", ".join(f"{k} {v:.1f} s" for k, v in rows[-1].items()), flush=True)
            browser.close()
    for key in rows[0]:
        values = sorted(r[key] for r in rows)
        print(f"{key:>7}: median {values[len(values) // 2]:.1f} s (min {values[0]:.1f}, max {values[-1]:.1f})")
    print(f"load average during the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
