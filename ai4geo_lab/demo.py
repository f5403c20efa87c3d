"""``ai4geo demo``: the sample city through the whole chain, measured against its ground truth."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, get_args

import yaml

from ai4geo_lab.cluster import ClusterConfig, connect
from ai4geo_lab.errors import ConfigError
from ai4geo_lab.execution.step_run import check_writable
from ai4geo_lab.geo.atomic import write_text_atomic
from ai4geo_lab.pipeline import RunConfig, run
from ai4geo_lab.quality.evaluate import evaluate_run
from ai4geo_lab.stereo.step import DsmParams

#: Height searched above the highest terrain: the tallest building a user expects.
MAX_BUILDING_HEIGHT_M = 70.0


def demo_config(city: Any, out: Path, tile_size: int = 600, workers: int | None = None,
                dsm_engine: str | None = None) -> dict[str, Any]:
    """The run configuration of the demo, as the mapping a YAML file would hold.

    ``dsm_engine`` (default: the ``dsm`` step's): ``native``, the package's semi-global matching (its search range comes
    from a coarse terrain prior, the lowest and highest ground of the area as a global DEM would give, widened by
    :data:`MAX_BUILDING_HEIGHT_M`) with the morphological ``terrain`` engine; or ``cars``: CARS DSMs and
    bulldozer DTMs (slower).
    """
    engines = get_args(DsmParams.model_fields["engine"].annotation)
    engine = dsm_engine or DsmParams().engine
    if engine not in engines:
        raise ConfigError(f"unknown DSM engine '{engine}'", f"engines: {', '.join(engines)}")
    inputs: dict[str, Any] = {}
    for i, date in enumerate(("date1", "date2"), start=1):
        when = city.dates[date]
        for name in ("pan_fwd", "pan_bwd", "ortho"):
            inputs[f"{name}_{i}"] = {"path": str(city.image(date, name)), "datetime": when}
    native = {"hmin": float(city.terrain_range[0]) - 5.0,
              "hmax": float(city.terrain_range[1]) + MAX_BUILDING_HEIGHT_M}
    dsm_params = {"engine": "native", "native": native} if engine == "native" else {"engine": "cars"}
    terrain_params = {"engine": "morphology" if engine == "native" else "bulldozer"}
    steps: list[dict[str, Any]] = []
    for i in (1, 2):
        pair = {"left": f"pan_fwd_{i}", "right": f"pan_bwd_{i}"}
        steps += [
            {"id": f"dsm_{i}", "step": "dsm", "inputs": pair, "params": dsm_params},
            {"id": f"terrain_{i}", "step": "terrain", "inputs": {"dsm": f"dsm_{i}.dsm"}, "params": terrain_params},
        ]
    steps += [
        {"id": "mask_1", "step": "segment", "inputs": {"image": "ortho_1", "ndsm": "terrain_1.ndsm"}},
        {"id": "footprints_1", "step": "footprints", "inputs": {"mask": "mask_1.mask"}},
        {"id": "lod1_1", "step": "lod1",
         "inputs": {"footprints": "footprints_1", "ndsm": "terrain_1.ndsm", "dtm": "terrain_1.dtm"}},
        {"id": "lod2_1", "step": "lod2",
         "inputs": {"footprints": "footprints_1", "ndsm": "terrain_1.ndsm", "dtm": "terrain_1.dtm"}},
        {"id": "landcover_1", "step": "landcover", "inputs": {"image": "ortho_1", "ndsm": "terrain_1.ndsm"}},
        {"id": "change_12", "step": "change",
         "inputs": {"dsm_before": "dsm_1.dsm", "dsm_after": "dsm_2.dsm", "ndsm_before": "terrain_1.ndsm",
                    "ndsm_after": "terrain_2.ndsm", "image_before": "ortho_1", "image_after": "ortho_2"}},
    ]
    cluster: dict[str, Any] = {"kind": "local"}
    if workers:
        cluster["n_workers"] = workers
    return {"output": str(out / "products"), "tile_size": tile_size,
            "grid": {"like": str(city.image("date1", "ortho"))}, "cluster": cluster,
            "inputs": inputs, "steps": steps}


def change_config(city: Any, out: Path, tile_size: int = 600, workers: int | None = None,
                  dsm_engine: str | None = None) -> dict[str, Any]:
    """The demo's DSMs, nDSMs and first-date footprints of both dates, then per-building 3D change
    (``bchange``) and 2D NDVI-decrease change (``c2d``): the run configuration of the change recipes."""
    mapping = demo_config(city, out, tile_size=tile_size, workers=workers, dsm_engine=dsm_engine)
    keep = {"dsm_1", "terrain_1", "dsm_2", "terrain_2", "mask_1", "footprints_1"}
    mapping["steps"] = [s for s in mapping["steps"] if s["id"] in keep] + [
        {"id": "bchange", "step": "building_change",
         "inputs": {"dsm_before": "dsm_1.dsm", "dsm_after": "dsm_2.dsm", "footprints": "footprints_1",
                    "ndsm_before": "terrain_1.ndsm", "ndsm_after": "terrain_2.ndsm", "image_after": "ortho_2"}},
        {"id": "c2d", "step": "change_2d", "inputs": {"image_before": "ortho_1", "image_after": "ortho_2"},
         "params": {"direction": "decrease"}}]
    return mapping


def _city(out: Path, seed: int, size_m: float, gsd: float) -> Any:
    """The sample city under ``out/sample``, made unless an identical one is already there."""
    from ai4geo_lab.sample import SampleCity, make_sample_city

    root = out / "sample"
    if (root / "sample.json").is_file():
        city = SampleCity.load(root)
        if (city.seed, city.size_m, city.gsd) == (seed, size_m, gsd):
            return city
    return make_sample_city(root, seed=seed, size_m=size_m, gsd=gsd, overwrite=True)


def register_city(city: Any, workspace: str | Path | None = None, log: Any = print) -> Path | None:
    """Add the sample city's STAC catalogue to the workspace's local catalogue (as ``ai4geo catalog add`` does),
    so that the Lab's search panel and ``search(..., provider="local")`` find it; returns the catalogue file.
    A workspace that cannot be written is reported, not fatal: the demo itself does not need it."""
    from ai4geo_lab.catalog import add_local_catalog
    from ai4geo_lab.errors import Ai4geoError

    try:
        cat = add_local_catalog(city.root, workspace)
    except (Ai4geoError, OSError) as exc:
        log(f"the sample city was not added to the local catalogue: {exc}")
        return None
    log(f"the sample city's catalogue is in the local catalogue (search provider 'local'): {cat}")
    return cat


def run_demo(out: str | Path = "demo-out", seed: int = 0, size_m: float = 600.0, gsd: float = 0.5,
             workers: int | None = None, progress: bool = True, client: Any = None,
             log: Any = print, cluster: Any = None, dsm_engine: str | None = None,
             workspace: str | Path | None = None, register: bool = True) -> dict[str, Any]:
    """Make the sample city, run the chain (DSMs by ``dsm_engine``: ``native`` or ``cars``, see
    :func:`demo_config`), compare every product with the truth.

    Unless ``register`` is False, the sample city's STAC catalogue is added to the local catalogue of
    ``workspace`` (default: ``$AI4GEO_WORKSPACE``, else ``~/ai4geo-workspace``), where the Lab's search finds it.
    Writes ``out/metrics.json`` and ``out/report.html`` and returns the metrics.
    """
    out = Path(out).resolve()
    check_writable(out)
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    log(f"making the sample city (seed {seed}, {size_m:g} m, {gsd:g} m/px)")
    city = _city(out, seed, size_m, gsd)
    if register:
        register_city(city, workspace, log)
    times["sample_city"] = round(time.perf_counter() - t0, 2)
    mapping = demo_config(city, out, workers=workers, dsm_engine=dsm_engine)
    write_text_atomic(out / "demo.yaml", yaml.safe_dump(mapping, sort_keys=False))
    config = RunConfig.model_validate(mapping).resolve(out)
    t1 = time.perf_counter()
    if client is None:
        with connect(cluster if cluster is not None else ClusterConfig.model_validate(mapping["cluster"])) as own:
            result = run(config, client=own, progress=progress, log=log)
    else:
        result = run(config, client=client, progress=progress, log=log)
    times["chain"] = round(time.perf_counter() - t1, 2)
    t2 = time.perf_counter()
    report = evaluate_run(city, result)
    metrics = dict(report.metrics)
    times["evaluation"] = round(time.perf_counter() - t2, 2)
    times.update({f"step.{k}": v for k, v in result.wall_time_s.items()})
    times["total"] = round(time.perf_counter() - t0, 2)
    metrics["wall_time_s"] = times
    write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=1))
    report.metrics = metrics
    report.save(out / "report.html")
    return metrics
