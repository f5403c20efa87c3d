"""Notebook recipes: the templates of ``notebooks/``, listed with their title and copied into a workspace.

The templates ship in the wheel (``ai4geo_lab/recipes/notebooks``); from a source checkout the repository's
``notebooks/`` folder is used. ``$AI4GEO_RECIPES`` names another folder.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError, OutputNotWritableError

_PACKAGED = Path(__file__).resolve().parent / "notebooks"
_CHECKOUT = Path(__file__).resolve().parents[2] / "notebooks"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def recipes_dir(folder: str | Path | None = None) -> Path:
    """Where the templates are: ``folder``, else ``$AI4GEO_RECIPES``, else the packaged or checkout folder."""
    if folder is not None:
        return Path(folder)
    if os.environ.get("AI4GEO_RECIPES"):
        return Path(os.environ["AI4GEO_RECIPES"])
    return _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


def _describe(path: Path) -> dict[str, Any]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"the recipe {path.name} is not a readable notebook: {exc}") from exc
    title, summary = path.stem.replace("_", " "), ""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        text = "".join(cell.get("source", []))
        lines = [ln.strip() for ln in text.splitlines()]
        heads = [ln for ln in lines if ln.startswith("#")]
        if heads:
            title = heads[0].lstrip("#").strip()
        paragraph: list[str] = []
        for ln in lines:
            if ln.startswith("#"):
                continue
            if not ln and paragraph:
                break
            if ln:
                paragraph.append(ln)
        summary = " ".join(paragraph)
        break
    return {"name": path.stem, "file": path.name, "title": title, "summary": summary}


def list_recipes(folder: str | Path | None = None) -> list[dict[str, Any]]:
    """The templates, sorted by file name: {name, file, title, summary}."""
    where = recipes_dir(folder)
    if not where.is_dir():
        return []
    return [_describe(p) for p in sorted(where.glob("*.ipynb"))]


def copy_recipe(name: str, dest: str | Path, folder: str | Path | None = None) -> Path:
    """Copy the template ``name`` into the folder ``dest`` (never over an existing file: ``NAME-2.ipynb``...)
    and return the new notebook's path. Outputs of the template are cleared."""
    if not _NAME.match(name or "") or ".." in name:
        raise InvalidInputError(f"'{name}' is not a recipe name", "see list_recipes()")
    src = recipes_dir(folder) / f"{name.removesuffix('.ipynb')}.ipynb"
    if not src.is_file():
        known = ", ".join(r["name"] for r in list_recipes(folder)) or "none"
        raise InputNotFoundError(f"no recipe named '{name}'", f"recipes: {known}")
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        stem, n = src.stem, 1
        target = dest / src.name
        while target.exists():
            n += 1
            target = dest / f"{stem}-{n}.ipynb"
        nb = json.loads(src.read_text(encoding="utf-8"))
        for cell in nb.get("cells", []):
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
        tmp = target.with_name(target.name + ".part")
        tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputNotWritableError(f"cannot write the recipe into {dest}: {exc.strerror or exc}",
                                     "choose a folder you can write to") from exc
    return target


__all__ = ["copy_recipe", "list_recipes", "recipes_dir"]
