"""Metric scale: a robust factor between aligned depth and a metric prior, tracked over time.

Alignment output has an arbitrary global scale. When the prior is metric (Depth Pro, an RGB-D
camera, external metres), the factor s with ``prior ~= s * depth`` on confident static pixels
makes depth and camera translations metric. Estimate: the median of log ratios, refined by a few
iteratively reweighted (Cauchy) steps in log space, so outlier pixels (prior holes, moving
objects the mask missed, depth edges) barely move it. The tracker smooths per-keyframe
estimates exponentially (``scale.smoothing``), in log space.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from align3r_ros.config import MetricScaleMode

#: Cauchy width in log-ratio units (about 10 % relative).
_CAUCHY_WIDTH = 0.1
_IRLS_STEPS = 5


def metric_scale_enabled(mode: MetricScaleMode, prior_is_metric: bool) -> bool:
    """Whether depth should be made metric: ``on``/``auto`` need a metric prior; ``off`` never."""
    return MetricScaleMode(mode) != MetricScaleMode.OFF and prior_is_metric


def metric_scale_note(mode: MetricScaleMode, prior_is_metric: bool,
                      support_pixels: Optional[int], min_pixels: int) -> str:
    """Why a result is not metric, for its status ('' when nothing needs saying).

    ``on`` promises metres, so a missing metric prior is named; ``auto`` stays quiet about a
    missing prior (it means "metric when possible"). With a prior, too little support is named
    in both modes, with the counts.

    Args:
        mode: ``scale.metric``.
        prior_is_metric: the frames had a metric prior.
        support_pixels: confident static pixels with a finite metric prior (None: not counted,
            e.g. the alignment failed before).
        min_pixels: ``scale.min_pixels``.
    """
    mode = MetricScaleMode(mode)
    if mode == MetricScaleMode.OFF:
        return ''
    if not prior_is_metric:
        if mode != MetricScaleMode.ON:
            return ''
        return ('metric scale: scale.metric is on but there is no metric prior '
                '(prior.kind / backend gives relative depth)')
    if support_pixels is None:
        return 'metric scale: not estimated yet (no aligned clip or keyframe)'
    return (f'metric scale: {int(support_pixels)} confident static pixels with a metric prior, '
            f'below scale.min_pixels {int(min_pixels)}')


def metric_support(depth: np.ndarray, prior: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """(..., h, w) bool: usable pixels where both depth and the metric prior are finite, > 0."""
    depth = np.asarray(depth, dtype=np.float64)
    prior = np.asarray(prior, dtype=np.float64)
    with np.errstate(invalid='ignore'):
        return usable & np.isfinite(depth) & np.isfinite(prior) & (depth > 0) & (prior > 0)


def estimate_metric_scale(depth: np.ndarray, prior: np.ndarray, usable: np.ndarray,
                          min_pixels: int) -> Optional[float]:
    """Robust factor s with ``prior ~= s * depth``.

    Args:
        depth: (..., h, w) aligned depth, alignment units.
        prior: (..., h, w) metric prior, metres, NaN where invalid.
        usable: (..., h, w) bool, confident static pixels.
        min_pixels: fewer usable finite positive pairs than this gives None.

    Returns:
        s (metres per alignment unit), or None when there is not enough support.
    """
    depth = np.asarray(depth, dtype=np.float64)
    prior = np.asarray(prior, dtype=np.float64)
    ok = metric_support(depth, prior, usable)
    if int(ok.sum()) < max(int(min_pixels), 1):
        return None
    log_ratio = np.log(prior[ok]) - np.log(depth[ok])
    estimate = float(np.median(log_ratio))
    for _ in range(_IRLS_STEPS):
        weight = 1.0 / (1.0 + ((log_ratio - estimate) / _CAUCHY_WIDTH) ** 2)
        estimate = float(np.sum(weight * log_ratio) / np.sum(weight))
    return math.exp(estimate) if math.isfinite(estimate) else None


class MetricScaleTracker:
    """Exponentially smoothed metric scale over keyframes (log space).

    Args:
        smoothing: weight of a new estimate (1: no memory, 0: the first estimate forever).
    """

    def __init__(self, smoothing: float) -> None:
        self.smoothing = float(smoothing)
        self._log_scale: Optional[float] = None

    @property
    def scale(self) -> Optional[float]:
        """The tracked factor, or None before the first estimate."""
        return None if self._log_scale is None else math.exp(self._log_scale)

    def update(self, estimate: Optional[float]) -> Optional[float]:
        """Blend in a new estimate (None leaves the state unchanged); returns the scale."""
        if estimate is not None and estimate > 0 and math.isfinite(estimate):
            log_estimate = math.log(estimate)
            if self._log_scale is None:
                self._log_scale = log_estimate
            else:
                self._log_scale += self.smoothing * (log_estimate - self._log_scale)
        return self.scale

    def reset(self) -> None:
        self._log_scale = None
