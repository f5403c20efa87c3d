"""The run manifest: which steps and tiles are done, with which fingerprint, so reruns skip finished work."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from ai4geo_lab.geo.atomic import write_text_atomic

MANIFEST_NAME = "run.json"


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content (inputs are fingerprinted by content, not by date)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(step: str, params: dict[str, Any], inputs: dict[str, Path], extra: dict[str, Any]) -> str:
    """A digest of everything a step's result depends on."""
    payload = {
        "step": step,
        "params": params,
        "inputs": {k: file_digest(p) for k, p in sorted(inputs.items())},
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class Manifest:
    """``OUT/run.json``: per step its fingerprint, status, outputs, tiles done and wall time.

    Every update is written atomically, so an interrupted run leaves a manifest that describes
    exactly the files that exist.
    """

    def __init__(self, root: Path) -> None:
        self.path = root / MANIFEST_NAME
        self._lock = threading.Lock()
        self.data: dict[str, Any] = {"steps": {}}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text())
            except json.JSONDecodeError:
                self.data = {"steps": {}}

    def save(self) -> None:
        """Write the manifest atomically."""
        with self._lock:
            write_text_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True))

    def step(self, step_id: str) -> dict[str, Any]:
        """The record of a step (created empty if new)."""
        return self.data["steps"].setdefault(step_id, {"tiles": {}})

    def reset_step(self, step_id: str, fp: str) -> dict[str, Any]:
        """Start a step afresh unless its fingerprint is unchanged (then its done tiles stay valid)."""
        rec = self.step(step_id)
        if rec.get("fingerprint") != fp:  # inputs or parameters changed: its rasters' tiles are stale too
            for name in [n for n in self.data["steps"] if n.startswith(f"{step_id}/")]:
                self.data["steps"].pop(name)
            rec.clear()
            rec.update({"fingerprint": fp, "tiles": {}, "status": "running"})
        else:
            rec["status"] = "running"
        self.save()
        return rec

    def tile_done(self, step_id: str, key: str, *paths: Path) -> bool:
        """Whether a tile is recorded as done and its files still exist."""
        return key in self.step(step_id).get("tiles", {}) and all(p.is_file() for p in paths)

    def record_tile(self, step_id: str, key: str, info: dict[str, Any]) -> None:
        """Record one finished tile."""
        self.step(step_id).setdefault("tiles", {})[key] = info
        self.save()
