"""The ``landcover`` step: rule-based land cover from a 4-band image (R, G, B, NIR) and the nDSM."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.landcover.algo import LandcoverRules, rule_based_landcover
from ai4geo_lab.landcover.legend import SAMPLE_CITY

if TYPE_CHECKING:
    from ai4geo_lab.execution.context import StepContext
    from ai4geo_lab.execution.tiles import Tile
    from ai4geo_lab.geo.grid import GroundGrid


class LandcoverParams(BaseModel):
    """Rule-based classification: spectral indices and height thresholds."""

    model_config = ConfigDict(extra="forbid")
    reflectance_scale: float = Field(default=10000.0, gt=0, description="image value of reflectance 1.0")
    rules: dict[str, float] = Field(default_factory=dict, description="overrides of LandcoverRules thresholds")
    majority: int = Field(default=3, ge=0, le=15, description="majority filter size (0: none)")


def landcover_tile(tile: Tile, grid: GroundGrid, image: Path, ndsm: Path, params: dict[str, Any]) -> np.ndarray:
    """Land cover of one tile."""
    bands, _ = read_window(image, tile.halo, band=None)
    height, _ = read_window(ndsm, tile.halo)
    rules = LandcoverRules(**params["rules"])
    out = rule_based_landcover(bands[:4] / params["reflectance_scale"], height, rules, majority=params["majority"])
    return out[tile.core_in_halo]


def run(ctx: StepContext, inputs: dict[str, Path], params: LandcoverParams) -> dict[str, Path]:
    """The land-cover raster, tile by tile."""
    out = ctx.tiled_raster("landcover", landcover_tile, overlap=params.majority + 2, dtype="uint8", nodata=0,
                           tags={"LEGEND": SAMPLE_CITY.name}, image=inputs["image"], ndsm=inputs["ndsm"],
                           params=params.model_dump())
    return {"landcover": out}


# --- learned land cover from an image time series ------------------------------------------------------


class FeatureParams(BaseModel):
    """Which features a learned land-cover model uses (see :mod:`ai4geo_lab.landcover.features`)."""

    model_config = ConfigDict(extra="forbid")
    band_names: list[str] | None = Field(default=None, description="band names (default: the images' band "
                                         "descriptions); common names or Sentinel-2 ids (B04)")
    reflectance_scale: float | None = Field(default=None, gt=0, description="image value of reflectance 1.0 "
                                            "(default: the series file's, else 1)")
    indices: list[str] | None = Field(default=None, description="spectral indices (default: all the bands allow)")
    stats: list[str] = Field(default=["mean", "std", "min", "max"], description="temporal statistics")
    per_date: bool = Field(default=False, description="also each date's bands and indices")
    context: list[int] = Field(default=[5], description="windows (px) of local mean/std of a few indices")
    cloud_test: bool = Field(default=True, description="mask pixels failing a simple cloud/haze test")

    def spec(self, band_names: list[str], extra_names: tuple[str, ...] = ()) -> Any:
        """The :class:`~ai4geo_lab.landcover.features.FeatureSpec` for images with these bands."""
        from ai4geo_lab.landcover.features import FeatureSpec

        return FeatureSpec(tuple(self.band_names or band_names), tuple(self.indices) if self.indices else None,
                           tuple(self.stats), self.per_date, tuple(self.context), extra_names=extra_names)


class LandcoverTrainParams(BaseModel):
    """Training of a pixel classifier on an image series and a reference land-cover raster."""

    model_config = ConfigDict(extra="forbid")
    legend: str = Field(default="lulc10", description="built-in legend (lulc10, lulc30, sample_city) or a file")
    kind: Literal["hgb", "rf"] = Field(default="hgb", description="gradient boosting (hgb) or random forest (rf)")
    features: FeatureParams = Field(default_factory=FeatureParams)
    model_params: dict[str, Any] = Field(default_factory=dict, description="estimator settings "
                                         "(e.g. max_iter, learning_rate)")
    max_per_class: int | None = Field(default=20000, ge=10, description="training pixels drawn per class")
    class_weight: Literal["balanced"] | None = None
    cv_folds: int = Field(default=0, ge=0, le=20, description="spatial cross-validation folds (0: none)")
    block_px: int = Field(default=20, ge=2, description="side of the spatial blocks of the folds (px)")
    buffer_px: int = Field(default=2, ge=0, description="training pixels this close to a test fold are dropped")
    seed: int = 0


def _series(path: Path, feats: FeatureParams) -> Any:
    from ai4geo_lab.landcover.series import ImageSeries

    series = ImageSeries.from_file(path)
    if feats.reflectance_scale is not None:
        series = series.model_copy(update={"reflectance_scale": feats.reflectance_scale})
    if feats.band_names is not None:
        series = series.model_copy(update={"band_names": list(feats.band_names)})
    return series


def series_feature_stack(series: Any, feats: FeatureParams, window: Any = None, ndsm: np.ndarray | None = None,
                         spec: Any = None) -> tuple[np.ndarray, list[str], Any]:
    """Features (F, H, W) of a window of an :class:`~ai4geo_lab.landcover.series.ImageSeries`."""
    from ai4geo_lab.landcover.features import series_features, simple_cloud_mask

    bands = series.bands()
    data, clear = series.read(window)
    if feats.cloud_test:
        clear &= np.stack([simple_cloud_mask(d, bands) for d in data])
    spec = spec or feats.spec(bands, ("ndsm",) if ndsm is not None else ())
    stack, names = series_features(data, spec, clear, ndsm, series.times())
    return stack, names, spec


def train_landcover(images: str | Path, reference: str | Path, params: LandcoverTrainParams | None = None,
                    ndsm: str | Path | None = None, log: Any = print) -> tuple[Any, Any]:
    """Train a land-cover model on an image series (or one image) and a reference raster.

    The reference is resampled (nearest) onto the images' grid; codes must be the legend's (0 = nodata).
    Returns the model and, when ``cv_folds`` > 0, the spatial cross-validation (else None); the model's
    ``meta["cv"]`` holds the cross-validation summary.
    """
    from ai4geo_lab.errors import InvalidInputError
    from ai4geo_lab.geo.grid import GroundGrid
    from ai4geo_lab.geo.resample import read_on_grid
    from ai4geo_lab.landcover.legend import load_legend
    from ai4geo_lab.landcover.model import cross_validate, samples, train

    p = params or LandcoverTrainParams()
    legend = load_legend(p.legend)
    series = _series(Path(images), p.features)
    series.shape()
    grid = GroundGrid.like(series.images[0].path)
    labels = read_on_grid(reference, grid, resampling="nearest", dtype="uint8")
    height = read_on_grid(ndsm, grid) if ndsm is not None else None
    stack, names, spec = series_feature_stack(series, p.features, ndsm=height)
    unknown = sorted(set(np.unique(labels).tolist()) - {*legend.codes, legend.nodata})
    if unknown:
        raise InvalidInputError(f"the reference holds codes {unknown} that the legend '{legend.name}' lacks",
                                "choose the legend of the reference's codes or remap it")
    cv = None
    if p.cv_folds:
        cv = cross_validate(stack, labels, names, legend, p.cv_folds, p.block_px, p.buffer_px, p.kind,
                            p.model_params, p.class_weight, p.max_per_class, p.seed, progress=log)
        log(f"spatial cross-validation: OA {cv.scores['overall_accuracy']:.3f}, kappa {cv.scores['kappa']:.3f}")
    X, y = samples(stack, labels, None, p.max_per_class, p.seed, legend.nodata)
    model = train(X, y, names, legend, p.kind, p.model_params, spec, p.class_weight, p.seed)
    if cv is not None:
        model.meta["cv"] = cv.summary(legend)
        model.meta["cv"].update(folds=p.cv_folds, block_px=p.block_px, buffer_px=p.buffer_px)
    model.meta["features"] = p.features.model_dump()
    return model, cv


def run_train(ctx: StepContext, inputs: dict[str, Path], params: LandcoverTrainParams) -> dict[str, Path]:
    """A trained model file (``.joblib``, with a ``.json`` description beside it)."""
    model, _ = train_landcover(inputs["images"], inputs["reference"], params, inputs.get("ndsm"),
                                log=lambda m: ctx.log(f"[{ctx.step_id}] {m}"))
    ctx.log(f"[{ctx.step_id}] {model.kind} model on {model.meta['n_samples']} pixels, "
            f"{len(model.feature_names)} features, classes {model.classes}")
    return {"model": model.save(ctx.output_path("model", ".joblib"))}


class LandcoverClassifyParams(BaseModel):
    """Prediction of a trained land-cover model over the run's grid."""

    model_config = ConfigDict(extra="forbid")
    majority: int = Field(default=0, ge=0, le=15, description="majority filter size (0: none)")


def classify_tile(tile: Tile, grid: GroundGrid, images: Path, model_path: Path, ndsm: Path | None,
                  majority: int) -> np.ndarray:
    """Land cover of one tile with a saved model."""
    from ai4geo_lab.landcover.algo import majority_filter
    from ai4geo_lab.landcover.model import LandcoverModel

    model = LandcoverModel.load(model_path)
    feats = FeatureParams.model_validate(model.meta.get("features", {}))
    series = _series(images, feats)
    height = read_window(ndsm, tile.halo)[0] if ndsm is not None else None
    stack, names, _ = series_feature_stack(series, feats, tile.halo, height, model.feature_spec)
    if names != model.feature_names:
        from ai4geo_lab.errors import InvalidInputError

        raise InvalidInputError(f"the images of {images} give other features than {model_path} was trained on",
                                "give images with the same bands as the training images")
    out = model.predict(stack)
    if majority:
        out = majority_filter(out, majority)
    return out[tile.core_in_halo]


def run_classify(ctx: StepContext, inputs: dict[str, Path], params: LandcoverClassifyParams) -> dict[str, Path]:
    """The land-cover raster of a saved model, tile by tile."""
    from ai4geo_lab.landcover.model import LandcoverModel

    model = LandcoverModel.load(inputs["model"])
    spec = model.feature_spec
    overlap = (spec.halo if spec else 1) + params.majority
    if "ndsm" in (spec.extra_names if spec else ()) and "ndsm" not in inputs:
        from ai4geo_lab.errors import ConfigError

        raise ConfigError(f"the model {inputs['model']} was trained with an nDSM", "give the input 'ndsm'")
    out = ctx.tiled_raster("landcover", classify_tile, overlap=overlap, dtype="uint8", nodata=0,
                           images=inputs["images"], model_path=inputs["model"], ndsm=inputs.get("ndsm"),
                           majority=params.majority)
    return {"landcover": out}
