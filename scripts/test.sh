#!/usr/bin/env bash
# Set up for development (if needed: the `test` extra and the system packages the tests use), lint, check the
# layering and the types, then run the whole test suite (every marker: realdata, browser, slow, notebooks).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check ai4geo_lab tests benchmarks
.venv/bin/lint-imports --no-cache  # the layering: imports point down, no import circles (pyproject.toml)
.venv/bin/mypy  # the types of the package ([tool.mypy] in pyproject.toml)
exec .venv/bin/python -m pytest "$@"
