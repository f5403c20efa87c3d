"""Training a U-Net building segmenter on chips: reproducible, checkpointed, judged on its last epochs.

The recipe: every zoom group sampled equally (multi-zoom sampling; within a group by labelled area), scale
and photometric augmentation (optionally at the model's ``gsd_m``), a boundary-weighted BCE + soft-Dice loss
that leaves unlabelled pixels out, AdamW with a one-cycle schedule, and an exponential moving average (EMA)
of the weights that is the model evaluated, checkpointed and returned.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from ai4geo_lab.errors import ConfigError
from ai4geo_lab.metrics import segmentation_scores
from ai4geo_lab.segmentation.chips import IGNORE, AugmentParams, Chip, augment, scaled, source_limits, to_bands
from ai4geo_lab.segmentation.infer import predict_proba, resample_factor, shrink
from ai4geo_lab.segmentation.unet import (
    UnetModel,
    UnetSpec,
    bf16_native,
    build_unet,
    device,
    smp_module,
    torch_module,
)


class TrainParams(BaseModel):
    """How long and how to train."""

    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(default=40, ge=1, description="epochs of the one-cycle schedule")
    samples_per_epoch: int = Field(default=256, ge=1, description="augmented crops per epoch")
    batch_size: int = Field(default=8, ge=1)
    crop: int = Field(default=256, ge=32, multiple_of=32, description="training crop side (px)")
    lr: float = Field(default=3e-3, gt=0, description="peak learning rate (AdamW, one-cycle)")
    weight_decay: float = Field(default=1e-4, ge=0)
    ema_decay: float = Field(default=0.98, ge=0, lt=1, description="EMA of weights per step (0: none)")
    bn_batches: int = Field(default=4, ge=1, description="batches that refresh the EMA model's batch-norm stats")
    boundary_weight: float = Field(default=2.0, ge=0, description="extra BCE weight near building edges")
    dice_weight: float = Field(default=1.0, ge=0, description="weight of the region term of the loss")
    pos_weight: float = Field(default=1.0, gt=0, description="BCE weight of building pixels (> 1: fewer missed "
                              "buildings, for labels drawn larger than the roofs)")
    region_loss: Literal["dice", "lovasz"] = Field(default="dice", description="the region term: soft Dice or "
                                                   "the Lovász hinge (an IoU surrogate)")
    scale_min: float = Field(default=0.7, gt=0, description="smallest random rescale")
    scale_max: float = Field(default=1.4, gt=0, description="largest random rescale")
    patience: int | None = Field(default=None, ge=1, description="stop after this many epochs without progress")
    max_minutes: float | None = Field(default=None, gt=0, description="stop (keeping the checkpoint) after this")
    last_k: int = Field(default=5, ge=1, description="the score reported is the mean of the last k epochs")
    source_weights: dict[str, float] = Field(default_factory=dict,
                                             description="share of a source's groups in sampling (default 1 each)")
    source_shares: dict[str, float] | None = Field(
        default=None, description="sampling share of each source as a whole (split evenly among its groups), "
        "instead of one share per (source, group); sources left out get none")
    augment: AugmentParams | None = Field(default=None, description="the generalising augmentations (resolution, "
                                          "appearance, greyscale, blur, noise); None: the plain rescale and jitter")
    at_model_gsd: bool = Field(default=False, description="resample chips finer than the model's gsd_m to it")
    val_views: Literal[1, 2, 4, 8] = Field(default=1, description="flips/turns averaged when scoring val "
                                           "(as predict's views)")
    precision: Literal["auto", "bf16", "fp32"] = Field(default="auto", description="bf16: mixed precision "
                                                       "(bfloat16 compute, float32 weights); auto: bf16 where the "
                                                       "device runs it natively")
    seed: int = 0


@dataclass
class TrainResult:
    """The trained (EMA) model, the per-epoch history and where checkpoints went."""

    model: UnetModel
    history: list[dict[str, Any]]
    checkpoint: Path | None
    seconds: float
    stopped: str = "schedule"
    summary: dict[str, float] = field(default_factory=dict)


def _loss(logits: Any, target: Any, boundary_weight: float, dice_weight: float, region: str = "dice",
          pos_weight: float = 1.0) -> Any:
    """Boundary-weighted BCE (building pixels × ``pos_weight``) + ``dice_weight`` × the region term (soft Dice,
    or the Lovász hinge — a surrogate of IoU at the 0.5 threshold), both over labelled pixels only."""
    torch = torch_module()
    F = torch.nn.functional
    labelled = (target[:, None] != IGNORE).float()
    t = target[:, None] * labelled
    weight = labelled
    if boundary_weight > 0:  # pixels where a 5×5 window holds both classes
        edge = F.max_pool2d(t, 5, 1, 2) - (-F.max_pool2d(-t, 5, 1, 2))
        weight = labelled * (1.0 + boundary_weight * edge)
    if pos_weight != 1.0:
        weight = weight * (1.0 + (pos_weight - 1.0) * t)
    bce = F.binary_cross_entropy_with_logits(logits, t, weight=weight, reduction="sum") / labelled.sum().clamp(min=1)
    if dice_weight <= 0:
        return bce
    if region == "lovasz":
        lovasz = smp_module().losses.LovaszLoss(mode="binary", per_image=False, ignore_index=IGNORE)
        return bce + dice_weight * lovasz(logits, target[:, None])
    p = torch.sigmoid(logits) * labelled
    dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
    return bce + dice_weight * dice


def refresh_batchnorm(module: Any, batches: Sequence[Any]) -> None:
    """Recompute the batch-norm statistics of ``module`` as plain averages over ``batches`` (as SWA does).

    Averaged weights need their own statistics: the averaged running statistics lag behind and make the
    averaged model's eval-mode outputs timid.
    """
    torch = torch_module()
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms or not batches:
        return
    momenta = {m: m.momentum for m in norms}
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
    was_training = module.training
    module.train()
    with torch.no_grad():
        for xb in batches:
            module(xb)
    for m in norms:
        m.momentum = momenta[m]
    module.train(was_training)


def evaluate(model: UnetModel, chips: Sequence[Chip], limits: dict[str, np.ndarray],
             threshold: float = 0.5, backend: str = "torch", views: int = 1) -> dict[str, Any]:
    """Pixel scores (see :func:`~ai4geo_lab.metrics.segmentation_scores`) pooled over the labelled
    pixels of ``chips``, overall and per group (e.g. zoom level), predicted with ``backend`` and ``views``."""
    was_training = model.module.training
    model.module.eval()
    preds: dict[str, list[np.ndarray]] = {}
    refs: dict[str, list[np.ndarray]] = {}
    for c in chips:
        prob = predict_proba(model, scaled(c, limits), gsd_m=c.gsd_m, backend=backend, views=views)
        labelled = c.mask != IGNORE
        preds.setdefault(c.group, []).append(prob[labelled] >= threshold)
        refs.setdefault(c.group, []).append(c.mask[labelled])
    model.module.train(was_training)
    out: dict[str, Any] = {"all": segmentation_scores(np.concatenate([np.concatenate(v) for v in preds.values()]),
                                                      np.concatenate([np.concatenate(v) for v in refs.values()]))}
    for g in sorted(preds):
        out[g] = segmentation_scores(np.concatenate(preds[g]), np.concatenate(refs[g]))
    return out


def _group_weights(chips: Sequence[Chip], source_weights: dict[str, float] | None = None,
                   source_shares: dict[str, float] | None = None) -> np.ndarray:
    """Sampling probabilities: each (source, group) alike (times its source's weight), chips within a group
    by labelled area; with ``source_shares``, each source gets its share, split evenly among its groups."""
    area = [float((c.mask != IGNORE).sum()) for c in chips]
    totals: dict[tuple[str, str], float] = {}
    for c, a in zip(chips, area, strict=True):
        totals[c.source, c.group] = totals.get((c.source, c.group), 0.0) + a
    share = source_weights or {}
    if source_shares is not None:
        n_groups = {src: sum(1 for s, _ in totals if s == src) for src, _ in totals}
        share = {src: source_shares.get(src, 0.0) / n for src, n in n_groups.items()}
    w = np.array([share.get(c.source, 1.0) * a / max(totals[c.source, c.group], 1.0)
                  for c, a in zip(chips, area, strict=True)])
    if w.sum() <= 0:
        raise ConfigError("no chip has a positive sampling weight", "check source_weights")
    return w / w.sum()


def model_resolution(chips: Sequence[Chip], xs: Sequence[np.ndarray],
                     gsd_m: float | None, smooth: bool = False) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Scaled inputs and masks of ``chips`` resampled to ``gsd_m`` where finer (as :func:`predict_proba` does);
    ``smooth``: low-pass filtered first (anti-aliasing, as a coarser sensor sees the ground)."""
    from scipy.ndimage import gaussian_filter

    out_x, out_m = [], []
    for c, x in zip(chips, xs, strict=True):
        f = resample_factor(gsd_m, c.gsd_m)
        if f < 1.0 and smooth:
            x = gaussian_filter(x, (0, 0.5 / f - 0.5, 0.5 / f - 0.5), mode="nearest")
        x, m = (shrink(x, f), shrink(c.mask, f, order=0)) if f < 1.0 else (x, c.mask)
        out_x.append(np.ascontiguousarray(x, np.float32))
        out_m.append(m[: x.shape[1], : x.shape[2]])
    return out_x, out_m


def _batch(xs: Sequence[np.ndarray], masks: Sequence[np.ndarray], weights: np.ndarray, rng: np.random.Generator,
           params: TrainParams, dev: Any, fmt: Any, gsds: Sequence[float | None] | None = None,
           n_out: int | None = None) -> tuple[Any, Any]:
    """One augmented batch (images, masks) as tensors, chips drawn with the group-balancing ``weights``."""
    torch = torch_module()
    idx = rng.choice(len(xs), size=params.batch_size, p=weights)
    views = [augment(xs[i], masks[i], rng, params.crop, (params.scale_min, params.scale_max), aug=params.augment,
                     gsd_m=gsds[i] if gsds else None, n_out=n_out) for i in idx]
    xb = torch.from_numpy(np.stack([v[0] for v in views])).to(dev).contiguous(memory_format=fmt)
    return xb, torch.from_numpy(np.stack([v[1] for v in views])).to(dev)


def train(train_chips: Sequence[Chip], val_chips: Sequence[Chip], spec: UnetSpec | None = None,
          params: TrainParams | None = None, out_dir: str | Path | None = None, progress: bool = True,
          log: Any = None) -> TrainResult:
    """Train a U-Net on ``train_chips``, scoring the EMA model on ``val_chips`` after every epoch.

    Checkpoints (``last.pt``, and ``best.pt`` by val IoU) go to ``out_dir/`` when given; the history has one
    row per epoch (loss, learning rate, seconds, val IoU overall and per group). ``summary`` holds the mean val
    IoU/F1 of the last ``last_k`` epochs — the figure to judge a recipe by, not the best epoch.
    """
    torch = torch_module()
    spec = spec or UnetSpec()
    params = params or TrainParams()
    if not train_chips:
        raise ConfigError("no training chips", "give at least one image with labels")
    n_model = len(spec.inputs)
    for c in train_chips:
        n_in = c.image.shape[0]
        if n_in != n_model and not (params.augment is not None and (n_in == 1 or n_model == 1)):
            raise ConfigError(f"the chips have {n_in} bands, the model takes {n_model} ({spec.inputs})",
                              "choose the bands to read so they match the model's inputs, or train with "
                              "augment (which turns bands to grey or repeats one band)")
    val_chips = [c if c.image.shape[0] == n_model else replace(c, image=to_bands(c.image, n_model))
                 for c in val_chips]
    if params.scale_min > params.scale_max:
        raise ConfigError("scale_min must not exceed scale_max")
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    dev = device()
    same_bands = len({c.image.shape[0] for c in [*train_chips, *val_chips]}) == 1
    limits = source_limits([*train_chips, *val_chips] if same_bands else train_chips)
    val_limits = limits if same_bands else source_limits(val_chips) if val_chips else {}
    aug = params.augment
    if aug is not None and aug.gsd_range is not None:  # each chip kept at the finest pixel size a view takes
        base: float | None = aug.gsd_range[0]
    else:
        base = spec.gsd_m if params.at_model_gsd else None
    xs, masks = model_resolution(train_chips, [scaled(c, limits) for c in train_chips], base, smooth=aug is not None)
    gsds = [max(c.gsd_m, base) if c.gsd_m and base and resample_factor(base, c.gsd_m) < 1 else c.gsd_m
            for c in train_chips]
    weights = _group_weights(train_chips, params.source_weights, params.source_shares)
    net = build_unet(spec).to(dev)
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    steps_per_epoch = math.ceil(params.samples_per_epoch / params.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=params.lr, total_steps=params.epochs * steps_per_epoch,
                                                pct_start=0.15)
    ema = None
    if params.ema_decay > 0:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(params.ema_decay), use_buffers=True)
    out = Path(out_dir) if out_dir is not None else None
    meta_base = {"spec": spec.model_dump(mode="json"), "train": params.model_dump(mode="json"),
                 "limits": {k: v.tolist() for k, v in limits.items()},
                 "train_sources": sorted({c.source for c in train_chips}), "n_train_chips": len(train_chips)}
    history: list[dict[str, Any]] = []
    best = -1.0
    since_best = 0
    stopped = "schedule"
    t0 = time.perf_counter()
    bar = tqdm(range(params.epochs), desc="train", unit="epoch", disable=None if progress else True)
    fmt = torch.channels_last if dev.type == "cpu" else torch.contiguous_format
    bf16 = params.precision == "bf16" or (params.precision == "auto" and bf16_native(dev))
    meta_base["precision"] = "bf16" if bf16 else "fp32"
    for epoch in bar:
        net.train()
        te = time.perf_counter()
        losses = []
        for _ in range(steps_per_epoch):
            xb, yb = _batch(xs, masks, weights, rng, params, dev, fmt, gsds, n_model)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                logits = net(xb)
            loss = _loss(logits.float(), yb, params.boundary_weight, params.dice_weight, params.region_loss,
                         params.pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update_parameters(net)
            losses.append(float(loss.detach()))
        if ema is not None:
            refresh_batchnorm(ema.module, [_batch(xs, masks, weights, rng, params, dev, fmt, gsds, n_model)[0]
                                           for _ in range(params.bn_batches)])
        scored = UnetModel(spec, ema.module if ema is not None else net)
        scores = evaluate(scored, val_chips, val_limits, views=params.val_views) if val_chips else {}
        row: dict[str, Any] = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "lr": sched.get_last_lr()[0],
                               "seconds": time.perf_counter() - te}
        for g, s in scores.items():
            row[f"val_iou_{g}" if g != "all" else "val_iou"] = s["iou"]
            if g == "all":
                row["val_f1"] = s["f1"]
        history.append(row)
        if progress:
            bar.set_postfix(loss=f"{row['loss']:.3f}", iou=f"{row.get('val_iou', math.nan):.3f}")
        if log is not None:
            log(row)
        iou = row.get("val_iou", -math.inf)
        if out is not None:
            scored.meta = {**meta_base, "history": history}
            scored.save(out / "last.pt")
            if iou > best:
                scored.save(out / "best.pt")
        if iou > best:
            best, since_best = iou, 0
        else:
            since_best += 1
        if params.patience and since_best >= params.patience:
            stopped = "patience"
            break
        if params.max_minutes and time.perf_counter() - t0 > 60 * params.max_minutes:
            stopped = "time"
            break
    bar.close()
    final = UnetModel(spec, (ema.module if ema is not None else net).eval(), {**meta_base, "history": history})
    tail = history[-params.last_k:]
    summary = {}
    for key in ("val_iou", "val_f1"):
        vals = [r[key] for r in tail if key in r]
        if vals:
            summary[f"{key}_last{len(vals)}_mean"] = float(np.mean(vals))
    final.meta["summary"] = summary
    return TrainResult(final.to(dev), history, out / "last.pt" if out is not None else None,
                       time.perf_counter() - t0, stopped, summary)
