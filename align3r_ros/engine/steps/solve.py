"""One guarded solve: predictions -> aligned frames + dynamic masks, or a reason it failed.

Shared by the streaming, hierarchical and flat modes. It runs the alignment, detects dynamic
pixels from the residuals, re-solves with those pixels down-weighted (warm-started from the
first solution) when there are any, and checks the result: a solve that raises, or returns
non-finite poses, becomes a :class:`SolveOutcome` with ``result`` None and a status, so callers
keep going without ever emitting NaN poses.

Device: both solves run on ``runtime.device`` (resolved by
:func:`align3r_ros.runtime.resolve_device`; ``auto`` is cuda when available). The solver's
tensors stay there; the aligned frames come back as host arrays, which the dynamic mask and
the stages read. A device that cannot be used (cuda asked for, none present) is a failed solve
with that reason as its status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from align3r_ros.align import AlignmentResult, align_pairs, alignment_residuals
from align3r_ros.config import Align3rConfig
from align3r_ros.errors import Align3rError
from align3r_ros.runtime import resolve_device
from align3r_ros.engine.steps.dynamic_mask import detect_dynamic, dynamic_pixel_weights
from align3r_ros.structures import PairPredictions

LOG = logging.getLogger(__name__)

#: Fraction of pixels that must be dynamic before a re-solve is worth its cost.
MIN_DYNAMIC_FRACTION = 1e-3


@dataclass(frozen=True)
class SolveOutcome:
    """Result of :func:`solve_frames`.

    Attributes:
        result: the alignment, or None when it failed.
        dynamic_mask: (N, h, w) bool (all False when detection is off or the solve failed).
        residual: mean alignment residual over confident pixels (NaN when failed).
        status: '' on success, else why it failed.
    """

    result: Optional[AlignmentResult]
    dynamic_mask: np.ndarray
    residual: float
    status: str = ''


def _finite(result: AlignmentResult) -> bool:
    return bool(np.isfinite(result.T_world_cam).all() and np.isfinite(result.K).all()
                and np.isfinite(result.depth).any())


def solve_frames(predictions: PairPredictions, num_frames: int, hw: tuple,
                 config: Align3rConfig, *, K_known: Optional[np.ndarray] = None,
                 anchors: Sequence = ()) -> SolveOutcome:
    """Align ``num_frames`` frames of size ``hw`` from ``predictions`` (never raises on data).

    Args:
        predictions: pairwise point maps of the frames (edges index 0..num_frames-1).
        num_frames: N.
        hw: (h, w) network resolution.
        config: engine config (``align`` and ``dynamic`` groups are read).
        K_known: (N, 3, 3) fixed intrinsics at (h, w), or None to estimate the focal.
        anchors: :class:`~align3r_ros.align.FrameAnchor` of the frames held fixed.
    """
    no_mask = np.zeros((num_frames,) + tuple(hw), dtype=bool)
    try:
        device = resolve_device(config.runtime.device)
        result = align_pairs(predictions, config.align, K_known=K_known, anchors=anchors,
                             device=device)
        if not _finite(result):
            return SolveOutcome(None, no_mask, float('nan'), 'alignment gave non-finite poses')
        residuals = alignment_residuals(result, predictions)
        mask = no_mask
        if config.dynamic.enabled:
            mask = detect_dynamic(residuals, result.confidence, config.dynamic.threshold)
            if mask.mean() > MIN_DYNAMIC_FRACTION:
                weights = dynamic_pixel_weights(mask, config.dynamic.weight)
                second = align_pairs(predictions, config.align, K_known=K_known,
                                     anchors=anchors, init=result, pixel_weights=weights,
                                     device=device)
                if _finite(second):
                    result = second
                    residuals = alignment_residuals(result, predictions)
    except (Align3rError, ValueError, RuntimeError, np.linalg.LinAlgError) as error:
        LOG.warning('alignment of %d frames failed: %s', num_frames, error)
        return SolveOutcome(None, no_mask, float('nan'), f'alignment failed: {error}')
    confident = (result.confidence > config.align.min_conf_thr) & ~mask
    values = residuals[confident & np.isfinite(residuals)]
    residual = float(np.mean(values)) if values.size else float('nan')
    return SolveOutcome(result, mask, residual)
