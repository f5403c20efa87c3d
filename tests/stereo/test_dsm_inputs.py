"""stereo.dsm before any CARS run: pairs from a set, refused inputs, and the core without the cars extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from ai4geo_lab.errors import ConfigError, InvalidInputError, NoOverlapError
from ai4geo_lab.geo.raster import write_raster
from ai4geo_lab.geo.sensor import read_sensor
from ai4geo_lab.sample.render import affine_view
from ai4geo_lab.stereo import choose_pairs, dsm
from tests.conftest import shared_data

ROOT = Path(__file__).resolve().parents[2]


def nadir_view(city, path: Path) -> Path:
    """A third, nadir view of the sample city (RPC tags only; pairing looks at geometry, not pixels)."""
    with rasterio.open(city.image("date1", "ortho")) as src:
        transform, shape = src.transform, (src.height, src.width)
    view = affine_view(transform, shape, city.hmin, city.hmax, 0.0, "nadir")
    return write_raster(path, np.zeros(view.shape, np.uint16), None, None, rpcs=view.rpc.to_rasterio(), cog=False)


def test_tri_stereo_pairs_the_nadir_image_with_the_others(small_city, tmp_path):
    fwd, bwd = small_city.image("date1", "pan_fwd"), small_city.image("date1", "pan_bwd")
    sensors = [read_sensor(p) for p in (fwd, bwd, nadir_view(small_city, tmp_path / "nadir.tif"))]
    c = sensors[0].footprint().centroid
    where = (c.x, c.y, float(np.mean(small_city.terrain_range)))
    assert choose_pairs(sensors[:2], where) == [(0, 1)]
    assert choose_pairs(sensors, where) == [(2, 0), (2, 1)]
    with pytest.raises(InvalidInputError, match="no stereo base"):
        choose_pairs([sensors[0], read_sensor(fwd)], where)
    with pytest.raises(ConfigError, match="at least two"):
        choose_pairs(sensors[:1], where)


def test_relative_image_paths_reach_the_engine_absolute(small_city, monkeypatch):
    fwd = Path(small_city.image("date1", "pan_fwd"))
    monkeypatch.chdir(fwd.parent.parent)
    sensor = read_sensor(Path(fwd.parent.name) / fwd.name)  # CARS runs in its own folder: it needs absolute paths
    assert sensor.image.is_absolute() and sensor.image == fwd.resolve()


def test_images_or_roi_without_overlap_are_refused_before_cars(tmp_path):
    giz = shared_data("pleiades", "gizeh", "img1.tif")
    kah = shared_data("pleiades", "kahramanmaras", "pre_event_img1.tif")
    with pytest.raises(NoOverlapError, match="do not overlap"):
        dsm([giz, kah], tmp_path / "a")
    with pytest.raises(NoOverlapError, match="outside the images' overlap"):
        dsm([giz, shared_data("pleiades", "gizeh", "img2.tif")], tmp_path / "b", roi=(31.0, 29.9, 31.01, 29.91))
    with pytest.raises(ConfigError, match="unknown DSM engine"):
        dsm([giz, giz], tmp_path / "c", engine="magic")
    assert not (tmp_path / "a" / "dsm.tif").exists() and not (tmp_path / "b" / "tiles").exists()


BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('cars', 'bulldozer', 'shareloc', 'pandora'):
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, Block())
"""


def test_core_imports_and_names_the_extra_without_cars(tmp_path):
    """With CARS and bulldozer unimportable, the package, the chain and the CLI load; using them names the extra."""
    code = BLOCK + """
import ai4geo_lab.stereo, ai4geo_lab.terrain, ai4geo_lab.pipeline.registry, ai4geo_lab.cli
from ai4geo_lab.errors import MissingDependencyError
from ai4geo_lab.stereo.cars_engine import check_cars
from ai4geo_lab.terrain.products import bulldozer_version
for f in (check_cars, bulldozer_version):
    try:
        f()
    except MissingDependencyError as exc:
        print('MISSING', exc)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MISSING")]
    assert len(lines) == 2 and all("ai4geo-lab[cars]" in ln for ln in lines)


def test_roi_tiles_have_no_slivers_and_cover_the_grid():
    from affine import Affine

    from ai4geo_lab.stereo.sensor_dsm import _splits, plan_tiles

    assert _splits(487, 240) == [(0, 244), (244, 243)]
    assert _splits(100, 240) == [(0, 100)]
    domain = np.zeros((251, 487), bool)
    domain[:, :100] = True
    jobs = plan_tiles((251, 487), Affine(0.5, 0, 1000.0, 0, -0.5, 2000.0), 240, 30.0, domain)
    assert [j.key for j in jobs] == ["r000_c000", "r000_c001"]
    cover = np.zeros((251, 487), int)
    for j in jobs:
        r0, c0, h, w = j.core
        cover[r0:r0 + h, c0:c0 + w] += 1
    assert (cover == 1).all()
    assert jobs[0].roi == (970.0, 2000 - 125.5 - 30, 1000 + 122 + 30, 2030.0)
    assert jobs[0].domain_px == 251 * 100 and jobs[1].domain_px == 0


def test_chain_steps_are_registered_with_their_parameters(small_city, tmp_path):
    from ai4geo_lab.pipeline import RunConfig, get_step

    spec = get_step("dsm")
    assert spec.inputs == ("left", "right") and spec.optional_inputs == ("third",)
    assert spec.outputs_of(spec.params(engine="cars")) == ("dsm", "ortho")
    assert spec.outputs_of(spec.params()) == ("dsm", "ortho", "confidence", "filled")
    assert get_step("terrain").outputs == ("dtm", "ndsm")
    base = {"output": str(tmp_path), "grid": {"like": str(small_city.image("date1", "ortho"))},
            "inputs": {"a": str(small_city.image("date1", "pan_fwd")), "b": str(small_city.image("date1", "pan_bwd"))},
            "steps": [{"id": "dsm", "step": "dsm", "inputs": {"left": "a", "right": "b"},
                       "params": {"engine": "cars", "cars": {"tile_size_m": 300}}},
                      {"id": "terrain", "step": "terrain", "inputs": {"dsm": "dsm.dsm"},
                       "params": {"engine": "bulldozer"}}]}
    params = RunConfig.model_validate(base).validate_steps()
    assert params["dsm"].cars.tile_size_m == 300 and params["terrain"].bulldozer.max_object_size_m == 30.0
    base["steps"][0]["params"] = {"engine": "cars", "cars": {"tile_size_m": -1}}
    with pytest.raises(ConfigError, match="tile_size_m"):
        RunConfig.model_validate(base).validate_steps()
