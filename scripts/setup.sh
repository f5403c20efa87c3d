#!/usr/bin/env bash
# Set up ai4geo_lab in ./.venv: a virtual environment with the package (editable) and its dependencies.
#
#   bash scripts/setup.sh user   # (the default) the runtime dependencies only: what the demo, the CLI and JupyterLab need
#   bash scripts/setup.sh dev    # user, plus the `test` extra and, as root, the system packages the tests use
#                                # (Debian's slurm-wlm and munge for the Slurm test, chromium for the browser tests)
#
# Either mode builds the JupyterLab extension from its TypeScript sources, so it needs Node.js 18+ and npm
# (users of a built wheel need neither). Idempotent: a second run with unchanged project files does nothing;
# a dev setup counts as a user setup too.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-user}
case "$mode" in
  user) extras="" ;;
  dev) extras="[test]" ;;
  *) echo "setup: unknown mode '$mode' (use: setup.sh user | setup.sh dev)" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

# System packages of the tests: a single-node Slurm (slurm-wlm, munge) for the HPC test of dask-jobqueue;
# chromium for the browser tests (Playwright drives /usr/bin/chromium).
if [ "$mode" = dev ]; then
  APT_PACKAGES=(slurm-wlm munge chromium)
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "setup: installing system packages: ${missing[*]}"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "setup: system packages not installed: ${missing[*]} (install them with apt-get as root; the Slurm" \
        "and browser tests need them)" >&2
    fi
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi

# one stamp per mode, holding the hash of the project files it was made from; the JupyterLab extension's
# sources count too: a change to them rebuilds the prebuilt extension
want=$(cat pyproject.toml scripts/setup.sh labextension/package.json labextension/package-lock.json \
  labextension/tsconfig.json labextension/webpack.config.js $(find labextension/src labextension/style labextension/scripts -type f \
  -not -path 'labextension/style/scoped/*' | sort) \
  2>/dev/null | sha256sum | cut -d' ' -f1)
stamp() { echo ".venv/.ai4geo-setup-$1"; }
done_as() { [ "$(cat "$(stamp "$1")" 2>/dev/null || true)" = "$want" ]; }
if done_as dev || { [ "$mode" = user ] && done_as user; }; then
  exit 0
fi

quiet_pip() {  # pip without its noise about absent local index folders
  .venv/bin/python -m pip "$@" > >(grep -v '^WARNING: Location' || true) 2>&1
}

# Node.js builds the JupyterLab extension (users of the wheel need none): the locked npm packages first (again
# when the lock file changed since they were installed)
if [ ! -d labextension/node_modules ] || [ labextension/package-lock.json -nt labextension/node_modules/.package-lock.json ]; then
  if ! command -v npm >/dev/null; then
    echo "setup: npm (Node.js 18 or newer) is needed to build the JupyterLab extension; install nodejs and npm" >&2
    exit 1
  fi
  echo "setup: installing the locked npm packages of the JupyterLab extension"
  (cd labextension && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "setup: installing ai4geo_lab$extras into .venv (first time: a few minutes)"
quiet_pip install --quiet --upgrade pip
quiet_pip install --quiet -e ".$extras"
.venv/bin/python -c "import ai4geo_lab, torch, torchvision, rasterio, distributed" >/dev/null
rm -f "$(stamp user)" "$(stamp dev)" .venv/.ai4geo-setup  # (the last: the single stamp of older setups)
echo "$want" > "$(stamp user)"
if [ "$mode" = dev ]; then
  echo "$want" > "$(stamp dev)"
fi
echo "setup: done ($mode; .venv ready; start JupyterLab with .venv/bin/jupyter lab)"
