"""Building segmentation: U-Nets trained and run tile by tile (and a threshold baseline on nDSM and NDVI).

Heavy imports (torch, segmentation-models-pytorch) happen when a function is first used.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "UnetSpec": "unet", "UnetModel": "unet", "load_unet": "unet", "DEFAULT_MODEL": "unet",
    "Chip": "chips", "read_chips": "chips",
    "TrainParams": "training", "TrainResult": "training", "train": "training", "evaluate": "training",
    "predict": "prediction", "SegmentParams": "prediction",
    "predict_proba": "infer",
    "read_label_dataset": "stac_labels", "write_label_dataset": "stac_labels",
    "load_dataset": "datasets", "list_datasets": "datasets",
    "evaluate_datasets": "evaluation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"ai4geo_lab.segmentation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'ai4geo_lab.segmentation' has no attribute {name!r}")
