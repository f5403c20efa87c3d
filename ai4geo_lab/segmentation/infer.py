"""Pure inference on in-memory arrays: input scaling, and building probabilities by blended sliding windows.

No I/O and no Dask here: :mod:`ai4geo_lab.segmentation.prediction` reads tiles and maps these over them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.segmentation.unet import UnetModel, torch_module

#: Pixel sides of the network input must be multiples of this (five 2× poolings).
STRIDE = 32
#: network window (px): a default tile of 1000 px with its halo of 64 px each side (1128, padded to 1152) goes
#: through the network in one pass; smaller windows recompute their overlaps (512 px windows cost 2.25× the
#: work on such a tile)
WINDOW = 1280


def band_limits(samples: np.ndarray, low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """Per-band (low, high) percentiles of ``samples`` (C, ...) ignoring NaN: shape (C, 2), float32.

    Computed once per raster (or per training source) so that every tile is scaled alike — no seams.
    """
    flat = np.asarray(samples, dtype=np.float64).reshape(samples.shape[0], -1)
    lim = np.nanpercentile(flat, [low, high], axis=1).T
    lim[:, 1] = np.maximum(lim[:, 1], lim[:, 0] + 1e-6)
    return lim.astype(np.float32)


def scale_inputs(image: np.ndarray, limits: np.ndarray, ndsm: np.ndarray | None = None,
                 ndsm_scale_m: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """The network input (C, H, W) float32 and the valid-pixel mask (H, W).

    Image bands are stretched linearly from their (low, high) limits to 0…1 (clipped to −0.5…1.5); the nDSM,
    when given, is appended as metres / ``ndsm_scale_m`` clipped to 0…2. Non-finite pixels become 0 and invalid.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3 or img.shape[0] != len(limits):
        raise InvalidInputError(f"image of shape {img.shape} does not match {len(limits)} band limits",
                                "give (bands, rows, cols) with one (low, high) pair per band")
    lo, hi = limits[:, 0, None, None], limits[:, 1, None, None]
    x = np.clip((img - lo) / (hi - lo), -0.5, 1.5)
    valid = np.asarray(np.isfinite(img).all(axis=0))
    if ndsm is not None:
        h = np.asarray(ndsm, dtype=np.float32)
        if h.shape != img.shape[1:]:
            raise InvalidInputError(f"nDSM shape {h.shape} differs from image shape {img.shape[1:]}",
                                    "read both on the same grid")
        valid &= np.isfinite(h)
        x = np.concatenate([x, np.clip(h / ndsm_scale_m, 0.0, 2.0)[None]])
    x[:, ~valid] = 0.0
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), valid


def _ramp(side: int, margin: int) -> np.ndarray:
    w = np.ones(side, np.float32)
    if margin > 0:
        ramp = (np.arange(margin, dtype=np.float32) + 1) / (margin + 1)
        w[:margin] = np.minimum(w[:margin], ramp)
        w[-margin:] = np.minimum(w[-margin:], ramp[::-1])
    return w


def ramp_weights(shape: tuple[int, int], margin: int) -> np.ndarray:
    """Blending weights of a window: 1 inside, falling linearly towards its edges over ``margin`` px."""
    return np.outer(_ramp(shape[0], margin), _ramp(shape[1], margin))


def _starts(length: int, window: int, step: int) -> list[int]:
    if length <= window:
        return [0]
    starts = list(range(0, length - window, step))
    return [*starts, length - window]


def _pad_to(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    pr, pc = rows - x.shape[1], cols - x.shape[2]
    if pr <= 0 and pc <= 0:
        return x
    mode: Literal["reflect", "edge"] = "reflect" if pr < x.shape[1] and pc < x.shape[2] else "edge"
    return np.pad(x, ((0, 0), (0, max(pr, 0)), (0, max(pc, 0))), mode=mode)


def resample_factor(target: float | None, gsd_m: float | None) -> float:
    """How much to shrink an input of ``gsd_m`` metres per pixel for a model working at ``target`` (its
    ``spec.gsd_m``; 1: as it is). Inputs finer than the target are seen at it; coarser ones stay as they are.
    """
    if not target or not gsd_m or gsd_m >= target / 1.25:
        return 1.0
    return gsd_m / target


def shrink(x: np.ndarray, f: float, order: int = 1) -> np.ndarray:
    """Bands (C, H, W) or a mask (H, W) resampled by ``f`` < 1 (``order`` 1: bilinear; 0: nearest, for labels)."""
    from scipy.ndimage import zoom

    return zoom(x, (1, f, f) if x.ndim == 3 else f, order=order, grid_mode=True, mode="nearest")


#: Test-time views, in the order they are added: identity, half turn, the two mirrors, quarter turns,
#: the two diagonal mirrors (the 8 symmetries of the square) as (quarter turns, mirror the columns).
VIEWS = ((0, False), (2, False), (0, True), (2, True), (1, False), (3, False), (1, True), (3, True))


def _viewed(run: Callable[[np.ndarray], np.ndarray], views: int) -> Callable[[np.ndarray], np.ndarray]:
    """``run`` averaged over the first ``views`` of :data:`VIEWS` (each input turned, run, turned back)."""
    if views not in (1, 2, 4, 8):
        raise InvalidInputError(f"views must be 1, 2, 4 or 8, got {views}",
                                "1: the input as it is; 2, 4, 8: that many flips and turns averaged")
    if views == 1:
        return run

    def one(x: np.ndarray, k: int, mirror: bool) -> np.ndarray:
        v = np.rot90(x, k, axes=(2, 3))
        out = run(np.ascontiguousarray(v[..., ::-1] if mirror else v))
        return np.rot90(out[..., ::-1] if mirror else out, -k, axes=(2, 3))

    def averaged(x: np.ndarray) -> np.ndarray:
        return np.asarray(sum(one(x, k, mirror) for k, mirror in VIEWS[:views])) / views

    return averaged


def predict_proba(model: UnetModel, x: np.ndarray, window: int = WINDOW, overlap: int = 64,
                  batch: int = 1, backend: str = "torch", gsd_m: float | None = None,
                  views: int = 1) -> np.ndarray:
    """Building probability (H, W) float32 of a scaled input ``x`` (C, H, W) of ``gsd_m`` metres per pixel.

    An input finer than the model's working resolution (``spec.working_gsd_m``) is resampled to it, predicted,
    and the probability resampled back.
    ``views`` > 1 averages the logits of that many flips/turns of each window (test-time augmentation: steadier
    masks for ``views`` times the work).

    The input is cut into windows of ``window`` px overlapping by ``overlap`` px (rounded to multiples of
    32); their predictions are blended with :func:`ramp_weights`, so window borders leave no seam.
    ``backend``: "torch", "onnx" (ONNX Runtime, faster on CPUs) or "auto" (see :func:`_runner`).
    """
    if x.ndim != 3 or x.shape[0] != len(model.spec.inputs):
        raise InvalidInputError(f"input of shape {x.shape}, the model takes {len(model.spec.inputs)} channels "
                                f"({', '.join(model.spec.inputs)})", "scale the image with scale_inputs first")
    f = resample_factor(model.spec.working_gsd_m, gsd_m)
    if f < 1.0:
        from scipy.ndimage import zoom

        small = shrink(x, f)
        prob = predict_proba(model, small, window, max(8, round(overlap * f)), batch, backend, views=views)
        back = zoom(prob, (x.shape[1] / prob.shape[0], x.shape[2] / prob.shape[1]), order=1, grid_mode=True,
                    mode="nearest")
        return back[: x.shape[1], : x.shape[2]].astype(np.float32)
    rows, cols = x.shape[1:]
    win = max(STRIDE, -(-min(window, max(rows, cols)) // STRIDE) * STRIDE)
    ov = min(overlap, win // 4)
    pr, pc = max(rows, win), max(cols, win)
    xp = _pad_to(x, -(-pr // STRIDE) * STRIDE, -(-pc // STRIDE) * STRIDE)
    wr, wc = min(win, xp.shape[1]), min(win, xp.shape[2])
    acc = np.zeros(xp.shape[1:], np.float32)
    norm = np.zeros(xp.shape[1:], np.float32)
    weight = ramp_weights((wr, wc), ov)
    boxes = [(r, c) for r in _starts(xp.shape[1], wr, wr - ov) for c in _starts(xp.shape[2], wc, wc - ov)]
    run = _viewed(_runner(model, backend), views)
    for i in range(0, len(boxes), batch):
        chunk = boxes[i:i + batch]
        logits = run(np.ascontiguousarray(np.stack([xp[:, r:r + wr, c:c + wc] for r, c in chunk])))
        prob = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        for (r, c), p in zip(chunk, prob, strict=True):
            acc[r:r + wr, c:c + wc] += p * weight
            norm[r:r + wr, c:c + wc] += weight
    return (acc / np.maximum(norm, 1e-6))[:rows, :cols]


def _runner(model: UnetModel, backend: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function batch (N, C, H, W) float32 → logits (N, 1, H, W), by ``backend``.

    "torch": the module (channels-last on the CPU); "onnx": ONNX Runtime on an export of the module, faster on
    CPUs; "int8": ONNX Runtime on the model's int8 companion file
    (:func:`ai4geo_lab.segmentation.quantization.quantize`), faster still; "auto": on the
    CPU, int8 when the model has that file, else onnx, when onnxruntime and onnx are installed; else torch.
    """
    torch = torch_module()
    dev = model.device
    if backend == "auto":
        backend = "torch"
        if dev.type == "cpu" and _onnx_available():
            backend = "int8" if model.int8_file is not None else "onnx"
    if backend in ("onnx", "int8"):
        session = onnx_session(model, int8=backend == "int8")
        return lambda x: session.run(None, {"image": x})[0]
    if backend != "torch":
        raise InvalidInputError(f"unknown inference backend {backend!r}", "use auto, torch, onnx or int8")
    fmt = torch.channels_last if dev.type == "cpu" else torch.contiguous_format

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            t = torch.from_numpy(x).to(dev).contiguous(memory_format=fmt)
            return model.module(t).float().cpu().numpy()

    return run


def _onnx_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


_SESSIONS: dict[tuple[int, str], Any] = {}


def export_onnx(model: UnetModel) -> bytes:
    """The model as an ONNX graph (float32, any batch and window size)."""
    import io
    import warnings

    torch = torch_module()
    buf = io.BytesIO()
    dummy = torch.zeros(1, len(model.spec.inputs), 64, 64)
    module = model.module.to("cpu", memory_format=torch.contiguous_format).eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, dummy, buf, input_names=["image"], output_names=["logits"],
                              dynamic_axes={"image": {0: "n", 2: "h", 3: "w"}}, dynamo=False, opset_version=17)
    finally:
        model.to(model.device)
    return buf.getvalue()


def onnx_session(model: UnetModel, int8: bool = False) -> Any:
    """An ONNX Runtime session of the model (exported once per model object and process, to memory), or of its
    int8 companion file with ``int8``."""
    key = (id(model.module), f"int8:{model.int8_file}" if int8 else "fp32")
    if key not in _SESSIONS:
        import onnxruntime as ort

        if int8 and model.int8_file is None:
            raise InputNotFoundError(f"the model has no int8 file ({model.source} → .int8.onnx)",
                                     "make one with ai4geo segment quantize, or use the onnx or torch backend")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch_module().get_num_threads()
        opts.inter_op_num_threads = 1
        graph = str(model.int8_file) if int8 else export_onnx(model)
        _SESSIONS[key] = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
    return _SESSIONS[key]


def threads_for_worker() -> int | None:
    """Torch threads for the current Dask worker (its thread count), or None outside a worker."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return None


def set_torch_threads(n: int | None) -> None:
    """Limit torch's intra-op threads to ``n`` (no change for None), so workers do not oversubscribe cores."""
    if n:
        torch: Any = torch_module()
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
