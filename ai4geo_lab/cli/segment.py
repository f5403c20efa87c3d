"""``ai4geo segment …``: thin faces over :mod:`ai4geo_lab.segmentation` (predict, train, the default model,
labelled datasets as STAC, evaluation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

segment_app = typer.Typer(help="Building segmentation with U-Nets: predict over any raster, train, retrain the "
                               "shipped model, write labelled datasets as STAC, score models on them.",
                          no_args_is_help=True)


@segment_app.command("train")
def train_cmd(
    out: Annotated[Path, typer.Option("--out", help="model file to write (.pt)")],
    images: Annotated[Path | None, typer.Argument(help="a folder of training GeoTIFFs")] = None,
    labels: Annotated[Path | None, typer.Argument(help="a vector file, or a folder of <image stem>.geojson")] = None,
    dataset: Annotated[list[str] | None, typer.Option(
        "--dataset", help="a training dataset as NAME[:WEIGHT] (repeat): a built-in name (see `ai4geo segment "
        "datasets`) or a STAC label item, collection or catalog; WEIGHT is its sampling share (default 1)")] = None,
    val_dataset: Annotated[list[str] | None, typer.Option("--val-dataset", help="a validation dataset (repeat)")
                           ] = None,
    data: Annotated[Path | None, typer.Option("--data", help="the buildings data folder of the built-in names")
                    ] = None,
    val_images: Annotated[Path | None, typer.Option(help="a folder of validation GeoTIFFs")] = None,
    val_labels: Annotated[Path | None, typer.Option(help="their labels")] = None,
    inputs: Annotated[str, typer.Option(help="model inputs, e.g. red,green,blue or pan")] = "red,green,blue",
    bands: Annotated[str | None, typer.Option(help="1-based bands read for the inputs")] = None,
    generalise: Annotated[bool, typer.Option(
        "--generalise/--plain", help="the generalising augmentations (random ground pixel size, hue, "
        "saturation, gamma, contrast, grey, blur, noise; colour views turned grey for a one-band model) or the "
        "plain rescale and jitter")] = False,
    gsd_range: Annotated[str, typer.Option(help="with --generalise: ground pixel sizes of the views (m)")
                         ] = "0.1,0.6",
    epochs: Annotated[int, typer.Option()] = 40,
    samples: Annotated[int, typer.Option(help="training views per epoch")] = 256,
    crop: Annotated[int, typer.Option(help="view side (px, a multiple of 32)")] = 256,
    max_minutes: Annotated[float | None, typer.Option(help="stop after this many minutes")] = None,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train a U-Net on images and vector labels, or on a weighted list of labelled datasets (--dataset);
    checkpoints beside the model file."""
    from ai4geo_lab.errors import ConfigError
    from ai4geo_lab.segmentation import TrainParams, UnetSpec, read_chips, train
    from ai4geo_lab.segmentation.chips import WIDE_AUGMENT, xyz_mosaics
    from ai4geo_lab.segmentation.datasets import load_dataset, weighted_datasets

    band_list = [int(b) for b in bands.split(",")] if bands else None
    shares = None
    if dataset:
        if images is not None:
            raise ConfigError("give training images and labels, or --dataset, not both")
        work = out.parent / "work"
        chips, shares = weighted_datasets(dataset, data, work / "cities")
    elif images is not None and labels is not None:
        chips = read_chips(sorted(images.glob("*.tif")), labels, source="train", bands=band_list)
    else:
        raise ConfigError("nothing to train on", "give IMAGES LABELS, or --dataset NAME[:WEIGHT] (repeatable)")
    val = (read_chips(sorted(val_images.glob("*.tif")), val_labels, source="train", bands=band_list)
           if val_images is not None and val_labels is not None else [])
    for name in val_dataset or []:
        val += xyz_mosaics(load_dataset(name, data, work=out.parent / "work" / "cities"))
    try:
        lo, hi = (float(v) for v in gsd_range.split(","))
    except ValueError as exc:
        raise ConfigError(f"--gsd-range {gsd_range!r} is not two numbers", "write e.g. 0.1,0.6") from exc
    aug = WIDE_AUGMENT.model_copy(update={"gsd_range": (lo, hi)}) if generalise else None
    res = train(chips, val, UnetSpec(inputs=tuple(inputs.split(",")), gsd_m=lo if generalise else None),
                TrainParams(epochs=epochs, samples_per_epoch=samples, crop=crop, max_minutes=max_minutes, seed=seed,
                            augment=aug, source_shares=shares), out_dir=out.parent / "checkpoints")
    res.model.meta["datasets"] = list(dataset or [])
    res.model.save(out)
    typer.echo(json.dumps({"model": str(out), "epochs": len(res.history), "stopped": res.stopped,
                           "seconds": round(res.seconds, 1), **res.summary}, indent=1))


@segment_app.command("train-default")
def train_default_cmd(
    data: Annotated[Path, typer.Option("--data", help="the buildings data folder (kampala/, atlanta/)")],
    out: Annotated[Path | None, typer.Option("--out", help="model file (default: the package's)")] = None,
) -> None:
    """Retrain the shipped model by its recipe (see the model card)."""
    from ai4geo_lab.segmentation.default_model import build_default_model
    from ai4geo_lab.segmentation.unet import DEFAULT_MODEL

    target = out or DEFAULT_MODEL
    res = build_default_model(data, target)
    typer.echo(json.dumps({"model": str(target), "seconds": round(res.seconds, 1), **res.summary,
                           "scores": res.model.meta.get("scores")}, indent=1))


@segment_app.command("train-satellite")
def train_satellite_cmd(
    data: Annotated[Path, typer.Option("--data", help="the buildings data folder (kampala/, banepa/, atlanta/)")],
    out: Annotated[Path | None, typer.Option("--out", help="model file (default: the package's "
                                             "buildings_pan.pt)")] = None,
    max_minutes: Annotated[float, typer.Option(help="stop training after this many minutes")] = 26.0,
    work: Annotated[Path | None, typer.Option(help="folder for checkpoints and sample cities")] = None,
    dataset: Annotated[list[str] | None, typer.Option(
        "--dataset", help="a training dataset as NAME[:WEIGHT] (repeat; default: the recipe's "
        "kampala-train:1, banepa:1, sample-city-train:0.5), e.g. to add a STAC label dataset of your own")] = None,
) -> None:
    """Train the panchromatic satellite model by its recipe (see its card), score it and write it."""
    from ai4geo_lab.segmentation.satellite_model import (
        SATELLITE_DATASETS,
        SATELLITE_MODEL,
        build_satellite_model,
        satellite_recipe,
    )

    target = out or SATELLITE_MODEL
    spec, params = satellite_recipe(max_minutes)
    res = build_satellite_model(data, target, work, datasets=dataset or SATELLITE_DATASETS, spec=spec, params=params)
    typer.echo(json.dumps({"model": str(target), "seconds": round(res.seconds, 1), "stopped": res.stopped,
                           **res.summary}, indent=1))
    from ai4geo_lab.segmentation.evaluation import format_scores

    typer.echo(format_scores(res.model.meta["scores"]))


@segment_app.command("quantize")
def quantize_cmd(
    data: Annotated[Path, typer.Option("--data", help="the buildings data folder (kampala/, atlanta/)")],
    model: Annotated[Path | None, typer.Option("--model", help="model file (default: the package's)")] = None,
) -> None:
    """Write a model's int8 companion (NAME.int8.onnx), calibrated on the default training chips, and add its
    scores to the model's metadata and card."""
    import tempfile

    from ai4geo_lab.segmentation.default_model import quantize_default_model
    from ai4geo_lab.segmentation.unet import load_unet

    net = load_unet(model)
    with tempfile.TemporaryDirectory() as work:
        out = quantize_default_model(net, data, Path(work))
    typer.echo(json.dumps({"int8": str(out), "size_mb": round(out.stat().st_size / 1e6, 2),
                           "scores": net.meta["int8_scores"]}, indent=1))


@segment_app.command("dataset")
def dataset_cmd(
    image: Annotated[Path, typer.Argument(help="a georeferenced raster (GeoTIFF)")],
    labels: Annotated[Path, typer.Argument(help="building polygons (any vector format, any CRS), or a building "
                                                "mask GeoTIFF (non-zero building, nodata unlabelled)")],
    out: Annotated[Path, typer.Option("--out", help="folder to write the STAC collection into")],
    chip_size: Annotated[int, typer.Option("--chip-size", help="chip side (px)")] = 512,
    region: Annotated[str | None, typer.Option(help="region name of the chips (default: the image's name)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace a dataset already in --out")] = False,
) -> None:
    """Cut an image and its building polygons or mask into a labelled dataset: GeoTIFF chips, labels per chip
    (GeoJSON, or a mask), and a STAC collection whose label items (label extension) link to the chips."""
    from ai4geo_lab.segmentation.stac_labels import write_label_dataset

    path = write_label_dataset(image, labels, out, chip_size=chip_size, region=region, overwrite=overwrite)
    n = sum(1 for p in path.parent.glob("*-labels/*.json"))
    typer.echo(f"{n} labelled chips of {image.name} written to {path}")


@segment_app.command("labels-from-ndsm")
def labels_from_ndsm_cmd(
    ndsm: Annotated[Path, typer.Argument(help="an nDSM (heights above the ground, m) on a projected grid")],
    out: Annotated[Path, typer.Option("--out", help="the label mask to write (GeoTIFF)")],
    high_m: Annotated[float, typer.Option("--high-m", help="building from this height (m)")] = 8.0,
    low_m: Annotated[float, typer.Option("--low-m", help="ground under this height (m)")] = 2.0,
    min_area_m2: Annotated[float, typer.Option("--min-area-m2", help="smallest building (m²)")] = 75.0,
) -> None:
    """Building labels from an nDSM (1 building, 0 ground, 255 unlabelled between), to train a model on a
    stereo pair's own ortho image: `ai4geo segment dataset ORTHO LABELS.tif --out DS`."""
    import rasterio
    from pydantic import ValidationError

    from ai4geo_lab.errors import ConfigError
    from ai4geo_lab.segmentation.ndsm_labels import NdsmLabelParams, write_ndsm_labels

    try:
        params = NdsmLabelParams(high_m=high_m, low_m=low_m, min_area_m2=min_area_m2)
    except ValidationError as exc:
        raise ConfigError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
    path = write_ndsm_labels(ndsm, out, params)

    with rasterio.open(path) as src:
        mask = src.read(1)
    typer.echo(f"{path}: {(mask == 1).mean():.1%} building, {(mask == 0).mean():.1%} ground, "
               f"{(mask == 255).mean():.1%} unlabelled")


@segment_app.command("datasets")
def datasets_cmd(
    data: Annotated[Path | None, typer.Option("--data", help="the buildings data folder (default: "
                                              "$AI4GEO_BUILDINGS_DATA or ../shared/data/buildings)")] = None,
) -> None:
    """The built-in datasets that `segment evaluate` takes by name, and whether their data is there."""
    from ai4geo_lab.segmentation.datasets import list_datasets

    for d in list_datasets(data):
        typer.echo(f"{d['name']:20s} {'yes' if d['available'] else 'MISSING':8s} {d['description']}")


def _json_safe(value: object) -> object:
    """NaN (undefined ratios) as null, so the file is strict JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value


@segment_app.command("evaluate")
def evaluate_cmd(
    model: Annotated[str, typer.Argument(help="'default', a shipped model's name, or a model file")],
    datasets: Annotated[list[str], typer.Argument(help="STAC label items, collections or catalogs, or built-in "
                                                  "names (see `ai4geo segment datasets`): kampala-val, banepa, …")],
    data: Annotated[Path | None, typer.Option("--data", help="the buildings data folder of the built-in names "
                                              "(default: $AI4GEO_BUILDINGS_DATA or ../shared/data/buildings)")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the scores to this JSON file")] = None,
    threshold: Annotated[float, typer.Option(help="probability above which a pixel is building")] = 0.5,
    backend: Annotated[str, typer.Option(help="auto, torch, onnx or int8 (as predict)")] = "auto",
    views: Annotated[int, typer.Option(help="flips/turns averaged: 1, 2, 4 or 8")] = 1,
    limit: Annotated[int | None, typer.Option(help="score at most this many chips of each dataset")] = None,
    chip_size: Annotated[int, typer.Option("--chip-size", help="larger STAC images are cut into chips of "
                                           "this side (px)")] = 1024,
    min_area_px: Annotated[int, typer.Option("--min-area-px", help="smaller objects are left out (both "
                                             "sides)")] = 30,
    min_iou: Annotated[float, typer.Option("--min-iou", help="IoU for an object match")] = 0.5,
) -> None:
    """Score a model on labelled datasets: pixel IoU, precision, recall, F1, and object precision, recall, F1
    (one-to-one matches at --min-iou), per dataset and per region."""
    from ai4geo_lab.errors import ConfigError, OutputNotWritableError
    from ai4geo_lab.segmentation.datasets import load_dataset
    from ai4geo_lab.segmentation.evaluation import evaluate_datasets, format_scores
    from ai4geo_lab.segmentation.prediction import model_path
    from ai4geo_lab.segmentation.unet import load_unet

    if not 0 < threshold < 1:
        raise ConfigError(f"threshold {threshold} is not between 0 and 1")
    if views not in (1, 2, 4, 8):
        raise ConfigError(f"views must be 1, 2, 4 or 8, got {views}")
    if backend not in ("auto", "torch", "onnx", "int8"):
        raise ConfigError(f"unknown backend {backend!r}", "use auto, torch, onnx or int8")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be at least 1, got {limit}")
    path = model_path(model)
    net = load_unet(path)
    chips = {str(d): load_dataset(d, data, limit=limit, chip_size=chip_size) for d in datasets}
    rows = evaluate_datasets(net, chips, threshold=threshold, backend=backend, views=views,
                             min_area_px=min_area_px, min_iou=min_iou)
    typer.echo(format_scores(rows))
    if json_out is not None:
        report = {"model": str(path), "threshold": threshold, "backend": backend, "views": views,
                  "min_area_px": min_area_px, "min_iou": min_iou, "rows": rows}
        try:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(_json_safe(report), indent=1))
        except OSError as exc:
            raise OutputNotWritableError(f"cannot write {json_out}: {exc.strerror}") from exc
        typer.echo(f"scores: {json_out}")
