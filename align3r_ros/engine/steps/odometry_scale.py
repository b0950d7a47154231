"""Metric scale from the robot's odometry: a robust similarity fit of the camera positions of
recent frames onto their odometry positions.

Every frame with odometry (``PreparedFrame.T_odom_cam``) is a point of the fit — not only
keyframe pairs: with the benchmark's 5 mm per-frame odometry noise, pair ratios over 0.1-0.3 m
baselines carry 2-7 % each, and an exponential smoothing of them keeps the first, poorest ones
for many keyframes (6 of 20 noise draws over 3 % after 0.3 m of path, against none with the fit
over frames; docs/performance.md).

Frames fall into *segments*: a disagreement between odometry and vision (a slip, a lifted
robot) starts a new one, because the odometry lost (or invented) motion there: before and after
it the odometry is a different rigid placement of the same path. The fit shares the scale over
all segments and gives each its own rotation and offset, so a slip costs no information about
the scale (restarting the fit after a slip would put the next frames' short baselines, and their
noise, into it). NumPy, float64; world positions in alignment units, odometry positions in
metres, the scale in metres per alignment unit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.spatial.distance import pdist, squareform

from align3r_ros.geometry.sim3 import umeyama_alignment

#: vision positions spanning less than this (alignment units) give no scale.
_MIN_VISION_SPREAD = 1e-9
#: re-weightings of the robust fit.
_IRLS_STEPS = 5
#: the Cauchy width of the fit: this many median residuals ...
_CAUCHY_MEDIANS = 3.0
#: ... and at least this (m): residuals of odometry noise alone never count as outliers.
_CAUCHY_FLOOR_M = 0.005


@dataclass(frozen=True)
class _Point:
    """One remembered frame: camera centre in the world (3,) units and in the odometry frame
    (3,) metres, and its segment."""

    t_world: np.ndarray
    t_odom: np.ndarray
    segment: int


class OdometryScale:
    """The scale of one stream (module docstring).

    The last ``window`` frames with odometry are fitted by :func:`robust_scale_fit`; the scale
    holds once one segment's odometry positions span ``min_baseline`` metres. The window is the
    smoothing: each frame adds one point to a fit over up to ``window`` of them, so the estimate
    moves little from frame to frame and follows slow changes of the vision's units.

    Args:
        min_baseline: odometry extent (m, largest distance between two positions of one
            segment) the fit needs.
        window: frames remembered (older ones leave).
    """

    def __init__(self, min_baseline: float, window: int) -> None:
        self.min_baseline = float(min_baseline)
        self.window = max(int(window), 2)
        self._scale: Optional[float] = None
        self._segment = 0
        #: stamp -> point, oldest first
        self._points: Dict[int, _Point] = {}

    @property
    def scale(self) -> Optional[float]:
        """Metres per alignment unit, or None before the first estimate."""
        return self._scale

    def reset(self) -> None:
        """A new world: no scale, no frames."""
        self._scale = None
        self._points.clear()

    def forget_frames(self) -> None:
        """A new map (its units continue the old one's only roughly): the remembered frames
        leave; the scale stays until the next estimate."""
        self._points.clear()

    def break_segment(self) -> None:
        """Odometry and vision disagreed: later frames start a new segment."""
        self._segment += 1

    def move(self, stamp_ns: int, T_world_cam: np.ndarray) -> None:
        """A remembered frame's refined pose (its odometry is unchanged)."""
        old = self._points.get(int(stamp_ns))
        if old is not None:
            self._points[int(stamp_ns)] = _Point(
                np.asarray(T_world_cam, np.float64)[:3, 3].copy(), old.t_odom, old.segment)

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
            self._points.pop(int(stamp), None)
            self._points[int(stamp)] = _Point(np.asarray(T, np.float64)[:3, 3].copy(),
                                              np.asarray(T_odom, np.float64)[:3, 3].copy(),
                                              self._segment)
        while len(self._points) > self.window:
            self._points.pop(next(iter(self._points)))
        estimate = self.estimate()
        if estimate is not None:
            self._scale = estimate
        return self._scale

    def estimate(self) -> Optional[float]:
        """The robust fit's scale over the remembered frames, or None (no segment spans
        ``min_baseline``, or the vision positions do not spread)."""
        points = list(self._points.values())
        if len(points) < 2:
            return None
        return robust_scale_fit(np.stack([p.t_world for p in points]),
                                np.stack([p.t_odom for p in points]), self.min_baseline,
                                np.array([p.segment for p in points]))


def robust_scale_fit(t_world: np.ndarray, t_odom: np.ndarray, min_extent: float,
                     segments: Optional[np.ndarray] = None) -> Optional[float]:
    """Metres per alignment unit from corresponding camera positions.

    Args:
        t_world: (N, 3) positions in the world, alignment units.
        t_odom: (N, 3) the same frames' positions in the odometry frame, metres.
        min_extent: one segment's odometry positions must span this (m), else None.
        segments: (N,) int segment of each frame (None: one segment).

    Returns:
        The shared scale ``s`` of the fit ``t_odom ~ s R_g t_world + t_g`` (rotation ``R_g``
        and offset ``t_g`` per segment ``g``), or None without the extent or spread. Robust to
        a few frames whose odometry is wrong (a bad transform, a slip not yet told), far-off
        ones included: the start needs no rotation — the distance-weighted median of the ratios
        of pairwise distances within segments, and each frame weighted by a Cauchy function of
        its median distance misfit — then :data:`_IRLS_STEPS` weighted fits, each frame
        re-weighted by ``1 / (1 + (r / c)^2)`` of its residual ``r`` (``c``:
        :data:`_CAUCHY_MEDIANS` times the median residual, at least :data:`_CAUCHY_FLOOR_M`).
    """
    t_world = np.asarray(t_world, np.float64)
    t_odom = np.asarray(t_odom, np.float64)
    if len(t_odom) < 2:
        return None
    segments = np.zeros(len(t_odom), np.int64) if segments is None else np.asarray(segments)
    same = segments[:, None] == segments[None, :]
    d_odom = np.where(same, squareform(pdist(t_odom)), 0.0)
    d_world = np.where(same, squareform(pdist(t_world)), 0.0)
    if float(d_odom.max()) < min_extent or float(d_world.max()) <= _MIN_VISION_SPREAD:
        return None
    pairs = np.triu((d_world > _MIN_VISION_SPREAD) & (d_odom > 0), 1)
    log_ratio = np.log(d_odom[pairs]) - np.log(d_world[pairs])
    order = np.argsort(log_ratio)
    mass = np.cumsum(d_odom[pairs][order] ** 2)  # a pair's information grows with its length^2
    scale = math.exp(float(log_ratio[order][np.searchsorted(mass, 0.5 * mass[-1])]))
    misfit = np.where(same, np.abs(d_odom - scale * d_world), np.nan)  # within segments only
    weights = _cauchy(np.nanmedian(misfit, axis=1))
    groups = [np.flatnonzero(segments == g) for g in np.unique(segments)]
    for _ in range(_IRLS_STEPS):
        scale, residual = _shared_scale_fit(t_world, t_odom, weights, groups)
        if not (math.isfinite(scale) and scale > 0):
            return None
        weights = _cauchy(residual)
    return scale


def _shared_scale_fit(t_world: np.ndarray, t_odom: np.ndarray, weights: np.ndarray,
                      groups: List[np.ndarray]) -> Tuple[float, np.ndarray]:
    """Weighted least squares of ``sum_i w_i |t_odom_i - (s R_g t_world_i + t_g)|^2`` with one
    ``s`` and a rotation and offset per group. Each group's rotation does not depend on ``s``
    (:func:`~align3r_ros.geometry.sim3.umeyama_alignment` of the group), and the shared ``s``
    is the groups' own Umeyama scales averaged with the weights ``sum_i w_i |t_world_i -
    mean_g|^2`` (their weighted spreads). Returns (s, (N,) residuals in metres)."""
    fits = []
    for rows in groups:
        w = weights[rows]
        if len(rows) < 2 or not w.sum() > 0:
            continue
        fit = umeyama_alignment(t_world[rows], t_odom[rows], w)
        src = t_world[rows] - (w @ t_world[rows]) / w.sum()
        dst = t_odom[rows] - (w @ t_odom[rows]) / w.sum()
        fits.append((rows, fit, src, dst, float(w @ np.sum(src ** 2, axis=1))))
    spread = sum(f[4] for f in fits)
    if not spread > 0:
        return float('nan'), np.zeros(len(t_odom))
    scale = sum(fit.scale * group_spread for _, fit, _, _, group_spread in fits) / spread
    residual = np.zeros(len(t_odom))
    for rows, fit, src, dst, _ in fits:
        residual[rows] = np.linalg.norm(dst - scale * src @ fit.R.T, axis=1)
    return scale, residual


def _cauchy(residual_m: np.ndarray) -> np.ndarray:
    """(N,) weights ``1 / (1 + (r / c)^2)`` of residuals (m), ``c`` as in
    :func:`robust_scale_fit`."""
    width = max(_CAUCHY_MEDIANS * float(np.median(residual_m)), _CAUCHY_FLOOR_M)
    return 1.0 / (1.0 + (residual_m / width) ** 2)


def sequence_odometry_scale(T_world_cam: Sequence[np.ndarray],
                            T_odom_cam: Sequence[Optional[np.ndarray]],
                            min_baseline: float) -> Optional[float]:
    """One scale for frames aligned together (an offline clip): the robust fit over all its
    frames with odometry (one :class:`OdometryScale` holding them all)."""
    scale = OdometryScale(min_baseline, window=len(T_world_cam))
    return scale.add_frames(range(len(T_world_cam)), T_world_cam, T_odom_cam)
