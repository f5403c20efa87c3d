"""Jobs: one pipeline step run from the Lab, in a process of its own, followed tile by tile.

``POST jobs`` {step, inputs {role: path}, params, out, cluster?, tile_size?} checks everything a form can get
wrong before anything starts (each problem named with the field it concerns), then runs the step in a separate
process (:mod:`ai4geo_lab.server.job_worker`): a crash or a heavy step never takes the Jupyter server down, and
the run is resumable (submit the same job again to continue). ``GET jobs`` (newest first, without their logs),
``GET jobs/ID``: state (queued, running, done, failed, cancelled, interrupted), tiles done/total per tiled product,
log lines, outputs; ``DELETE jobs/ID`` cancels, ``DELETE jobs/ID?forget=true`` forgets a finished job. Every path
in and out is relative to the server's root folder.

Each job is kept as a record in the workspace (:mod:`ai4geo_lab.server.job_records`), written at each change of
state and at most every :data:`SAVE_EVERY_S` while it progresses: a restarted server lists the jobs again, and
those it had not finished come back ``interrupted`` (running the same form again resumes them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
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
from ai4geo_lab.server.job_records import JobRecord, JobRecords, TileProgress, rebase

#: Jobs running at once (more wait, queued): the machine's cores are shared with the Lab and the kernels.
MAX_RUNNING = 2
#: Log lines kept per job.
LOG_LINES = 400
#: Seconds a cancelled job's process has to stop before it is killed.
STOP_GRACE_S = 5.0
#: Seconds between two writes of a job's record while it only progresses (a change of state is written at once).
SAVE_EVERY_S = 1.0
#: States of a job that has not ended.
ACTIVE = ("queued", "running")
#: What a job that was not finished when the server stopped says.
INTERRUPTED_ERROR = "the Jupyter server stopped before the job ended"
INTERRUPTED_HINT = "run the same form again (Run again) to resume: only the missing tiles are computed"

_log = logging.getLogger("ai4geo_lab.server.jobs")


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
    saved_at: float = 0.0

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

    def as_json(self, with_log: bool = True) -> dict[str, Any]:
        """The job for the browser: relative paths only (``with_log=False``: without its log lines)."""
        s = self.spec
        catalog = s.out / "stac" / "catalog.json"
        data = {"id": self.id, "step": s.step, "state": self.state, "created": self.created,
                "started": self.started, "finished": self.finished,
                "inputs": {k: self.rel(v) for k, v in s.inputs.items()}, "params": s.shown or s.params,
                "out": self.rel(s.out),
                "cluster": s.cluster, "tile_size": s.tile_size,
                "progress": [{"record": k, **v} for k, v in self.progress.items()],
                "log": list(self.log), "outputs": dict(self.outputs),
                "catalog": self.rel(catalog) if self.state == "done" and catalog.is_file() else None,
                "error": self.error, "hint": self.hint}
        if not with_log:
            del data["log"]
        return data

    def record(self) -> JobRecord:
        """What is kept of the job on disk (paths relative to the root folder)."""
        s = self.spec
        return JobRecord(id=self.id, root=str(self.root), step=s.step,
                         inputs={k: self.rel(v) for k, v in s.inputs.items()}, params=s.shown or s.params,
                         run_params=s.params, out=self.rel(s.out), cluster=s.cluster, tile_size=s.tile_size,
                         state=self.state, created=self.created, started=self.started, finished=self.finished,
                         progress={k: TileProgress(**v) for k, v in self.progress.items()}, log=list(self.log),
                         outputs=dict(self.outputs), error=self.error, hint=self.hint)

    @classmethod
    def from_record(cls, record: JobRecord, root: Path) -> Job:
        """The job a record keeps, its paths taken relative to ``root`` (a ``ValueError`` when one lies outside);
        a job the server did not finish is ``interrupted``."""
        def here(path: str) -> Path:
            return root / rebase(record.root, root, path)

        spec = JobSpec(record.step, {k: here(v) for k, v in record.inputs.items()}, record.run_params,
                       here(record.out), None, record.cluster, record.tile_size, record.params)
        job = cls(record.id, spec, root, state=record.state, created=record.created, started=record.started,
                  finished=record.finished, progress={k: v.model_dump() for k, v in record.progress.items()},
                  log=deque(record.log[-LOG_LINES:], maxlen=LOG_LINES),
                  outputs={k: rebase(record.root, root, v) for k, v in record.outputs.items()},
                  error=record.error, hint=record.hint)
        if job.state in ACTIVE:
            job.interrupt()
        return job

    def interrupt(self) -> None:
        """The server stopped before the job ended: ``interrupted``, with how to resume it."""
        self.state = "interrupted"
        self.error, self.hint = INTERRUPTED_ERROR, INTERRUPTED_HINT


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class JobRunner:
    """The server's jobs: each in its own process, at most :data:`MAX_RUNNING` at once; with ``records`` (and the
    server's ``root`` folder), each job is kept on disk and those of an earlier server are listed again."""

    def __init__(self, max_running: int = MAX_RUNNING, records: JobRecords | None = None,
                 root: Path | None = None) -> None:
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.slots = threading.Semaphore(max_running)
        self.records = records
        self.closing = False
        self._saving = threading.Lock()
        if records is not None and root is not None:
            self._load(records, Path(root).expanduser().resolve())

    def _load(self, records: JobRecords, root: Path) -> None:
        """Take back the jobs kept on disk under this root folder (a job left unfinished becomes interrupted)."""
        try:
            records.prune()
            found = records.read_all()
        except Exception as exc:  # never a reason not to start
            _log.warning("ai4geo: the job records in %s cannot be read (%s)", records.folder, exc)
            return
        for record in found:
            try:
                job = Job.from_record(record, root)
            except ValueError as exc:
                # another root folder's job (another server sharing the workspace), or a record tampered with
                _log.info("ai4geo: job %s is not listed: %s", record.id, exc)
                continue
            except Exception as exc:  # a record the server did not write: skipped, the server starts
                _log.warning("ai4geo: skipping the job record %s (%s: %s)", record.id, type(exc).__name__, exc)
                continue
            self.jobs[job.id] = job
            if job.state != record.state:
                self._save(job, force=True)

    def _save(self, job: Job, force: bool = False) -> None:
        """Write ``job``'s record: at once when ``force`` (a change of state), else at most every
        :data:`SAVE_EVERY_S`."""
        if self.records is None:
            return
        now = time.monotonic()
        with self._saving:
            if not force and now - job.saved_at < SAVE_EVERY_S:
                return
            with self.lock:
                if job.id not in self.jobs:
                    return  # forgotten meanwhile
                record = job.record()
                job.saved_at = now
            self.records.write(record)

    def submit(self, spec: JobSpec, root: Path) -> Job:
        """Queue a checked job; it starts as soon as a slot is free."""
        job = Job(secrets.token_hex(6), spec, root)
        with self.lock:
            self.jobs[job.id] = job
        self._save(job, force=True)
        self._prune()
        threading.Thread(target=self._run, args=(job,), name=f"ai4geo-job-{job.id}", daemon=True).start()
        return job

    def _prune(self) -> None:
        """Keep the newest jobs only (as many as records are kept); a queued or running job is never dropped."""
        if self.records is None:
            return
        with self.lock:
            extra = len(self.jobs) - self.records.keep
            for job in list(self.jobs.values()):
                if extra <= 0:
                    break
                if job.state not in ACTIVE:
                    del self.jobs[job.id]
                    self.records.remove(job.id)
                    extra -= 1
            active = {j.id for j in self.jobs.values() if j.state in ACTIVE}
        self.records.prune(active)

    def get(self, job_id: str) -> Job:
        """One job, or a 404 error."""
        with self.lock:
            if job_id not in self.jobs:
                raise FieldError({"job": f"no job '{job_id}'"}, "list the jobs to see their ids", 404)
            return self.jobs[job_id]

    def list(self) -> list[Job]:
        """Every job of this server, newest first."""
        with self.lock:
            return list(reversed(self.jobs.values()))  # submitted (or taken back from disk) in this order

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job (its process is stopped; finished tiles stay for a resume)."""
        job = self.get(job_id)
        with self.lock:
            if job.state not in ACTIVE:
                raise FieldError({"job": f"job '{job_id}' is {job.state}, not running"},
                                 "only a queued or running job can be cancelled", 409)
            job.cancelled = True
            proc = job.process
            queued = job.state == "queued"
            if queued:
                job.state, job.finished = "cancelled", _now()
        if queued:
            self._save(job, force=True)
        if proc is not None:
            _stop(proc)
        return job

    def forget(self, job_id: str) -> None:
        """Forget a finished job: it leaves the list and its record is removed (its products stay)."""
        job = self.get(job_id)
        with self.lock:
            if job.state in ACTIVE:
                raise FieldError({"job": f"job '{job_id}' is {job.state}: it cannot be forgotten yet"},
                                 "cancel it first, or wait for it to end", 409)
            self.jobs.pop(job_id, None)
        with self._saving:  # after any write of it under way
            if self.records is not None:
                self.records.remove(job_id)

    def close_all(self) -> None:
        """Stop every running job (the server is stopping): their records say interrupted."""
        self.closing = True
        for job in self.list():
            with self.lock:
                if job.state not in ACTIVE:
                    continue
                job.interrupt()
                job.finished = _now()
                proc = job.process
            self._save(job, force=True)
            if proc is not None and proc.poll() is None:
                _stop(proc, grace=1.0)

    def _run(self, job: Job) -> None:
        with self.slots:
            with self.lock:
                if job.cancelled or self.closing:
                    return
                job.state, job.started = "running", _now()
            self._save(job, force=True)
            try:
                self._execute(job)
            except Exception as exc:  # the runner itself failed: said on the job, never raised in the server
                with self.lock:
                    job.state, job.finished = "failed", _now()
                    job.error = job.clean(f"the job could not run: {type(exc).__name__}: {exc}")
            self._save(job, force=True)

    def _execute(self, job: Job) -> None:
        s = job.spec
        payload = {"step": s.step, "inputs": {k: str(v) for k, v in s.inputs.items()}, "params": s.params,
                   "out": str(s.out), "scheduler": s.scheduler, "tile_size": s.tile_size}
        env = dict(os.environ)
        package_parent = str(Path(__file__).resolve().parents[2])  # the job runs the same code as the server
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
        with tempfile.TemporaryFile() as stderr:
            with self.lock:
                if job.cancelled or self.closing:
                    if job.state in ACTIVE:
                        job.finished = _now()
                        if job.cancelled:
                            job.state = "cancelled"
                        else:
                            job.interrupt()
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
                if event.get("event") in ("log", "progress"):
                    self._save(job)
            code = proc.wait()
            stderr.seek(0)
            tail = stderr.read()[-4000:].decode(errors="replace")
        with self.lock:
            if job.state == "interrupted":  # the server stopped it (close_all): said so already
                return
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
                    _log.warning("job %s ended (%s): %s", job.id, how, tail.strip()[-2000:])

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
        self.reply([j.as_json(with_log=False) for j in self.runner.list()])

    @tornado.web.authenticated
    @json_errors
    async def post(self) -> None:
        body = self.parse(JobBody)
        clusters = await self.call(self.clusters.list) if body.cluster else []
        with self.without_server_paths():
            spec = await self.call(check_job, self.root_dir, body, clusters)
        self.reply(self.runner.submit(spec, self.root_dir).as_json(), 201)


class JobHandler(_JobsBase):
    """GET: one job. DELETE: cancel it; ``DELETE ?forget=true``: forget a finished job (409 while it runs)."""

    @tornado.web.authenticated
    @json_errors
    async def get(self, job_id: str) -> None:
        self.reply(self.runner.get(job_id).as_json())

    @tornado.web.authenticated
    @json_errors
    async def delete(self, job_id: str) -> None:
        if self.get_query_argument("forget", "") in ("1", "true"):
            await self.call(self.runner.forget, job_id)
            self.set_status(204)
            self.finish()
            return
        self.reply(self.runner.cancel(job_id).as_json())
