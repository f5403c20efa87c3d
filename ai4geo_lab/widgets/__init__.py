"""Notebook widgets (ipywidgets, ipyleaflet): thin front-ends over the core functions."""

from __future__ import annotations

from typing import Any

__all__ = ["SearchPanel"]


def __getattr__(name: str) -> Any:
    if name == "SearchPanel":
        from ai4geo_lab.widgets.search import SearchPanel

        return SearchPanel
    raise AttributeError(f"module 'ai4geo_lab.widgets' has no attribute {name!r}")
