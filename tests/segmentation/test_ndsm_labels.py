"""Building labels from an nDSM: what is labelled building, ground or nothing; written as a STAC dataset of
raster masks and read back; `ai4geo segment labels-from-ndsm` with its one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from ai4geo_lab.cli import main
from ai4geo_lab.geo.raster import write_raster
from ai4geo_lab.segmentation.chips import IGNORE
from ai4geo_lab.segmentation.ndsm_labels import NdsmLabelParams, ndsm_labels, write_ndsm_labels
from ai4geo_lab.segmentation.stac_labels import read_label_dataset, write_label_dataset

GSD = 0.5
CRS = "EPSG:32637"


def town() -> np.ndarray:
    """An nDSM at 0.5 m: a 20 m × 20 m block 12 m high, a wall 1 m thick and 10 m high, a 3 m × 3 m kiosk
    10 m high, a 5 m high tree, ground around, and a hole without heights."""
    h = np.zeros((120, 120), np.float32)
    h[10:50, 10:50] = 12.0  # block
    h[70:72, 10:110] = 10.0  # wall
    h[90:96, 20:26] = 10.0  # kiosk
    h[85:105, 60:80] = 5.0  # tree
    h[100:115, 100:115] = np.nan  # no height
    return h


def test_tall_large_blobs_are_buildings_low_cells_ground_and_the_rest_unlabelled() -> None:
    labels = ndsm_labels(town(), GSD)
    assert (labels[12:48, 12:48] == 1).all()  # the block, inside its edge
    assert (labels[10, 10:50] == IGNORE).all() and (labels[9, 10:50] == 0).all()  # its edge, then ground
    assert (labels[70:72] != 1).all()  # the wall is thinner than the opening
    assert (labels[90:96, 20:26] == IGNORE).all()  # too small for a building, too high for ground
    assert (labels[85:105, 60:80] == IGNORE).all()  # between ground and building height
    assert (labels[100:115, 100:115] == IGNORE).all()
    assert (labels[60, :] == 0).all()
    low = ndsm_labels(town(), GSD, NdsmLabelParams(high_m=4.0, min_area_m2=5.0))
    assert (low[87:103, 62:78] == 1).all() and (low[92:94, 22:24] == 1).all()  # tree and kiosk now buildings
    with pytest.raises(ValueError, match="must be below"):
        NdsmLabelParams(high_m=2.0, low_m=3.0)


def test_raster_labels_written_as_a_dataset_read_back_unchanged(tmp_path: Path) -> None:
    transform = from_origin(500_000.0, 4_160_000.0, GSD, GSD)
    ndsm = write_raster(tmp_path / "ndsm.tif", town(), transform, CRS, np.nan, cog=False)
    rng = np.random.default_rng(0)
    image = write_raster(tmp_path / "ortho.tif", rng.integers(100, 2000, (120, 120)).astype(np.uint16), transform,
                         CRS, cog=False)
    mask = write_ndsm_labels(ndsm, tmp_path / "labels.tif")
    with rasterio.open(mask) as src:
        expected = src.read(1)
        assert src.nodata == IGNORE and src.crs == CRS
    collection = write_label_dataset(image, mask, tmp_path / "ds", chip_size=60, region="town")
    chips = read_label_dataset(collection)
    assert len(chips) == 4 and {c.source for c in chips} == {"town"}
    for chip in chips:
        row, col = (int(v) for v in chip.name.split("@")[0].split("-")[-2:])  # item town-ROW-COL
        assert np.array_equal(chip.mask, expected[row:row + 60, col:col + 60])
    item = next((tmp_path / "ds").glob("*-labels/*.json")).read_text()
    assert '"label:type": "raster"' in item and "ai4geo:building_pixels" in item


def test_cli_labels_from_ndsm_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    transform = from_origin(500_000.0, 4_160_000.0, GSD, GSD)
    ndsm = write_raster(tmp_path / "ndsm.tif", town(), transform, CRS, np.nan, cog=False)
    assert main(["segment", "labels-from-ndsm", str(ndsm), "--out", str(tmp_path / "l.tif")]) == 0
    said = capsys.readouterr().out
    assert "building" in said and "unlabelled" in said and (tmp_path / "l.tif").is_file()
    assert main(["segment", "labels-from-ndsm", str(ndsm), "--out", str(tmp_path / "x.tif"), "--low-m", "9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "low_m (9.0) must be below high_m (8.0)" in err
    degrees = write_raster(tmp_path / "deg.tif", town(), from_origin(36.9, 37.6, 1e-5, 1e-5), "EPSG:4326", np.nan,
                           cog=False)
    assert main(["segment", "labels-from-ndsm", str(degrees), "--out", str(tmp_path / "y.tif")]) == 2
    assert "not on a projected grid" in capsys.readouterr().err
