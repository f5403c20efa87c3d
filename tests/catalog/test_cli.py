"""`ai4geo search`, `ai4geo download`, `ai4geo catalog …` and `ai4geo osm` in real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def ai4geo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture
def offline_env(tmp_path):
    """A fresh workspace; every proxy points at a closed port, so any network access would fail."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "eodag_cfg_dir")}
    dead = "http://127.0.0.1:9"
    env.update({"AI4GEO_WORKSPACE": str(tmp_path / "ws"), "HTTP_PROXY": dead, "HTTPS_PROXY": dead,
                "http_proxy": dead, "https_proxy": dead, "ALL_PROXY": dead})
    return env


def test_search_and_download_offline(small_city, offline_env, tmp_path):
    done = ai4geo("catalog", "add", str(small_city.root), env=offline_env)
    assert done.returncode == 0, done.stderr
    assert "sample-ortho" in done.stdout
    table = ai4geo("search", "sample-pan-stereo", "--provider", "local", "--start", "2024-01-01", env=offline_env)
    assert table.returncode == 0, table.stderr
    assert "pan-stereo-date1" in table.stdout and "pan-stereo-date2" in table.stdout and "2 items" in table.stdout
    as_json = ai4geo("search", "sample-truth", "--provider", "local", "--limit", "2", "--json", env=offline_env)
    fc = json.loads(as_json.stdout)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2 and fc["next_token"]
    rest = json.loads(ai4geo("search", "--page-token", fc["next_token"], "--json", env=offline_env).stdout)
    assert len(rest["features"]) == 1 and rest["next_token"] is None
    assert rest["features"][0]["id"] not in {f["id"] for f in fc["features"]}

    aoi = ai4geo("aoi", "save", "city", ",".join(f"{v:.6f}" for v in _bounds(small_city)), env=offline_env)
    assert aoi.returncode == 0, aoi.stderr
    dest = tmp_path / "data"
    dl = ai4geo("download", "sample-ortho", "--aoi", "city", "--provider", "local", "--dest", str(dest),
                "--start", "2025-01-01", "--quiet", env=offline_env)
    assert dl.returncode == 0, dl.stderr
    files = list(dest.rglob("*.tif"))
    assert [f.name for f in files] == ["ortho.tif"] and files[0].read_bytes() == \
        (small_city.root / "images" / "date2" / "ortho.tif").read_bytes()
    inv = ai4geo("catalog", "inventory", env=offline_env)
    assert "ortho-date2" in inv.stdout and "1 files" in inv.stdout


def _bounds(city) -> tuple[float, ...]:
    from shapely.geometry import shape

    from ai4geo_lab.catalog.local import read_static_catalog

    items = read_static_catalog(city.root / "catalog" / "catalog.json")
    return shape(items[0]["geometry"]).buffer(-0.0002).bounds


@pytest.mark.parametrize(("args", "words"), [
    (["search", "sample-orth", "--provider", "local"], "did you mean sample-ortho"),
    (["search", "sample-ortho", "--start", "2025-01-01", "--end", "2024-01-01"], "before the start"),
    (["search", "sample-ortho", "--max-cloud", "150"], "0–100"),
    (["search", "sample-ortho", "--aoi", "1,2,3"], "4 numbers"),
    (["search", "sample-ortho", "--provider", "http://127.0.0.1:9"], "cannot reach"),
])
def test_errors_are_one_line_exit_2(small_city, offline_env, args, words):
    ai4geo("catalog", "add", str(small_city.root), env=offline_env)
    env = {**offline_env, "NO_PROXY": "127.0.0.1"}
    done = ai4geo(*args, env=env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ai4geo: error:") and words in lines[0], done.stderr


def test_osm_command_writes_layers(tmp_path, offline_env):
    import geopandas as gpd
    import pyogrio

    osm = tmp_path / "x.osm"
    osm.write_text("""<?xml version='1.0' encoding='UTF-8'?><osm version="0.6">
<node id="1" version="1" lat="43.6000" lon="1.4400"/><node id="2" version="1" lat="43.6000" lon="1.4410"/>
<node id="3" version="1" lat="43.6010" lon="1.4410"/><node id="4" version="1" lat="43.6010" lon="1.4400"/>
<way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
<tag k="building" v="yes"/></way></osm>""")
    out = tmp_path / "osm.gpkg"
    done = ai4geo("osm", "--aoi", "1.439,43.599,1.442,43.602", "--source", str(osm), "--out", str(out),
                  env=offline_env)
    assert done.returncode == 0, done.stderr
    assert {name for name, _ in pyogrio.list_layers(out)} == {"buildings", "roads", "landuse"}
    assert len(gpd.read_file(out, layer="buildings")) == 1 and len(gpd.read_file(out, layer="roads")) == 0
    assert Path(out).stat().st_size > 0
