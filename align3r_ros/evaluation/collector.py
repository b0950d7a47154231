"""Accumulates results and ground truth of one run, then evaluates them with the paper protocol.

Memory stays bounded on long runs: at most ``max_depth_frames`` depth pairs are held for the
sequence-level depth metrics. When that many are held, every other one is dropped and only every
second later frame is kept (the kept frames stay evenly spread over the run; ``depth_stride``
says how thinly). Poses (16 floats per frame) are all kept.

Memory: about 2.5 MB per held VGA frame (float32 prediction and ground truth, a thumbnail), so
the default bound (``EvaluationConfig.max_depth_frames``, 150 frames) holds ~375 MB.

Predictions are resized to the ground truth's resolution with ``cv2.resize`` bilinear, as the
paper-era evaluation does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from align3r_ros.config import EvaluationConfig
from align3r_ros.errors import InputError
from align3r_ros.evaluation.depth_metrics import (
    PRED_CLIP_MIN,
    DepthAlignment,
    DepthMetrics,
    depth_errors,
    evaluate_depth_sequence,
    resize_depth,
    valid_depth_mask,
)
from align3r_ros.evaluation.pose_metrics import PoseMetrics, align_positions, evaluate_trajectory
from align3r_ros.structures import Frame, FrameResult


_DEFAULTS = EvaluationConfig()


@dataclass(frozen=True)
class StripSample:
    """One frame for the RGB / predicted / ground-truth / error strip (GT resolution)."""

    stamp_ns: int
    rgb: np.ndarray          # (h, w, 3) uint8, downsampled to at most 320 px wide
    depth_aligned: np.ndarray  # (H, W) float32 metres after the sequence alignment
    gt_depth: np.ndarray     # (H, W) float32 metres, NaN invalid


@dataclass(frozen=True)
class RunEvaluation:
    """What a run scored against ground truth; fields are None where no ground truth was given.

    Attributes:
        depth: sequence depth metrics (None without ground-truth depth).
        pose: trajectory metrics (None without ground-truth poses; ``skipped`` when
            degenerate).
        depth_frames: frames the depth metrics used (``depth_stride`` apart).
        depth_stride: 1 when every frame with ground truth was used.
        per_frame_stamps_ns: (F,) stamps of the per-frame depth errors.
        per_frame_abs_rel: (F,) Abs Rel of each held frame under the sequence alignment.
        stamps_ns: (N,) stamps of the frames with both poses.
        T_world_cam_est_aligned: (N, 4, 4) estimate after Sim(3) alignment to the ground truth.
        T_world_cam_gt: (N, 4, 4) ground-truth poses.
        position_errors: (N,) metres after Sim(3).
        strip: a few frames for the depth strip plot.
    """

    depth: Optional[DepthMetrics]
    pose: Optional[PoseMetrics]
    depth_frames: int = 0
    depth_stride: int = 1
    per_frame_stamps_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    per_frame_abs_rel: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stamps_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    T_world_cam_est_aligned: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 4)))
    T_world_cam_gt: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 4)))
    position_errors: np.ndarray = field(default_factory=lambda: np.zeros(0))
    strip: Tuple[StripSample, ...] = ()


class EvaluationCollector:
    """Collects (result, ground truth) pairs frame by frame.

    Args:
        alignment: depth alignment before the metrics (the paper: L1 scale and shift; metric
            runs may use NONE).
        depth_max: depth cap in metres.
        max_depth_frames: bound on held depth pairs (see module docstring).
        strip_frames: frames shown in the depth strip plot.
        conf_threshold: the run's ``output.conf_threshold``: depth is scored where it would
            be published (``FrameResult.masked_depth``); 0 scores every finite pixel.
    """

    def __init__(self, alignment: DepthAlignment = DepthAlignment.L1_SCALE_SHIFT,
                 depth_max: float = _DEFAULTS.depth_max,
                 max_depth_frames: int = _DEFAULTS.max_depth_frames,
                 strip_frames: int = 4,
                 conf_threshold: float = 0.0) -> None:
        if max_depth_frames < 2:
            raise InputError(f'max_depth_frames must be >= 2, got {max_depth_frames}')
        self.alignment = DepthAlignment(alignment)
        self.depth_max = float(depth_max)
        self.max_depth_frames = int(max_depth_frames)
        self.strip_frames = int(strip_frames)
        self.conf_threshold = float(conf_threshold)
        self._depth: List[Tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._depth_stride = 1
        self._depth_seen = 0
        self._poses: List[Tuple[int, np.ndarray, np.ndarray]] = []

    def add(self, result: FrameResult, frame: Frame) -> None:
        """Record one result with the frame it came from (same stamp)."""
        if frame.gt_T_world_cam is not None and np.all(np.isfinite(result.T_world_cam)):
            self._poses.append((int(result.stamp_ns), np.asarray(result.T_world_cam, float),
                                np.asarray(frame.gt_T_world_cam, float)))
        if frame.gt_depth is None:
            return
        self._depth_seen += 1
        if (self._depth_seen - 1) % self._depth_stride:
            return
        gt = np.asarray(frame.gt_depth, dtype=np.float32)
        pred = resize_depth(result.masked_depth(self.conf_threshold), gt.shape)
        rgb = _thumbnail(frame.rgb)
        self._depth.append((int(result.stamp_ns), pred, gt, rgb))
        if len(self._depth) >= self.max_depth_frames:
            self._depth = self._depth[::2]
            self._depth_stride *= 2

    @property
    def has_depth(self) -> bool:
        return bool(self._depth)

    @property
    def has_poses(self) -> bool:
        return bool(self._poses)

    def evaluate(self) -> RunEvaluation:
        """Metrics over everything collected (raises nothing for missing ground truth)."""
        depth, per_frame, strip = self._evaluate_depth()
        pose_fields = self._evaluate_poses()
        stamps = np.array([d[0] for d in self._depth], dtype=np.int64)
        return RunEvaluation(depth=depth, depth_frames=len(self._depth),
                             depth_stride=self._depth_stride, per_frame_stamps_ns=stamps,
                             per_frame_abs_rel=per_frame, strip=strip, **pose_fields)

    def _evaluate_depth(self):
        if not self._depth:
            return None, np.zeros(0), ()
        pred = np.stack([d[1] for d in self._depth])
        gt = np.stack([d[2] for d in self._depth])
        try:
            metrics = evaluate_depth_sequence(pred, gt, self.alignment, self.depth_max)
        except InputError:
            return None, np.zeros(0), ()
        s = np.float32(metrics.scale if self.alignment is not DepthAlignment.NONE else 1.0)
        t = np.float32(metrics.shift if self.alignment is not DepthAlignment.NONE else 0.0)
        aligned = np.clip(pred * s + t, PRED_CLIP_MIN, self.depth_max)
        aligned[~np.isfinite(pred)] = np.nan
        per_frame = []
        for k in range(len(self._depth)):
            valid = valid_depth_mask(gt[k], self.depth_max) & np.isfinite(aligned[k])
            per_frame.append(depth_errors(aligned[k][valid], gt[k][valid])[0]
                             if valid.any() else np.nan)
        picks = np.unique(np.linspace(0, len(self._depth) - 1,
                                      min(self.strip_frames, len(self._depth))).astype(int))
        strip = tuple(StripSample(self._depth[k][0], self._depth[k][3], aligned[k], gt[k])
                      for k in picks)
        return metrics, np.array(per_frame), strip

    def _evaluate_poses(self) -> dict:
        if not self._poses:
            return {'pose': None}
        stamps = np.array([p[0] for p in self._poses], dtype=np.int64)
        est = np.stack([p[1] for p in self._poses])
        gt = np.stack([p[2] for p in self._poses])
        metrics = evaluate_trajectory(est, gt)
        fields = {'pose': metrics, 'stamps_ns': stamps, 'T_world_cam_gt': gt}
        if metrics.ok:
            sim3 = align_positions(est[:, :3, 3], gt[:, :3, 3])
            aligned = sim3.apply_to_poses(est)
            fields['T_world_cam_est_aligned'] = aligned
            fields['position_errors'] = np.linalg.norm(aligned[:, :3, 3] - gt[:, :3, 3], axis=1)
        return fields


def _thumbnail(rgb: np.ndarray, max_width: int = 320) -> np.ndarray:
    """(H, W, 3) uint8 shrunk by an integer factor to at most ``max_width`` columns."""
    step = max(1, int(np.ceil(rgb.shape[1] / max_width)))
    return np.ascontiguousarray(rgb[::step, ::step])
