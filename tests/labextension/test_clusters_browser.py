"""The cluster panel in a real jupyter-lab driven in Debian's Chromium: a `local:1` cluster started from the panel
shows its worker count and a memory bar; a bad worker count is marked beside the field; Scale updates the status
line and the card (the target, then the count as workers arrive); the Status dashboard opens as a tab of most of
the main area's width; with a `distributed.Client` of another process connected, Stop asks for confirmation; once
stopped, the dashboard tab is closed. A cluster a kernel announced shows its label, is flagged when its scheduler
does not answer, and can only be forgotten."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import pytest

from tests.labextension.test_map_browser import ARTIFACTS, _lab_args


def _client_process(address: str) -> subprocess.Popen:
    """Another Python process holding a real ``distributed.Client`` on ``address``."""
    code = ("import sys, time\nfrom distributed import Client\nc = Client(sys.argv[1], timeout=30)\n"
            "print('connected', flush=True)\ntime.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, address], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    assert line.strip() == "connected", line
    return proc


@pytest.mark.browser
@pytest.mark.slow
def test_cluster_panel_figures_scale_dashboard_and_stop(tmp_path, jupyter_lab, chromium):
    from ai4geo_lab.cluster.registry import announce

    root = tmp_path / "lab"
    root.mkdir()
    ws = tmp_path / "ws"
    args, _ = _lab_args(tmp_path)
    url, token, _ = jupyter_lab(root, None, (*args, f"--Ai4geoLab.workspace={ws}"))

    silent = socket.socket()  # a kernel's scheduler that accepts connections and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()

    class KernelCluster:
        scheduler_address = "tcp://127.0.0.1:1"
        dashboard_link = f"http://127.0.0.1:{silent.getsockname()[1]}/status"

    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    client = None
    try:
        with announce(KernelCluster(), "local", ws, label="flood.ipynb"):
            page.goto(f"{url}/lab?token={token}")
            page.locator(".jp-SideBar [data-id='ai4geo-clusters']").click()
            panel = page.locator("#ai4geo-clusters")

            # ---- a kernel's cluster: its label, flagged as not answering, only forgettable ----
            kernel = panel.locator(".ai4geo-cluster[data-origin='kernel']")
            kernel.wait_for(timeout=60_000)
            assert kernel.locator(".ai4geo-cluster-title").inner_text() == "flood.ipynb"
            assert kernel.locator(".ai4geo-cluster-meta").inner_text().startswith("local, started in a kernel · ")
            flag = kernel.locator(".ai4geo-cluster-unreachable")
            page.wait_for_function("e => e.textContent.includes('not answering')", arg=flag.element_handle(),
                                   timeout=30_000)
            assert "did not answer within 1.5 s" in flag.inner_text()
            assert kernel.locator(".ai4geo-stop").count() == 0 and kernel.locator(".ai4geo-forget").is_visible()
            assert "can only forget it" in kernel.inner_text()

            # ---- start local:1: one worker, a memory bar ----
            panel.locator(".ai4geo-cluster-spec").fill("local:1")
            panel.locator(".ai4geo-cluster-start").click()
            card = panel.locator(".ai4geo-cluster[data-origin='server']")
            card.wait_for(timeout=90_000)
            figures = card.locator(".ai4geo-cluster-figures")
            page.wait_for_function("e => e.textContent.startsWith('1 worker ·')", arg=figures.element_handle(),
                                   timeout=30_000)
            assert re.fullmatch(r"1 worker · 1 thread · CPU \d+% · 0 processing · 0 clients", figures.inner_text())
            bar = card.locator(".ai4geo-membar-text").inner_text()
            assert re.fullmatch(r"[\d.]+ (MiB|GiB) / [\d.]+ (GiB|TiB)", bar), bar
            fill = card.locator(".ai4geo-membar-fill").bounding_box()
            assert fill and fill["width"] > 0  # some memory is in use: the bar shows it
            assert card.locator(".ai4geo-cluster-title").inner_text().startswith("local at 127.0.0.1:")

            # ---- bad input marked beside the field, no request made ----
            workers = card.locator(".ai4geo-workers")
            error = card.locator(".ai4geo-workers-error")
            workers.fill("-1")
            card.locator(".ai4geo-scale").click()
            assert error.inner_text() == "give 0 or more workers"
            workers.fill("1.5")
            card.locator(".ai4geo-scale").click()
            assert error.inner_text() == "give a whole number of workers (0 or more)"
            assert card.get_attribute("data-workers") == "1"

            # ---- scale to 2: the status line and the card follow ----
            status = panel.locator(".ai4geo-status")
            workers.fill("2")
            assert error.inner_text() == ""  # typing clears the mark
            card.locator(".ai4geo-scale").click()
            page.wait_for_function("e => e.textContent.includes('to 2')", arg=status.element_handle(), timeout=10_000)
            page.wait_for_function("e => e.textContent.endsWith('2 workers, scaled')", arg=status.element_handle(),
                                   timeout=60_000)
            assert card.get_attribute("data-workers") == "2"
            page.wait_for_function("e => e.textContent.startsWith('2 workers · 2 threads')",
                                   arg=figures.element_handle(), timeout=10_000)
            assert "scaling" not in card.locator(".ai4geo-cluster-meta").inner_text()
            page.screenshot(path=str(ARTIFACTS / "cluster_panel_scaled.png"))

            # ---- the Status dashboard: a tab of most of the main area's width ----
            card.locator(".ai4geo-plot[data-plot='status']").click()
            dash = page.locator(".ai4geo-dashboard[data-plot='status']")
            dash.wait_for(timeout=30_000)
            page.frame_locator(".ai4geo-dashboard[data-plot='status'] iframe").locator(
                ".bk-Canvas, canvas, .bk-root, div[data-root-id]").first.wait_for(timeout=60_000)
            main = page.locator("#jp-main-dock-panel").bounding_box()
            box = dash.bounding_box()
            assert main and box and box["width"] > 0.9 * main["width"], (box, main)
            tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="— Status")
            assert tab.inner_text().startswith("local at 127.0.0.1:")
            page.screenshot(path=str(ARTIFACTS / "cluster_dashboard_tab.png"))

            # ---- a client of another process: Stop asks first ----
            address = card.locator(".ai4geo-cluster-meta").inner_text().split(" · ")[1]
            client = _client_process(address)
            page.wait_for_function("e => e.textContent.endsWith('1 client')", arg=figures.element_handle(),
                                   timeout=30_000)
            card.locator(".ai4geo-stop").click()
            dialog = page.locator(".jp-Dialog")
            dialog.wait_for(timeout=10_000)
            assert "1 client connected to this cluster would lose it" in dialog.inner_text()
            page.screenshot(path=str(ARTIFACTS / "cluster_stop_confirmation.png"))
            dialog.locator("button", has_text="Cancel").click()
            dialog.wait_for(state="detached", timeout=10_000)
            assert status.inner_text().endswith("not stopped") and card.is_visible()
            card.locator(".ai4geo-stop").click()
            dialog.locator("button.jp-mod-warn", has_text="Stop").click()
            card.wait_for(state="detached", timeout=60_000)
            assert status.inner_text().startswith("stopped local at")
            page.locator(".ai4geo-dashboard").wait_for(state="detached", timeout=10_000)
            assert page.locator(".lm-TabBar-tab", has_text="— Status").count() == 0

            # ---- a kernel's cluster that ends: its dashboard tab is marked stopped ----
            with announce(KernelCluster(), "local", ws, label="ended.ipynb"):
                ended = panel.locator(".ai4geo-cluster", has_text="ended.ipynb")
                ended.wait_for(timeout=30_000)  # the list is refreshed every 5 s while the panel is shown
                ended.locator(".ai4geo-plot[data-plot='status']").click()
                page.locator(".lm-TabBar-tab", has_text="ended.ipynb — Status").wait_for(timeout=10_000)
            page.locator(".lm-TabBar-tab", has_text="ended.ipynb — Status (cluster stopped)").wait_for(timeout=30_000)
            assert "This cluster has stopped" in page.locator(".ai4geo-dashboard-stopped").inner_text()
            assert ended.count() == 0

            # ---- forgetting the kernel's cluster ----
            kernel.locator(".ai4geo-forget").click()
            page.locator(".jp-Dialog").wait_for(timeout=10_000)
            assert "cannot stop it" in page.locator(".jp-Dialog").inner_text()
            page.locator(".jp-Dialog button", has_text="Forget").click()
            page.wait_for_function(
                "() => document.querySelector('#ai4geo-clusters .ai4geo-clusters').dataset.count === '0'",
                timeout=30_000)
            assert "still runs in its kernel" in status.inner_text()
            page.screenshot(path=str(ARTIFACTS / "cluster_panel_after_stop.png"))
    finally:
        if client is not None:
            client.kill()
            client.wait(10)
        silent.close()
        page.close()
        time.sleep(0)
