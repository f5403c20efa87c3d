"""The native DSM engine against CARS, side by side in one run, on the same Pléiades pairs, ROI and grid.

    python benchmarks/bench_dsm.py [--sites kahramanmaras-pre,kahramanmaras-post,gizeh] [--roi-m 400]
                                   [--workers 2] [--native-cluster synchronous|local:N] [--resolution 0.5]
                                   [--keep DIR] [--no-whole]

Each engine runs as a user runs it, ``ai4geo dsm IMG1 IMG2 --engine native|cars --roi … --resolution …`` in a
child process (fixed costs included: start-up, tie points, a local Dask cluster or CARS's processes): CARS on
``--workers`` processes, the native engine where ``--native-cluster`` says (default: in process, one core). Timed
by wall clock; peak memory is the largest sum of RSS over the process tree (sampled every 0.2 s). Printed per
site: time, km² of DSM per core-hour, peak memory, the share of the grid with a height, and the native DSM minus
the CARS DSM on the cells both have: median, NMAD and the share off by more than 5 m (after removing the median);
and for each engine how well its DSM lays the two images on each other: the correlation of its ortho image (the left
image on its DSM) with the right image projected on its DSM (``geo/ortho.py``), beside the same on a flat surface at
the DSM's median height, and the shift (px) between the two orthos by phase correlation.
Then the native engine over the whole overlap of the Kahramanmaraş pre-event pair.
Data: Pléiades © CNES (Kahramanmaraş: Etalab Open Licence 2.0; see ../shared/data/pleiades).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import rasterio
from rasterio.warp import Resampling, reproject

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "pleiades"
SITES = {"kahramanmaras-pre": ("kahramanmaras", "pre_event_img1.tif", "pre_event_img2.tif"),
         "kahramanmaras-post": ("kahramanmaras", "post_event_img1.tif", "post_event_img2.tif"),
         "gizeh": ("gizeh", "img1.tif", "img2.tif")}
#: The issue's targets: native − CARS NMAD (m) per site, share off by > 5 m, completeness loss (points), speed-up.
NMAD_TARGET = {"kahramanmaras-pre": 0.5, "kahramanmaras-post": 0.5, "gizeh": 1.0}
BLUNDER_TARGET, COMPLETENESS_SLACK, SPEEDUP_TARGET = 0.02, 0.02, 10.0


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def measured(cmd: list[str], log: Path) -> tuple[float, float, int]:
    """Run ``cmd`` (its output in ``log``, its JSON answer in ``log`` with suffix .json); (wall seconds, peak tree
    RSS in MB, exit code)."""
    peak = 0
    t0 = time.perf_counter()
    with open(log, "w") as fh, open(log.with_suffix(".json"), "w") as answer:
        child = subprocess.Popen(cmd, stdout=answer, stderr=fh)
        proc = psutil.Process(child.pid)
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss(proc))
                stop.wait(0.2)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        code = child.wait()
        stop.set()
        thread.join()
    return time.perf_counter() - t0, peak / 1e6, code


def read_dsm(path: Path, like: Path | None = None) -> tuple[np.ndarray, float]:
    """A DSM as float32 with NaN nodata (on the grid of ``like`` if given), and its pixel size."""
    with rasterio.open(path) as src:
        data = src.read(1).astype(np.float32)
        if src.nodata is not None and not np.isnan(src.nodata):
            data[data == src.nodata] = np.nan
        if like is None:
            return data, abs(src.transform.a)
        with rasterio.open(like) as ref:
            out = np.full((ref.height, ref.width), np.nan, np.float32)
            reproject(data, out, src_transform=src.transform, src_crs=src.crs, dst_transform=ref.transform,
                      dst_crs=ref.crs, src_nodata=np.nan, dst_nodata=np.nan, resampling=Resampling.bilinear)
            return out, abs(ref.transform.a)


def native_cores(cluster: str, workers: int) -> int:
    """Cores the native engine uses with ``--cluster``: one in process, N on ``local:N``."""
    if cluster == "synchronous":
        return 1
    return int(cluster.split(":", 1)[1]) if cluster.startswith("local:") else workers


def ai4geo(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("ai4geo")), *args]


def run_site(site: str, args: argparse.Namespace, work: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from ai4geo_lab.geo.sensor import centre_box

    folder, a, b = SITES[site]
    images = [str(DATA / folder / a), str(DATA / folder / b)]
    roi = ",".join(f"{v:.7f}" for v in centre_box(images, args.roi_m, args.roi_m))
    common = ["--roi", roi, "--resolution", str(args.resolution)]
    out: dict = {"site": site}
    for engine in ("native", "cars"):
        dest = work / site / engine
        shutil.rmtree(dest, ignore_errors=True)
        extra = (["--cluster", args.native_cluster, "--tile-size", str(args.tile_size)] if engine == "native"
                 else ["--workers", str(args.workers)])
        seconds, peak, code = measured(ai4geo("dsm", *images, "--out", str(dest), "--engine", engine, *common,
                                              *extra), work / site / f"{engine}.log")
        if code != 0:
            sys.exit(f"{site}: the {engine} engine failed (exit {code}); see {work / site / f'{engine}.log'}")
        summary = json.loads((work / site / f"{engine}.json").read_text())
        out[engine] = {"seconds": seconds, "peak_mb": peak, "dsm": Path(summary["dsm"])}
    native, res = read_dsm(out["native"]["dsm"])
    cars, _ = read_dsm(out["cars"]["dsm"], like=out["native"]["dsm"])
    with rasterio.open(out["native"]["dsm"].with_name("dsm_filled.tif")) as src:
        filled = src.read(1)
    both = np.isfinite(native) & np.isfinite(cars)
    diff = (native - cars)[both]
    med = float(np.median(diff))
    out.update(median=med, nmad=1.4826 * float(np.median(np.abs(diff - med))),
               blunders=float(np.mean(np.abs(diff - med) > 5.0)),
               blunders_matched=float(np.mean(np.abs((native - cars)[both & (filled <= 1)] - med) > 5.0)))
    for engine, dsm in (("native", native), ("cars", cars)):
        valid = np.isfinite(dsm)
        km2 = float(valid.sum()) * res * res / 1e6
        cores = args.workers if engine == "cars" else native_cores(args.native_cluster, args.workers)
        out[engine].update(valid=float(valid.mean()), km2=km2, cores=cores,
                           km2_per_core_hour=km2 / (out[engine]["seconds"] / 3600 * cores))
    out["native"]["matched"] = float((filled <= 1).mean())
    for engine in ("native", "cars"):
        out[engine]["ortho"] = engine_ortho_agreement(out[engine]["dsm"], out[engine]["dsm"].with_name("ortho.tif"),
                                               Path(images[1]))
    return out


def engine_ortho_agreement(dsm_path: Path, ortho_path: Path, right: Path) -> dict:
    """Correlation of an ortho image (the left image on the DSM) with the right image projected on the same DSM,
    and on a flat surface at its median height; the shift (px) between the two orthos."""
    from ai4geo_lab.geo.ortho import ortho_agreement
    from ai4geo_lab.geo.sensor import read_sensor

    with rasterio.open(dsm_path) as src:
        dsm, transform, crs = src.read(1), src.transform, src.crs.to_string()
    with rasterio.open(ortho_path) as src:
        left = src.read(1).astype(np.float32)
    return ortho_agreement(left, read_sensor(right), transform, crs, dsm)


def whole_overlap(args: argparse.Namespace, work: Path) -> tuple[float, float, dict]:
    folder, a, b = SITES["kahramanmaras-pre"]
    dest = work / "whole"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    seconds, peak, code = measured(ai4geo("dsm", str(DATA / folder / a), str(DATA / folder / b), "--out",
                                          str(dest / "native"), "--engine", "native", "--resolution",
                                          str(args.resolution), "--cluster", args.native_cluster,
                                          "--tile-size", str(args.tile_size)), dest / "native.log")
    if code != 0:
        sys.exit(f"the whole overlap failed (exit {code}); see {dest / 'native.log'}")
    summary = json.loads((dest / "native.json").read_text())
    return seconds, peak, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", default=",".join(SITES), help="comma-separated: " + ", ".join(SITES))
    parser.add_argument("--roi-m", type=float, default=400.0, help="side of the square ROI (m)")
    parser.add_argument("--resolution", type=float, default=0.5, help="DSM pixel size (m)")
    parser.add_argument("--workers", type=int, default=2, help="cores for each engine")
    parser.add_argument("--tile-size", type=int, default=512, help="native engine tile side (px)")
    parser.add_argument("--native-cluster", default="synchronous",
                        help="where the native engine's tiles run: synchronous (one core, no start-up; the default "
                             "for ROIs of a few hundred metres) or local:N")
    parser.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole Kahramanmaraş overlap")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"the Pléiades pairs are not at {DATA} (../shared/data beside the project)")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-dsm-"))
    sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    rows = []
    for site in sites:
        (work / site).mkdir(parents=True, exist_ok=True)
        rows.append(run_site(site, args, work))
        r = rows[-1]
        print(f"{site}: native {r['native']['seconds']:.1f} s, CARS {r['cars']['seconds']:.1f} s", flush=True)
    print(f"\nROI {args.roi_m:g} m × {args.roi_m:g} m at the centre of each pair's overlap, {args.resolution:g} m "
          f"grid; native: --cluster {args.native_cluster} ({native_cores(args.native_cluster, args.workers)} core(s)), "
          f"tiles of {args.tile_size} px; CARS 1.3: {args.workers} processes")
    head = (f"{'site':19} {'engine':7} {'time s':>7} {'×faster':>7} {'km²/core-h':>10} {'peak MB':>8} "
            f"{'valid %':>7} {'matched %':>9} | {'native−CARS: median':>19} {'NMAD m':>7} {'>5 m %':>7} {'targets':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        n, c = r["native"], r["cars"]
        speedup = c["seconds"] / n["seconds"]
        ok = (r["nmad"] <= NMAD_TARGET[r["site"]] and r["blunders"] <= BLUNDER_TARGET
              and n["valid"] >= c["valid"] - COMPLETENESS_SLACK and speedup >= SPEEDUP_TARGET)
        print(f"{r['site']:19} {'native':7} {n['seconds']:7.1f} {speedup:7.1f} {n['km2_per_core_hour']:10.2f} "
              f"{n['peak_mb']:8.0f} {100 * n['valid']:7.1f} {100 * n['matched']:9.1f} | {r['median']:+19.2f} "
              f"{r['nmad']:7.3f} {100 * r['blunders']:7.2f} {'met' if ok else 'NOT met':>8}")
        print(f"{'':19} {'cars':7} {c['seconds']:7.1f} {1.0:7.1f} {c['km2_per_core_hour']:10.2f} "
              f"{c['peak_mb']:8.0f} {100 * c['valid']:7.1f} {'':>9} | (>5 m among matched cells only: "
              f"{100 * r['blunders_matched']:.2f} %)")
    print(f"targets: NMAD ≤ {NMAD_TARGET} m, > 5 m ≤ {100 * BLUNDER_TARGET:g} %, valid ≥ CARS − "
          f"{100 * COMPLETENESS_SLACK:g} points, ≥ {SPEEDUP_TARGET:g}× faster")
    print("\northo images: the left image on each engine's DSM against the right image projected on the same DSM")
    print(f"{'site':19} {'engine':7} {'correlation':>11} {'on a flat surface':>17} {'shift px':>8}")
    for r in rows:
        for engine in ("native", "cars"):
            o = r[engine]["ortho"]
            print(f"{r['site']:19} {engine:7} {o['ncc']:11.3f} {o['ncc_flat']:17.3f} {o['shift_px']:8.2f}")
    if not args.no_whole:
        seconds, peak, summary = whole_overlap(args, work)
        print(f"\nwhole Kahramanmaraş pre-event overlap, native engine: {seconds:.1f} s (target < 60 s), "
              f"{summary['area_km2']:.3f} km² with a height ({100 * summary['valid_fraction']:.1f} % of the grid), "
              f"peak {peak:.0f} MB")
    print(f"outputs in {work}")


if __name__ == "__main__":
    main()
