"""The robot's odometry in the engine: metric scale from keyframe baselines, and the relative
odometry motion as a weighted prior on poses (drift), with a disagreement test.

Inputs are ``Frame.T_odom_cam`` (camera pose in the odometry frame, metres) carried to
:class:`~align3r_ros.engine.steps.frame_prep.PreparedFrame`. Everything here is NumPy, float64;
poses ``T_world_cam`` are in alignment units (the engine's internal world), ``s`` is metres per
alignment unit.

* Scale (:class:`OdometryScale`): for keyframe pairs whose odometry baseline is at least
  ``scale.odometry_min_baseline`` metres, the ratio ``|t_odom_j - t_odom_i| / |t_world_j -
  t_world_i|``; a robust estimate over the pairs (the metric prior's estimator: median of log
  ratios refined by Cauchy-weighted steps) smoothed over keyframes by the same tracker as the
  prior's (``scale.smoothing``).
* Drift (:func:`fuse_motion`): the odometry motion reference -> frame (its translation divided
  by ``s``) and the vision motion are blended with weights ``input.odometry_weight`` : 1
  (translation linearly, rotation by slerp) — a pose-level prior, i.e. the MAP pose of two
  isotropic Gaussians. When the two motions disagree by more than ``input.odometry_disagreement``
  metres or ``input.odometry_disagreement_deg`` degrees (wheel slip, a lifted robot, a bad
  transform) the odometry weight falls with the fourth power of the excess, the frame is counted
  and its status says so.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, Optional, Sequence, Tuple

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from align3r_ros.config import Align3rConfig
from align3r_ros.engine.steps.metric_scale import MetricScaleTracker, estimate_metric_scale
from align3r_ros.geometry.se3 import relative_transform

#: keyframes remembered for scale pairs (older ones leave).
SCALE_ANCHORS = 16
#: a vision baseline shorter than this (alignment units) gives no ratio.
_MIN_VISION_BASELINE = 1e-9


def checked_odometry(T_odom_cam: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """(4, 4) float64 copy of a usable odometry pose (finite, rotation block orthonormal within
    1e-3), else None."""
    if T_odom_cam is None:
        return None
    T = np.asarray(T_odom_cam, dtype=np.float64)
    if T.shape != (4, 4) or not np.all(np.isfinite(T)):
        return None
    R = T[:3, :3]
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-3) or np.linalg.det(R) < 0:
        return None
    return T.copy()


class OdometryScale:
    """Metric scale from odometry baselines between keyframes, smoothed over keyframes.

    Args:
        min_baseline: odometry baseline (m) a pair needs.
        smoothing: weight of a new estimate (``scale.smoothing``).
    """

    def __init__(self, min_baseline: float, smoothing: float) -> None:
        self.min_baseline = float(min_baseline)
        self.tracker = MetricScaleTracker(smoothing)
        #: stamp -> (world position (3,) alignment units, odometry position (3,) metres)
        self._anchors: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
        self._order: Deque[int] = deque()

    @property
    def scale(self) -> Optional[float]:
        """Metres per alignment unit, or None before the first estimate."""
        return self.tracker.scale

    def reset(self) -> None:
        self.tracker.reset()
        self._anchors.clear()
        self._order.clear()

    def forget_anchors(self) -> None:
        """A new map whose units continue the old one's: the remembered keyframes leave, the
        tracked scale stays."""
        self._anchors.clear()
        self._order.clear()

    def move(self, stamp_ns: int, T_world_cam: np.ndarray) -> None:
        """A remembered keyframe's refined pose (its odometry is unchanged)."""
        if int(stamp_ns) in self._anchors:
            _, t_odom = self._anchors[int(stamp_ns)]
            self._anchors[int(stamp_ns)] = (np.asarray(T_world_cam, np.float64)[:3, 3].copy(),
                                            t_odom)

    def add_keyframe(self, stamp_ns: int, T_world_cam: np.ndarray,
                     T_odom_cam: Optional[np.ndarray]) -> Optional[float]:
        """Remember a keyframe (without odometry: ignored) and blend in the estimate of every
        qualifying pair of remembered keyframes; returns the tracked scale."""
        if T_odom_cam is None:
            return self.scale
        stamp = int(stamp_ns)
        if stamp not in self._anchors:
            self._order.append(stamp)
        self._anchors[stamp] = (np.asarray(T_world_cam, np.float64)[:3, 3].copy(),
                                np.asarray(T_odom_cam, np.float64)[:3, 3].copy())
        while len(self._order) > SCALE_ANCHORS:
            self._anchors.pop(self._order.popleft(), None)
        return self.tracker.update(self.estimate())

    def add_frames(self, stamps_ns: Sequence[int], T_world_cam: Sequence[np.ndarray],
                   T_odom_cam: Sequence[Optional[np.ndarray]]) -> Optional[float]:
        """Frames aligned together (a clip, a sequence) at once: those with odometry are
        remembered and one estimate over every remembered pair is blended in; returns the
        tracked scale."""
        for stamp, T, T_odom in zip(stamps_ns, T_world_cam, T_odom_cam):
            if T_odom is not None and np.all(np.isfinite(T)):
                if int(stamp) not in self._anchors:
                    self._order.append(int(stamp))
                self._anchors[int(stamp)] = (np.asarray(T, np.float64)[:3, 3].copy(),
                                             np.asarray(T_odom, np.float64)[:3, 3].copy())
        while len(self._order) > SCALE_ANCHORS:
            self._anchors.pop(self._order.popleft(), None)
        return self.tracker.update(self.estimate())

    def estimate(self) -> Optional[float]:
        """The robust ratio over the remembered pairs, or None when no pair qualifies."""
        keys = list(self._order)
        vision, odometry = [], []
        for a in range(len(keys)):
            for b in range(a + 1, len(keys)):
                w_a, o_a = self._anchors[keys[a]]
                w_b, o_b = self._anchors[keys[b]]
                odo = float(np.linalg.norm(o_b - o_a))
                vis = float(np.linalg.norm(w_b - w_a))
                if odo >= self.min_baseline and vis > _MIN_VISION_BASELINE:
                    vision.append(vis)
                    odometry.append(odo)
        if not vision:
            return None
        v = np.asarray(vision)
        return estimate_metric_scale(v, np.asarray(odometry), np.ones(v.shape, bool), 1)


def sequence_odometry_scale(T_world_cam: Sequence[np.ndarray],
                            T_odom_cam: Sequence[Optional[np.ndarray]],
                            min_baseline: float) -> Optional[float]:
    """One scale for frames aligned together (an offline clip): the robust ratio over every
    pair of at most :data:`SCALE_ANCHORS` frames with odometry, spread evenly over them."""
    usable = [k for k, (T, T_odom) in enumerate(zip(T_world_cam, T_odom_cam))
              if T_odom is not None and np.all(np.isfinite(T))]
    if len(usable) < 2:
        return None
    picks = sorted({usable[int(round(i))] for i in
                    np.linspace(0, len(usable) - 1, min(len(usable), SCALE_ANCHORS))})
    scale = OdometryScale(min_baseline, 1.0)
    return scale.add_frames(picks, [T_world_cam[k] for k in picks],
                            [T_odom_cam[k] for k in picks])


@dataclass(frozen=True)
class MotionCheck:
    """How odometry and vision agree on one motion.

    Attributes:
        translation_m: |vision - odometry| translation of the motion, metres.
        rotation_deg: angle between the two rotations, degrees.
        weight: the odometry weight used (``input.odometry_weight``, lowered on disagreement).
        disagrees: beyond either threshold.
    """

    translation_m: float
    rotation_deg: float
    weight: float
    disagrees: bool

    def note(self) -> str:
        """The frame status line of a disagreement ('' when they agree)."""
        if not self.disagrees:
            return ''
        return (f'odometry disagrees with vision ({self.translation_m:.3f} m, '
                f'{self.rotation_deg:.1f} deg): down-weighted')


def check_motion(M_vision: np.ndarray, M_odometry: np.ndarray, scale: float,
                 config: Align3rConfig) -> MotionCheck:
    """Compare two relative motions ``T_ref_frame`` (vision in alignment units, odometry in
    metres) with ``scale`` metres per unit."""
    cfg = config.input
    dt = float(np.linalg.norm(scale * M_vision[:3, 3] - M_odometry[:3, 3]))
    dR = M_vision[:3, :3].T @ M_odometry[:3, :3]
    angle = math.degrees(math.acos(max(-1.0, min(1.0, (float(np.trace(dR)) - 1.0) / 2.0))))
    excess = max(dt / max(cfg.odometry_disagreement, 1e-12),
                 angle / max(cfg.odometry_disagreement_deg, 1e-12))
    disagrees = excess > 1.0
    weight = cfg.odometry_weight / excess ** 4 if disagrees else cfg.odometry_weight
    return MotionCheck(dt, angle, float(weight), disagrees)


def blend_motion(M_vision: np.ndarray, M_odometry_units: np.ndarray,
                 weight: float) -> np.ndarray:
    """The weighted mean of two rigid motions (weights 1 : ``weight``): translation linearly,
    rotation by slerp at ``weight / (1 + weight)``. (4, 4) float64."""
    alpha = float(weight) / (1.0 + float(weight))
    out = np.eye(4)
    out[:3, 3] = (1.0 - alpha) * M_vision[:3, 3] + alpha * M_odometry_units[:3, 3]
    rotations = Rotation.from_matrix(np.stack([M_vision[:3, :3], M_odometry_units[:3, :3]]))
    out[:3, :3] = Slerp([0.0, 1.0], rotations)([alpha]).as_matrix()[0]
    return out


def fuse_motion(T_world_ref: np.ndarray, T_world_frame: np.ndarray,
                T_odom_ref: np.ndarray, T_odom_frame: np.ndarray, scale: float,
                config: Align3rConfig) -> Tuple[np.ndarray, MotionCheck]:
    """The frame's pose with the odometry motion reference -> frame as a weighted prior.

    Args:
        T_world_ref, T_world_frame: (4, 4) vision poses, alignment units.
        T_odom_ref, T_odom_frame: (4, 4) odometry poses of the same two frames, metres.
        scale: metres per alignment unit (> 0).

    Returns:
        (fused T_world_frame (4, 4), the :class:`MotionCheck`).
    """
    M_vision = relative_transform(T_world_ref, T_world_frame)
    M_odometry = relative_transform(T_odom_ref, T_odom_frame)
    check = check_motion(M_vision, M_odometry, scale, config)
    M_units = M_odometry.copy()
    M_units[:3, 3] /= scale
    fused = np.asarray(T_world_ref, np.float64) @ blend_motion(M_vision, M_units, check.weight)
    return fused, check


def fuse_window(T_world: Sequence[np.ndarray], T_odom: Sequence[Optional[np.ndarray]],
                scale: float, config: Align3rConfig,
                linked: Optional[Sequence[bool]] = None) -> Tuple[np.ndarray, int]:
    """A refined keyframe window with the odometry motion between consecutive keyframes as a
    weighted prior, from the first keyframe (held fixed) on: keyframe k's refined motion from
    k-1 is blended with the odometry's and chained onto k-1's new pose. A keyframe without
    odometry (or after one without), or not ``linked`` to its predecessor (``linked[k]``
    False: e.g. too many frames apart for the odometry's drift to stay small), keeps its
    refined motion.

    Returns:
        ((N, 4, 4) poses, how many keyframe motions disagreed).
    """
    refined = np.array(T_world, dtype=np.float64, copy=True)
    poses = refined.copy()
    disagreements = 0
    for k in range(1, len(poses)):
        M_vision = relative_transform(refined[k - 1], refined[k])
        if T_odom[k] is None or T_odom[k - 1] is None or (linked is not None and
                                                          not linked[k]):
            poses[k] = poses[k - 1] @ M_vision
            continue
        M_odometry = relative_transform(T_odom[k - 1], T_odom[k])
        check = check_motion(M_vision, M_odometry, scale, config)
        M_units = M_odometry.copy()
        M_units[:3, 3] /= scale
        poses[k] = poses[k - 1] @ blend_motion(M_vision, M_units, check.weight)
        disagreements += int(check.disagrees)
    return poses, disagreements
