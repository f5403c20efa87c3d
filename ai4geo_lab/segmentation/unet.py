"""U-Net building segmenters (segmentation-models-pytorch): their spec, construction, files and device.

A model file is a ``torch.save`` dictionary of plain data — format, spec, weights (float16), metadata — that
loads with ``weights_only=True`` (no pickled code is ever executed). Offline, encoders start from scratch;
``encoder_weights="imagenet"`` takes smp's pretrained weights when the network allows.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ai4geo_lab.errors import ConfigError, InputNotFoundError, InvalidInputError, missing_dependency

MODEL_FORMAT = "ai4geo-unet/1"
#: The model shipped in the package (RGB, buildings); see ``models/MODEL_CARD.md``.
DEFAULT_MODEL = Path(__file__).parent / "models" / "buildings_rgb.pt"
#: The shipped satellite model (one panchromatic band, 0.3–0.6 m), what ``default`` means for one-band images;
#: see ``models/MODEL_CARD_pan.md``.
PAN_MODEL = DEFAULT_MODEL.with_name("buildings_pan.pt")
#: Input kinds a model may declare, in channel order.
INPUT_KINDS = ("red", "green", "blue", "nir", "pan", "ndsm")


def torch_module() -> Any:
    """``torch``, or an error naming what to install."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a dependency
        raise missing_dependency("torch", "ml") from exc
    return torch


def smp_module() -> Any:
    """``segmentation_models_pytorch``, or an error naming what to install."""
    try:
        import segmentation_models_pytorch as smp
    except ImportError as exc:  # pragma: no cover - a dependency
        raise missing_dependency("segmentation-models-pytorch", "ml") from exc
    return smp


def device(name: str | None = None) -> Any:
    """The torch device to use: ``name`` if given, else CUDA when present, else the CPU."""
    torch = torch_module()
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bf16_native(dev: Any) -> bool:
    """Whether ``dev`` computes in bfloat16 natively (CUDA with bf16, a CPU with AVX512-BF16 or AMX): where
    mixed precision pays; elsewhere bfloat16 is emulated and slower than float32."""
    torch = torch_module()
    if dev.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - torch builds without oneDNN
        return False


class UnetSpec(BaseModel):
    """What a U-Net is: its inputs, encoder and decoder, and how pixel values are scaled."""

    model_config = ConfigDict(extra="forbid")
    inputs: tuple[str, ...] = Field(default=("red", "green", "blue"),
                                    description=f"input channels in order, among {', '.join(INPUT_KINDS)}")
    encoder: str = Field(default="mobilenet_v2", description="a segmentation-models-pytorch encoder name")
    decoder_channels: tuple[int, ...] = Field(default=(128, 64, 32, 16, 8), description="one per decoder stage")
    encoder_weights: str | None = Field(default=None, description="'imagenet' needs network; None: from scratch")
    ndsm_scale_m: float = Field(default=20.0, gt=0, description="nDSM metres mapped to 1.0 (nDSM input only)")
    gsd_m: float | None = Field(default=None, gt=0, description="finest resolution the model works at (m/px); "
                                "finer inputs are resampled to it (None: every input as it is)")
    predict_gsd_m: float | None = Field(default=None, gt=0, description="the resolution finer inputs are "
                                        "resampled to at prediction (m/px; None: gsd_m), chosen on validation "
                                        "data: a model may see unknown places better a little coarser than it "
                                        "learnt")

    @property
    def working_gsd_m(self) -> float | None:
        """The resolution a prediction works at (inputs finer than it are resampled to it)."""
        return self.predict_gsd_m or self.gsd_m

    @field_validator("inputs")
    @classmethod
    def _known_inputs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in INPUT_KINDS]
        if not value or unknown or len(set(value)) != len(value):
            raise ValueError(f"inputs must be distinct names among {INPUT_KINDS}, got {value}")
        return value

    @property
    def image_inputs(self) -> tuple[str, ...]:
        """The inputs read from the image (all but ``ndsm``)."""
        return tuple(i for i in self.inputs if i != "ndsm")


def build_unet(spec: UnetSpec) -> Any:
    """A fresh ``smp.Unet`` for ``spec`` (one output channel: building logit)."""
    smp = smp_module()
    try:
        return smp.Unet(encoder_name=spec.encoder, encoder_weights=spec.encoder_weights,
                        in_channels=len(spec.inputs), classes=1,
                        decoder_channels=tuple(spec.decoder_channels), encoder_depth=len(spec.decoder_channels))
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"cannot build a U-Net with encoder {spec.encoder!r}: {exc}",
                          "use a segmentation-models-pytorch encoder name (e.g. mobilenet_v2, resnet18)") from exc
    except OSError as exc:  # pretrained weights unreachable
        raise ConfigError(f"the {spec.encoder_weights} weights of {spec.encoder} could not be fetched: {exc}",
                          "train from scratch (encoder_weights: null) when offline") from exc


@dataclass
class UnetModel:
    """A trained U-Net: its spec, the torch module (eval mode) and what is known about it."""

    spec: UnetSpec
    module: Any
    meta: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None  # the file it was loaded from

    @property
    def int8_file(self) -> Path | None:
        """The int8 ONNX companion of the model file (``NAME.int8.onnx`` beside it), if there is one."""
        if self.source is None:
            return None
        path = self.source.with_suffix(".int8.onnx")
        return path if path.is_file() else None

    @property
    def limits(self) -> dict[str, Any]:
        """The per-source band limits it was trained with (source → (bands, 2) float32 array)."""
        import numpy as np

        return {k: np.asarray(v, np.float32) for k, v in self.meta.get("limits", {}).items()}

    def to(self, dev: Any) -> UnetModel:
        """Move the module to a device (channels-last on the CPU, where it runs faster)."""
        torch = torch_module()
        fmt = torch.channels_last if getattr(dev, "type", str(dev)) == "cpu" else torch.contiguous_format
        self.module.to(dev, memory_format=fmt)
        return self

    @property
    def device(self) -> Any:
        """The device the module's weights are on."""
        return next(self.module.parameters()).device

    def save(self, path: str | Path) -> Path:
        """Write the model file (weights in float16, about half the float32 size); atomic."""
        torch = torch_module()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu())
                 for k, v in self.module.state_dict().items()}
        tmp = path.with_name(path.name + ".part")
        torch.save({"format": MODEL_FORMAT, "spec": self.spec.model_dump(mode="json"), "state": state,
                    "meta": self.meta}, tmp)
        os.replace(tmp, path)
        return path


def load_unet(path: str | Path | None = None, dev: Any = None) -> UnetModel:
    """Read a model file (``None``: the shipped default model) onto ``dev`` (default: :func:`device`)."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        raise InputNotFoundError(f"no model file at {path}", "train one with ai4geo segment train, or use the default")
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns, str(dev) if dev is not None else None)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, _mtime: int, dev: str | None) -> UnetModel:
    torch = torch_module()
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = " ".join(str(exc).split())  # one line: torch's reasons run over several
        raise InvalidInputError(f"{path} is not a readable model file: {reason[:300]}",
                                "give a file saved by ai4geo_lab") from exc
    if not isinstance(blob, dict) or blob.get("format") != MODEL_FORMAT:
        raise InvalidInputError(f"{path} is not an ai4geo U-Net model (format {blob.get('format')!r})"
                                if isinstance(blob, dict) else f"{path} is not an ai4geo U-Net model",
                                f"expected format {MODEL_FORMAT}")
    spec = UnetSpec(**{**blob["spec"], "encoder_weights": None})
    module = build_unet(spec)
    module.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state"].items()})
    module.eval()
    return UnetModel(spec, module, dict(blob.get("meta") or {}), Path(path)).to(device(dev))
