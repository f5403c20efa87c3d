"""Run a configured chain: steps in order, tiles through Dask, resume from the manifest, lineage as STAC."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyproj import CRS

from ai4geo_lab import __version__
from ai4geo_lab.chain.config import RunConfig, load_config
from ai4geo_lab.chain.context import StepContext
from ai4geo_lab.chain.lineage import product_item, write_catalog
from ai4geo_lab.chain.manifest import MANIFEST_NAME, Manifest, fingerprint
from ai4geo_lab.chain.registry import get_step
from ai4geo_lab.cluster import connect
from ai4geo_lab.errors import Ai4geoError, OutputNotWritableError, ProcessingError
from ai4geo_lab.geo.grid import GroundGrid


@dataclass
class RunResult:
    """What a run produced: product paths by ``step_id.output``, times, what was computed or skipped."""

    root: Path
    products: dict[str, Path] = field(default_factory=dict)
    wall_time_s: dict[str, float] = field(default_factory=dict)
    tiles_computed: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    catalog: Path | None = None


def check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and prove it is writable, or raise a clear error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OutputNotWritableError(f"the output folder {folder} is not writable ({exc.strerror})",
                                     "choose another output folder or fix its permissions") from exc


def _grid(config: RunConfig) -> GroundGrid:
    g = config.grid
    if g.like is not None:
        return GroundGrid.like(g.like)
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
    produced = {s.id: get_step(s.step).outputs for s in config.steps}
    for s in config.steps:
        spec = get_step(s.step)
        inputs: dict[str, Path] = {}
        input_dates: list[dt.datetime] = []
        for role, ref in s.inputs.items():
            src, out = config.resolve_ref(ref, produced, where=f"step '{s.id}'")
            if out is None:
                inputs[role] = config.inputs[src].path
                if src in dates:
                    input_dates.append(dates[src])
            else:
                inputs[role] = result.products[f"{src}.{out}"]
                if f"{src}.{out}" in dates:
                    input_dates.append(dates[f"{src}.{out}"])
        p = params[s.id]
        p_dump = p.model_dump(mode="json")
        fp = fingerprint(s.step, p_dump, inputs,
                         {"tile_size": config.tile_size, "grid": repr(grid), "version": __version__})
        rec = manifest.step(s.id)
        outputs_ok = rec.get("outputs") and all(Path(v).is_file() for v in rec["outputs"].values())
        tiles_ok = all(
            (root / s.id / "tiles" / name.split("/", 1)[1] / f"{k}.tif").is_file()
            for name, trec in manifest.data["steps"].items() if name.startswith(f"{s.id}/")
            for k in trec.get("tiles", {})
        )
        if rec.get("fingerprint") == fp and rec.get("status") == "done" and outputs_ok and tiles_ok:
            outputs = {k: Path(v) for k, v in rec["outputs"].items()}
            result.skipped.append(s.id)
            log(f"[{s.id}] {s.step}: up to date, skipped")
            result.wall_time_s[s.id] = rec.get("wall_time_s", 0.0)
        else:
            manifest.reset_step(s.id, fp)  # a changed fingerprint makes every tile stale
            ctx = StepContext(s.id, root, grid, manifest, config.tile_size, client, progress, log)
            log(f"[{s.id}] {s.step}: running")
            t0 = time.perf_counter()
            try:
                outputs = spec.run(ctx, inputs, p)
            except Ai4geoError:
                rec["status"] = "failed"
                manifest.save()
                raise
            except Exception as exc:
                rec["status"] = "failed"
                manifest.save()
                raise ProcessingError(f"step '{s.id}' ({s.step}) failed: {type(exc).__name__}: {exc}",
                                      "finished tiles are kept; rerun to resume") from exc
            elapsed = time.perf_counter() - t0
            result.wall_time_s[s.id] = round(elapsed, 2)
            result.tiles_computed[s.id] = ctx.tiles_computed
            rec.update({"status": "done", "outputs": {k: str(v) for k, v in outputs.items()},
                        "wall_time_s": round(elapsed, 2), "finished": dt.datetime.now(dt.UTC).isoformat()})
            manifest.save()
            log(f"[{s.id}] {s.step}: done in {elapsed:.1f} s"
                + (f" ({len(ctx.tiles_computed)} tiles computed)" if ctx.tiles_computed else ""))
        when = max(input_dates) if input_dates else dt.datetime.now(dt.UTC)
        for name, path in outputs.items():
            key = f"{s.id}.{name}"
            result.products[key] = path
            dates[key] = when
            items.append(product_item(key.replace(".", "-"), path, grid.footprint_wgs84(), when, s.step,
                                      p_dump, inputs, epsg))
    result.catalog = write_catalog(root, items, "ai4geo_lab run products")
    return result
