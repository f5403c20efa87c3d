"""``ai4geo segment …``: thin faces over :mod:`ai4geo_lab.segmentation` (predict, train, the default model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

segment_app = typer.Typer(help="Building segmentation with U-Nets: predict over any raster, train, retrain the "
                               "shipped model.", no_args_is_help=True)


@segment_app.command("train")
def train_cmd(
    images: Annotated[Path, typer.Argument(help="a folder of training GeoTIFFs")],
    labels: Annotated[Path, typer.Argument(help="a vector file, or a folder of <image stem>.geojson")],
    out: Annotated[Path, typer.Option("--out", help="model file to write (.pt)")],
    val_images: Annotated[Path | None, typer.Option(help="a folder of validation GeoTIFFs")] = None,
    val_labels: Annotated[Path | None, typer.Option(help="their labels")] = None,
    inputs: Annotated[str, typer.Option(help="model inputs, e.g. red,green,blue or pan")] = "red,green,blue",
    bands: Annotated[str | None, typer.Option(help="1-based bands read for the inputs")] = None,
    epochs: Annotated[int, typer.Option()] = 40,
    max_minutes: Annotated[float | None, typer.Option(help="stop after this many minutes")] = None,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train a U-Net on images and vector labels; checkpoints beside the model file."""
    from ai4geo_lab.segmentation import TrainParams, UnetSpec, read_chips, train

    band_list = [int(b) for b in bands.split(",")] if bands else None
    chips = read_chips(sorted(images.glob("*.tif")), labels, source="train", bands=band_list)
    val = (read_chips(sorted(val_images.glob("*.tif")), val_labels, source="train", bands=band_list)
           if val_images is not None and val_labels is not None else [])
    res = train(chips, val, UnetSpec(inputs=tuple(inputs.split(","))),
                TrainParams(epochs=epochs, max_minutes=max_minutes, seed=seed), out_dir=out.parent / "checkpoints")
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
