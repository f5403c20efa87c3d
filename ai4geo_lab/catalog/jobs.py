"""Downloads running in the background with progress one can poll (for the Lab panel and other front-ends)."""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any

from ai4geo_lab.errors import Ai4geoError, InputNotFoundError


class DownloadJob:
    """One download of selected items: state ('running', 'done', 'error'), bytes, current file, result files."""

    def __init__(self, results: Any, dest: str | Path | None, workspace: str | Path | None) -> None:
        self.id = secrets.token_urlsafe(9)
        self.results = results
        self.dest = dest
        self.workspace = workspace
        self.state = "running"
        self.items = len(results)
        self.done_bytes = 0
        self.total_bytes: int | None = None
        self.current = ""
        self.files_done = 0
        self.files: dict[str, list[str]] = {}
        self.error: dict[str, Any] | None = None
        self.started = time.time()
        self.ended: float | None = None
        self._seen: dict[str, tuple[int, int | None]] = {}
        self._lock = threading.Lock()

    def _tick(self, done: int, total: int | None, name: str) -> None:
        with self._lock:
            if name != self.current and self.current in self._seen:
                self.files_done += 1
            self.current = name
            self._seen[name] = (done, total)
            self.done_bytes = sum(d for d, _ in self._seen.values())
            totals = [t for _, t in self._seen.values()]
            self.total_bytes = None if any(t is None for t in totals) else sum(t for t in totals if t is not None)

    def run(self) -> None:
        """Download (blocking); the state records the outcome."""
        try:
            out = self.results.download(self.dest, progress=self._tick, workspace=self.workspace)
            with self._lock:
                self.files = {k: [str(p) for p in v] for k, v in out.items()}
                self.files_done = sum(len(v) for v in out.values())
                self.state = "done"
        except Ai4geoError as exc:
            self.error = {"error": exc.message, "hint": exc.hint}
            self.state = "error"
        except Exception as exc:  # reported to the user, not swallowed
            self.error = {"error": f"the download failed: {type(exc).__name__}: {exc}", "hint": "see the server log"}
            self.state = "error"
        finally:
            self.ended = time.time()

    def status(self) -> dict[str, Any]:
        """A JSON-ready snapshot."""
        with self._lock:
            return {"id": self.id, "state": self.state, "items": self.items, "done_bytes": self.done_bytes,
                    "total_bytes": self.total_bytes, "current": self.current, "files_done": self.files_done,
                    "files": self.files, "error": self.error,
                    "seconds": round((self.ended or time.time()) - self.started, 2)}


class DownloadJobs:
    """The download jobs of a process, by id (finished ones are kept for an hour so a late poll still answers)."""

    KEEP_S = 3600.0

    def __init__(self) -> None:
        self._jobs: dict[str, DownloadJob] = {}
        self._lock = threading.Lock()

    def start(self, results: Any, dest: str | Path | None = None, workspace: str | Path | None = None) -> DownloadJob:
        """Start downloading ``results`` in a thread; returns the job at once."""
        job = DownloadJob(results, dest, workspace)
        with self._lock:
            now = time.time()
            for key in [k for k, j in self._jobs.items() if j.ended and now - j.ended > self.KEEP_S]:
                del self._jobs[key]
            self._jobs[job.id] = job
        threading.Thread(target=job.run, name=f"ai4geo-download-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> DownloadJob:
        """The job ``job_id``."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise InputNotFoundError(f"no download '{job_id}'", "start one by posting selected ids")
        return job
