import numpy as np
import pytest

from ai4geo_lab.errors import ConfigError
from ai4geo_lab.execution.tiles import TileGrid


def test_tiles_cover_raster_exactly_once():
    grid = TileGrid(250, 130, tile_size=100, overlap=7)
    assert grid.shape == (3, 2) and len(grid) == 6
    cover = np.zeros((250, 130), int)
    for t in grid:
        cover[t.core.toslices()] += 1
        halo = np.zeros((250, 130), bool)
        halo[t.halo.toslices()] = True
        assert halo[t.core.toslices()].all()
        # the halo extends by the overlap wherever the raster allows it
        assert t.halo.row_off == max(0, t.core.row_off - 7)
        rs, cs = t.core_in_halo
        assert rs.stop - rs.start == t.core.height and cs.stop - cs.start == t.core.width
    assert (cover == 1).all()


def test_default_tile_size_is_1000():
    grid = TileGrid(2500, 1000)
    assert grid.tile_size == 1000 and grid.shape == (3, 1)
    assert [t.key for t in grid] == ["r000_c000", "r001_c000", "r002_c000"]


@pytest.mark.parametrize("kwargs", [{"height": 0, "width": 5}, {"height": 5, "width": 5, "tile_size": 4},
                                    {"height": 5, "width": 5, "overlap": -1}])
def test_bad_grids_are_refused(kwargs):
    with pytest.raises(ConfigError):
        TileGrid(**kwargs)


def test_a_new_process_finds_the_tiles_of_an_earlier_one(tmp_path):
    """The record's stamp survives the manifest's JSON (tuples come back as lists): tiles are reused, not redone."""
    from ai4geo_lab.execution.executor import TileTask, prepare_record, run_tiles
    from ai4geo_lab.execution.manifest import Manifest

    def task(key: str) -> TileTask:
        path = tmp_path / f"{key}.txt"
        return TileTask(key, lambda: (path.write_text(key), {"key": key})[1], (), (path,))

    stamp = {"pairs": [(0, 1)], "margins": (10.0, 20.0)}
    first = Manifest(tmp_path)
    prepare_record(first, "dsm/cars", stamp)
    assert len(run_tiles([task("a"), task("b")], first, "dsm/cars", progress=False).computed) == 2
    again = Manifest(tmp_path)  # as a rerun in another process reads it
    prepare_record(again, "dsm/cars", stamp)
    rerun = run_tiles([task("a"), task("b")], again, "dsm/cars", progress=False)
    assert rerun.reused == ["a", "b"] and not rerun.computed
    prepare_record(again, "dsm/cars", {**stamp, "margins": (5.0, 20.0)})  # other options: start afresh
    assert len(run_tiles([task("a")], again, "dsm/cars", progress=False).computed) == 1
