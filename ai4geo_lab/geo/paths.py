"""Paths a request names, kept inside a root folder (no ``..``, no absolute paths, no symlinks out)."""

from __future__ import annotations

from pathlib import Path

from ai4geo_lab.errors import OutputNotWritableError


def confine(root: str | Path, relative: str | Path) -> Path:
    """``root / relative``, resolved, refusing anything that ends up outside ``root``.

    ``relative`` is a path relative to ``root`` (a leading ``/`` is read as the root itself, as Jupyter's
    contents API does). Symlinks are resolved before the check, so a link pointing out of the root is refused.
    """
    base = Path(root).expanduser().resolve()
    text = str(relative).replace("\\", "/").lstrip("/")
    target = (base / text).resolve()
    if target != base and base not in target.parents:
        raise OutputNotWritableError(f"the path '{relative}' lies outside the server's root folder",
                                     "give a path relative to the folder JupyterLab was started in, without '..'")
    return target


def relative_to(root: str | Path, path: str | Path) -> str:
    """``path`` relative to ``root`` with '/' separators (for Jupyter's contents API)."""
    return Path(path).resolve().relative_to(Path(root).expanduser().resolve()).as_posix()
