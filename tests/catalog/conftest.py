"""A real STAC API (rustac) and a real HTTP file server on 127.0.0.1, serving the sample city."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with HTTP Range support (for resumed downloads); paths under /private/ answer 401, paths
    under /norange/ ignore Range headers.
    Counts the bytes of file bodies it sends, per path."""

    sent: dict[str, int] = {}  # noqa: RUF012
    ranges: list[str] = []  # noqa: RUF012

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/private/"):
            self.send_error(401, "credentials required")
            return
        if self.path.startswith("/norange/"):  # a server that ignores Range: always the whole file
            self.path = self.path[len("/norange"):]
            return self._send_whole(Path(self.translate_path(self.path)))
        header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not header or not path.is_file():
            return self._send_whole(path)
        self.ranges.append(f"{self.path} {header}")
        size = path.stat().st_size
        start = int(header.removeprefix("bytes=").split("-")[0])
        if start >= size:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        with path.open("rb") as f:
            f.seek(start)
            data = f.read()
        self.wfile.write(data)
        self.sent[self.path] = self.sent.get(self.path, 0) + len(data)

    def _send_whole(self, path: Path) -> None:
        f = self.send_head()
        if f is None:
            return
        with f:
            data = f.read()
        self.wfile.write(data)
        self.sent[self.path] = self.sent.get(self.path, 0) + len(data)


@pytest.fixture(scope="session")
def file_server(small_city):
    """A threaded HTTP server on 127.0.0.1 serving the sample city's folder (with Range requests)."""
    RangeHandler.sent.clear()
    RangeHandler.ranges.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(small_city.root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", RangeHandler
    server.shutdown()
    server.server_close()


def _api_files(city_root: Path, out: Path, base_url: str) -> list[Path]:
    """The sample catalogue as collections + item collections, assets pointing at the HTTP file server and
    carrying a sha2-256 multihash ``file:checksum``."""
    import pystac

    out.mkdir(parents=True, exist_ok=True)
    files = []
    cat = pystac.Catalog.from_file(str(city_root / "catalog" / "catalog.json"))
    for col in cat.get_children():
        doc = col.to_dict(include_self_link=False)
        doc["links"] = []
        (out / f"{col.id}.json").write_text(json.dumps(doc))
        features = []
        for item in col.get_items():
            item.make_asset_hrefs_absolute()
            d = item.to_dict(include_self_link=False)
            d["links"] = []
            for asset in d["assets"].values():
                local = Path(asset["href"])
                rel = local.resolve().relative_to(city_root.resolve())
                asset["href"] = f"{base_url}/{rel.as_posix()}"
                asset["file:checksum"] = "1220" + hashlib.sha256(local.read_bytes()).hexdigest()
            features.append(d)
        (out / f"{col.id}-items.json").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        files += [out / f"{col.id}.json", out / f"{col.id}-items.json"]
    return files


@pytest.fixture(scope="session")
def stac_api(small_city, file_server, tmp_path_factory):
    """``rustac serve`` on 127.0.0.1 with the sample city's collections and items; yields its root URL."""
    exe = shutil.which("rustac") or str(Path(sys.executable).parent / "rustac")
    if not Path(exe).exists():
        pytest.fail("rustac is not installed (pip install 'ai4geo-lab[test]')")
    files = _api_files(small_city.root, tmp_path_factory.mktemp("stac-api"), file_server[0])
    port = free_port()
    log = (files[0].parent / "rustac.log").open("wb")
    proc = subprocess.Popen([exe, "serve", "--addr", f"127.0.0.1:{port}", *map(str, files)], stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{url}/collections", timeout=1).ok:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"rustac serve did not start: {(files[0].parent / 'rustac.log').read_text()[-500:]}")
        time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An empty workspace (and EODAG configuration folder) for one test."""
    ws = tmp_path / "workspace"
    monkeypatch.setenv("AI4GEO_WORKSPACE", str(ws))
    monkeypatch.delenv("AI4GEO_LOCAL_CATALOGS", raising=False)
    return ws


@pytest.fixture(scope="session")
def eodag_env(tmp_path_factory):
    """One EODAG configuration folder for the session (the gateway is made once per process)."""
    import os

    cfg = tmp_path_factory.mktemp("eodag-cfg")
    old = os.environ.get("EODAG_CFG_DIR")
    os.environ["EODAG_CFG_DIR"] = str(cfg)
    os.environ["EODAG_STRICT_COLLECTIONS"] = "true"
    yield cfg
    if old is None:
        os.environ.pop("EODAG_CFG_DIR", None)
    else:
        os.environ["EODAG_CFG_DIR"] = old
