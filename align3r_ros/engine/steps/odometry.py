"""The robot's odometry in the engine: metric scale from keyframe baselines, and the relative
odometry motion as a weighted prior on poses (drift), with a disagreement test.

Inputs are ``Frame.T_odom_cam`` (camera pose in the odometry frame, metres) carried to
:class:`~align3r_ros.engine.steps.frame_prep.PreparedFrame`. Everything here is NumPy, float64;
poses ``T_world_cam`` are in alignment units (the engine's internal world), ``s`` is metres per
alignment unit.

* Scale (:class:`OdometryScale`): a robust similarity fit of the camera positions of the last
  ``scale.odometry_window`` frames onto their odometry positions, once those span
  ``scale.odometry_min_baseline`` metres. Every frame is a point of the fit (not only keyframe
  pairs: with the benchmark's 5 mm per-frame odometry noise, pair ratios over 0.1-0.3 m
  baselines carry 2-7 % each, and an exponential smoothing of them keeps the first, poorest
  ones for many keyframes — 9 of 20 noise draws over 3 % against none with the fit over
  frames, docs/performance.md).
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
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.spatial.transform import Rotation, Slerp

from align3r_ros.config import Align3rConfig
from align3r_ros.geometry.se3 import relative_transform
from align3r_ros.geometry.sim3 import umeyama_alignment

#: vision positions spanning less than this (alignment units) give no scale.
_MIN_VISION_BASELINE = 1e-9
#: re-weightings of the robust scale fit.
_IRLS_STEPS = 5
#: the Cauchy width of the scale fit: this many median residuals ...
_CAUCHY_MEDIANS = 3.0
#: ... and at least this (m): residuals of odometry noise alone never count as outliers.
_CAUCHY_FLOOR_M = 0.005


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
    """Metric scale from the positions of recent frames: a robust similarity fit of the vision
    positions onto the odometry positions.

    The last ``window`` frames with odometry (camera centres in the world, alignment units, and
    in the odometry frame, metres) are fitted by :func:`~align3r_ros.geometry.sim3.
    umeyama_alignment` (scale, rotation, offset), re-weighted by a Cauchy function of each
    frame's residual (:func:`robust_scale_fit`); the fit's scale is metres per alignment unit.
    It holds once the remembered odometry positions span ``min_baseline`` metres. The window is
    the smoothing: each frame adds one point to a fit over up to ``window`` of them, so the
    estimate moves little from frame to frame and follows slow changes of the vision's units.

    Args:
        min_baseline: odometry extent (m, largest distance between two remembered positions)
            the fit needs.
        window: frames remembered (older ones leave).
    """

    def __init__(self, min_baseline: float, window: int) -> None:
        self.min_baseline = float(min_baseline)
        self.window = max(int(window), 2)
        self._scale: Optional[float] = None
        #: stamp -> (world position (3,) alignment units, odometry position (3,) metres),
        #: oldest first
        self._frames: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}

    @property
    def scale(self) -> Optional[float]:
        """Metres per alignment unit, or None before the first estimate."""
        return self._scale

    def reset(self) -> None:
        self._scale = None
        self._frames.clear()

    def forget_frames(self) -> None:
        """The remembered frames leave (a new map whose units continue the old one's, or a
        disagreement that would carry a slip into the fit); the scale stays until the next
        estimate."""
        self._frames.clear()

    def move(self, stamp_ns: int, T_world_cam: np.ndarray) -> None:
        """A remembered frame's refined pose (its odometry is unchanged)."""
        if int(stamp_ns) in self._frames:
            _, t_odom = self._frames[int(stamp_ns)]
            self._frames[int(stamp_ns)] = (np.asarray(T_world_cam, np.float64)[:3, 3].copy(),
                                           t_odom)

    def add(self, stamp_ns: int, T_world_cam: np.ndarray,
            T_odom_cam: Optional[np.ndarray]) -> Optional[float]:
        """Remember a frame (without odometry or with a non-finite pose: ignored; a stamp
        already remembered: its pose is replaced) and estimate; returns the scale."""
        return self.add_frames([stamp_ns], [T_world_cam], [T_odom_cam])

    def add_frames(self, stamps_ns: Sequence[int], T_world_cam: Sequence[np.ndarray],
                   T_odom_cam: Sequence[Optional[np.ndarray]]) -> Optional[float]:
        """Frames aligned together (a clip) at once, then one estimate; returns the scale."""
        for stamp, T, T_odom in zip(stamps_ns, T_world_cam, T_odom_cam):
            if T_odom is None or not np.all(np.isfinite(T)):
                continue
            self._frames.pop(int(stamp), None)
            self._frames[int(stamp)] = (np.asarray(T, np.float64)[:3, 3].copy(),
                                        np.asarray(T_odom, np.float64)[:3, 3].copy())
        while len(self._frames) > self.window:
            self._frames.pop(next(iter(self._frames)))
        estimate = self.estimate()
        if estimate is not None:
            self._scale = estimate
        return self._scale

    def estimate(self) -> Optional[float]:
        """The robust fit's scale over the remembered frames, or None when their odometry
        spans less than ``min_baseline`` (or the vision positions do not spread)."""
        if len(self._frames) < 2:
            return None
        world, odometry = (np.stack(p) for p in zip(*self._frames.values()))
        return robust_scale_fit(world, odometry, self.min_baseline)


def robust_scale_fit(t_world: np.ndarray, t_odom: np.ndarray,
                     min_extent: float) -> Optional[float]:
    """Metres per alignment unit from corresponding camera positions.

    Args:
        t_world: (N, 3) positions in the world, alignment units.
        t_odom: (N, 3) the same frames' positions in the odometry frame, metres.
        min_extent: the odometry positions must span this (m), else None.

    Returns:
        The scale of a similarity fit ``t_odom ~ s R t_world + t``, or None without the extent
        or spread. Robust to a few frames whose odometry is wrong (a slip, a bad transform),
        far-off ones included: the start needs no rotation — the distance-weighted median of
        the ratios of pairwise distances, and each frame weighted by a Cauchy function of its
        median distance misfit — then :data:`_IRLS_STEPS` weighted fits, each frame
        re-weighted by ``1 / (1 + (r / c)^2)`` of its residual ``r`` (``c``:
        :data:`_CAUCHY_MEDIANS` times the median residual, at least :data:`_CAUCHY_FLOOR_M`).
    """
    d_odom, d_world = squareform(pdist(t_odom)), squareform(pdist(t_world))
    if len(t_odom) < 2 or float(d_odom.max()) < min_extent or \
            float(d_world.max()) <= _MIN_VISION_BASELINE:
        return None
    pairs = np.triu(d_world > _MIN_VISION_BASELINE, 1) & np.triu(d_odom > 0, 1)
    log_ratio = np.log(d_odom[pairs]) - np.log(d_world[pairs])
    order = np.argsort(log_ratio)
    mass = np.cumsum(d_odom[pairs][order] ** 2)  # a pair's information grows with its length^2
    start = math.exp(float(log_ratio[order][np.searchsorted(mass, 0.5 * mass[-1])]))
    weights = _cauchy(np.median(np.abs(d_odom - start * d_world), axis=1))
    for _ in range(_IRLS_STEPS):
        fit = umeyama_alignment(t_world, t_odom, weights)
        weights = _cauchy(np.linalg.norm(fit.apply(t_world) - t_odom, axis=1))
    return float(fit.scale) if math.isfinite(fit.scale) and fit.scale > 0 else None


def _cauchy(residual_m: np.ndarray) -> np.ndarray:
    """(N,) weights ``1 / (1 + (r / c)^2)`` of residuals (m), ``c`` as in
    :func:`robust_scale_fit`."""
    width = max(_CAUCHY_MEDIANS * float(np.median(residual_m)), _CAUCHY_FLOOR_M)
    return 1.0 / (1.0 + (residual_m / width) ** 2)


def sequence_odometry_scale(T_world_cam: Sequence[np.ndarray],
                            T_odom_cam: Sequence[Optional[np.ndarray]],
                            min_baseline: float) -> Optional[float]:
    """One scale for frames aligned together (an offline clip): the robust fit over all its
    frames with odometry."""
    usable = [k for k, (T, T_odom) in enumerate(zip(T_world_cam, T_odom_cam))
              if T_odom is not None and np.all(np.isfinite(T))]
    if len(usable) < 2:
        return None
    return robust_scale_fit(np.stack([np.asarray(T_world_cam[k])[:3, 3] for k in usable]),
                            np.stack([np.asarray(T_odom_cam[k])[:3, 3] for k in usable]),
                            min_baseline)


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
