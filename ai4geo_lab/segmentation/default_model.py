"""The reproducible recipe of the shipped model: ``ai4geo segment train-default --data DATA/buildings``.

Trains the RGB U-Net on Kampala's train tiles (three zooms, touching map tiles joined) and chips of sample cities
(seeds that the demo does not use), chooses its working resolution on Kampala val, scores it on Kampala val per
zoom (tile by tile and joined), on Banepa (a town it never saw), on the sample city of the demo's seed and on
Atlanta (its panchromatic band given to the three inputs), and writes the model with its scores in its metadata.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ai4geo_lab.segmentation.chips import Chip, source_limits, xyz_mosaics
from ai4geo_lab.segmentation.datasets import atlanta_chips, kampala_chips, load_dataset, sample_city_chips
from ai4geo_lab.segmentation.training import TrainParams, TrainResult, evaluate, train
from ai4geo_lab.segmentation.unet import DEFAULT_MODEL, UnetModel, UnetSpec

#: Sample-city seeds the shipped model learns from (the demo uses seed 0, kept for scoring).
CITY_SEEDS = (11, 12, 13)


def default_recipe() -> tuple[UnetSpec, TrainParams]:
    """The spec and training parameters of the shipped model."""
    return UnetSpec(gsd_m=0.15), TrainParams(epochs=66, samples_per_epoch=192, batch_size=8, seed=0,
                                             at_model_gsd=True, weight_decay=0.05, ema_decay=0.995,
                                             boundary_weight=4.0, bn_batches=12, val_views=8)


def _scores_table(scores: dict[str, Any]) -> dict[str, dict[str, float]]:
    keys = ("accuracy", "miou", "f1", "precision", "recall", "iou")
    return {g: {k: round(float(s[k]), 4) for k in keys} for g, s in scores.items()}


def default_training_chips(data: Path, work: Path) -> list[Chip]:
    """The shipped model's training chips: Kampala train (touching tiles joined) and the sample cities of
    :data:`CITY_SEEDS`."""
    return kampala_chips(data / "kampala", "train", mosaic=True) + sample_city_chips(work, CITY_SEEDS)


def build_default_model(data: str | Path, out: str | Path = DEFAULT_MODEL, work: str | Path | None = None,
                        params: TrainParams | None = None, progress: bool = True) -> TrainResult:
    """Train the default model from the buildings data folder ``data`` (kampala/, atlanta/) and save it."""
    data = Path(data)
    spec, default_params = default_recipe()
    params = params or default_params
    work = Path(work) if work is not None else Path(tempfile.mkdtemp(prefix="ai4geo-cities-"))
    train_chips = default_training_chips(data, work)
    val_chips = kampala_chips(data / "kampala", "val", mosaic=True)
    result = train(train_chips, val_chips, spec, params, out_dir=work / "checkpoints", progress=progress)
    finish_default_model(result.model, data, out, work, result.seconds)
    return result


def model_scores(model: UnetModel, data: Path, work: Path, backend: str = "torch") -> dict[str, dict[str, Any]]:
    """Pixel scores of a model on Kampala val (all and per zoom, with the model's own band limits; tile by tile,
    then with touching tiles joined as in a continuous raster), on Banepa, on the sample city of seed 0 and on Atlanta's
    panchromatic band fed to every input (each with its own limits)."""
    limits = model.limits
    city_val = sample_city_chips(work, (0,))
    atl = [c.with_bands([0] * len(model.spec.inputs)) for c in atlanta_chips(data / "atlanta")]
    scores: dict[str, dict[str, Any]] = {}
    tiles = kampala_chips(data / "kampala", "val")
    for name, val_chips in (("kampala_val", tiles), ("kampala_val_joined", xyz_mosaics(tiles))):
        scores |= {f"{name}_{g}" if g != "all" else name: s
                   for g, s in evaluate(model, val_chips, limits, backend=backend).items()}
    banepa = load_dataset("banepa", data)
    scores["banepa"] = evaluate(model, banepa, {**limits, **source_limits(banepa)}, backend=backend)["all"]
    scores["sample_city_seed0"] = evaluate(model, city_val, {**limits, **source_limits(city_val)},
                                           backend=backend)["all"]
    scores["atlanta_pan_as_rgb"] = evaluate(model, atl, source_limits(atl), backend=backend)["all"]
    return scores


#: Working resolutions tried at prediction, as multiples of the resolution the model learnt at.
WORKING_GSD_STEPS = (1.0, 7 / 6, 4 / 3, 5 / 3)


def choose_working_gsd(model: UnetModel, data: Path, backend: str = "torch") -> dict[str, float]:
    """Set the model's ``predict_gsd_m`` to the working resolution (among :data:`WORKING_GSD_STEPS` × its
    ``gsd_m``) that scores best on Kampala val with touching tiles joined — validation data, never a test set;
    the finer one on a tie. Returns the IoU of each resolution tried."""
    if not model.spec.gsd_m:
        return {}
    val = xyz_mosaics(kampala_chips(data / "kampala", "val"))
    tried: dict[str, float] = {}
    for step in WORKING_GSD_STEPS:
        gsd = round(model.spec.gsd_m * step, 3)
        model.spec = model.spec.model_copy(update={"predict_gsd_m": gsd})
        tried[f"{gsd:g}"] = round(float(evaluate(model, val, model.limits, backend=backend)["all"]["iou"]), 4)
    best = max(tried, key=lambda g: (tried[g], -float(g)))
    model.spec = model.spec.model_copy(update={"predict_gsd_m": float(best)})
    return tried


def finish_default_model(model: UnetModel, data: Path, out: str | Path, work: Path, seconds: float) -> None:
    """Choose its working resolution (:func:`choose_working_gsd`), score a trained model
    (:func:`model_scores`), then write it, its metadata and its card."""
    model.meta["working_gsd_iou"] = choose_working_gsd(model, data)
    model.meta["spec"] = model.spec.model_dump(mode="json")
    model.meta["scores"] = _scores_table(model_scores(model, data, work))
    model.meta["recipe"] = "ai4geo segment train-default"
    model.meta["seconds"] = round(seconds, 1)
    model.source = Path(out)
    quantize_default_model(model, data, work)


def quantize_default_model(model: UnetModel, data: Path, work: Path) -> Path:
    """Write the int8 companion of a model calibrated on the default training chips, score it like the model
    (:func:`model_scores` with the int8 backend), and rewrite the model, its metadata and its card."""
    from ai4geo_lab.errors import ConfigError
    from ai4geo_lab.segmentation.quantization import calibration_windows, quantize

    if tuple(model.spec.inputs) != ("red", "green", "blue"):
        raise ConfigError(f"the default training chips are RGB and the model takes {', '.join(model.spec.inputs)}",
                          "quantize it with segmentation.quantization.quantize on windows of your own data")
    chips = default_training_chips(Path(data), Path(work))
    limits = {**model.limits, **source_limits(chips)}
    out = model.source if model.source is not None else DEFAULT_MODEL
    int8 = quantize(model, calibration_windows(chips, limits), Path(out).with_suffix(".int8.onnx"))
    model.source = Path(out)
    model.meta["int8_scores"] = _scores_table(model_scores(model, Path(data), Path(work), backend="int8"))
    model.save(out)
    Path(out).with_suffix(".json").write_text(json.dumps(model.meta, indent=1))
    Path(out).with_name("MODEL_CARD.md").write_text(model_card(model.meta, Path(out)))
    return int8


def model_card(meta: dict[str, Any], path: Path) -> str:
    """The model card (Markdown) of a model from its metadata: data and licences, scores, how to retrain."""
    spec, tp = meta["spec"], meta["train"]
    hist = meta.get("history", [])
    rows = "\n".join(f"| {name} | " + " | ".join(f"{s[k]:.3f}" for k in
                                                 ("accuracy", "miou", "f1", "precision", "recall", "iou")) + " |"
                     for name, s in meta["scores"].items())
    tail = meta.get("summary", {})
    precision = " (bfloat16 mixed precision)" if meta.get("precision") == "bf16" else ""
    int8 = meta.get("int8_scores")
    int8_text = ("" if not int8 else "With the int8 companion (`" + path.with_suffix(".int8.onnx").name
                 + "`, what `backend=\"auto\"` runs on CPUs), IoU: " + ", ".join(
                     f"{name} {s['iou']:.3f}" for name, s in int8.items()) + ".")
    learnt = "in training" if tp.get("at_model_gsd") else "in training only at prediction"
    tried = meta.get("working_gsd_iou") or {}
    working = ("" if not spec.get("predict_gsd_m") else
               f"\nAt prediction, inputs finer than {spec['predict_gsd_m']} m/px are resampled to it: the working "
               "resolution that scored best on Kampala val (joined tiles) among " + ", ".join(
                   f"{g} m (IoU {v:.3f})" for g, v in tried.items()) + ".")
    return f"""# Model card: `{path.name}` — building segmentation, RGB

**What it does.** Building / not-building per pixel from an RGB image (probability 0–1), for
`ai4geo segment predict`, the chain's `segment` step (used by `ai4geo demo`) and `SegmentPanel`.

**Architecture.** U-Net (segmentation-models-pytorch), encoder `{spec["encoder"]}` trained from scratch (no
pretrained weights), decoder channels {tuple(spec["decoder_channels"])}; inputs {", ".join(spec["inputs"])},
each stretched linearly between its 2nd and 98th percentile over the whole raster; inputs finer than
{spec.get("gsd_m")} m/px are resampled to it ({learnt}).{working}
Weights stored in float16.

**Training data.**
- Kampala (Uganda), HOT fAIr / RAMP sample: {meta["n_train_chips"]} chips in all with the sample cities below;
  OpenAerialMap RGB map tiles at three zooms (≈ 0.30, 0.15, 0.075 m), touching tiles joined into blocks.
  Imagery CC BY 4.0, OpenAerialMap / Open Imagery Network contributors; labels © OpenStreetMap contributors,
  ODbL 1.0 (some outlines drawn in fAIr).
- The package's synthetic sample city, seeds {", ".join(map(str, CITY_SEEDS))} (0.5 m, both dates); the demo's
  seed 0 is kept for scoring.

**Recipe.** {tp["epochs"]} epochs × {tp["samples_per_epoch"]} crops of {tp["crop"]} px, batch {tp["batch_size"]},
every (source, zoom) group sampled equally; rescaled ×{tp["scale_min"]}–{tp["scale_max"]}, rotated, flipped,
jittered in gain, offset and gamma; boundary-weighted BCE (+{tp["boundary_weight"]} near edges) +
{"the Lovász hinge" if tp.get("region_loss") == "lovasz" else "soft Dice"}, unlabelled pixels left out;
AdamW (peak lr {tp["lr"]}, weight decay {tp["weight_decay"]}, one-cycle); EMA of the weights (decay
{tp["ema_decay"]} per step) with batch-norm statistics recomputed on {tp["bn_batches"]} batches; seed {tp["seed"]}.
{len(hist)} epochs took {meta.get("seconds", 0) / 60:.1f} min on 2 CPU cores{precision}.

**Scores** (pixels; threshold 0.5; one view). Kampala val is a tile disjoint from train but adjacent to it, at
three zooms of the same ground, scored tile by tile and with its touching tiles joined (`_joined`: what
prediction over a continuous raster sees); Banepa (Nepal; 48 OpenAerialMap chips at ≈ 0.13 m, OSM footprints,
HOT fAIr sample, CC BY 4.0 / ODbL) is a town this model never saw; Atlanta is SpaceNet's 0.5 m panchromatic chip
with its band fed to the three inputs (a modality this model never saw).

| data | accuracy | mIoU | F1 | precision | recall | IoU |
|---|---|---|---|---|---|---|
{rows}

{int8_text}

Mean of the last epochs on Kampala val (touching tiles joined) as scored during training, predicted with
{tp.get("val_views", 1)} view(s) (`views` of `predict`):
{", ".join(f"{k} {v:.3f}" for k, v in tail.items())}.

**Limits.** Trained on one Kampala neighbourhood (corrugated and tiled roofs, 0.075–0.3 m) and on synthetic
scenes; coarse OSM labels (some cover trees or bare ground; touching roofs split). Expect lower scores on other
cities, resolutions and sensors, and none on panchromatic images: train a model on your modality
(`ai4geo segment train`). Check licences before publishing products.

**Retrain.** `ai4geo segment train-default --data ../shared/data/buildings` (writes this file, the model and
`{path.with_suffix(".json").name}` with the per-epoch history).
"""
