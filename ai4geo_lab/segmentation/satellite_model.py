"""The satellite model's recipe: ``ai4geo segment train-satellite --data DATA/buildings``.

A one-band (panchromatic) U-Net for 0.3–0.6 m satellite imagery, learnt without any satellite image: Kampala's
train tiles, Banepa and sample cities (seeds the demo does not use), each view turned to grey with random
channel weights and resampled to a random ground pixel size of 0.3–0.6 m, with wide photometric changes, blur and
noise. It is scored on Atlanta's 0.5 m panchromatic SpaceNet chip (never seen in training), on the sample city of
the demo's seed and on Kampala val (each turned to grey), and written with its scores and its card.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ai4geo_lab.segmentation.chips import WIDE_AUGMENT, Chip, to_bands, xyz_mosaics
from ai4geo_lab.segmentation.datasets import load_dataset, weighted_datasets
from ai4geo_lab.segmentation.training import TrainParams, TrainResult, train
from ai4geo_lab.segmentation.unet import PAN_MODEL, UnetModel, UnetSpec

#: The model file shipped in the package.
SATELLITE_MODEL = PAN_MODEL
#: Training datasets and their sampling weights (``NAME:WEIGHT``, see ``weighted_datasets``).
SATELLITE_DATASETS = ("kampala-train:1", "banepa:1", "sample-city-train:0.5")
#: Datasets it is scored on (Atlanta is never trained on).
SCORE_DATASETS = ("atlanta", "sample-city", "kampala-val-joined")
#: Ground pixel sizes a training view is resampled to (m).
GSD_RANGE = (0.3, 0.6)


def satellite_recipe(max_minutes: float | None = 26.0) -> tuple[UnetSpec, TrainParams]:
    """The spec and training parameters of the satellite model."""
    aug = WIDE_AUGMENT.model_copy(update={"gsd_range": GSD_RANGE, "trees": 0.5, "roofs": 0.6, "texture": 0.4,
                                          "invert": 0.3})
    return (UnetSpec(inputs=("pan",), gsd_m=GSD_RANGE[0]),
            TrainParams(epochs=24, samples_per_epoch=400, batch_size=8, crop=192, seed=0, weight_decay=0.05,
                        ema_decay=0.99, boundary_weight=4.0, bn_batches=8, augment=aug, max_minutes=max_minutes))


def pan_chips(chips: Sequence[Chip]) -> list[Chip]:
    """Chips as one grey band (the mean of their bands), as a panchromatic model is scored on them."""
    from dataclasses import replace

    return [replace(c, image=to_bands(c.image, 1)) for c in chips]


def build_satellite_model(data: str | Path, out: str | Path = SATELLITE_MODEL, work: str | Path | None = None,
                          datasets: Sequence[str] = SATELLITE_DATASETS, params: TrainParams | None = None,
                          spec: UnetSpec | None = None, progress: bool = True) -> TrainResult:
    """Train the satellite model from the buildings data folder ``data``, score it and write it with its card."""
    data = Path(data)
    work = Path(work) if work is not None else Path(tempfile.mkdtemp(prefix="ai4geo-sat-"))
    default_spec, default_params = satellite_recipe()
    spec, params = spec or default_spec, params or default_params
    chips, shares = weighted_datasets(datasets, data, work / "cities")
    if any(c.source == "atlanta" for c in chips):
        from ai4geo_lab.errors import ConfigError

        raise ConfigError("the satellite model is scored on Atlanta and must not train on it",
                          "leave the atlanta dataset out")
    params = params.model_copy(update={"source_shares": shares})
    val = pan_chips(xyz_mosaics(load_dataset("kampala-val", data)))
    result = train(chips, val, spec, params, out_dir=work / "checkpoints", progress=progress)
    model = result.model
    model.meta |= {"recipe": "ai4geo segment train-satellite", "datasets": list(datasets),
                   "seconds": round(result.seconds, 1), "stopped": result.stopped}
    model.meta["scores"] = satellite_scores(model, data, work)
    model.source = Path(out)
    model.save(out)
    Path(out).with_suffix(".json").write_text(json.dumps(model.meta, indent=1))
    Path(out).with_name("MODEL_CARD_pan.md").write_text(satellite_card(model.meta, Path(out)))
    return result


def satellite_scores(model: UnetModel, data: Path, work: Path,
                     datasets: Sequence[str] = SCORE_DATASETS) -> list[dict[str, Any]]:
    """Pixel and object scores (``evaluate_datasets``) on the scoring datasets, colour ones turned to grey."""
    from ai4geo_lab.segmentation.evaluation import evaluate_datasets

    sets = {name: load_dataset(name, data, work=work / "cities-score") for name in datasets}
    return evaluate_datasets(model, sets, backend="torch")


def satellite_card(meta: dict[str, Any], path: Path) -> str:
    """The satellite model's card (Markdown) from its metadata."""
    spec, tp = meta["spec"], meta["train"]
    aug = tp["augment"]
    rows = "\n".join(
        f"| {r['dataset']} | {r['region']} | {r['chips']} | {r['pixels']['iou']:.3f} | {r['pixels']['precision']:.3f} "
        f"| {r['pixels']['recall']:.3f} | {r['objects']['f1']:.3f} |" for r in meta["scores"])
    hist = meta.get("history", [])
    tail = ", ".join(f"{k} {v:.3f}" for k, v in meta.get("summary", {}).items())
    return f"""# Model card: `{path.name}` — building segmentation, panchromatic satellite imagery

**What it does.** Building / not-building per pixel from ONE band (panchromatic, or any grey image) at
0.3–0.6 m, for `ai4geo segment predict --model buildings_pan`, `ai4geo segment evaluate` and the chain's
`segment` step, which picks it for one-band images when the model is `default`.

**Architecture.** U-Net (segmentation-models-pytorch), encoder `{spec["encoder"]}` trained from scratch (no
pretrained weights), decoder channels {tuple(spec["decoder_channels"])}; one input (`pan`), stretched linearly
between its 2nd and 98th percentile over the whole raster; inputs finer than {spec["gsd_m"]} m/px are resampled
to it. Weights stored in float16.

**Training data** (no satellite image, and nothing from Atlanta): {meta["n_train_chips"]} chips (touching map
tiles joined into blocks), sampled by dataset weight: {", ".join(f"`{d}`" for d in meta["datasets"])}.
- Kampala (Uganda), HOT fAIr / RAMP sample "HOTOSM/2", train split: OpenAerialMap RGB tiles at ≈ 0.075–0.30 m.
  Imagery CC BY 4.0 (OpenAerialMap / Open Imagery Network contributors; per-scene licence not recorded upstream);
  labels © OpenStreetMap contributors, ODbL 1.0 (some outlines drawn in fAIr).
- Banepa (Nepal), HOTOSM fAIr sample "buildings-banepa" read from its STAC label item: OpenAerialMap RGB
  ≈ 0.13 m. Dataset CC BY 4.0 (HOTOSM); imagery CC BY 4.0 (Open Imagery Network); footprints © OpenStreetMap
  contributors, ODbL 1.0.
- The package's synthetic sample cities, seeds 11, 12, 13 (0.5 m RGB, both dates).

**Recipe.** Every view resampled to a random ground pixel size of {aug["gsd_range"][0]}–{aug["gsd_range"][1]} m
(smoothed before it is shrunk), cropped to {tp["crop"]} px, turned and flipped, and turned to one grey band with
random channel weights (Dirichlet) plus up to {aug["nir"]} of a simulated near infrared (vegetation bright, as in
a panchromatic band), re-stretched; hue ±{aug["hue"]} turn and saturation ×1±{aug["saturation"]} before the grey
mix; roofs recoloured one by one (p {aug["roofs"]}: dark shingles to light concrete); synthetic tree crowns with
cast shadows over the ground (p {aug["trees"]}); rough streaky texture over the ground (p {aug["texture"]});
grey levels inverted (p {aug["invert"]}); gamma, contrast ×1±{aug["contrast"]}, brightness ±{aug["brightness"]};
Gaussian blur (p {aug["blur"]}, σ ≤ {aug["blur_sigma"]} px) and noise (p {aug["noise"]}, σ ≤ {aug["noise_sigma"]}).
{tp["epochs"]} epochs × {tp["samples_per_epoch"]} views, batch {tp["batch_size"]}; boundary-weighted BCE
(+{tp["boundary_weight"]} near edges) + soft Dice, unlabelled pixels left out; AdamW (peak lr {tp["lr"]}, weight
decay {tp["weight_decay"]}, one-cycle); EMA of the weights (decay {tp["ema_decay"]}); seed {tp["seed"]}.
{len(hist)} epochs took {meta.get("seconds", 0) / 60:.1f} min on ONE CPU core of a shared 2-core machine
(stopped by: {meta.get("stopped", "schedule")}).

**Scores** (`ai4geo segment evaluate`; threshold 0.5, one view, torch backend; objects matched one-to-one at
IoU ≥ 0.5). Atlanta is SpaceNet 4's 0.5 m panchromatic chip (36 windows of 150 px; never trained on); the
sample city (seed 0) and Kampala val are turned to grey (mean of R, G, B); Kampala val is seen at 0.3 m (the
model's `gsd_m`). The shipped RGB model scores IoU 0.05 on Atlanta.

| dataset | region | chips | pixel IoU | precision | recall | object F1 |
|---|---|---|---|---|---|---|
{rows}

Kampala val (grey) as scored during training, mean of the last epochs: {tail}.

**Limits.** Learnt from aerial colour imagery made grey and coarse, not from satellite images: the spectral
response of a real panchromatic band (which reaches into the near infrared, so vegetation is brighter), off-nadir
views and satellite sharpening are only approximated. Coarse OSM labels. Check licences before publishing.

**Retrain.** `ai4geo segment train-satellite --data ../shared/data/buildings` (writes this card, the model and
`{path.with_suffix(".json").name}` with the per-epoch history).
"""
