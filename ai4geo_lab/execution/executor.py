"""The one tiled executor: tile tasks mapped over Dask (or run in process), retried, recorded, resumed.

Every tiled piece of work of the package runs through :func:`run_tiles`: the chain's raster steps (through
:meth:`~ai4geo_lab.execution.context.StepContext.tiled_raster`), U-Net prediction and the CARS engine's ROI tiles.
A task writes its files atomically and returns a small JSON-able record; the record is kept in the run's
manifest, so a rerun computes only the tasks whose record or files are missing.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ai4geo_lab.execution.manifest import Manifest

#: How many times Dask retries a tile whose worker died or whose task failed.
TILE_RETRIES = 2

#: Told the progress of a tiled record: ``(record id, tiles done, tiles total)``, once at the start (tiles reused
#: from an earlier run count as done) and after each tile computed.
ProgressHook = Callable[[str, int, int], None]

#: How a caller follows tiled work: True (a bar on a terminal), False (nothing) or a :data:`ProgressHook`.
Progress = bool | ProgressHook


@dataclass(frozen=True)
class TileTask:
    """One unit of tiled work: ``fn(*args)`` runs on a worker, writes ``outputs`` and returns a JSON-able record
    (a dict holding at least ``key``)."""

    key: str
    fn: Callable[..., dict[str, Any]]
    args: tuple[Any, ...]
    outputs: tuple[Path, ...]


@dataclass
class TileRun:
    """What :func:`run_tiles` did: the records of the tasks computed now, those reused, and the failures."""

    computed: list[dict[str, Any]] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failures: list[tuple[str, BaseException]] = field(default_factory=list)

    def failure_text(self, n: int = 0) -> str:
        """The ``n``-th failure as 'key: message' on one line."""
        key, exc = self.failures[n]
        return f"{key}: {''.join(traceback.format_exception_only(exc)).strip()}"


def prepare_record(manifest: Manifest, record_id: str, stamp: dict[str, Any]) -> None:
    """Start ``record_id`` afresh when ``stamp`` (what its tiles depend on: tile size, options) has changed.

    The stamp is compared as the manifest stores it (JSON: tuples become lists), so a new process finds the tiles
    of an earlier one."""
    stamp = json.loads(json.dumps(stamp, default=str))
    record = manifest.step(record_id)
    if record.get("stamp") != stamp:
        record.clear()
        record.update({"stamp": stamp, "tiles": {}})
        manifest.save()


def run_tiles(tasks: Sequence[TileTask], manifest: Manifest, record_id: str, client: Any = None,
              progress: Progress = True, retries: int = TILE_RETRIES,
              on_done: Callable[[dict[str, Any]], None] | None = None) -> TileRun:
    """Run the tasks not yet recorded as done in ``manifest[record_id]`` (with their files present).

    With a ``distributed`` client the tasks are Dask tasks (retried ``retries`` times when a worker dies or a
    task fails); without one they run one after the other in this process. A failed task never loses the others:
    its exception is returned in :attr:`TileRun.failures`. ``on_done`` sees each computed record. ``progress``:
    a bar on a terminal (True), nothing (False), or a :data:`ProgressHook` told the tiles done and the total.
    """
    result = TileRun()
    todo = []
    for t in tasks:
        if manifest.tile_done(record_id, t.key, *t.outputs):
            result.reused.append(t.key)
        else:
            todo.append(t)
    hook = progress if callable(progress) else None
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=record_id, unit="tile",
               disable=None if progress is True else True, leave=False)  # None: only on a terminal
    finished = len(tasks) - len(todo)
    if hook is not None:
        hook(record_id, finished, len(tasks))

    files = {t.key: [str(f) for f in t.outputs] for t in todo}

    def done(info: dict[str, Any]) -> None:
        nonlocal finished
        manifest.record_tile(record_id, info["key"], {**info, "files": files[info["key"]]})
        result.computed.append(info)
        if on_done is not None:
            on_done(info)
        bar.update(1)
        finished += 1
        if hook is not None:
            hook(record_id, finished, len(tasks))

    try:
        if client is None:
            for t in todo:
                try:
                    done(t.fn(*t.args))
                except Exception as exc:  # a failed tile must not lose the others
                    result.failures.append((t.key, exc))
        else:
            from distributed import as_completed

            futures = {client.submit(t.fn, *t.args, key=f"{record_id}-{t.key}-{id(result)}", pure=False,
                                     retries=retries): t.key for t in todo}
            for fut in as_completed(futures):
                try:
                    done(fut.result())
                except Exception as exc:
                    result.failures.append((futures[fut], exc))
    finally:
        bar.close()
    return result
