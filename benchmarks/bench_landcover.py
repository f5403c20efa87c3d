"""Benchmark: land cover and change on the real Slovenia data and on the sample city.

Prints (1) Slovenia (Sentinel-2, 5 dates × 13 bands, 1 km²): overall accuracy, kappa and per-class F1 of the
land-cover models on spatially separated folds (blocks of ``--block-px`` pixels, ``--buffer-px`` buffer), for
gradient boosting and random forest (and with ``--cnn`` the small CNN), with the time of features, training
and prediction; (2) break detection on the 68-date NDVI series: time, share of pixels with a 2017 break, and
the recall / dating of a simulated clearing; (3) with ``--city``: the sample city's chain (stereo DSMs of both
dates, footprints), then the per-building change F1 against the city's truth, the NDVI-drop pixel F1 and the
learned vs rule-based land cover of date 2.

Usage: python benchmarks/bench_landcover.py [--folds 5] [--block-px 20] [--max-iter 100] [--cnn] [--city]
       [--size-m 600] [--gsd 0.5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

from ai4geo_lab.change.breaks import BreakParams, detect_breaks
from ai4geo_lab.landcover.legend import LULC10
from ai4geo_lab.landcover.model import cross_validate, samples, train
from ai4geo_lab.landcover.series import ImageSeries
from ai4geo_lab.landcover.step import FeatureParams, series_feature_stack

SLOVENIA = Path(__file__).resolve().parents[2] / "shared" / "data" / "landcover" / "slovenia"


def slovenia_landcover(args: argparse.Namespace) -> None:
    root = SLOVENIA / "derived"
    t0 = time.perf_counter()
    series = ImageSeries.from_folder(root, "S2L1C_*.tif")
    stack, names, _ = series_feature_stack(series, FeatureParams())
    t_feat = time.perf_counter() - t0
    with rasterio.open(root / "LULC_mask.tif") as src:
        labels = src.read(1).astype(np.uint8)
    print(f"Slovenia: {labels.shape[0]} × {labels.shape[1]} px, {len(series.images)} dates, {len(names)} features "
          f"({t_feat:.2f} s), {args.folds} folds of {args.block_px}-px blocks ({args.block_px * 10} m), "
          f"buffer {args.buffer_px} px")
    runs = {"hgb": {"max_iter": args.max_iter}, "rf": {"n_estimators": args.trees}}
    if args.cnn:
        runs["cnn"] = {"epochs": args.epochs}
    header = f"{'model':6} {'OA':>6} {'kappa':>6} {'macroF1':>7} " + " ".join(
        f"{LULC10.names[c][:10]:>10}" for c in (1, 2, 3, 4, 8)) + f" {'fold OA':>13} {'cv s':>6}"
    print(header)
    for kind, params in runs.items():
        cv = cross_validate(stack, labels, names, LULC10, k=args.folds, block_px=args.block_px,
                            buffer_px=args.buffer_px, kind=kind, params=params)
        s = cv.summary(LULC10)
        f1 = " ".join(f"{(s['per_class_f1'].get(LULC10.names[c]) or 0):10.3f}" for c in (1, 2, 3, 4, 8))
        print(f"{kind:6} {s['overall_accuracy']:6.3f} {s['kappa']:6.3f} {s['macro_f1']:7.3f} {f1} "
              f"{s['fold_oa_min']:.3f}–{s['fold_oa_max']:.3f} {s['seconds']:6.1f}")
    X, y = samples(stack, labels)
    t1 = time.perf_counter()
    model = train(X, y, names, LULC10, params={"max_iter": args.max_iter})
    t_train = time.perf_counter() - t1
    t2 = time.perf_counter()
    model.predict(stack)
    t_pred = time.perf_counter() - t2
    print(f"hgb on all {len(y)} labelled px: train {t_train:.1f} s, predict {labels.size / t_pred:,.0f} px/s")


def slovenia_breaks() -> None:
    eop = SLOVENIA / "original" / "TestEOPatch"
    ndvi = np.load(eop / "data" / "NDVI.npy")[..., 0]
    clear = (np.load(eop / "mask" / "CLM.npy")[..., 0] == 0) & (np.load(eop / "mask" / "IS_DATA.npy")[..., 0] > 0)
    stamps = [dt.datetime.fromisoformat(t) for t in json.loads((eop / "timestamps.json").read_text())]
    days = np.array([(t - stamps[0]).total_seconds() / 86400 for t in stamps])
    params = BreakParams(history_end=(dt.datetime(2017, 1, 1) - stamps[0]).days)
    t0 = time.perf_counter()
    res = detect_breaks(ndvi, days, clear, params)
    t = time.perf_counter() - t0
    cut = days >= (dt.datetime(2017, 5, 1) - stamps[0]).days
    y = ndvi.copy()
    y[np.ix_(cut, np.arange(40, 70), np.arange(40, 70))] = 0.15 + np.random.default_rng(0).normal(
        0, 0.03, (int(cut.sum()), 30, 30))
    sim = detect_breaks(y, days, clear, params)
    block = np.zeros(ndvi.shape[1:], bool)
    block[40:70, 40:70] = True
    first = np.argmax(clear & cut[:, None, None], axis=0)
    print(f"NDVI breaks: {ndvi.shape[0]} dates × {ndvi[0].size} px in {t:.2f} s "
          f"({ndvi[0].size / t:,.0f} px/s); {clear.sum(axis=0).mean():.1f} clear looks per px; "
          f"{res.breaks.mean():.1%} of the px break in 2017")
    print(f"simulated 300 m clearing from 2017-05-01: recall {sim.breaks[block].mean():.3f}, dated at the first "
          f"clear look after it for {(sim.index[block] == first[block]).mean():.1%}, median magnitude "
          f"{np.nanmedian(sim.magnitude[block]):.2f}")


def sample_city(args: argparse.Namespace) -> None:
    import geopandas as gpd

    from ai4geo_lab.demo import change_config
    from ai4geo_lab.geo.raster import read_window
    from ai4geo_lab.landcover.algo import rule_based_landcover
    from ai4geo_lab.landcover.legend import SAMPLE_CITY
    from ai4geo_lab.landcover.step import LandcoverTrainParams, _series, train_landcover
    from ai4geo_lab.metrics import classification_scores
    from ai4geo_lab.pipeline import RunConfig, run
    from ai4geo_lab.quality.change import building_change_scores, change_mask_scores
    from ai4geo_lab.sample import make_sample_city

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        city = make_sample_city(out / "city", seed=args.seed, size_m=args.size_m, gsd=args.gsd)
        mapping = change_config(city, out, workers=2)
        result = run(RunConfig.model_validate(mapping).resolve(out), progress=False, log=lambda m: None)
        t_chain = time.perf_counter() - t0
        pred = gpd.read_file(result.products["bchange.buildings"])
        s = building_change_scores(pred, gpd.read_file(city.change_vector))
        per = ", ".join(f"{k} {v['f1']:.3f} ({v['n_ref']})" for k, v in s["per_change"].items())
        print(f"sample city seed {args.seed}, {args.size_m:g} m at {args.gsd:g} m ({t_chain:.0f} s with the chain): "
              f"changed buildings F1 {s['f1']:.3f} (P {s['precision']:.3f}, R {s['recall']:.3f}; {per}); "
              f"building_change step {result.wall_time_s['bchange']:.1f} s")
        mask, _ = read_window(result.products["c2d.change"], dtype="uint8")
        truth, _ = read_window(city.change_raster, dtype="uint8")
        px = change_mask_scores(mask, truth, [2, 4])
        print(f"2D NDVI drop (Otsu) vs new buildings + cleared trees: pixel F1 {px['f1']:.3f} "
              f"(P {px['precision']:.3f}, R {px['recall']:.3f})")
        params = LandcoverTrainParams(legend="sample_city", model_params={"max_iter": args.max_iter},
                                      max_per_class=5000, features=FeatureParams(
                                          band_names=["red", "green", "blue", "nir"], reflectance_scale=10000,
                                          cloud_test=False))
        model, _ = train_landcover(city.image("date1", "ortho"), city.truth("date1", "landcover"), params,
                                   ndsm=result.products["terrain_1.ndsm"])
        feats = FeatureParams.model_validate(model.meta["features"])
        ndsm2, _ = read_window(result.products["terrain_2.ndsm"])
        stack, _, _ = series_feature_stack(_series(city.image("date2", "ortho"), feats), feats, ndsm=ndsm2,
                                           spec=model.feature_spec)
        ref, _ = read_window(city.truth("date2", "landcover"), dtype="uint8")
        img, _ = read_window(city.image("date2", "ortho"), band=None)
        for name, p in (("learned (trained on date 1)", model.predict(stack)),
                        ("rules", rule_based_landcover(img / 10000, ndsm2))):
            sc = classification_scores(p, ref, SAMPLE_CITY.codes)
            print(f"land cover of date 2, {name}: OA {sc['overall_accuracy']:.4f}, kappa {sc['kappa']:.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--block-px", type=int, default=20)
    ap.add_argument("--buffer-px", type=int, default=2)
    ap.add_argument("--max-iter", type=int, default=100)
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--cnn", action="store_true", help="also cross-validate the small CNN (torch, CPU)")
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--city", action="store_true", help="also run the sample city's chain (stereo: minutes)")
    ap.add_argument("--skip-slovenia", action="store_true", help="only the sample city")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size-m", type=float, default=600.0)
    ap.add_argument("--gsd", type=float, default=0.5)
    args = ap.parse_args()
    if args.skip_slovenia:
        pass
    elif (SLOVENIA / "derived").is_dir():
        slovenia_landcover(args)
        slovenia_breaks()
    else:
        print(f"no Slovenia data at {SLOVENIA}: skipped")
    if args.city:
        sample_city(args)


if __name__ == "__main__":
    main()
