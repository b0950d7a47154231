"""Aligned network-resolution state -> per-frame :class:`FrameResult`.

Conventions applied here, once:

* metric scale ``s`` multiplies depth and camera translations (``is_metric`` then True);
* ``output.resolution: input`` resamples depth (NaN-aware bilinear), confidence (bilinear) and
  the dynamic mask (nearest) to the input size with the frame's :class:`ViewTransform`, and
  maps K back; pixels outside a centre crop are NaN depth, 0 confidence, not dynamic;
* depth is NaN wherever it is not finite or not positive. The confidence threshold is NOT
  applied here: outputs apply ``FrameResult.masked_depth`` with the threshold in force, so a
  threshold changed at run time applies to the next published frame, pixels included.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from align3r_ros.config import Align3rConfig, OutputResolution
from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.structures import FrameResult


def frame_result(prepared: PreparedFrame, T_world_cam: np.ndarray, depth: np.ndarray,
                 K: np.ndarray, confidence: np.ndarray, dynamic_mask: np.ndarray,
                 config: Align3rConfig, metric_scale: Optional[float], residual: float,
                 status: str, scale_source: str = '') -> FrameResult:
    """Build one result.

    Args:
        prepared: the frame.
        T_world_cam: (4, 4) camera-to-world in alignment units.
        depth: (h, w) aligned depth, alignment units (NaN allowed).
        K: (3, 3) intrinsics at (h, w).
        confidence: (h, w) aligned confidence.
        dynamic_mask: (h, w) bool.
        config: engine config (``output`` group).
        metric_scale: metres per alignment unit, or None when not metric.
        residual: mean alignment residual of the solve.
        status: diagnostics note.
        scale_source: where ``metric_scale`` came from ('odometry' or 'prior'); '' is 'prior'
            when metric, else 'none'.
    """
    scale = 1.0 if metric_scale is None else float(metric_scale)
    T = np.array(T_world_cam, dtype=np.float64)
    T[:3, 3] *= scale
    depth = np.asarray(depth, dtype=np.float32) * np.float32(scale)
    confidence = np.asarray(confidence, dtype=np.float32)
    mask = np.asarray(dynamic_mask, dtype=bool)
    K = np.asarray(K, dtype=np.float64)
    rgb = prepared.rgb
    if config.output.resolution == OutputResolution.INPUT:
        transform = prepared.transform
        depth = transform.map_to_input(depth, nearest=False).astype(np.float32)
        confidence = np.nan_to_num(transform.map_to_input(confidence, nearest=False),
                                   nan=0.0).astype(np.float32)
        mask = transform.map_to_input(mask, nearest=True).astype(bool)
        K = transform.K_to_input(K)
        if prepared.input_rgb is not None:
            rgb = prepared.input_rgb
    with np.errstate(invalid='ignore'):
        invalid = ~(np.isfinite(depth) & (depth > 0))
    depth = np.where(invalid, np.float32(np.nan), depth).astype(np.float32)
    return FrameResult(stamp_ns=prepared.stamp_ns, depth=depth, confidence=confidence, K=K,
                       T_world_cam=T, is_metric=metric_scale is not None, dynamic_mask=mask,
                       rgb=rgb, residual=float(residual), status=status,
                       tag=prepared.tag, scale_source=scale_source or (
                           'none' if metric_scale is None else 'prior'))
