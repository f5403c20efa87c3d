"""Jobs: one pipeline step run from the Lab, in a process of its own, followed tile by tile.

``POST jobs`` {step, inputs {role: path}, params, out, cluster?, tile_size?} checks everything a form can get
wrong before anything starts (each problem named with the field it concerns), then runs the step in a separate
process (:mod:`ai4geo_lab.server.job_worker`): a crash or a heavy step never takes the Jupyter server down, and
the run is resumable (submit the same job again to continue). ``GET jobs``, ``GET jobs/ID``: state (queued,
running, done, failed, cancelled), tiles done/total per tiled product, log lines, outputs; ``DELETE jobs/ID``
cancels. Every path in and out is relative to the server's root folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tornado.web
from pydantic import BaseModel, Field, ValidationError

from ai4geo_lab.errors import Ai4geoError, ConfigError, UnknownStepError
from ai4geo_lab.execution.step_run import check_writable
from ai4geo_lab.execution.tiles import DEFAULT_TILE_SIZE
from ai4geo_lab.geo.paths import confine, relative_to
from ai4geo_lab.server.base import BaseHandler, json_errors

#: Jobs running at once (more wait, queued): the machine's cores are shared with the Lab and the kernels.
MAX_RUNNING = 2
#: Log lines kept per job.
LOG_LINES = 400
#: Seconds a cancelled job's process has to stop before it is killed.
STOP_GRACE_S = 5.0


class JobBody(BaseModel):
    """A job: which step, on which files, with which parameters, into which folder, on which cluster."""

    step: str = Field(..., description="a registered step, e.g. terrain")
    inputs: dict[str, str | None] = Field(default_factory=dict, description="input role → path relative to the "
                                                                           "server's root")
    params: dict[str, Any] = Field(default_factory=dict, description="the step's parameters (its JSON Schema)")
    out: str = Field("", description="output folder relative to the server's root (default runs/<step>)")
    cluster: str | None = Field(None, description="id of one of the Lab's clusters; none: in the job's process")
    tile_size: int = Field(DEFAULT_TILE_SIZE, ge=16, le=20000, description="tile size (px)")


class FieldError(ConfigError):
    """A problem with one field of the job (``fields``: every field wrong → its message), with an HTTP status."""

    def __init__(self, fields: dict[str, str], hint: str | None = None, status: int = 400,
                 message: str | None = None) -> None:
        first = next(iter(fields.values()))
        super().__init__(message or first, hint)
        self.fields = fields  # the first one is ``field``
        self.http_status = status


@dataclass
class JobSpec:
    """A checked job: absolute paths for the job's process, relative ones for the browser."""

    step: str
    inputs: dict[str, Path]
    params: dict[str, Any]
    out: Path
    scheduler: str | None
    cluster: str | None
    tile_size: int
    shown: dict[str, Any] = field(default_factory=dict)


def _param_error(exc: ValidationError) -> FieldError:
    """A parameter validation error: ``params.<field>`` → its problem (said beside the field), the first one
    named in the message."""
    fields: dict[str, str] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        fields.setdefault(f"params.{loc}" if loc else "params", err["msg"])
    first = next(iter(exc.errors()))
    loc = ".".join(str(p) for p in first["loc"])
    return FieldError(fields, "correct the marked parameter",
                      message=f"parameter {loc}: {first['msg']}" if loc else f"parameters: {first['msg']}")


def check_job(root: Path, body: JobBody, clusters: list[dict[str, Any]]) -> JobSpec:
    """``body`` checked against the step registry, the root folder and the Lab's ``clusters``, or a
    :class:`FieldError` naming the field at fault (unknown step, missing or outside-root inputs, bad parameters,
    an output folder that cannot be written, an unknown cluster)."""
    from ai4geo_lab.pipeline import get_step, list_steps

    try:
        spec = get_step(body.step)
    except UnknownStepError as exc:
        known = ", ".join(s.name for s in list_steps())
        raise FieldError({"step": f"unknown step '{body.step}'"}, f"the steps are: {known}", 404) from exc
    try:
        checked = spec.params.model_validate(body.params)
    except ValidationError as exc:
        raise _param_error(exc) from exc

    roles = list(spec.inputs) + list(spec.optional_inputs)
    given = {k: v.strip() for k, v in body.inputs.items() if v is not None and v.strip()}
    inputs: dict[str, Path] = {}
    for role in given:
        if role not in roles:
            raise FieldError({f"inputs.{role}": f"'{body.step}' has no input '{role}'"},
                             f"its inputs are: {', '.join(roles)}")
    for role in roles:
        if role not in given:
            if role in spec.inputs:
                raise FieldError({f"inputs.{role}": f"input '{role}' is missing"},
                                 "pick a file in the file browser or a layer of the map")
            continue
        try:
            path = confine(root, given[role])
        except Ai4geoError as exc:
            raise FieldError({f"inputs.{role}": f"input '{role}': {exc.message}"}, exc.hint) from exc
        if not path.exists():
            raise FieldError({f"inputs.{role}": f"input '{role}': '{given[role]}' does not exist"},
                             "pick an existing file", 404)
        inputs[role] = path

    out_text = body.out.strip() or f"runs/{spec.name}"
    try:
        out = confine(root, out_text)
    except Ai4geoError as exc:
        raise FieldError({"out": exc.message}, exc.hint) from exc
    if out == root:
        raise FieldError({"out": "the output folder cannot be the root folder itself"},
                         "give a sub-folder, e.g. runs/" + spec.name)
    if out.exists() and not out.is_dir():
        raise FieldError({"out": f"'{out_text}' is a file, not a folder"}, "give a folder")
    try:
        check_writable(out)
    except Ai4geoError as exc:
        raise FieldError({"out": f"the output folder '{out_text}' is not writable"},
                         "choose another output folder or fix its permissions", 403) from exc

    scheduler = None
    if body.cluster:
        found = next((c for c in clusters if c.get("id") == body.cluster), None)
        if found is None:
            raise FieldError({"cluster": f"no cluster '{body.cluster}'"},
                             "pick one of the clusters listed, or run in process", 404)
        scheduler = found.get("scheduler_address")
        if not scheduler:
            raise FieldError({"cluster": f"cluster '{body.cluster}' has no scheduler address"},
                             "pick another cluster, or run in process")
    # the job runs what was given (an engine's section left at its defaults is not sent: engine-bound models
    # refuse settings for an engine not chosen); the browser sees every parameter
    return JobSpec(spec.name, inputs, checked.model_dump(mode="json", exclude_unset=True), out, scheduler,
                   body.cluster, body.tile_size, checked.model_dump(mode="json"))


@dataclass
class Job:
    """One job and what the browser sees of it."""

    id: str
    spec: JobSpec
    root: Path
    state: str = "queued"
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    started: str | None = None
    finished: str | None = None
    progress: dict[str, dict[str, int]] = field(default_factory=dict)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    hint: str | None = None
    process: subprocess.Popen[bytes] | None = None
    cancelled: bool = False

    def rel(self, path: str | Path) -> str:
        """``path`` relative to the root folder (a path outside it is only named)."""
        try:
            return relative_to(self.root, path)
        except ValueError:
            return Path(path).name

    def clean(self, text: str) -> str:
        """``text`` without the server's root folder in it."""
        root = str(self.root)
        return text.replace(root + "/", "").replace(root, ".")

    def as_json(self) -> dict[str, Any]:
        """The job for the browser: relative paths only."""
        s = self.spec
        catalog = s.out / "stac" / "catalog.json"
        return {"id": self.id, "step": s.step, "state": self.state, "created": self.created,
                "started": self.started, "finished": self.finished,
                "inputs": {k: self.rel(v) for k, v in s.inputs.items()}, "params": s.shown or s.params,
                "out": self.rel(s.out),
                "cluster": s.cluster, "tile_size": s.tile_size,
                "progress": [{"record": k, **v} for k, v in self.progress.items()],
                "log": list(self.log), "outputs": dict(self.outputs),
                "catalog": self.rel(catalog) if self.state == "done" and catalog.is_file() else None,
                "error": self.error, "hint": self.hint}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class JobRunner:
    """The server's jobs: each in its own process, at most :data:`MAX_RUNNING` at once."""

    def __init__(self, max_running: int = MAX_RUNNING) -> None:
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.slots = threading.Semaphore(max_running)

    def submit(self, spec: JobSpec, root: Path) -> Job:
        """Queue a checked job; it starts as soon as a slot is free."""
        job = Job(secrets.token_hex(6), spec, root)
        with self.lock:
            self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job,), name=f"ai4geo-job-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job:
        """One job, or a 404 error."""
        with self.lock:
            if job_id not in self.jobs:
                raise FieldError({"job": f"no job '{job_id}'"}, "list the jobs to see their ids", 404)
            return self.jobs[job_id]

    def list(self) -> list[Job]:
        """Every job of this server, newest first."""
        with self.lock:
            return list(reversed(self.jobs.values()))  # submitted in this order

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job (its process is stopped; finished tiles stay for a resume)."""
        job = self.get(job_id)
        with self.lock:
            if job.state not in ("queued", "running"):
                raise FieldError({"job": f"job '{job_id}' is {job.state}, not running"},
                                 "only a queued or running job can be cancelled", 409)
            job.cancelled = True
            proc = job.process
            if job.state == "queued":
                job.state, job.finished = "cancelled", _now()
        if proc is not None:
            _stop(proc)
        return job

    def close_all(self) -> None:
        """Stop every running job (the server is stopping)."""
        for job in self.list():
            if job.process is not None and job.process.poll() is None:
                _stop(job.process, grace=1.0)

    def _run(self, job: Job) -> None:
        with self.slots:
            with self.lock:
                if job.cancelled:
                    return
                job.state, job.started = "running", _now()
            try:
                self._execute(job)
            except Exception as exc:  # the runner itself failed: said on the job, never raised in the server
                with self.lock:
                    job.state, job.finished = "failed", _now()
                    job.error = job.clean(f"the job could not run: {type(exc).__name__}: {exc}")

    def _execute(self, job: Job) -> None:
        s = job.spec
        payload = {"step": s.step, "inputs": {k: str(v) for k, v in s.inputs.items()}, "params": s.params,
                   "out": str(s.out), "scheduler": s.scheduler, "tile_size": s.tile_size}
        env = dict(os.environ)
        package_parent = str(Path(__file__).resolve().parents[2])  # the job runs the same code as the server
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
        with tempfile.TemporaryFile() as stderr:
            with self.lock:
                if job.cancelled:
                    job.state, job.finished = "cancelled", _now()
                    return
                job.process = proc = subprocess.Popen(
                    [sys.executable, "-m", "ai4geo_lab.server.job_worker"], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=stderr, cwd=str(job.root), env=env, start_new_session=True)
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(payload).encode())
            proc.stdin.close()
            ended: dict[str, Any] | None = None
            for raw in proc.stdout:
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                ended = self._apply(job, event) or ended
            code = proc.wait()
            stderr.seek(0)
            tail = stderr.read()[-4000:].decode(errors="replace")
        with self.lock:
            job.finished = _now()
            if job.cancelled:
                job.state = "cancelled"
                job.log.append("cancelled: finished tiles are kept; run the job again to resume")
            elif ended is not None and ended["event"] == "done" and code == 0:
                job.state = "done"
                job.outputs = {k: job.rel(v) for k, v in ended["outputs"].items()}
            elif ended is not None and ended["event"] == "failed":
                job.state = "failed"
                job.error = job.clean(ended.get("error") or "the step failed")
                job.hint = job.clean(ended.get("hint") or "") or None
            else:
                job.state = "failed"
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                job.error = f"the job's process ended unexpectedly ({how})"
                job.hint = "finished tiles are kept; run the job again to resume (see the Jupyter server log)"
                if tail.strip():
                    import logging

                    logging.getLogger("ai4geo_lab.server.jobs").warning("job %s ended (%s): %s", job.id, how,
                                                                         tail.strip()[-2000:])

    def _apply(self, job: Job, event: dict[str, Any]) -> dict[str, Any] | None:
        """Take one event of the job's process into the job; the final event is returned."""
        kind = event.get("event")
        with self.lock:
            if kind == "log":
                job.log.append(job.clean(str(event.get("line", ""))))
            elif kind == "progress":
                job.progress[str(event["record"])] = {"done": int(event["done"]), "total": int(event["total"])}
            elif kind in ("done", "failed"):
                return event
        return None


def _stop(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE_S) -> None:
    """Stop a job's process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return

    def kill_later() -> None:
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    threading.Thread(target=kill_later, daemon=True).start()


class _JobsBase(BaseHandler):
    @property
    def runner(self) -> JobRunner:
        """The server's job runner."""
        runner: JobRunner = self.ai4geo["jobs"]
        return runner


class JobsHandler(_JobsBase):
    """GET: the jobs, newest first. POST {step, inputs, params, out, cluster?, tile_size?}: check and start one."""

    @tornado.web.authenticated
    @json_errors
    async def get(self) -> None:
        self.reply([j.as_json() for j in self.runner.list()])

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        body = self.parse(JobBody)
        clusters = await self.call(self.clusters.list) if body.cluster else []
        with self.without_server_paths():
            spec = await self.call(check_job, self.root_dir, body, clusters)
        self.reply(self.runner.submit(spec, self.root_dir).as_json(), 201)


class JobHandler(_JobsBase):
    """GET: one job. DELETE: cancel it."""

    @tornado.web.authenticated
    @json_errors
    async def get(self, job_id: str) -> None:
        self.reply(self.runner.get(job_id).as_json())

    @tornado.web.authenticated
    @json_errors
    async def delete(self, job_id: str) -> None:
        self.reply(self.runner.cancel(job_id).as_json())
