"""The Lab's jobs on disk: one JSON record per job (``WORKSPACE/jobs/<id>.json``), so a restarted server lists them.

Each record is written atomically (a temporary file, then a rename), so a reader finds the previous version or the
new one, never half of one. The server writes them itself; still, a record is only taken back when its id is a job
id, its content has the expected shape and every path in it lies inside the server's root folder. Anything else is
skipped with a warning: a bad record never stops the server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from ai4geo_lab.errors import Ai4geoError
from ai4geo_lab.geo.atomic import write_text_atomic
from ai4geo_lab.geo.paths import confine, relative_to

log = logging.getLogger("ai4geo_lab.server.jobs")

#: A job id, as the URLs take it.
JOB_ID = re.compile(r"^[a-f0-9]{1,32}$")
#: Records kept in the folder: older ones are removed.
KEEP = 200

State = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]


class TileProgress(BaseModel):
    """Tiles done out of the total, for one tiled product."""

    done: int = Field(..., ge=0)
    total: int = Field(..., ge=0)


class JobRecord(BaseModel):
    """What is kept of a job: paths relative to ``root``, the server's root folder when the job was submitted."""

    version: int = 1
    id: str = Field(..., pattern=JOB_ID.pattern)
    root: str
    step: str = Field(..., min_length=1, max_length=128)
    inputs: dict[str, str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict, description="every parameter, as the browser sees them")
    run_params: dict[str, Any] = Field(default_factory=dict, description="the parameters the step was given")
    out: str
    cluster: str | None = None
    tile_size: int = Field(..., ge=1)
    state: State
    created: str
    started: str | None = None
    finished: str | None = None
    progress: dict[str, TileProgress] = Field(default_factory=dict)
    log: list[str] = Field(default_factory=list)
    outputs: dict[str, str] = Field(default_factory=dict)
    error: str | None = None
    hint: str | None = None


def records_dir(workspace: str | Path | None) -> Path:
    """Where the job records lie: ``WORKSPACE/jobs``."""
    from ai4geo_lab.aoi import workspace_dir

    return workspace_dir(workspace) / "jobs"


def rebase(record_root: str | Path, root: Path, path: str) -> str:
    """``path`` (relative to ``record_root``) relative to ``root``, or an error when it lies outside ``root``."""
    absolute = (Path(record_root) / path).resolve()
    try:
        rel = relative_to(root, absolute)
    except ValueError as exc:
        raise ValueError(f"'{path}' lies outside the server's root folder") from exc
    try:
        confine(root, rel)  # no link out of the root either
    except Ai4geoError as exc:
        raise ValueError(f"'{path}' lies outside the server's root folder") from exc
    return rel


class JobRecords:
    """The folder of job records: write one, read them all back, forget one, keep the newest :data:`KEEP`."""

    def __init__(self, folder: Path, keep: int = KEEP) -> None:
        self.folder = folder
        self.keep = keep
        self._warned = False

    def path(self, job_id: str) -> Path:
        """The record file of ``job_id`` (a checked id: no other file can be named)."""
        if not JOB_ID.match(job_id):
            raise ValueError(f"'{job_id}' is not a job id")
        return self.folder / f"{job_id}.json"

    def write(self, record: JobRecord) -> bool:
        """Write ``record`` atomically; False (and one warning per server) when the folder cannot be written."""
        try:
            write_text_atomic(self.path(record.id), record.model_dump_json())
        except Exception as exc:  # saving is best effort: the job runs on, only its record is missing
            if not self._warned:
                self._warned = True
                log.warning("ai4geo: job records cannot be written in %s (%s); jobs will be forgotten when the "
                            "server stops", self.folder, exc)
            return False
        return True

    def remove(self, job_id: str) -> None:
        """Forget a record (nothing when there is none)."""
        with contextlib.suppress(OSError):
            self.path(job_id).unlink()

    def read_all(self) -> list[JobRecord]:
        """Every readable record, oldest first; unreadable ones are skipped with a warning."""
        records = []
        for path in self._files():
            if not JOB_ID.match(path.stem):
                log.warning("ai4geo: skipping %s: not a job record", path.name)
                continue
            try:
                record = JobRecord.model_validate(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, ValidationError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.warning("ai4geo: skipping the job record %s, which cannot be read (%s)", path.name, first)
                continue
            if record.id != path.stem:
                log.warning("ai4geo: skipping the job record %s: it holds job '%s'", path.name, record.id)
                continue
            records.append(record)
        records.sort(key=lambda r: (r.created, r.started or "", r.id))
        return records

    def prune(self, keep_ids: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Remove the records written longest ago beyond :attr:`keep` (never those of ``keep_ids``); their ids."""
        files = []
        for path in self._files():
            with contextlib.suppress(OSError):
                files.append((path.stat().st_mtime_ns, path))
        extra = len(files) - self.keep
        removed = []
        for _, path in sorted(files):
            if extra <= 0:
                break
            if path.stem in keep_ids:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path.stem)
                extra -= 1
        return removed

    def _files(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.glob("*.json") if p.is_file())
        except OSError:
            return []
