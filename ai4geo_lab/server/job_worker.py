"""The process a job of the Lab runs in: ``python -m ai4geo_lab.server.job_worker`` runs one step.

It reads its job as JSON on stdin (``step``, ``inputs`` {role: absolute path}, ``params``, ``out``, ``scheduler``
(a Dask scheduler address or null: tiles run in this process), ``tile_size``) and writes its events as JSON lines
on stdout: ``{"event": "log", "line"}``, ``{"event": "progress", "record", "done", "total"}``, then ``{"event":
"done", "outputs": {name: path}}`` or ``{"event": "failed", "error", "hint"}``. Whatever the step or a library
prints goes to stderr, so the events stay readable. A crash here never reaches the Jupyter server; the run is
resumable (its manifest is in the output folder), so a job run again continues where it stopped.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import IO, Any


class Events:
    """JSON lines to the server, one per event, safe from several threads."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def emit(self, event: str, **data: Any) -> None:
        """Write one event and flush it (the server reads it at once)."""
        with self.lock:
            self.stream.write(json.dumps({"event": event, **data}, default=str) + "\n")
            self.stream.flush()


def one_line(text: str) -> str:
    """The first line of ``text`` (errors reach the user as one line)."""
    lines = [s.strip() for s in str(text).splitlines() if s.strip()]
    return lines[0] if lines else ""


def run_job(job: dict[str, Any], events: Events) -> int:
    """Run the job's step, telling ``events``; the process's exit code (0: done)."""
    from ai4geo_lab.errors import Ai4geoError
    from ai4geo_lab.pipeline import run_step

    client = None
    try:
        if job.get("scheduler"):
            from distributed import Client

            events.emit("log", line=f"connecting to the cluster at {job['scheduler']}")
            client = Client(job["scheduler"], timeout=30)
        outputs = run_step(job["step"], job["inputs"], job["params"], job["out"], client,
                           tile_size=int(job["tile_size"]),
                           progress=lambda record, done, total: events.emit("progress", record=record, done=done,
                                                                            total=total),
                           log=lambda line: events.emit("log", line=str(line)))
        events.emit("done", outputs={name: str(path) for name, path in outputs.items()})
        return 0
    except Ai4geoError as exc:
        events.emit("failed", error=one_line(exc.message), hint=one_line(exc.hint or ""))
        return 1
    except Exception as exc:  # a bug or a library's error: said on one line, the run is kept for a resume
        events.emit("failed", error=one_line(f"{type(exc).__name__}: {exc}"),
                    hint="finished tiles are kept; run the job again to resume")
        return 1
    finally:
        if client is not None:
            client.close()


def main() -> int:
    """Read the job from stdin, keep stdout for the events, run it."""
    job = json.loads(sys.stdin.read())
    events = Events(os.fdopen(os.dup(1), "w", buffering=1))
    os.dup2(2, 1)  # prints of steps and libraries (even from C) go to stderr
    sys.stdout = sys.stderr
    return run_job(job, events)


if __name__ == "__main__":
    sys.exit(main())
