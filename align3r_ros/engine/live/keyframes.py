"""Keyframe state, the measures of a frame against a keyframe and the rule built on them.

The rule, evaluated on every tracked frame f against its reference keyframe r (the tracked
keyframe f sees best):

* covisibility: the fraction of f's confident pixels (a fixed subsample) whose world points
  project inside r's image in front of r's camera;
* parallax: the baseline ‖c_f − c_r‖ over f's median depth.

f becomes a keyframe (:func:`needs_keyframe`) when covisibility < ``live.keyframe_overlap``
(the view has moved on) or parallax > ``live.keyframe_parallax`` (enough baseline for new
geometry). A static camera (or a repeated frame) keeps covisibility ~1 and parallax ~0: no
keyframe. Tracking is lost (:func:`is_lost`) when covisibility < ``live.lost_overlap`` or the
fit's inlier fraction < ``live.lost_inliers`` (the confidence/agreement gate: a frame the
network cannot relate to any keyframe).

Tensors live on the aligner's device; shapes are at network resolution (h, w).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from align3r_ros.config import LiveConfig
from align3r_ros.engine.steps.dynamic_mask import detect_dynamic_torch
from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.geometry.torch_ops import project, unproject_depth_map


@dataclass(frozen=True)
class LiveKeyframe:
    """A keyframe held fixed by tracking (replaced, not mutated, by a window refinement).

    Attributes:
        prepared: the frame.
        T_world_cam: (4, 4) float64 camera-to-world, alignment units.
        depth: (h, w) float32 depth, alignment units, NaN where invalid.
        confidence: (h, w) float32 aligned confidence.
        dynamic: (h, w) bool dynamic mask.
        weight: (h, w) float32 fused weight of ``depth`` (sum of log-confidences).
        votes: (h, w) float32 fraction of observations that called the pixel dynamic.
        observations: tracked frames fused into this keyframe.
    """

    prepared: PreparedFrame
    T_world_cam: torch.Tensor
    depth: torch.Tensor
    confidence: torch.Tensor
    dynamic: torch.Tensor
    weight: torch.Tensor
    votes: torch.Tensor
    observations: int = 0

    @property
    def key(self) -> int:
        return int(self.prepared.view.key)

    def usable(self, min_conf: float) -> torch.Tensor:
        """(h, w) bool: finite positive depth, confident, static."""
        return (torch.isfinite(self.depth) & (self.depth > 0)
                & (self.confidence >= min_conf) & ~self.dynamic)

    def world_points(self, K: torch.Tensor) -> torch.Tensor:
        """(h, w, 3) float32 world points of the depth with intrinsics K (3, 3)."""
        cam = unproject_depth_map(self.depth, K)
        T = self.T_world_cam.to(cam.dtype)
        return cam @ T[:3, :3].T + T[:3, 3]


def new_keyframe(prepared: PreparedFrame, T_world_cam: torch.Tensor, depth: torch.Tensor,
                 confidence: torch.Tensor, dynamic: torch.Tensor) -> LiveKeyframe:
    """A keyframe with its own estimate as the only observation."""
    ok = torch.isfinite(depth) & (depth > 0)
    weight = torch.where(ok, torch.log(confidence.clamp_min(1.0)) + 1e-6,
                         torch.zeros_like(depth))
    return LiveKeyframe(prepared=prepared, T_world_cam=T_world_cam, depth=depth,
                        confidence=confidence, dynamic=dynamic, weight=weight,
                        votes=dynamic.float())


def covisibility(points_world: torch.Tensor, keyframe: LiveKeyframe, K: torch.Tensor,
                 hw: tuple) -> float:
    """Fraction of (P, 3) world points that land inside ``keyframe``'s image, in front of it."""
    if points_world.shape[0] == 0:
        return 0.0
    T = keyframe.T_world_cam.to(points_world.dtype)
    u, v, z = project((points_world - T[:3, 3]) @ T[:3, :3], K)
    h, w = hw
    inside = (z > 1e-9) & (u >= -0.5) & (u <= w - 0.5) & (v >= -0.5) & (v <= h - 0.5)
    return float(inside.double().mean())


def parallax(T_world_f: torch.Tensor, keyframe: LiveKeyframe, median_depth: float) -> float:
    """Baseline between f and the keyframe over f's median depth (inf when undefined)."""
    baseline = float((T_world_f[:3, 3] - keyframe.T_world_cam[:3, 3].to(T_world_f.dtype)).norm())
    if not median_depth > 0:
        return float('inf')
    return baseline / median_depth


def dynamic_from_disagreement(points: torch.Tensor, other: torch.Tensor,
                              confidence: torch.Tensor, threshold: float) -> torch.Tensor:
    """(h, w) bool dynamic mask from two estimates of one frame's camera-frame points: their
    relative 3-D disagreement (over the distance to the camera) under the rule of
    :func:`~align3r_ros.engine.steps.dynamic_mask.detect_dynamic_torch`."""
    distance = 0.5 * (points.norm(dim=-1) + other.norm(dim=-1))
    residual = (points - other).norm(dim=-1) / distance.clamp_min(1e-12)
    return detect_dynamic_torch(residual, confidence, threshold)


def is_lost(overlap: float, inlier_fraction: float, config: LiveConfig) -> bool:
    """Tracking is lost: covisibility with the reference keyframe below ``live.lost_overlap``
    or the fit's inlier fraction below ``live.lost_inliers``."""
    return overlap < config.lost_overlap or inlier_fraction < config.lost_inliers


def needs_keyframe(overlap: float, baseline_ratio: float, config: LiveConfig) -> bool:
    """The frame becomes a keyframe: covisibility below ``live.keyframe_overlap`` (the view
    moved on) or parallax above ``live.keyframe_parallax`` (enough baseline)."""
    return overlap < config.keyframe_overlap or baseline_ratio > config.keyframe_parallax
