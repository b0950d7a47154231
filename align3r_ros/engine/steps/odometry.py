"""The robot's odometry in the engine: the relative odometry motion as a weighted prior on
poses (drift), with a disagreement test; the metric scale is
:mod:`~align3r_ros.engine.steps.odometry_scale`.

Inputs are ``Frame.T_odom_cam`` (camera pose in the odometry frame, metres) carried to
:class:`~align3r_ros.engine.steps.frame_prep.PreparedFrame`. Everything here is NumPy, float64;
poses ``T_world_cam`` are in alignment units (the engine's internal world), ``s`` is metres per
alignment unit.

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
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from align3r_ros.config import Align3rConfig
from align3r_ros.geometry.se3 import relative_transform


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
