"""The Lab extension's search types come from SearchRequest: the committed JSON Schema cannot drift from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ai4geo_lab.catalog.request import SearchRequest

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_the_models():
    committed = json.loads((ROOT / "labextension" / "schema" / "search_request.json").read_text())
    assert committed == SearchRequest.model_json_schema(), "run: python scripts/schemas.py"


def test_schema_script_checks(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "schemas.py"), "--check"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_build_generates_the_types_before_compiling():
    package = json.loads((ROOT / "labextension" / "package.json").read_text())
    assert "json-schema-to-typescript" in package["devDependencies"]
    assert "schema/search_request.json" in package["scripts"]["build:schema"]
    assert package["scripts"]["build:lib"].startswith("npm run build:schema")
