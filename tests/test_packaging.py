"""The wheel as a user installs it: what it ships, what it requires, and that it runs from a fresh environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# what the fresh environment imports, and from where
PROBE = """
import importlib.metadata as md
import json
import os
import sys

import ai4geo_lab
from ai4geo_lab.recipes import recipes_dir
from ai4geo_lab.segmentation.unet import DEFAULT_MODEL

print(json.dumps({
    "file": ai4geo_lab.__file__, "version": md.version("ai4geo-lab"),
    "dist": str(md.distribution("ai4geo-lab").locate_file("")), "path": sys.path,
    "recipes": str(recipes_dir()), "model": str(DEFAULT_MODEL), "model_exists": DEFAULT_MODEL.is_file(),
    "packages": [p for p in sys.path if os.path.isfile(os.path.join(p or ".", "ai4geo_lab", "__init__.py"))],
}))
"""


def _env() -> dict[str, str]:
    """The environment for the fresh venv: nothing that points Python at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _run(cmd: list[str | Path], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, as `pip wheel .` builds it (the build hook builds the Lab extension)."""
    dist = tmp_path_factory.mktemp("dist")
    t0 = time.perf_counter()
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, ROOT], cwd=dist, timeout=900)
    print(f"wheel built in {time.perf_counter() - t0:.0f} s")
    (found,) = dist.glob("ai4geo_lab-*.whl")
    return found


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel installed (without its dependencies, which would be gigabytes:
    a .pth file makes this environment's site-packages visible after the fresh one's own)."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], cwd=venv.parent)
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=venv.parent).stdout.strip())
    # a directory a .pth names is appended to sys.path but its own .pth files are not read: the editable
    # install of this checkout in the current environment stays out of the fresh one
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "_ai4geo_test_deps.pth").write_text("".join(f"{p}\n" for p in deps))
    return venv


@pytest.mark.slow
def test_wheel_ships_the_lab_extension_recipes_models_and_types(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (data,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".data")}
        lab = f"{data}/data/share/jupyter/labextensions/ai4geo-lab"
        package = json.loads(zf.read(f"{lab}/package.json"))
        server = json.loads(zf.read(f"{data}/data/etc/jupyter/jupyter_server_config.d/ai4geo_lab.json"))
    # the prebuilt JupyterLab extension: its package.json with the federated build, and the static bundle
    assert package["name"] == "ai4geo-lab" and package["jupyterlab"]["_build"]["load"].startswith("static/")
    assert f"{lab}/{package['jupyterlab']['_build']['load']}" in names
    assert f"{lab}/static/style.js" in names and f"{lab}/install.json" in names
    # the server extension is switched on where it is installed
    assert server == {"ServerApp": {"jpserver_extensions": {"ai4geo_lab.server": True}}}
    # the recipes (the checkout's notebooks/) and the shipped model files
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks and all(f"ai4geo_lab/recipes/notebooks/{n}" in names for n in notebooks)
    models = sorted(p.name for p in (ROOT / "ai4geo_lab" / "segmentation" / "models").iterdir() if p.is_file())
    assert "buildings_rgb.pt" in models
    assert all(f"ai4geo_lab/segmentation/models/{m}" in names for m in models)
    assert "ai4geo_lab/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "labextension/"))]


@pytest.mark.slow
def test_wheel_requires_the_runtime_dependencies_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(zf.read(meta).decode())
    requires = [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]
    runtime = [r for r in requires if r.marker is None or "extra" not in str(r.marker)]
    declared = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    assert sorted(map(str, runtime)) == sorted(map(str, declared))
    test_only = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["optional-dependencies"]["test"]}
    assert not test_only & {canonicalize_name(r.name) for r in runtime}
    assert {"test", "hpc", "cloud", "cars"} <= set(metadata.get_all("Provides-Extra") or [])


@pytest.mark.slow
def test_installed_wheel_runs_from_a_fresh_environment(fresh_venv: Path, tmp_path: Path) -> None:
    python = fresh_venv / "bin" / "python"
    seen = json.loads(_run([python, "-c", PROBE], cwd=tmp_path).stdout)
    venv = fresh_venv.resolve()
    # the package and its files come from the fresh environment, not from this checkout
    for key in ("file", "dist", "recipes", "model"):
        assert Path(seen[key]).resolve().is_relative_to(venv), (key, seen[key])
    assert seen["model_exists"]
    assert str(ROOT) not in seen["path"]
    assert all(Path(p).resolve().is_relative_to(venv) for p in seen["packages"]), seen["packages"]
    from ai4geo_lab import __version__

    assert seen["version"] == __version__
    # the command line
    out = _run([fresh_venv / "bin" / "ai4geo", "--help"], cwd=tmp_path).stdout
    assert "demo" in out and "run" in out
    # JupyterLab finds the prebuilt extension and the server extension in the fresh environment
    labext = _run([python, "-m", "jupyterlab.labextensions", "list"], cwd=tmp_path)
    listing = labext.stdout + labext.stderr
    assert str(venv / "share" / "jupyter" / "labextensions") in listing
    assert any("ai4geo-lab" in line and "enabled" in line and "OK" in line for line in listing.splitlines())
    serverext = _run([python, "-m", "jupyter_server.extension.serverextension", "list"], cwd=tmp_path)
    listing = serverext.stdout + serverext.stderr
    assert any("ai4geo_lab.server" in line and "enabled" in line for line in listing.splitlines())
    assert "ai4geo_lab.server" in listing and "OK" in listing.split("ai4geo_lab.server", 1)[1]
