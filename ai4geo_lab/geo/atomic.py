"""Atomic file writing: a file appears complete under its final name, or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ai4geo_lab.errors import OutputNotWritableError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_path(path: Path) -> Path:
    """A temporary path beside ``path`` (same filesystem, so that ``os.replace`` is atomic)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise OutputNotWritableError(f"cannot write in {path.parent} ({exc.strerror})",
                                     "choose a writable output folder") from exc
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; the final file gets the usual mode
    return Path(tmp)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    path = Path(path)
    tmp = atomic_path(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
