"""Benchmark: the shipped building U-Net — inference speed, peak memory, training time, and its scores.

Prints (1) inference throughput in MPx/s per core of the pure tile function on a 1000 × 1000 window with one
thread, for the torch (channels-last), ONNX Runtime float32 and int8 backends, with their differences;
(2) the tiled ``predict`` of a 2000 × 2000 raster (Kampala imagery mirrored to ``--side``; tiles of 1000 px,
64 px halo) on a LocalCluster of ``--workers`` single-threaded workers: wall time, MPx/s, MPx/s per core, the
peak RSS of a worker and the sizes of the products;
(3) training seconds per epoch from the shipped model's own history (and, with ``--train-epochs N``, measured
here on Kampala); (4) the segmentation table (accuracy, mIoU, F1, precision, recall, IoU) of the shipped model on
Kampala val per zoom, on the sample city of seed 0 and on Atlanta (as in the model card; float32 and int8),
the IoU on Kampala val (touching tiles joined) with 1, 2, 4 and 8 test-time views and their time, plus
object-level P/R/F1 (IoU ≥ 0.5) on Kampala val.

With ``--loro``, it prints the leave-one-region-out table instead: for each region (Kampala, Banepa, the sample
city), a model trained by the generalising recipe (weighted datasets, views resampled over ``--gsd-range``,
wide appearance changes, blur and noise) on the OTHER regions only, scored on the held-out region (Kampala val
with touching tiles joined, every Banepa chip, the sample city of seed 0) and on Atlanta's 0.5 m panchromatic
chip (never trained on); with the training time of each model on this machine. ``--loro-inputs pan`` trains
one-band models by the satellite model's recipe (views turned grey, roofs recoloured, synthetic trees,
ground texture, inversion). ``--loro-recipe shipped`` trains by the shipped model's own recipe instead (its
spec, 66 epochs × 192 views, every (source, zoom) group sampled equally, no resolution or appearance
augmentation), so the two recipes are compared region by region. Budgets: ``--loro-epochs``,
``--loro-samples`` (views per epoch; both default to the recipe's), ``--loro-minutes`` (a cap per model).

Usage: python benchmarks/bench_segmentation.py [--data ../shared/data/buildings] [--workers 2] [--side 2000]
       [--train-epochs 0]
       python benchmarks/bench_segmentation.py --loro [--loro-recipe wide|shipped] [--loro-epochs 28]
       [--loro-samples 480] [--loro-minutes 42] [--loro-inputs rgb|pan] [--gsd-range 0.1,0.6] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from ai4geo_lab.segmentation import load_unet, predict
from ai4geo_lab.segmentation.chips import scaled, source_limits
from ai4geo_lab.segmentation.datasets import kampala_chips
from ai4geo_lab.segmentation.default_model import model_scores
from ai4geo_lab.segmentation.infer import predict_proba, set_torch_threads
from ai4geo_lab.segmentation.unet import UnetModel

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "buildings"
COLUMNS = ("accuracy", "miou", "f1", "precision", "recall", "iou")


def tile_speed(side: int = 1000, runs: int = 3) -> None:
    model = load_unet()
    set_torch_threads(1)
    x = np.random.default_rng(0).random((3, side, side), dtype=np.float32)
    out = {}
    backends = ("torch", "onnx") + (("int8",) if model.int8_file is not None else ())
    for backend in backends:
        predict_proba(model, x[:, :256, :256], backend=backend)  # warm-up (and the ONNX export)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            out[backend] = predict_proba(model, x, backend=backend)
            times.append(time.perf_counter() - t0)
        best = min(times)
        print(f"tile function, 1 thread, {side}×{side} px, {backend:5}: {side * side / best / 1e6:.2f} MPx/s per core "
              f"({best:.2f} s, best of {runs})")
    print(f"  largest probability difference torch vs onnx: {np.abs(out['torch'] - out['onnx']).max():.2e}")
    if "int8" in out:
        agree = ((out["int8"] >= 0.5) == (out["onnx"] >= 0.5)).mean()
        print(f"  int8 vs float32: mean probability difference {np.abs(out['int8'] - out['onnx']).mean():.2e}, "
              f"masks agree on {100 * agree:.2f} % of pixels")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scene(side: int, data: Path) -> np.ndarray:
    """A ``side`` × ``side`` RGB scene: Kampala's largest val block mirrored to that size (real roofs, roads and
    trees, so the probability and the mask compress as on real images), or noise without the data."""
    val = data / "kampala" / "val"
    if not val.is_dir():
        print("  (no Kampala data: the scene is noise)")
        return np.random.default_rng(1).integers(0, 255, (3, side, side), dtype=np.uint8)
    block = max(kampala_chips(data / "kampala", "val", mosaic=True), key=lambda c: c.image.shape[1] * c.image.shape[2])
    img = np.nan_to_num(block.image).astype(np.uint8)
    rows, cols = (-(-side // n) * n - n for n in img.shape[1:])  # padding to whole mirrored copies
    return np.pad(img, ((0, 0), (0, rows), (0, cols)), mode="symmetric")[:, :side, :side]


def tiled_predict(workers: int, side: int = 2000, data: Path = DATA) -> None:
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scene.tif"
        # georeferenced at the model's 0.15 m, so the network runs on every pixel (no resampling)
        with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=3, dtype="uint8",
                           crs="EPSG:32636", transform=from_origin(450000, 40000, 0.15, 0.15), tiled=True) as dst:
            dst.write(scene(side, data))
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
                Client(cl) as client:
            client.run(load_unet)  # each worker loads the model once, as in a long-running cluster
            t0 = time.perf_counter()
            out = predict(path, out=Path(tmp) / "out", tile=1000, overlap=64, client=client, progress=False)
            wall = time.perf_counter() - t0
            rss = client.run(_peak_rss_mb)
        mpx = side * side / 1e6
        sizes = ", ".join(f"{k} {v.stat().st_size / 1e6:.1f} MB" for k, v in out.items())
        print(f"tiled predict, {side}×{side} px in tiles of 1000 px (+64 px halo), {workers} workers × 1 thread: "
              f"{wall:.1f} s, {mpx / wall:.2f} MPx/s, {mpx / wall / workers:.2f} MPx/s per core; "
              f"peak worker RSS {max(rss.values()):.0f} MB; {sizes}")


def training_time(data: Path, epochs: int) -> None:
    model = load_unet()
    hist = model.meta.get("history", [])
    if hist:
        secs = [r["seconds"] for r in hist]
        print(f"shipped model: {len(hist)} epochs, median {np.median(secs):.1f} s per epoch "
              f"({model.meta['train']['samples_per_epoch']} crops of {model.meta['train']['crop']} px), "
              f"{model.meta.get('seconds', sum(secs)) / 60:.1f} min in all")
    if epochs:
        from ai4geo_lab.segmentation import TrainParams, train

        chips = kampala_chips(data / "kampala", "train")
        res = train(chips, [], params=TrainParams(epochs=epochs), progress=False)
        print(f"measured here: {np.mean([r['seconds'] for r in res.history]):.1f} s per epoch on Kampala")


def scores(data: Path) -> None:
    model = load_unet()
    for backend in ("torch",) + (("int8",) if model.int8_file is not None else ()):
        with tempfile.TemporaryDirectory() as tmp:
            rows = model_scores(model, data, Path(tmp), backend=backend)
        print(f"{'dataset (' + backend + ')':24}" + "".join(f"{c:>10}" for c in COLUMNS))
        for name, s in rows.items():
            print(f"{name:24}" + "".join(f"{s[c]:10.3f}" for c in COLUMNS))
    print(f"{'seed table (Toulouse)':24}" + "".join(f"{v:10.3f}" for v in (0.933, 0.818, 0.835, 0.895, 0.782, 0.717)))
    view_scores(model, data)
    val = kampala_chips(data / "kampala", "val")
    print("object level, kampala val (one-to-one at IoU ≥ 0.5):", json.dumps(objects(model, val, data)))


def view_scores(model: UnetModel, data: Path) -> None:
    from ai4geo_lab.segmentation.training import evaluate

    val = kampala_chips(data / "kampala", "val", mosaic=True)
    limits = model.limits
    for views in (1, 2, 4, 8):
        t0 = time.perf_counter()
        r = evaluate(model, val, limits, views=views)
        print(f"kampala val joined, {views} view(s): IoU {r['all']['iou']:.3f} ("
              + ", ".join(f"{g} {r[g]['iou']:.3f}" for g in sorted(r) if g != "all")
              + f"), {time.perf_counter() - t0:.1f} s")


def objects(model: object, val: list, data: Path) -> dict:
    import geopandas as gpd
    import pandas as pd

    from ai4geo_lab.metrics import object_scores
    from ai4geo_lab.vectorize.algo import mask_to_polygons

    limits = source_limits(val)
    out = {}
    for group in sorted({c.group for c in val}):
        preds, refs = [], []
        for c in (c for c in val if c.group == group):
            stem = c.name.split("@")[0]
            with rasterio.open(data / "kampala" / "val" / "chips" / f"{stem}.tif") as src:
                transform, crs = src.transform, src.crs
            mask = (predict_proba(model, scaled(c, limits), gsd_m=c.gsd_m) >= 0.5).astype(np.uint8)
            preds.append(mask_to_polygons(mask, transform, min_area_m2=0, crs=crs).to_crs(3857))
            refs.append(gpd.read_file(data / "kampala" / "val" / "labels" / f"{stem}.geojson").to_crs(3857))
        s = object_scores(gpd.GeoDataFrame(pd.concat(preds, ignore_index=True), crs=3857),
                          gpd.GeoDataFrame(pd.concat(refs, ignore_index=True), crs=3857))
        out[group] = {k: round(s[k], 3) if isinstance(s[k], float) else s[k]
                      for k in ("precision", "recall", "f1", "n_pred", "n_ref")}
    return out


#: Leave-one-region-out: region → (its training dataset, its held-out test dataset), built-in names.
LORO_REGIONS = {"kampala": ("kampala-train", "kampala-val-joined"), "banepa": ("banepa", "banepa"),
                "city": ("sample-city-train", "sample-city")}
#: Sampling weights of the training datasets (the sample cities are synthetic: half a share).
LORO_WEIGHTS = {"kampala": 1.0, "banepa": 1.0, "city": 0.5}


def loro(data: Path, epochs: int | None, samples: int | None, minutes: float | None, inputs: str,
         gsd_range: tuple[float, float], regions: list[str] | None = None, recipe: str = "wide") -> None:
    """The leave-one-region-out table (see the module)."""
    from ai4geo_lab.segmentation import TrainParams, UnetSpec, train
    from ai4geo_lab.segmentation.chips import WIDE_AUGMENT
    from ai4geo_lab.segmentation.datasets import load_dataset, weighted_datasets
    from ai4geo_lab.segmentation.default_model import default_recipe
    from ai4geo_lab.segmentation.evaluation import evaluate_datasets
    from ai4geo_lab.segmentation.satellite_model import satellite_recipe

    if recipe == "shipped":
        spec, params = default_recipe()
        params = params.model_copy(update={"epochs": epochs or params.epochs, "max_minutes": minutes,
                                           "samples_per_epoch": samples or params.samples_per_epoch})
    else:
        spec = UnetSpec(inputs=("pan",) if inputs == "pan" else ("red", "green", "blue"), gsd_m=gsd_range[0])
        # one-band models: the satellite model's augmentations (grey with near infrared, roofs, trees, texture,
        # inversion); RGB models: the wide appearance changes
        aug = satellite_recipe()[1].augment if inputs == "pan" else WIDE_AUGMENT
        assert aug is not None
        params = TrainParams(epochs=epochs or 28, samples_per_epoch=samples or 480, batch_size=8, crop=192,
                             weight_decay=0.05, ema_decay=0.99, boundary_weight=4.0, bn_batches=8,
                             max_minutes=minutes, augment=aug.model_copy(update={"gsd_range": gsd_range}))
    epochs, samples = params.epochs, params.samples_per_epoch
    head = (f"{'held out':10} {'trained on':34} {'epochs':>6} {'minutes':>7} | {'test':18} {'IoU':>6} {'prec':>6} "
            f"{'recall':>6} {'obj F1':>6} | {'Atlanta IoU':>11}")
    rows = [head, "-" * len(head)]
    how = ("the shipped recipe" if recipe == "shipped" else
           f"the {recipe} recipe, {inputs} models, views at {gsd_range[0]}–{gsd_range[1]} m")
    print(f"leave-one-region-out, {how}, {epochs} epochs × {samples} views of {params.crop} px (cap {minutes} min "
          f"per model), {torch_threads()} thread(s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for held in regions or list(LORO_REGIONS):
            entries = [(LORO_REGIONS[r][0], LORO_WEIGHTS[r]) for r in LORO_REGIONS if r != held]
            chips, shares = weighted_datasets(entries, data, Path(tmp) / "cities")
            # the shipped recipe samples every (source, zoom) group equally; the others by dataset weights
            own = params if recipe == "shipped" else params.model_copy(update={"source_shares": shares})
            res = train(chips, [], spec, own, progress=False)
            test = LORO_REGIONS[held][1]
            sets = {test: load_dataset(test, data, work=Path(tmp) / "cities"),
                    "atlanta": load_dataset("atlanta", data)}
            scores = {r["dataset"]: r for r in evaluate_datasets(res.model, sets, backend="torch")}
            p, o, a = scores[test]["pixels"], scores[test]["objects"], scores["atlanta"]["pixels"]
            rows.append(f"{held:10} {'+'.join(e[0] for e in entries):34} {len(res.history):>6} "
                        f"{res.seconds / 60:>7.1f} | {test:18} {p['iou']:>6.3f} {p['precision']:>6.3f} "
                        f"{p['recall']:>6.3f} {o['f1']:>6.3f} | {a['iou']:>11.3f}")
            print(rows[-1], flush=True)
    print("\n".join(rows))


def torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--train-epochs", type=int, default=0)
    ap.add_argument("--side", type=int, default=2000, help="side (px) of the raster of the tiled prediction")
    ap.add_argument("--loro", action="store_true", help="print the leave-one-region-out table only")
    ap.add_argument("--loro-recipe", choices=("wide", "shipped"), default="wide",
                    help="the generalising recipe, or the shipped model's own")
    ap.add_argument("--loro-epochs", type=int, default=None, help="epochs per LORO model (default: the recipe's)")
    ap.add_argument("--loro-samples", type=int, default=None, help="training views per epoch (default: the "
                    "recipe's)")
    ap.add_argument("--loro-minutes", type=float, default=None, help="cap on each LORO model's training")
    ap.add_argument("--loro-inputs", choices=("rgb", "pan"), default="rgb")
    ap.add_argument("--loro-regions", default=None, help="held-out regions, comma-separated (default: all)")
    ap.add_argument("--gsd-range", default="0.1,0.6", help="ground pixel sizes of the training views (m)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for LORO training")
    args = ap.parse_args()
    if args.loro:
        set_torch_threads(args.threads)
        lo, hi = (float(v) for v in args.gsd_range.split(","))
        loro(args.data, args.loro_epochs, args.loro_samples, args.loro_minutes, args.loro_inputs, (lo, hi),
             args.loro_regions.split(",") if args.loro_regions else None, args.loro_recipe)
        return
    tile_speed()
    tiled_predict(args.workers, args.side, args.data)
    training_time(args.data, args.train_epochs)
    scores(args.data)


if __name__ == "__main__":
    main()
