"""``ai4geo_lab.terrain.dtm`` (bulldozer) and ``ndsm`` on DSM files.

bulldozer (CNES, the ``cars`` extra) drapes a cloth under the DSM: objects narrower than ``max_object_size`` are
removed, the terrain kept. It runs in a subprocess (it starts its own process pool, which Dask workers and some
notebook set-ups cannot do in-process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject

from ai4geo_lab.errors import ConfigError, InvalidInputError, ProcessingError, installed_version
from ai4geo_lab.geo.raster import open_raster, raster_read_errors, write_raster
from ai4geo_lab.terrain.algo import ndsm as ndsm_array

#: Default largest object (m) for cities: apartment blocks and large halls (bulldozer's own default, 16 m,
#: suits houses and small buildings; 30 m keeps apartment blocks out of the DTM at a small cost on hilly ground).
CITY_MAX_OBJECT_SIZE_M = 30.0

_RUN = """
import json, sys
from bulldozer.pipeline.bulldozer_pipeline import dsm_to_dtm
dsm_to_dtm(**json.loads(sys.argv[1]))
"""


def bulldozer_version() -> str:
    """The installed bulldozer version, or the error naming the extra."""
    return installed_version("bulldozer", "bulldozer-dtm", "cars")


def _read(path: Path) -> tuple[np.ndarray, dict]:
    with open_raster(path) as src:
        data = src.read(1).astype(np.float32)
        if src.nodata is not None and not np.isnan(src.nodata):
            data[data == src.nodata] = np.nan
        return data, {"crs": src.crs, "transform": src.transform, "shape": (src.height, src.width)}


def dtm(dsm: str | Path, max_object_size: float = CITY_MAX_OBJECT_SIZE_M, out: str | Path | None = None,
        workers: int = 2, timeout_s: float = 1800.0) -> Path:
    """A DTM from a DSM file with bulldozer; written as a float32 COG (NaN nodata), default ``<dsm>_dtm.tif``.

    ``max_object_size`` (m): the widest above-ground object to remove (default suited to cities). The DTM is
    kept only where the DSM has data or is surrounded by it (bulldozer fills holes; far outside the DSM it has
    no information).
    """
    dsm = Path(dsm)
    if max_object_size <= 0:
        raise ConfigError(f"max_object_size must be positive, got {max_object_size}")
    data, meta = _read(dsm)
    if meta["crs"] is None or not meta["crs"].is_projected:
        raise InvalidInputError(f"{dsm} is not in a projected CRS (metres)", "give a DSM in UTM or similar")
    if not np.isfinite(data).any():
        raise InvalidInputError(f"{dsm} has no valid height", "give a DSM with data")
    bulldozer_version()
    out = Path(out) if out is not None else dsm.with_name(f"{dsm.stem}_dtm.tif")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bulldozer-", dir=out.parent) as tmp:
        src = Path(tmp) / "dsm.tif"
        write_raster(src, data, meta["transform"], meta["crs"], np.nan, cog=False)
        params = {"dsm_path": str(src), "output_dir": str(Path(tmp) / "out"), "max_object_size": float(max_object_size),
                  "nb_max_workers": int(workers)}
        env = dict(os.environ, OMP_NUM_THREADS="1")
        try:
            proc = subprocess.run([sys.executable, "-c", _RUN, json.dumps(params)], capture_output=True, text=True,
                                  timeout=timeout_s, env=env, cwd=tmp)
        except subprocess.TimeoutExpired as exc:
            raise ProcessingError(f"bulldozer did not finish within {timeout_s:.0f} s on {dsm}",
                                  "give a smaller DSM or a longer timeout") from exc
        result = Path(tmp) / "out" / "dtm.tif"
        if proc.returncode != 0 or not result.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ProcessingError(f"bulldozer made no DTM from {dsm} (exit {proc.returncode}): {' | '.join(tail)}",
                                  "check the DSM (projected CRS, enough valid heights)")
        terrain, _ = _read(result)
    write_raster(out, terrain.astype(np.float32), meta["transform"], meta["crs"], np.nan)
    return out


def ndsm(dsm: str | Path, dtm: str | Path, out: str | Path | None = None) -> Path:
    """Height above ground, DSM − DTM clipped at 0 (NaN where the DSM has none); the DTM is resampled to the DSM's
    grid if needed. Written as a COG, default ``<dsm>_ndsm.tif``."""
    dsm, dtm = Path(dsm), Path(dtm)
    surface, meta = _read(dsm)
    with open_raster(dtm) as src:
        if (src.crs, src.transform, (src.height, src.width)) == (meta["crs"], meta["transform"], meta["shape"]):
            ground = src.read(1).astype(np.float32)
            if src.nodata is not None and not np.isnan(src.nodata):
                ground[ground == src.nodata] = np.nan
        else:
            ground = np.full(meta["shape"], np.nan, np.float32)
            with raster_read_errors(dtm):
                reproject(rasterio.band(src, 1), ground, dst_transform=meta["transform"], dst_crs=meta["crs"],
                          dst_nodata=np.nan, resampling=Resampling.bilinear)
    out = Path(out) if out is not None else dsm.with_name(f"{dsm.stem}_ndsm.tif")
    write_raster(out, ndsm_array(surface, ground), meta["transform"], meta["crs"], np.nan)
    return out
