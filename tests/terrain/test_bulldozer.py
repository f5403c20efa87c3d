"""bulldozer DTM and nDSM on the sample city's true DSM, through the API, the CLI and the chain."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from ai4geo_lab.cli import main
from ai4geo_lab.errors import ConfigError, InvalidInputError
from ai4geo_lab.geo.raster import write_raster
from ai4geo_lab.terrain import dtm, ndsm

pytest.importorskip("bulldozer")


def _read(path):
    with rasterio.open(path) as src:
        a = src.read(1).astype(np.float64)
        if src.nodata is not None and not np.isnan(src.nodata):
            a[a == src.nodata] = np.nan
        return a


def test_dtm_and_ndsm_against_the_truth(small_city, tmp_path):
    truth_dsm = small_city.truth("date1", "dsm")
    ground = dtm(truth_dsm, out=tmp_path / "dtm.tif")
    height = ndsm(truth_dsm, ground, out=tmp_path / "ndsm.tif")
    lc = _read(small_city.truth("date1", "landcover"))
    err = _read(ground) - _read(small_city.truth("date1", "dtm"))
    on_ground = np.isin(lc, [2, 4, 5])  # road, grass, bare soil
    rmse = float(np.sqrt(np.nanmean(err[on_ground] ** 2)))
    assert rmse < 0.8, rmse  # measured 0.51 m at 30 m (0.13 m at 16 m, 1.66 m at 50 m)
    h = _read(height)
    truth_h = _read(truth_dsm) - _read(small_city.truth("date1", "dtm"))
    roofs = (lc == 1) & (truth_h > 3)
    assert np.nanmedian(np.abs(h[roofs] - truth_h[roofs])) < 1.0
    assert np.nanmax(h) > 5 and np.nanmin(h) >= 0


def test_refused_inputs(tmp_path):
    flat = write_raster(tmp_path / "geo.tif", np.ones((20, 20), np.float32), rasterio.Affine(1e-5, 0, 2, 0, -1e-5, 45),
                        "EPSG:4326", np.nan)
    with pytest.raises(InvalidInputError, match="projected"):
        dtm(flat)
    with pytest.raises(ConfigError):
        dtm(flat, max_object_size=0)


def test_cli_and_chain_step(small_city, tmp_path, capsys):
    truth_dsm = small_city.truth("date1", "dsm")
    assert main(["dtm", str(truth_dsm), "--out", str(tmp_path / "d.tif"), "--ndsm", str(tmp_path / "n.tif")]) == 0
    assert (tmp_path / "d.tif").is_file() and (tmp_path / "n.tif").is_file()
    assert main(["dtm", str(tmp_path / "missing.tif")]) == 2
    assert "does not exist" in capsys.readouterr().err
    from ai4geo_lab.pipeline import RunConfig, run

    config = RunConfig.model_validate({
        "output": str(tmp_path / "run"), "grid": {"like": str(truth_dsm)}, "inputs": {"dsm": str(truth_dsm)},
        "steps": [{"id": "terrain", "step": "terrain", "inputs": {"dsm": "dsm"},
                   "params": {"engine": "bulldozer", "bulldozer": {"max_object_size_m": 40}}}]})
    result = run(config, client=None, progress=False, log=lambda m: None)
    assert set(result.products) == {"terrain.dtm", "terrain.ndsm"}
    assert np.isfinite(_read(result.products["terrain.ndsm"])).mean() > 0.99
