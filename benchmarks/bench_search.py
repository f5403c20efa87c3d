"""Benchmark: search latency over the embedded local catalogue and through EODAG against a loopback STAC API.

Generates a static STAC catalogue of N items (default 10,000: random footprints over a 2°×2° region, three years,
random cloud cover), then prints p50/p95 latency of
  1. ``search(..., provider=<catalogue>)`` (in-memory index; target p95 ≤ 50 ms), after the one-off index load;
  2. the same searches through EODAG's own StaticStacSearch on the same catalogue (the reference; a few runs);
  3. ``search(..., provider=<STAC API URL>)`` through EODAG against ``rustac serve`` on 127.0.0.1 with the same
     items (target p95 ≤ 500 ms), and the bare HTTP round trip of the same searches for reference.
Usage: python benchmarks/bench_search.py [--items 10000] [--runs 200] [--api-runs 50] [--reference-runs 3 (0: skip)]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WEST, SOUTH, SIZE = 1.0, 43.0, 2.0


def make_catalog(root: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    """A static catalogue (catalog → collection → items) and the same items as one FeatureCollection."""
    rng = np.random.default_rng(seed)
    col_dir = root / "bench"
    col_dir.mkdir(parents=True)
    features = []
    links = [{"rel": "root", "href": "../catalog.json"}, {"rel": "parent", "href": "../catalog.json"}]
    t0 = np.datetime64("2023-01-01T00:00:00")
    for i in range(n):
        w, s = WEST + rng.uniform(0, SIZE - 0.1), SOUTH + rng.uniform(0, SIZE - 0.1)
        e, nn = w + rng.uniform(0.02, 0.1), s + rng.uniform(0.02, 0.1)
        when = str(t0 + np.timedelta64(int(rng.uniform(0, 3 * 365 * 86400)), "s")) + "Z"
        item_id = f"item-{i:05d}"
        item = {"type": "Feature", "stac_version": "1.1.0", "id": item_id, "collection": "bench",
                "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, nn], [w, nn], [w, s]]]},
                "bbox": [w, s, e, nn],
                "properties": {"datetime": when, "eo:cloud_cover": round(float(rng.uniform(0, 100)), 1),
                               "platform": "bench-sat"},
                "assets": {"data": {"href": f"./{item_id}.tif", "type": "image/tiff", "roles": ["data"]}},
                "links": [{"rel": "collection", "href": "../collection.json"},
                          {"rel": "parent", "href": "../collection.json"},
                          {"rel": "root", "href": "../../catalog.json"}]}
        (col_dir / item_id).mkdir()
        (col_dir / item_id / f"{item_id}.json").write_text(json.dumps(item))
        features.append(item)
        links.append({"rel": "item", "href": f"./{item_id}/{item_id}.json"})
    extent = {"spatial": {"bbox": [[WEST, SOUTH, WEST + SIZE, SOUTH + SIZE]]},
              "temporal": {"interval": [["2023-01-01T00:00:00Z", "2026-01-01T00:00:00Z"]]}}
    collection = {"type": "Collection", "stac_version": "1.1.0", "id": "bench", "description": "generated",
                   "license": "CC0-1.0", "extent": extent, "links": links}
    (col_dir / "collection.json").write_text(json.dumps(collection))
    (root / "catalog.json").write_text(json.dumps({
        "type": "Catalog", "stac_version": "1.1.0", "id": "bench-root", "description": "generated",
        "links": [{"rel": "root", "href": "./catalog.json"}, {"rel": "child", "href": "./bench/collection.json"}]}))
    api = root / "api"
    api.mkdir()
    (api / "collection.json").write_text(json.dumps({**collection, "links": []}))
    for f in features:
        f["links"] = []
    (api / "items.json").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return root / "catalog.json", api


def queries(n: int, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w, s = WEST + rng.uniform(0, SIZE - 0.3), SOUTH + rng.uniform(0, SIZE - 0.3)
        start = np.datetime64("2023-01-01") + np.timedelta64(int(rng.integers(0, 700)), "D")
        out.append({"aoi": (w, s, w + 0.3, s + 0.3), "start": str(start),
                    "end": str(start + np.timedelta64(365, "D")), "max_cloud": float(rng.choice([20, 50, 100]))})
    return out


def timed(fn, qs: list[dict]) -> np.ndarray:
    times = []
    for q in qs:
        t0 = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t0)
    return np.array(times) * 1000


def report(name: str, ms: np.ndarray, target: float | None = None) -> None:
    p50, p95 = np.percentile(ms, [50, 95])
    verdict = "" if target is None else f"  (target p95 ≤ {target:g} ms: {'met' if p95 <= target else 'NOT met'})"
    print(f"{name:58s} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   n={len(ms)}{verdict}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--api-runs", type=int, default=50)
    ap.add_argument("--reference-runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AI4GEO_WORKSPACE"] = str(Path(tmp) / "ws")
        os.environ["EODAG_CFG_DIR"] = str(Path(tmp) / "eodag")
        t0 = time.perf_counter()
        catalog, api = make_catalog(Path(tmp) / "cat", args.items)
        print(f"generated {args.items:,} items in {time.perf_counter() - t0:.1f} s")

        from ai4geo_lab.catalog import search
        from ai4geo_lab.catalog.local import LocalIndex

        t0 = time.perf_counter()
        LocalIndex.from_paths([catalog])
        print(f"local index built once in {time.perf_counter() - t0:.2f} s (then cached until the catalogue changes)")
        qs = queries(args.runs)
        hits = []

        def local(q: dict) -> None:
            hits.append(len(search(q["aoi"], "bench", q["start"], q["end"], q["max_cloud"], provider=str(catalog))))

        local_ms = timed(local, qs)
        report(f"embedded local catalogue, {args.items:,} items", local_ms, 50)
        print(f"{'':58s} mean {np.mean(hits):.1f} items per page (limit 20)")

        from ai4geo_lab.catalog.sources import gateway

        dag = gateway()
        dag.update_providers_config(dict_conf={"bench_static": {
            "search": {"type": "StaticStacSearch", "api_endpoint": str(catalog)},
            "products": {"GENERIC_COLLECTION": {"_collection": "{collection}"}}, "download": {"type": "HTTPDownload"}}})

        def eodag_static(q: dict) -> None:
            dag.search(provider="bench_static", collection="bench", geom=q["aoi"], start=q["start"], end=q["end"],
                       limit=20, count=False)

        if args.reference_runs > 0:  # each takes minutes at 10,000 items: EODAG re-reads the catalogue every time
            ref_ms = timed(eodag_static, qs[: args.reference_runs])
            report("reference: EODAG StaticStacSearch, same catalogue", ref_ms)
            ratio = np.percentile(ref_ms, 95) / np.percentile(local_ms, 95)
            print(f"{'':58s} local index p95 is {ratio:,.0f}× faster")

        exe = shutil.which("rustac") or str(Path(sys.executable).parent / "rustac")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([exe, "serve", "--addr", f"127.0.0.1:{port}", str(api / "collection.json"),
                                 str(api / "items.json")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            import requests

            url = f"http://127.0.0.1:{port}"
            t0 = time.perf_counter()
            while True:
                try:
                    if requests.get(f"{url}/collections", timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
                if time.perf_counter() - t0 > 60:
                    raise RuntimeError("rustac serve did not start")
            print(f"rustac serve on 127.0.0.1 ready in {time.perf_counter() - t0:.2f} s")
            api_qs = queries(args.api_runs, seed=2)
            search(api_qs[0]["aoi"], "bench", provider=url)  # registers the provider (once per process)

            api_hits = []

            def via_eodag(q: dict) -> None:
                api_hits.append(len(search(q["aoi"], "bench", q["start"], q["end"], provider=url)))

            report("EODAG search → STAC API on 127.0.0.1 (rustac)", timed(via_eodag, api_qs), 500)
            print(f"{'':58s} mean {np.mean(api_hits):.1f} items per page (limit 20)")

            def raw(q: dict) -> None:
                w, s, e, n = q["aoi"]
                resp = requests.post(f"{url}/search", json={
                    "collections": ["bench"], "bbox": [w, s, e, n], "limit": 20,
                    "datetime": f"{q['start']}T00:00:00Z/{q['end']}T23:59:59Z"}, timeout=30)
                resp.raise_for_status()
                resp.json()

            report("reference: bare HTTP POST /search, same server", timed(raw, api_qs))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
