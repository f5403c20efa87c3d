"""Run a configured chain: steps in order, tiles through Dask, resume from the manifest, lineage as STAC."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyproj import CRS

from ai4geo_lab.cluster import connect
from ai4geo_lab.errors import ConfigError
from ai4geo_lab.execution.lineage import product_item, write_catalog
from ai4geo_lab.execution.manifest import MANIFEST_NAME, Manifest
from ai4geo_lab.execution.step_run import check_writable, execute_step
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.pipeline.config import RunConfig, load_config
from ai4geo_lab.pipeline.registry import get_step


@dataclass
class RunResult:
    """What a run produced: product paths by ``step_id.output``, times, what was computed or skipped."""

    root: Path
    products: dict[str, Path] = field(default_factory=dict)
    wall_time_s: dict[str, float] = field(default_factory=dict)
    tiles_computed: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    catalog: Path | None = None
    report: Path | None = None


def _grid(config: RunConfig) -> GroundGrid:
    g = config.grid
    if g.like is not None:
        return GroundGrid.like(g.like)
    if g.overlap is not None and g.gsd is not None:
        from ai4geo_lab.stereo.sensor_dsm import area_grid

        return area_grid([config.inputs[n].path for n in g.overlap], g.roi, g.gsd)
    if g.bounds is None or g.crs is None or g.gsd is None:
        raise ConfigError("the grid needs 'like: <raster>' or all of 'bounds', 'crs' and 'gsd'")
    return GroundGrid.from_bounds(g.bounds, g.crs, g.gsd)


def run(config: RunConfig | str | Path, client: Any = None, progress: bool = True,
        log: Callable[[str], None] = print, cluster: Any = None, restart: bool = False) -> RunResult:
    """Run every step of ``config`` (a :class:`RunConfig` or a YAML path) and return what it produced.

    ``client`` is a ``distributed.Client``; without one, ``cluster`` (any spec of
    :func:`ai4geo_lab.cluster.connect`) or else the configuration's ``cluster`` section decides (a LocalCluster
    by default). Finished steps and tiles recorded in ``OUT/run.json`` are not recomputed, unless ``restart``.
    """
    if not isinstance(config, RunConfig):
        config = load_config(config)
    params = config.validate_steps()
    check_writable(config.output)
    if restart:
        (config.output / MANIFEST_NAME).unlink(missing_ok=True)
    if client is None:
        with connect(cluster if cluster is not None else config.cluster) as own_client:
            if own_client is not None and getattr(own_client, "dashboard_link", None):
                log(f"Dask dashboard: {own_client.dashboard_link}")
            return _run(config, params, own_client, progress, log)
    return _run(config, params, client, progress, log)


def _run(config: RunConfig, params: dict[str, Any], client: Any, progress: bool,
         log: Callable[[str], None]) -> RunResult:
    root = config.output
    grid = _grid(config)
    epsg = CRS.from_user_input(grid.crs).to_epsg()
    manifest = Manifest(root)
    result = RunResult(root)
    dates: dict[str, dt.datetime] = {k: v.datetime for k, v in config.inputs.items() if v.datetime}
    items = []
    produced = {s.id: get_step(s.step).outputs_of(params[s.id]) for s in config.steps}
    primary = {s.id: get_step(s.step).outputs for s in config.steps}
    for s in config.steps:
        spec = get_step(s.step)
        inputs: dict[str, Path] = {}
        input_dates: list[dt.datetime] = []
        for role, ref in s.inputs.items():
            src, out = config.resolve_ref(ref, produced, where=f"step '{s.id}'", role=role, primary=primary)
            if out is None:
                inputs[role] = config.inputs[src].path
                if src in dates:
                    input_dates.append(dates[src])
            else:
                inputs[role] = result.products[f"{src}.{out}"]
                if f"{src}.{out}" in dates:
                    input_dates.append(dates[f"{src}.{out}"])
        p = params[s.id]
        done = execute_step(s.step, s.id, spec.run, inputs, p, root, grid, manifest, config.tile_size, client,
                            progress, log)
        outputs = done.outputs
        result.wall_time_s[s.id] = done.wall_time_s
        if done.skipped:
            result.skipped.append(s.id)
        else:
            result.tiles_computed[s.id] = done.tiles_computed
        p_dump = p.model_dump(mode="json")
        when = max(input_dates) if input_dates else dt.datetime.now(dt.UTC)
        for name, path in outputs.items():
            key = f"{s.id}.{name}"
            result.products[key] = path
            dates[key] = when
            items.append(product_item(key.replace(".", "-"), path, grid.footprint_wgs84(), when, s.step,
                                      p_dump, inputs, epsg, properties=done.properties(name)))
    result.catalog = write_catalog(root, items, "ai4geo_lab run products")
    if config.report:
        from ai4geo_lab.quality.run_report import build_run_report

        result.report = build_run_report(root, []).save(root / "report.html")
        log(f"report: {result.report}")
    return result
