"""Downloads with resume, checksums and an inventory, and quicklooks.

Each asset is written to ``NAME.part`` then renamed: a ``.part`` is resumed (HTTP ``Range`` or a seek in a local
file) by the next attempt and never counted as complete. Finished files go into a SQLite inventory in the workspace
(``catalog/inventory.sqlite``: provider, item, asset, path, size, checksum, when, which search), so a file already
there is not downloaded again. Authentication for provider assets comes from EODAG (its own configuration).
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from ai4geo_lab.aoi import workspace_dir
from ai4geo_lab.catalog.items import quicklook_href
from ai4geo_lab.catalog.request import eodag_error
from ai4geo_lab.catalog.sources import safe_url
from ai4geo_lab.errors import (
    DiskFullError,
    InputNotFoundError,
    OutputNotWritableError,
    ProcessingError,
    ProviderAuthError,
    ProviderError,
)

CHUNK = 1 << 16
TIMEOUT_S = 60.0
Progress = bool | Callable[[int, int | None, str], None]
_DB_LOCK = threading.Lock()
_MULTIHASH = {0x12: "sha256", 0x13: "sha512", 0x11: "sha1", 0xD5: "md5"}


# ---- inventory ---------------------------------------------------------------------------------------------------

def inventory_path(workspace: str | Path | None = None) -> Path:
    """The SQLite inventory of downloaded files."""
    return workspace_dir(workspace) / "catalog" / "inventory.sqlite"


def _db(workspace: str | Path | None) -> sqlite3.Connection:
    path = inventory_path(workspace)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=30)
    except (OSError, sqlite3.Error) as exc:
        raise OutputNotWritableError(f"cannot open the download inventory {path} ({exc})",
                                     "check the workspace folder is writable") from exc
    con.execute("""CREATE TABLE IF NOT EXISTS files (
        provider TEXT NOT NULL, collection TEXT, item TEXT NOT NULL, asset TEXT NOT NULL, path TEXT NOT NULL,
        size INTEGER, sha256 TEXT, checksum TEXT, downloaded_at TEXT, search TEXT,
        PRIMARY KEY (provider, item, asset))""")
    return con


def inventory(workspace: str | Path | None = None) -> pd.DataFrame:
    """What has been downloaded: one row per file (provider, collection, item, asset, path, size, sha256,
    checksum, downloaded_at, search), newest first."""
    with closing(_db(workspace)) as con:
        return pd.read_sql_query("SELECT * FROM files ORDER BY downloaded_at DESC", con)


def _known(workspace: str | Path | None, provider: str, item: str, asset: str) -> Path | None:
    with closing(_db(workspace)) as con:
        row = con.execute("SELECT path, size FROM files WHERE provider=? AND item=? AND asset=?",
                          (provider, item, asset)).fetchone()
    if row and Path(row[0]).is_file() and Path(row[0]).stat().st_size == row[1]:
        return Path(row[0])
    return None


def _record(workspace: str | Path | None, row: dict[str, Any]) -> None:
    with _DB_LOCK, closing(_db(workspace)) as con, con:
        con.execute("INSERT OR REPLACE INTO files VALUES (:provider, :collection, :item, :asset, :path, :size, "
                    ":sha256, :checksum, :downloaded_at, :search)", row)


# ---- checksums ------------------------------------------------------------------------------------------------

def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        if not b & 0x80:
            return value, pos
        shift += 7


def parse_multihash(text: str) -> tuple[str, str] | None:
    """(hashlib name, hex digest) of a STAC ``file:checksum`` multihash, or None if its algorithm is unknown."""
    try:
        raw = bytes.fromhex(text)
        code, pos = _varint(raw, 0)
        length, pos = _varint(raw, pos)
    except (ValueError, IndexError):
        return None
    name = _MULTIHASH.get(code)
    digest = raw[pos:pos + length]
    if name is None or len(digest) != length:
        return None
    return name, digest.hex()


# ---- one asset ------------------------------------------------------------------------------------------------

def _local_path(href: str) -> Path | None:
    p = urlparse(href)
    if p.scheme == "file":
        return Path(unquote(p.path))
    if not p.scheme or len(p.scheme) == 1:
        return Path(href)
    return None


class _Ticker:
    """Progress of one file: a tqdm bar, or calls of a user callback ``(done_bytes, total_bytes, name)``."""

    def __init__(self, progress: Progress, total: int | None, initial: int, name: str) -> None:
        self.callback = progress if callable(progress) else None
        self.done, self.total, self.name = initial, total, name
        self.bar = None
        if self.callback is not None:
            self.callback(initial, total, name)
        elif progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name, leave=False)

    def __call__(self, n: int) -> None:
        self.done += n
        if self.callback is not None:
            self.callback(self.done, self.total, self.name)
        elif self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def fetch_asset(href: str, target: Path, checksum: str | None = None, auth: Any = None,
                progress: Progress = False, timeout: float = TIMEOUT_S) -> tuple[int, str]:
    """Copy or download ``href`` to ``target`` through ``target.part`` (resumed if present), check ``checksum``
    (a multihash) when given, and rename. Returns (size, sha256 hex)."""
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256()
    have = part.stat().st_size if part.exists() else 0
    if have:
        with part.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                sha.update(block)
    local = _local_path(href)
    total: int | None
    try:
        if local is not None:
            if not local.is_file():
                raise InputNotFoundError(f"the asset file {local} does not exist", "refresh the local catalogue")
            total = local.stat().st_size
            if have > total:
                part.unlink()
                have, sha = 0, hashlib.sha256()
            tick = _Ticker(progress, total, have, target.name)
            try:
                with local.open("rb") as src, part.open("ab") as out:
                    src.seek(have)
                    for block in iter(lambda: src.read(CHUNK), b""):
                        out.write(block)
                        sha.update(block)
                        tick(len(block))
            finally:
                tick.close()
        else:
            total, sha = _http_fetch(href, part, have, sha, auth, progress, timeout)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            size = part.stat().st_size if part.exists() else 0
            raise DiskFullError(f"the disk is full: {target.name} stopped at {size:,} bytes (kept as {part})",
                                "free some space and download again: it resumes where it stopped") from exc
        raise OutputNotWritableError(f"cannot write {part} ({exc.strerror})", "check the destination folder") \
            from exc
    size = part.stat().st_size
    if total is not None and size != total:
        raise ProviderError(f"{target.name} is incomplete ({size:,} of {total:,} bytes; kept as {part})",
                            "download again to resume")
    if checksum:
        algo = parse_multihash(checksum)
        if algo is not None:
            digest = sha.hexdigest() if algo[0] == "sha256" else _file_digest(part, algo[0])
            if digest != algo[1]:
                part.unlink()
                raise ProcessingError(f"checksum mismatch for {target.name} ({algo[0]})",
                                      "the file was removed; download again, or report a corrupt source")
    os.replace(part, target)
    return size, sha.hexdigest()


def _file_digest(path: Path, name: str) -> str:
    h = hashlib.new(name)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _http_fetch(href: str, part: Path, have: int, sha: Any, auth: Any, progress: Progress,
                timeout: float) -> tuple[int | None, Any]:
    """GET ``href`` into ``part`` from byte ``have`` on; returns (expected size or None, sha256 of the file)."""
    import requests

    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        resp = requests.get(href, headers=headers, auth=auth, stream=True, timeout=timeout)
    except requests.Timeout as exc:
        raise ProviderError(f"{safe_url(href)} did not answer within {timeout:g} s", "try again later") from exc
    except requests.RequestException as exc:
        raise ProviderError(f"cannot reach {safe_url(href)} ({type(exc).__name__})",
                            "check your network connection; partial files are resumed") from exc
    with resp:
        if resp.status_code in (401, 403):
            raise ProviderAuthError(f"access to {safe_url(href)} was refused (HTTP {resp.status_code})",
                                    "set the provider's credentials in EODAG's configuration")
        if resp.status_code == 416 and have:  # nothing left to send: the partial file is whole
            return None, sha
        if resp.status_code == 404:
            raise InputNotFoundError(f"{safe_url(href)} does not exist (HTTP 404)", "search again")
        if resp.status_code >= 400:
            raise ProviderError(f"{safe_url(href)} answered HTTP {resp.status_code}", "try again later")
        mode = "ab"
        if resp.status_code == 200 and have:  # the server ignored the range: start over
            have, mode = 0, "wb"
            sha = hashlib.sha256()
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        tick = _Ticker(progress, total, have, part.name[:-5])
        try:
            with part.open(mode) as out:
                for block in resp.iter_content(CHUNK):
                    out.write(block)
                    sha.update(block)
                    tick(len(block))
        except requests.RequestException as exc:
            raise ProviderError(f"the download of {safe_url(href)} broke off ({type(exc).__name__})",
                                "download again: it resumes where it stopped") from exc
        finally:
            tick.close()
    return total, sha


# ---- items ---------------------------------------------------------------------------------------------------

def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")
    return name[:150] or "file"


def _asset_filename(key: str, asset: dict[str, Any]) -> str:
    path = urlparse(asset.get("href", "")).path
    base = Path(unquote(path)).name
    return _safe_name(base or key)


def download_items(results: Any, dest: str | Path | None = None, progress: Progress = True,
                   assets: list[str] | Callable[[str, dict], bool] | None = None,
                   workspace: str | Path | None = None) -> dict[str, list[Path]]:
    """Download the assets of every item of ``results`` (see :meth:`SearchResults.download`)."""
    root = Path(dest) if dest is not None else workspace_dir(workspace) / "downloads"
    search = json.dumps(results.request.model_dump(exclude={"aoi"}))
    out: dict[str, list[Path]] = {}
    for item in results.items:
        item_id = item.get("id")
        provider = item.get("ai4geo:provider", results.provider)
        product = results._products.get(item_id)
        chosen = {k: a for k, a in (item.get("assets") or {}).items()
                  if assets is None or (k in assets if isinstance(assets, list) else assets(k, a))}
        folder = root / _safe_name(item.get("collection") or "items") / _safe_name(item_id)
        remote = [a for a in chosen.values() if _local_path(a.get("href", "")) is None
                  and urlparse(a.get("href", "")).scheme not in ("http", "https")]
        if product is not None and (not chosen or remote):
            out[item_id] = [_eodag_download(product, folder, provider, item, search, workspace)]
            continue
        auth = _auth(product, provider)
        files = []
        for key, asset in chosen.items():
            have = _known(workspace, provider, item_id, key)
            if have is not None:
                files.append(have)
                continue
            target = folder / _asset_filename(key, asset)
            size, sha = fetch_asset(asset["href"], target, asset.get("file:checksum"), auth, progress)
            _record(workspace, {"provider": provider, "collection": item.get("collection"), "item": item_id,
                                "asset": key, "path": str(target.resolve()), "size": size, "sha256": sha,
                                "checksum": asset.get("file:checksum"),
                                "downloaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                                "search": search})
            files.append(target)
        out[item_id] = files
    return out


def _auth(product: Any, provider: str) -> Any:
    if product is None or getattr(product, "downloader_auth", None) is None:
        return None
    try:
        return product.downloader_auth.authenticate()
    except Exception as exc:
        raise ProviderAuthError(f"provider '{provider}' refused the credentials ({type(exc).__name__})",
                                "set them in EODAG's configuration (eodag.yml in EODAG_CFG_DIR) or environment") \
            from exc


def _eodag_download(product: Any, folder: Path, provider: str, item: dict[str, Any], search: str,
                    workspace: str | Path | None) -> Path:
    """Products without plain HTTP assets (archives, S3...) go through EODAG's own download."""
    have = _known(workspace, provider, item["id"], "*")
    if have is not None:
        return have
    try:
        path = Path(product.download(output_dir=str(folder.parent), extract=False))
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(f"the disk is full while downloading {item['id']}", "free some space and retry") \
                from exc
        raise
    except Exception as exc:
        raise eodag_error(exc, provider, workspace) from exc
    size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    _record(workspace, {"provider": provider, "collection": item.get("collection"), "item": item["id"], "asset": "*",
                        "path": str(path.resolve()), "size": size, "sha256": None, "checksum": None,
                        "downloaded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "search": search})
    return path


# ---- quicklooks ----------------------------------------------------------------------------------------------

def _render_png(src: Path, out: Path, size: int) -> None:
    import numpy as np
    from PIL import Image

    from ai4geo_lab.geo.raster import open_raster

    with open_raster(src) as ds:
        scale = max(ds.width, ds.height) / size
        shape = (max(1, int(ds.height / scale)), max(1, int(ds.width / scale)))
        bands = [1, 2, 3] if ds.count >= 3 else [1]
        data = ds.read(bands, out_shape=(len(bands), *shape), masked=True).astype("float64")
    img = np.zeros((*shape, len(bands)), dtype=np.uint8)
    for b in range(len(bands)):
        band = data[b]
        valid = band.compressed()
        if valid.size:
            lo, hi = np.percentile(valid, [2, 98])
            img[..., b] = np.clip((band.filled(lo) - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)
    tmp = out.with_name(out.name + ".part")
    Image.fromarray(img[..., 0] if len(bands) == 1 else img).save(tmp, format="PNG")
    os.replace(tmp, out)


def make_quicklooks(results: Any, dest: str | Path | None = None, workspace: str | Path | None = None,
                    size: int = 256) -> dict[str, Path]:
    """One PNG per item (see :meth:`SearchResults.quicklooks`)."""

    root = Path(dest) if dest is not None else workspace_dir(workspace) / "quicklooks"
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for item in results.items:
        target = root / f"{_safe_name(item.get('provider', '') or results.provider)}-{_safe_name(item['id'])}.png"
        if target.is_file():
            out[item["id"]] = target
            continue
        href = quicklook_href(item)
        if href:
            local = _local_path(href)
            if local is not None and local.is_file():
                shutil.copyfile(local, target)
            else:
                product = results._products.get(item["id"])
                fetch_asset(href, target, auth=_auth(product, results.provider))
            out[item["id"]] = target
            continue
        rasters = [a for a in (item.get("assets") or {}).values()
                   if "tiff" in (a.get("type") or "") or a.get("href", "").lower().endswith((".tif", ".tiff"))]
        for asset in rasters:
            local = _local_path(asset["href"])
            if local is not None and local.is_file():
                _render_png(local, target, size)
                out[item["id"]] = target
                break
    return out
