"""Inputs are read through geo.raster and geo.vector: a missing file, a file that is not a raster, a truncated
GeoTIFF (whose header opens but whose blocks fail to decode) or a raster without CRS where one is needed each give
one error naming the file, and the CLI says it on one line (exit code 2, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import yaml
from affine import Affine

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.raster import open_raster, read_window
from ai4geo_lab.geo.resample import read_on_grid
from ai4geo_lab.geo.vector import read_vector, write_vector

ROOT = Path(__file__).resolve().parents[2]
SIZE = 128
TRANSFORM = Affine(1.0, 0.0, 500000.0, 0.0, -1.0, 4800000.0)
CRS = "EPSG:32631"
BAD = ("truncated", "not_raster", "missing")


def ai4geo(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "ai4geo_lab.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def assert_user_error(proc: subprocess.CompletedProcess, path: Path) -> str:
    """Exit code 2, one stderr line starting 'ai4geo: error:' and naming ``path`` (after progress lines such as
    '[segment] segment: running', if any), no traceback; the line."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("ai4geo: error: "), proc.stderr
    assert str(path) in lines[0], lines[0]
    return lines[0]


def _write_tiff(path: Path, crs: str | None = CRS) -> Path:
    """A 3-band float32 tiled, uncompressed GeoTIFF of plausible heights (m)."""
    rng = np.random.default_rng(0)
    data = (100.0 + 20.0 * rng.random((3, SIZE, SIZE))).astype(np.float32)
    profile = {"driver": "GTiff", "height": SIZE, "width": SIZE, "count": 3, "dtype": "float32", "tiled": True,
               "blockxsize": 32, "blockysize": 32, "nodata": -9999.0}
    if crs is not None:
        profile.update(crs=crs, transform=TRANSFORM)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A valid raster, one without CRS, and the bad inputs: truncated to 60 %, text named .tif, missing."""
    d = tmp_path_factory.mktemp("inputs")
    truncated = _write_tiff(d / "truncated.tif")
    os.truncate(truncated, int(truncated.stat().st_size * 0.6))
    not_raster = d / "not_raster.tif"
    not_raster.write_text("this is not a raster\n")
    return {"good": _write_tiff(d / "good.tif"), "no_crs": _write_tiff(d / "no_crs.tif", crs=None),
            "truncated": truncated, "not_raster": not_raster, "missing": d / "missing.tif"}


def _terrain_config(tmp_path: Path, files: dict[str, Path], dsm: Path, like: Path | None = None) -> Path:
    cfg = {
        "output": str(tmp_path / "out"),
        "grid": {"like": str(like or files["good"])},
        "cluster": {"kind": "synchronous"},
        "inputs": {"dsm": str(dsm)},
        "steps": [{"id": "terrain", "step": "terrain", "inputs": {"dsm": "dsm"}}],
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


# ---- the helpers ---------------------------------------------------------------------------------------------

def test_truncated_raster_opens_but_its_reads_name_the_file(files):
    path = files["truncated"]
    with open_raster(path) as src:
        assert src.shape == (SIZE, SIZE)  # the header is intact
        with pytest.raises(InvalidInputError, match="truncated or corrupt") as err:
            src.read(1)
        assert str(path) in str(err.value)
        with pytest.raises(InvalidInputError, match="truncated or corrupt"):
            src.read_masks(1)
    with pytest.raises(InvalidInputError, match="its pixels cannot be read"):
        read_window(path)
    grid = GroundGrid(CRS, TRANSFORM * Affine.scale(2.0), (SIZE // 2, SIZE // 2))
    with pytest.raises(InvalidInputError, match="truncated or corrupt"):  # a warped read, round the dataset
        read_on_grid(path, grid)


def test_not_a_raster_and_missing(files):
    with pytest.raises(InvalidInputError, match="cannot be read as a raster") as err:
        open_raster(files["not_raster"])
    assert str(files["not_raster"]) in str(err.value) and err.value.hint
    with pytest.raises(InputNotFoundError, match=r"missing\.tif"):
        read_window(files["missing"])


def test_raster_without_crs(files):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NotGeoreferencedWarning on stderr: said as an error where it matters
        with open_raster(files["no_crs"]) as src:
            assert src.crs is None
        with pytest.raises(InvalidInputError, match="has no CRS"):
            open_raster(files["no_crs"], georeferenced=True)


def test_good_raster_reads(files):
    data, transform = read_window(files["good"], band=None)
    assert data.shape == (3, SIZE, SIZE) and transform == TRANSFORM and np.isfinite(data).all()


def test_read_vector(tmp_path, files):
    import geopandas as gpd
    from shapely.geometry import box

    gdf = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[box(0, 0, 1, 1), box(10, 10, 11, 11)], crs=CRS)
    path = write_vector(gdf, tmp_path / "boxes.gpkg")
    assert len(read_vector(path)) == 2
    assert list(read_vector(path, bbox=(-1.0, -1.0, 2.0, 2.0))["id"]) == [1]
    bad = tmp_path / "bad.gpkg"
    bad.write_text("not a GeoPackage\n")
    with pytest.raises(InvalidInputError, match="cannot be read as vector data") as err:
        read_vector(bad)
    assert str(bad) in str(err.value) and err.value.hint
    with pytest.raises(InputNotFoundError):
        read_vector(tmp_path / "gone.gpkg")


# ---- through the CLI -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", BAD)
def test_run_terrain_on_bad_dsm(tmp_path, files, kind):
    line = assert_user_error(ai4geo("run", str(_terrain_config(tmp_path, files, files[kind]))), files[kind])
    if kind == "truncated":
        assert "truncated or corrupt" in line


def test_run_grid_like_raster_without_crs(tmp_path, files):
    path = _terrain_config(tmp_path, files, files["good"], like=files["no_crs"])
    assert "no CRS" in assert_user_error(ai4geo("run", str(path)), files["no_crs"])


@pytest.mark.parametrize("kind", BAD)
def test_segment_predict_on_bad_raster(tmp_path, files, kind):
    proc = ai4geo("segment", "predict", "--image", str(files[kind]), "--out", str(tmp_path / "seg"))
    assert_user_error(proc, files[kind])


@pytest.fixture(scope="module")
def terrain_run(tmp_path_factory: pytest.TempPathFactory, files: dict[str, Path]) -> Path:
    """The output folder of a terrain run on the valid raster."""
    d = tmp_path_factory.mktemp("terrain_run")
    proc = ai4geo("run", str(_terrain_config(d, files, files["good"])))
    assert proc.returncode == 0, proc.stderr
    return d / "out"


@pytest.mark.parametrize("kind", BAD)
def test_report_with_bad_reference(terrain_run, files, kind):
    proc = ai4geo("report", str(terrain_run), "-r", f"terrain.dtm={files[kind]}",
                  "--out", str(terrain_run / f"report_{kind}.html"))
    assert_user_error(proc, files[kind])
