"""One version: labextension/package.json, which the build gives the Python distribution."""

from __future__ import annotations

import json
from pathlib import Path

from packaging.version import Version

import ai4geo_lab

ROOT = Path(__file__).resolve().parent.parent


def test_version_comes_from_package_json():
    npm = json.loads((ROOT / "labextension" / "package.json").read_text())["version"]
    assert Version(ai4geo_lab.__version__) == Version(npm)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'source = "nodejs"' in pyproject and 'path = "labextension/package.json"' in pyproject
