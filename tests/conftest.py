"""Shared fixtures: a small sample city, a real Dask cluster, the real data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test when absent, except under CI where absence fails."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"real data {path} is missing (CI must have ../shared/data beside the project)")
        pytest.skip(f"real data {path} is not here (../shared/data beside the project)")
    return path


@pytest.fixture(scope="session", autouse=True)
def own_workspace(tmp_path_factory: pytest.TempPathFactory):
    """The tests' own default workspace (``AI4GEO_WORKSPACE``, inherited by the servers, kernels and commands they
    start): nothing they register or save lands in the user's ``~/ai4geo-workspace``."""
    old = os.environ.get("AI4GEO_WORKSPACE")
    os.environ["AI4GEO_WORKSPACE"] = str(tmp_path_factory.mktemp("workspace"))
    yield Path(os.environ["AI4GEO_WORKSPACE"])
    if old is None:
        os.environ.pop("AI4GEO_WORKSPACE", None)
    else:
        os.environ["AI4GEO_WORKSPACE"] = old


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory):
    """A 200 m sample city at 1 m/px, made once per test session."""
    from ai4geo_lab.sample import make_sample_city

    return make_sample_city(tmp_path_factory.mktemp("city") / "city", seed=3, size_m=200.0, gsd=1.0)


@pytest.fixture(scope="session")
def dask_client():
    """A real LocalCluster with two worker processes on 127.0.0.1."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        yield client


KAHRAMANMARAS_ROI_M = (200.0, 100.0)  # width, height of the ROI at the centre of the pre-event pair's overlap
KAHRAMANMARAS_TILES = {"tile_size_m": 100.0, "margin_m": 30.0, "workers": 2}


def centre_roi(images, width_m: float, height_m: float) -> tuple[float, float, float, float]:
    """A (west, south, east, north) box of ``width_m`` × ``height_m`` at the centre of the images' overlap."""
    from ai4geo_lab.geo.sensor import centre_box

    return centre_box(images, width_m, height_m)


@pytest.fixture(scope="session")
def kahramanmaras_dsm(tmp_path_factory, dask_client):
    """200 m × 100 m of the Kahramanmaraş pre-event pair in two ROI tiles, each a real CARS run (2 processes) on
    a Dask worker: made once per session, for the stereo tests and the Pléiades recipe (whose ``dsm()`` call
    finds the same tiles finished and reuses them, as a rerun of the recipe does)."""
    from ai4geo_lab.stereo import dsm

    d = shared_data("pleiades", "kahramanmaras")
    images = [d / "pre_event_img1.tif", d / "pre_event_img2.tif"]
    out = tmp_path_factory.mktemp("kahramanmaras") / "dsm"
    roi = centre_roi(images, *KAHRAMANMARAS_ROI_M)
    result = dsm(images, out, roi=roi, client=dask_client, **KAHRAMANMARAS_TILES)
    return result, roi


# ---- a real JupyterLab and a real Chromium, for the browser tests ---------------------------------------------------

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_lab(tmp_path):
    """A factory: ``start(root, env=None, args=())`` runs ``jupyter-lab`` on 127.0.0.1 (isolated config and
    settings under tmp_path) and returns ``(url, token, started)``, ``started`` being the ``time.monotonic()`` of
    the process start. Every server started is stopped at teardown."""
    import secrets
    import signal
    import subprocess
    import sys
    import time

    import requests

    procs = []

    def start(root: Path, env: dict | None = None, args: tuple[str, ...] = ()) -> tuple[str, str, float]:
        token = secrets.token_hex(16)
        port = free_port()
        # no question about news in the way of the page
        news = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        news.parent.mkdir(parents=True, exist_ok=True)
        news.write_text('{"fetchNews": "false", "checkForUpdates": false}')
        full_env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "jcfg"),
                    "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
                    "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-ws"), **(env or {})}
        exe = str(Path(sys.executable).parent / "jupyter-lab")
        log_path = tmp_path / f"lab-{port}.log"
        log = log_path.open("wb")
        started = time.monotonic()
        proc = subprocess.Popen([exe, "--allow-root", "--no-browser", f"--ServerApp.token={token}", "--ip",
                                 "127.0.0.1", "--port", str(port), f"--ServerApp.root_dir={root}",
                                 "--LabApp.news_url=",
                                 "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *args],
                                env=full_env, stdout=log, stderr=subprocess.STDOUT)
        procs.append((proc, log))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{url}/api/status", params={"token": token}, timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"jupyter-lab did not start: {log_path.read_text()[-800:]}")
            time.sleep(0.2)
        return url, token, started

    yield start
    for proc, log in procs:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)  # the server asks to confirm a first Ctrl-C
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


@pytest.fixture
def chromium():
    """Debian's Chromium driven by Playwright (never a downloaded browser); artefacts go to tests/artifacts."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        # no GPU: WebGL (the CityJSON 3D view) runs on SwiftShader, which Chromium asks to be allowed explicitly
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader"])
        try:
            yield browser
        finally:
            browser.close()
