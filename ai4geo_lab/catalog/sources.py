"""Where searches go: every EODAG provider, any STAC API URL, and the embedded local catalogue.

EODAG is configured in isolation: its configuration folder is ``WORKSPACE/eodag`` (unless ``EODAG_CFG_DIR`` is
set) and strict collections are on (unless ``EODAG_STRICT_COLLECTIONS=false``), so nothing is fetched before a
search; the process environment is left as it was. Credentials are read by
EODAG only, from its ``eodag.yml`` there or from its ``EODAG__<PROVIDER>__AUTH__...`` environment variables; this
module never reads, prints or logs them.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

from ai4geo_lab.aoi import workspace_dir
from ai4geo_lab.errors import InputNotFoundError, InvalidInputError, MissingDependencyError
from ai4geo_lab.geo.atomic import write_text_atomic

LOCAL = "local"
REGISTRY_FILE = "catalogs.json"
DEFAULT_TIMEOUT_S = 20.0


def timeout_s() -> float:
    """Seconds to wait for a provider: ``$AI4GEO_SEARCH_TIMEOUT``, else 20."""
    try:
        return float(os.environ.get("AI4GEO_SEARCH_TIMEOUT") or DEFAULT_TIMEOUT_S)
    except ValueError:
        return DEFAULT_TIMEOUT_S

_LOCK = threading.RLock()
_GATEWAYS: dict[str, Any] = {}
_URL_PROVIDERS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Provider:
    """A resolved search target: ``kind`` is 'local', 'eodag' or 'stac-api'."""

    kind: str
    name: str
    paths: tuple[Path, ...] = ()
    url: str | None = None


def safe_url(url: str) -> str:
    """A URL fit for messages: no user:password, no query string (which may hold a key)."""
    p = urlparse(url)
    host = p.hostname or ""
    netloc = f"{host}:{p.port}" if p.port else host
    return urlunparse((p.scheme, netloc, p.path, "", "", ""))


# ---- local catalogues ---------------------------------------------------------------------------------------------

def _registry(workspace: str | Path | None) -> Path:
    return workspace_dir(workspace) / REGISTRY_FILE


def _catalog_file(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if p.is_dir():
        for candidate in (p / "catalog.json", p / "collection.json", p / "catalog" / "catalog.json"):
            if candidate.is_file():
                return candidate.resolve()
        raise InputNotFoundError(f"{p} holds no catalog.json or collection.json",
                                 "give a static STAC catalogue (a catalog.json, or the folder holding it)")
    if not p.is_file():
        raise InputNotFoundError(f"no STAC catalogue at {p}", "check the path")
    return p.resolve()


def local_catalogs(workspace: str | Path | None = None) -> list[Path]:
    """The static STAC catalogues of the embedded local catalogue: those added to the workspace, then those in
    ``$AI4GEO_LOCAL_CATALOGS`` (paths separated by ``os.pathsep``)."""
    paths: list[Path] = []
    reg = _registry(workspace)
    if reg.is_file():
        paths += [Path(p) for p in json.loads(reg.read_text()).get("catalogs", [])]
    env = os.environ.get("AI4GEO_LOCAL_CATALOGS")
    if env:
        paths += [_catalog_file(p) for p in env.split(os.pathsep) if p]
    out: list[Path] = []
    for p in paths:
        if p not in out:
            out.append(p)
    return out


def add_local_catalog(path: str | Path, workspace: str | Path | None = None) -> Path:
    """Add a static STAC catalogue (a ``catalog.json``, its folder, or a sample city folder) to the embedded local
    catalogue of the workspace; returns the catalogue file."""
    from ai4geo_lab.catalog.local import LocalIndex

    cat = _catalog_file(path)
    LocalIndex.from_paths([cat])  # refuse what cannot be read now, not at the first search
    with _LOCK:
        current = [p for p in local_catalogs(workspace) if p != cat and p.exists()]
        reg = _registry(workspace)
        write_text_atomic(reg, json.dumps({"catalogs": [str(p) for p in [*current, cat]]}, indent=1))
    return cat


def remove_local_catalog(path: str | Path, workspace: str | Path | None = None) -> None:
    """Remove a catalogue from the workspace's embedded local catalogue."""
    cat = Path(path).expanduser().resolve()
    with _LOCK:
        reg = _registry(workspace)
        current = local_catalogs(workspace)
        keep = [p for p in current if p != cat and p.parent != cat and p.parent.parent != cat]
        if len(keep) == len(current):
            raise InputNotFoundError(f"{cat} is not in the local catalogue", "see `ai4geo catalog list`")
        write_text_atomic(reg, json.dumps({"catalogs": [str(p) for p in keep]}, indent=1))


# ---- EODAG --------------------------------------------------------------------------------------------------------

def eodag_config_dir(workspace: str | Path | None = None) -> Path:
    """EODAG's configuration folder (``$EODAG_CFG_DIR`` if set, else ``WORKSPACE/eodag``)."""
    return Path(os.environ.get("EODAG_CFG_DIR") or workspace_dir(workspace) / "eodag")


def gateway(workspace: str | Path | None = None) -> Any:
    """The EODAG gateway of this workspace, made once per process (its set-up takes about a second)."""
    cfg = eodag_config_dir(workspace)
    with _LOCK:
        dag = _GATEWAYS.get(str(cfg))
        if dag is not None:
            return dag
        cfg.mkdir(parents=True, exist_ok=True)
        try:
            from eodag import EODataAccessGateway
            from eodag.config import EODAGSettings
        except ImportError as exc:
            raise MissingDependencyError("searching providers needs the Python package 'eodag', which is not "
                                         "installed", "install it with: pip install 'eodag>=4.10,<5'") from exc
        strict = os.environ.get("EODAG_STRICT_COLLECTIONS", "true").lower() not in ("0", "false", "no")
        dag = EODataAccessGateway(settings=EODAGSettings(cfg_dir=cfg, strict_collections=strict))
        _GATEWAYS[str(cfg)] = dag
        return dag


def eodag_providers(workspace: str | Path | None = None) -> list[str]:
    """The names of EODAG's providers, preferred first."""
    return [p for p in gateway(workspace).providers if not p.startswith("stac_api_")]


def url_provider(url: str, workspace: str | Path | None = None, timeout: float | None = None) -> str:
    """Register a STAC API (its root URL, or its ``/search`` URL) as an EODAG provider; returns its name."""
    root = url.rstrip("/")
    if root.endswith("/search"):
        root = root[: -len("/search")]
    dag = gateway(workspace)
    key = (str(eodag_config_dir(workspace)), root)
    with _LOCK:
        name = _URL_PROVIDERS.get(key)
        if name is None:
            name = "stac_api_" + hashlib.sha1(root.encode()).hexdigest()[:10]
            dag.add_provider(name, url=f"{root}/search", search={
                "type": "StacSearch", "asset_key_from_href": False, "timeout": timeout or timeout_s(),
                "discover_queryables": {"fetch_url": None, "collection_fetch_url": None},
                "discover_collections": {"fetch_url": f"{root}/collections"},
            })
            _URL_PROVIDERS[key] = name
    return name


def resolve(provider: str | None, workspace: str | Path | None = None, allow_paths: bool = True) -> Provider:
    """What ``provider`` names: None (the local catalogue if it has the collection, else EODAG's choice),
    'local' (the embedded local catalogue), a path to a static catalogue (only if ``allow_paths``: a server
    passes False for requests it did not write), an http(s) STAC API URL, or an EODAG provider name."""
    if provider is None:
        return Provider("auto", "auto", tuple(local_catalogs(workspace)))
    if provider == LOCAL:
        paths = tuple(local_catalogs(workspace))
        if not paths:
            raise InputNotFoundError("the local catalogue is empty",
                                     "add a static STAC catalogue with `ai4geo catalog add PATH` or "
                                     "ai4geo_lab.catalog.add_local_catalog(PATH), e.g. a sample city folder",
                                     field="provider")
        return Provider(LOCAL, LOCAL, paths)
    if provider.startswith(("http://", "https://")):
        return Provider("stac-api", url_provider(provider, workspace), url=provider.rstrip("/"))
    if provider.startswith(("file:", "/", ".", "~")) or Path(provider).suffix == ".json":
        if not allow_paths:
            raise InvalidInputError("a catalogue path cannot be given here",
                                    "add the catalogue to the local catalogue, then use provider 'local'",
                                    field="provider")
        cat = _catalog_file(provider.removeprefix("file://").removeprefix("file:"))
        return Provider(LOCAL, LOCAL, (cat,))
    names = eodag_providers(workspace)
    if provider not in names:
        import difflib

        close = difflib.get_close_matches(provider, [LOCAL, *names], n=3)
        raise InvalidInputError(f"unknown provider '{provider}'",
                                f"did you mean {', '.join(close)}?" if close else
                                f"use '{LOCAL}', a STAC API URL, a catalogue path, or one of: {', '.join(names)}",
                                field="provider")
    return Provider("eodag", provider)
