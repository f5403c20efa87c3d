#!/usr/bin/env bash
# Set up (if needed: the package and its runtime dependencies only), then run the main job on the embedded
# sample city, offline.
# Extra arguments go to `ai4geo demo` (e.g. --out DIR, --seed N).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh user
exec .venv/bin/ai4geo demo "$@"
