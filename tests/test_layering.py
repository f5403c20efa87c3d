"""The package's layering: imports point down (README, "Layout") and no modules import each other in a circle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    """import-linter's contracts in pyproject.toml: layers, and no circles between sibling packages."""
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 kept, 0 broken" in proc.stdout


def test_no_module_imports_itself_through_others():
    """No circle of imports between any modules (lazy and type-checking imports included)."""
    graph = grimp.build_graph("ai4geo_lab")
    mods = sorted(graph.modules)
    index = {m: i for i, m in enumerate(mods)}
    edges = [(index[m], index[t]) for m in mods for t in graph.find_modules_directly_imported_by(m)]
    rows, cols = zip(*edges, strict=True)
    adjacency = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(mods), len(mods)))
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    circles = [[mods[i] for i in np.flatnonzero(labels == lab)] for lab in np.unique(labels)
               if (labels == lab).sum() > 1]
    assert not circles, f"import circles: {circles}"
