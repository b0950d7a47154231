"""Video-depth metrics with the paper's protocol (spec §7.1, the official ``tool/depth_test.py``).

Per sequence, all frames jointly: pixels with ``1e-3 < gt < depth_max`` are valid; one scale and
shift (or scale only) maps the prediction onto the ground truth; the aligned prediction, evaluated
in float32 as the reference does, is clipped to ``[1e-5, depth_max]``; then Abs Rel, Sq Rel, RMSE,
log RMSE and the δ < 1.25^k accuracies are taken over the valid pixels. Dataset scores average the
per-sequence values weighted by their number of valid pixels.

The reference L1 fit is ``scipy.optimize.minimize`` (default method, BFGS with a numerical
gradient) of ``Σ |s·p + t − g|`` from ``x0 = [median(g) / median(p), 0]`` where ``torch.median``
returns the *lower* middle value for even counts; :func:`fit_l1_scale_shift` repeats that call
exactly, so the fixture numbers are reproduced to ~1e-8.

One addition to the reference: pixels whose prediction is not finite (our engine publishes NaN
where confidence is low) are excluded as well and counted in ``DepthMetrics.pred_coverage``; the
reference predictions are dense, so this changes nothing for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

from align3r_ros.config import EvaluationConfig, StrEnum
from align3r_ros.errors import InputError

DEFAULT_DEPTH_MAX = EvaluationConfig().depth_max   # metres (70: the official code, every dataset)
GT_MIN = 1e-3              # metres; ground truth at or below is invalid (0 and Bonn/TUM's -1)
PRED_CLIP_MIN = 1e-5       # lower clip of the aligned prediction


class DepthAlignment(StrEnum):
    """How the prediction is mapped onto the ground truth before the metrics."""

    L1_SCALE_SHIFT = 'l1'          # the paper: least absolute deviations, BFGS (align_with_lad)
    LSTSQ_SCALE_SHIFT = 'lstsq'    # least-squares scale and shift (align_with_lstsq)
    MEDIAN_SCALE = 'median'        # scale only, median(g) / median(p)
    NONE = 'none'                  # metric predictions, evaluated as they are


@dataclass(frozen=True)
class DepthMetrics:
    """Depth errors of one sequence (or a weighted dataset average).

    Attributes:
        abs_rel: mean |a − g| / g.
        sq_rel: mean (a − g)² / g (metres).
        rmse: sqrt(mean (a − g)²) (metres).
        log_rmse: sqrt(mean (ln a − ln g)²).
        delta_1_25: fraction with max(a/g, g/a) < 1.25; ``delta_1_25_2``, ``delta_1_25_3``
            for 1.25² and 1.25³.
        valid_pixels: number of pixels evaluated (the dataset-average weight).
        scale: the fitted scale s (NaN for a dataset average).
        shift: the fitted shift t in metres (0 for scale-only fits; NaN for an average).
        pred_coverage: fraction of GT-valid pixels that had a finite prediction.
    """

    abs_rel: float
    sq_rel: float
    rmse: float
    log_rmse: float
    delta_1_25: float
    delta_1_25_2: float
    delta_1_25_3: float
    valid_pixels: int
    scale: float = float('nan')
    shift: float = float('nan')
    pred_coverage: float = 1.0


def lower_median(values: np.ndarray) -> float:
    """``torch.median`` semantics: the lower of the two middle values for even counts."""
    flat = np.asarray(values).reshape(-1)
    if flat.size == 0:
        raise InputError('median of an empty array')
    k = (flat.size - 1) // 2
    return float(np.partition(flat, k)[k])


def _l1_loss(params: np.ndarray, pred: np.ndarray, gt: np.ndarray) -> float:
    # The reference's float64 scale times its float32 prediction is computed in float64 under
    # NumPy 2 (NEP 50); callers pass the prediction as float64 so NumPy 1 computes the same.
    s, t = params
    return np.sum(np.abs(s * pred + t - gt))


def fit_l1_scale_shift(pred: np.ndarray, gt: np.ndarray) -> Tuple[float, float]:
    """The reference L1 scale-and-shift fit.

    Args:
        pred: (P,) float32 predictions at valid pixels (any units).
        gt: (P,) float64 ground truth at the same pixels, metres.

    Returns:
        (s, t) minimising Σ |s·pred + t − gt| as scipy's BFGS finds it from the reference start.
    """
    from scipy.optimize import minimize

    s_init = np.float64(lower_median(gt)) / np.float64(lower_median(pred))
    result = minimize(_l1_loss, [s_init, 0.0], args=(pred.astype(np.float64), gt))
    s, t = result.x
    return float(s), float(t)


def fit_lstsq_scale_shift(pred: np.ndarray, gt: np.ndarray) -> Tuple[float, float]:
    """Least-squares (s, t) minimising Σ (s·pred + t − gt)²; pred, gt (P,)."""
    design = np.stack([pred.astype(np.float64), np.ones(pred.shape[0])], axis=1)
    (s, t), *_ = np.linalg.lstsq(design, gt.astype(np.float64), rcond=None)
    return float(s), float(t)


def fit_median_scale(pred: np.ndarray, gt: np.ndarray) -> Tuple[float, float]:
    """Scale-only fit s = median(gt) / median(pred) (lower medians), shift 0."""
    denominator = lower_median(pred)
    if denominator == 0.0:
        raise InputError('median of the prediction is 0: cannot fit a median scale')
    return lower_median(gt) / denominator, 0.0


def _fit(alignment: DepthAlignment, pred: np.ndarray, gt: np.ndarray) -> Tuple[float, float]:
    if alignment is DepthAlignment.L1_SCALE_SHIFT:
        return fit_l1_scale_shift(pred, gt)
    if alignment is DepthAlignment.LSTSQ_SCALE_SHIFT:
        return fit_lstsq_scale_shift(pred, gt)
    if alignment is DepthAlignment.MEDIAN_SCALE:
        return fit_median_scale(pred, gt)
    return 1.0, 0.0


def valid_depth_mask(gt: np.ndarray, depth_max: float = DEFAULT_DEPTH_MAX) -> np.ndarray:
    """(…) bool: ground truth inside (1e-3, depth_max) metres (NaN is invalid)."""
    gt = np.asarray(gt)
    with np.errstate(invalid='ignore'):
        return (gt > GT_MIN) & (gt < depth_max)


def depth_errors(aligned: np.ndarray, gt: np.ndarray) -> Tuple[float, ...]:
    """The seven metrics of (P,) aligned predictions (> 0) against (P,) ground truth, metres.

    Returns:
        (abs_rel, sq_rel, rmse, log_rmse, delta_1_25, delta_1_25_2, delta_1_25_3), float64.
    """
    a = aligned.astype(np.float64)
    g = gt.astype(np.float64)
    diff = a - g
    abs_rel = np.mean(np.abs(diff) / g)
    sq_rel = np.mean(diff ** 2 / g)
    rmse = np.sqrt(np.mean(diff ** 2))
    log_rmse = np.sqrt(np.mean((np.log(a) - np.log(g)) ** 2))
    ratio = np.maximum(a / g, g / a)
    deltas = [np.mean(ratio < 1.25 ** k) for k in (1, 2, 3)]
    return tuple(float(v) for v in (abs_rel, sq_rel, rmse, log_rmse, *deltas))


def evaluate_depth_sequence(pred: np.ndarray, gt: np.ndarray,
                            alignment: DepthAlignment = DepthAlignment.L1_SCALE_SHIFT,
                            depth_max: float = DEFAULT_DEPTH_MAX) -> DepthMetrics:
    """Metrics of one sequence with one alignment for all its frames.

    Args:
        pred: (N, H, W) predicted depth (any units unless ``alignment`` is NONE; NaN/inf =
            no prediction), at the ground truth's resolution.
        gt: (N, H, W) ground-truth depth, metres (0, negative or NaN = invalid).
        alignment: how predictions are mapped onto the ground truth.
        depth_max: depth cap in metres (valid GT below it; aligned predictions clipped to it).

    Raises:
        InputError: shapes differ, or no pixel is valid.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise InputError(f'prediction shape {pred.shape} differs from ground truth {gt.shape}')
    alignment = DepthAlignment(alignment)
    gt_valid = valid_depth_mask(gt, depth_max)
    n_gt_valid = int(gt_valid.sum())
    valid = gt_valid & np.isfinite(pred)
    n_valid = int(valid.sum())
    if n_valid == 0:
        raise InputError(f'no valid pixel to evaluate (ground truth valid: {n_gt_valid}, '
                         f'depth_max {depth_max} m)')
    # The reference holds predictions as float32 tensors and GT as float64.
    pred_valid = pred[valid].astype(np.float32)
    gt_valid_values = gt[valid].astype(np.float64)
    s, t = _fit(alignment, pred_valid, gt_valid_values)
    if alignment is DepthAlignment.NONE:
        aligned = pred_valid
    else:
        # The reference multiplies a float32 tensor by Python floats: float32 arithmetic.
        aligned = pred_valid * np.float32(s) + np.float32(t)
    aligned = np.clip(aligned, PRED_CLIP_MIN, depth_max)
    values = depth_errors(aligned, gt_valid_values)
    return DepthMetrics(*values, valid_pixels=n_valid, scale=s, shift=t,
                        pred_coverage=n_valid / max(n_gt_valid, 1))


def average_depth_metrics(per_sequence: Sequence[DepthMetrics]) -> DepthMetrics:
    """Dataset score: per-sequence metrics averaged with their valid-pixel counts as weights."""
    if not per_sequence:
        raise InputError('no sequence to average')
    weights = np.array([m.valid_pixels for m in per_sequence], dtype=np.float64)
    names = ('abs_rel', 'sq_rel', 'rmse', 'log_rmse', 'delta_1_25', 'delta_1_25_2',
             'delta_1_25_3', 'pred_coverage')
    averaged = {name: float(np.average([getattr(m, name) for m in per_sequence],
                                       weights=weights)) for name in names}
    return DepthMetrics(valid_pixels=int(weights.sum()), **averaged)


def resize_depth(depth: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Bilinear resize of (H, W) depth to ``shape`` = (H', W') as the paper-era evaluation does
    (``cv2.resize`` default); NaN spreads to its bilinear neighbours (they become invalid)."""
    import cv2

    depth = np.asarray(depth, dtype=np.float32)
    if depth.shape == tuple(shape):
        return depth
    return cv2.resize(depth, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_LINEAR)
