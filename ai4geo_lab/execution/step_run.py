"""One step executed against a run folder: fingerprinted, skipped when up to date, resumed, recorded, with lineage.

:func:`execute_step` is the body the pipeline's runner runs for each step of a configuration, and what a
capability's own one-step entry point (e.g. U-Net prediction on a user's raster) runs for itself.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ai4geo_lab import __version__
from ai4geo_lab.errors import Ai4geoError, OutputNotWritableError, ProcessingError
from ai4geo_lab.execution.context import StepContext
from ai4geo_lab.execution.executor import Progress
from ai4geo_lab.execution.manifest import Manifest, fingerprint
from ai4geo_lab.geo.grid import GroundGrid

#: What a step runs: ``fn(ctx, inputs, params) -> {output name: path}``.
StepBody = Callable[[StepContext, dict[str, Path], Any], dict[str, Path]]


@dataclass
class StepOutcome:
    """What one step execution did."""

    outputs: dict[str, Path]
    wall_time_s: float
    tiles_computed: list[str] = field(default_factory=list)
    skipped: bool = False
    statistics: dict[str, dict[str, Any]] = field(default_factory=dict)

    def properties(self, output: str) -> dict[str, Any] | None:
        """STAC properties of one output: the statistics the step measured on it, if any."""
        stats = self.statistics.get(output)
        return {"ai4geo:statistics": stats} if stats else None


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


def execute_step(step: str, step_id: str, body: StepBody, inputs: dict[str, Path], params: BaseModel, root: Path,
                 grid: GroundGrid, manifest: Manifest, tile_size: int, client: Any = None, progress: Progress = True,
                 log: Callable[[str], None] = print) -> StepOutcome:
    """Run ``body`` as step ``step_id`` of the run in ``root``, unless the manifest shows it done with the same
    fingerprint (inputs' content, parameters, tile size, grid, version) and its files present.

    A changed fingerprint makes every tile stale; an unchanged one keeps the finished tiles of an interrupted run.
    Unexpected exceptions become a :class:`ProcessingError` naming the step; the step is then marked failed.
    """
    fp = fingerprint(step, params.model_dump(mode="json"), inputs,
                     {"tile_size": tile_size, "grid": repr(grid), "version": __version__})
    rec = manifest.step(step_id)
    outputs_ok = rec.get("outputs") and all(Path(v).is_file() for v in rec["outputs"].values())
    tiles_ok = all(
        Path(f).is_file()
        for name, trec in manifest.data["steps"].items() if name.startswith(f"{step_id}/")
        for info in trec.get("tiles", {}).values() for f in info.get("files", [])
    )
    if rec.get("fingerprint") == fp and rec.get("status") == "done" and outputs_ok and tiles_ok:
        log(f"[{step_id}] {step}: up to date, skipped")
        return StepOutcome({k: Path(v) for k, v in rec["outputs"].items()}, rec.get("wall_time_s", 0.0),
                           skipped=True, statistics=rec.get("statistics", {}))
    rec = manifest.reset_step(step_id, fp)
    ctx = StepContext(step_id, root, grid, manifest, tile_size, client, progress, log)
    log(f"[{step_id}] {step}: running")
    t0 = time.perf_counter()
    try:
        outputs = body(ctx, inputs, params)
    except Ai4geoError:
        rec["status"] = "failed"
        manifest.save()
        raise
    except Exception as exc:
        rec["status"] = "failed"
        manifest.save()
        raise ProcessingError(f"step '{step_id}' ({step}) failed: {type(exc).__name__}: {exc}",
                              "finished tiles are kept; rerun to resume") from exc
    elapsed = round(time.perf_counter() - t0, 2)
    rec.update({"status": "done", "outputs": {k: str(v) for k, v in outputs.items()}, "wall_time_s": elapsed,
                "finished": dt.datetime.now(dt.UTC).isoformat(), "statistics": ctx.statistics})
    manifest.save()
    log(f"[{step_id}] {step}: done in {elapsed:.1f} s"
        + (f" ({len(ctx.tiles_computed)} tiles computed)" if ctx.tiles_computed else ""))
    return StepOutcome(outputs, elapsed, ctx.tiles_computed, statistics=ctx.statistics)


def run_single(step: str, body: StepBody, inputs: dict[str, Path], params: BaseModel, out: Path,
               grid: GroundGrid, tile_size: int, client: Any = None, progress: Progress = True,
               log: Callable[[str], None] = print, when: dt.datetime | None = None) -> dict[str, Path]:
    """One step as a run of its own in ``out`` (manifest ``out/run.json``, products in ``out/<step>/``, STAC
    catalogue ``out/stac/catalog.json``); rerun it to resume. Returns the step's outputs."""
    from pyproj import CRS

    from ai4geo_lab.execution.lineage import product_item, write_catalog

    check_writable(out)
    manifest = Manifest(out)
    done = execute_step(step, step, body, inputs, params, out, grid, manifest, tile_size, client, progress, log)
    when = when or dt.datetime.now(dt.UTC)
    epsg = CRS.from_user_input(grid.crs).to_epsg()
    dump = params.model_dump(mode="json")
    items = [product_item(f"{step}-{name}", path, grid.footprint_wgs84(), when, step, dump, inputs, epsg,
                          properties=done.properties(name)) for name, path in done.outputs.items()]
    write_catalog(out, items, f"ai4geo_lab {step} products")
    return done.outputs
