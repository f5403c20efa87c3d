"""The HPC path for real: a single-node Slurm (slurm-wlm + munge) started by the test, dask-jobqueue on it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ai4geo_lab.cluster import connect
from ai4geo_lab.pipeline import RunConfig, run

pytestmark = pytest.mark.slow


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()]
    if missing:
        msg = f"Slurm tools missing: {', '.join(missing)} (scripts/setup.sh dev installs slurm-wlm and munge as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@pytest.fixture(scope="module")
def slurm():
    """slurmctld + slurmd + munged on this host, state under a temporary folder; stopped afterwards."""
    _need("slurmctld", "slurmd", "munged", "mungekey", "sinfo", "scancel", "squeue")
    # munged wants its socket's folder and every parent searchable by all: not pytest's private tmp_path
    root = Path(tempfile.mkdtemp(prefix="ai4geo-slurm-"))
    root.chmod(0o755)
    for d in ("etc", "state", "spool", "log", "run", "m"):
        (root / d).mkdir(mode=0o755)
    host = socket.gethostname().split(".")[0]
    cpus, mem = os.cpu_count() or 2, 8000
    conf = root / "etc" / "slurm.conf"
    conf.write_text(f"""ClusterName=ai4geo-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/m/sock
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
MailProg=/bin/true
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    env = {**os.environ, "SLURM_CONF": str(conf)}
    m = root / "m"
    subprocess.run([_tool("mungekey"), "--create", f"--keyfile={m}/key"], check=True, capture_output=True)
    subprocess.run([_tool("munged"), f"--key-file={m}/key", f"--socket={m}/sock", f"--pid-file={m}/pid",
                    f"--log-file={m}/log", f"--seed-file={m}/seed"], check=True, capture_output=True)
    subprocess.run([_tool("slurmctld"), "-f", str(conf)], check=True, env=env, capture_output=True)
    subprocess.run([_tool("slurmd"), "-f", str(conf)], check=True, env=env, capture_output=True)
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    try:
        for _ in range(100):
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=env).stdout
            if "idle" in state:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"Slurm did not become idle: {state!r}; {(root / 'log' / 'slurmctld.log').read_text()[-500:]}")
        yield root
    finally:
        subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True)
        for _ in range(60):  # let the job steps end before their daemons do
            queue = subprocess.run(["squeue", "-h"], capture_output=True, text=True, env=env).stdout
            if not queue.strip():
                break
            time.sleep(0.25)
        pids = []
        for pid_file in ("run/slurmd.pid", "run/slurmctld.pid", "m/pid"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                pids.append(int((root / pid_file).read_text().split()[0]))
        if pids:  # the job steps slurmd started, then the daemons themselves
            subprocess.run(["pkill", "-KILL", "-P", str(pids[0])], capture_output=True)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            time.sleep(0.5)
        shutil.rmtree(root, ignore_errors=True)
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old


def test_chain_on_slurm_survives_a_cancelled_job(slurm, small_city, tmp_path):
    lo, hi = small_city.terrain_range
    cfg = RunConfig.model_validate({
        "output": str(tmp_path / "run"), "tile_size": 64,
        "grid": {"like": str(small_city.image("date1", "ortho"))},
        "inputs": {"fwd": str(small_city.image("date1", "pan_fwd")), "bwd": str(small_city.image("date1", "pan_bwd"))},
        "steps": [{"id": "dsm", "step": "dsm", "inputs": {"left": "fwd", "right": "bwd"},
                   "params": {"native": {"hmin": lo - 5, "hmax": hi + 70}}}],
    })
    spec = {"kind": "slurm", "jobs": 2, "options": {
        "cores": 1, "processes": 1, "memory": "2GB", "walltime": "00:10:00", "queue": "debug", "interface": "lo",
        "log_directory": str(tmp_path / "logs"), "local_directory": str(tmp_path / "scratch")}}
    cancelled = []

    def log(line: str) -> None:
        # cancel one of the two worker jobs as soon as the run has started
        if "matching" in line and not cancelled:
            jobs = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split()
            assert len(jobs) == 2, jobs
            subprocess.run(["scancel", jobs[0]], check=True)
            cancelled.append(jobs[0])

    with connect(spec) as client:
        client.wait_for_workers(2, timeout=60)
        result = run(cfg, client=client, progress=False, log=log)
        assert cancelled
        # the adaptive cluster asks Slurm for a job to replace the cancelled one
        t0 = time.time()
        while len(client.scheduler_info()["workers"]) < 2 and time.time() - t0 < 60:
            time.sleep(0.5)
        jobs = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split()
        assert cancelled[0] not in jobs and len(jobs) == 2
    assert len(result.tiles_computed["dsm"]) == 16  # 200 px at 64 px tiles
    assert result.products["dsm.dsm"].is_file()
