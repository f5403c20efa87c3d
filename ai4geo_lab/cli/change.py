"""``ai4geo change …``: thin faces over :mod:`ai4geo_lab.change` (training the learned 2D change model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

change_app = typer.Typer(help="Change detection: train the learned 2D change classifier.", no_args_is_help=True)


@change_app.command("train-2d")
def train_2d_cmd(
    pairs: Annotated[list[str], typer.Argument(help="BEFORE,AFTER,REFERENCE raster triples on one grid each "
                                                    "(reference codes: 1 demolished, 2 new, 4 cleared trees)")],
    out: Annotated[Path, typer.Option("--out", help="model file (.joblib)")],
    bands: Annotated[str, typer.Option(help="the images' band names, comma-separated")] = "red,green,blue,nir",
    reflectance_scale: Annotated[float, typer.Option(help="image value of reflectance 1.0")] = 10000.0,
    max_per_class: Annotated[int, typer.Option(help="pixels drawn per class and triple")] = 20000,
) -> None:
    """Train a 2D change model; give it to the ``change_2d`` step as ``model``."""
    from ai4geo_lab.change.learned import train_change_model
    from ai4geo_lab.errors import ConfigError

    triples = []
    for text in pairs:
        parts = text.split(",")
        if len(parts) != 3:
            raise ConfigError(f"'{text}' is not BEFORE,AFTER,REFERENCE", "give three comma-separated paths")
        triples.append((Path(parts[0]), Path(parts[1]), Path(parts[2])))
    model = train_change_model(triples, bands.split(","), reflectance_scale, max_per_class, out=out)
    typer.echo(json.dumps({"model": str(out.with_suffix(".joblib")), **model.meta["class_counts"]}, indent=1))
