"""Typed containers that cross module boundaries.

Conventions (everywhere in the package): camera axes are REP 103 optical (x right, y down,
z forward); ``T_a_b`` is a 4x4 homogeneous transform mapping points from frame b into frame a, so
``T_world_cam`` is camera-to-world; ``K`` is 3x3 in pixels for a stated resolution, with pixel
centres at integer coordinates, and a principal point that is not known (not in the frame's K,
not configured) is (W/2, H/2) — the official alignment's convention (DUSt3R keeps it fixed
there), so a configured K and an estimated one agree (``geometry.camera``); depth is metres
along z when metric, arbitrary units otherwise; stamps are integer nanoseconds. Arrays are
numpy, batch-first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from align3r_ros.config import PriorKind


@dataclass(frozen=True)
class Frame:
    """One input frame.

    Attributes:
        stamp_ns: acquisition stamp, integer nanoseconds.
        rgb: (H, W, 3) uint8 RGB image.
        K: (3, 3) float intrinsics at (H, W), or None when unknown.
        prior: optional external prior (H', W') float32, metres (any resolution; NaN or 0 =
            invalid); when given it replaces the configured prior backend for this frame.
        gt_depth: evaluation / oracle only: (H, W) float metres, NaN or 0 = invalid.
        gt_T_world_cam: evaluation / oracle only: (4, 4) camera-to-world pose.
        gt_dynamic_mask: evaluation / oracle only: (H, W) bool, True on moving objects.
        distortion_model: the camera's distortion model as CameraInfo names it
            ('plumb_bob', 'rational_polynomial', 'equidistant'); '' when the image is
            already rectified. The engine rectifies (one policy for the node and the replay).
        D: distortion coefficients of ``distortion_model`` (with ``K``), or None.
        tag: opaque caller data (a ROS header, a bag index, ...); the engine never reads it and
            returns it unchanged on this frame's :class:`FrameResult`.
        T_odom_cam: the robot's odometry at ``stamp_ns``: (4, 4) float64 pose of the camera
            (REP 103 optical axes) in the odometry frame, metres; None when there is none
            (``input.odometry`` none, or missing or late for this frame).
    """

    stamp_ns: int
    rgb: np.ndarray
    K: Optional[np.ndarray] = None
    prior: Optional[np.ndarray] = None
    gt_depth: Optional[np.ndarray] = None
    gt_T_world_cam: Optional[np.ndarray] = None
    gt_dynamic_mask: Optional[np.ndarray] = None
    distortion_model: str = ''
    D: Optional[np.ndarray] = None
    tag: Any = None
    T_odom_cam: Optional[np.ndarray] = None

    @property
    def shape(self) -> tuple:
        """(H, W) of the image."""
        return tuple(self.rgb.shape[:2])


@dataclass(frozen=True)
class FrameResult:
    """Aligned output for one frame.

    Attributes:
        stamp_ns: the input frame's stamp (outputs are stamped with it, never with now()).
        depth: (H, W) float32 at the frame's resolution (or the network's, per
            ``output.resolution``); metres when ``is_metric``; NaN where not finite or not
            positive. Low-confidence pixels are kept: outputs mask them with
            :meth:`masked_depth` and the threshold in force (``output.conf_threshold``).
        confidence: (H, W) float32, the aligned per-pixel confidence (>= 1 where valid, 0 invalid).
        K: (3, 3) float64 intrinsics at the resolution of ``depth``.
        T_world_cam: (4, 4) float64 camera-to-world pose in the engine's world frame.
        is_metric: True when depth and translations are in metres.
        dynamic_mask: (H, W) bool, True where the pixel moves relative to the static scene.
        rgb: (H, W, 3) uint8 colour at the resolution of ``depth`` (for coloured clouds).
        residual: mean alignment residual of the solve that produced the frame (unitless).
        status: '' normally; otherwise a short note (e.g. 'reset: size changed') that tools
            and the node put in diagnostics.
        tag: the ``Frame.tag`` the caller gave with this frame, unchanged.
        world_id: which world ``T_world_cam`` is in: the engine counts it up when it resets
            the world (stamp went backwards, image size changed); poses of different
            ``world_id`` are not comparable (a path restarts).
        scale_source: where the metres of a metric result come from: 'odometry' (the robot's
            odometry, ``Frame.T_odom_cam``), 'prior' (a metric depth prior) or 'none'.
    """

    stamp_ns: int
    depth: np.ndarray
    confidence: np.ndarray
    K: np.ndarray
    T_world_cam: np.ndarray
    is_metric: bool
    dynamic_mask: np.ndarray
    rgb: Optional[np.ndarray] = None
    residual: float = float('nan')
    status: str = ''
    tag: Any = None
    world_id: int = 0
    scale_source: str = 'none'

    def masked_depth(self, conf_threshold: float) -> np.ndarray:
        """(H, W) float32 depth, NaN where invalid or where confidence < ``conf_threshold``.

        The one confidence mask of the package: published depth, clouds and evaluation use it.
        """
        with np.errstate(invalid='ignore'):
            confident = np.asarray(self.confidence) >= conf_threshold
        return np.where(confident, np.asarray(self.depth, dtype=np.float32),
                        np.float32(np.nan)).astype(np.float32, copy=False)


@dataclass(frozen=True)
class KeyframePose:
    """A keyframe's latest refined pose, as the engine exposes it (``Engine.keyframe_poses``).

    Attributes:
        stamp_ns: the keyframe's input stamp (it was published with this stamp).
        T_world_cam: (4, 4) float64 camera-to-world in the engine's world frame (REP 103
            optical axes); metres when ``is_metric``, else alignment units.
        is_metric: the translation is scaled by the metric scale.
    """

    stamp_ns: int
    T_world_cam: np.ndarray
    is_metric: bool


@dataclass(frozen=True)
class PriorMap:
    """A monocular prior for one frame.

    Attributes:
        values: (H, W) float32 at the frame's resolution, finite everywhere (invalid pixels
            filled), in metres for METRIC_DEPTH.
        kind: what ``values`` holds.
        focal_px: focal length in pixels at (H, W) when the model predicts one, else None.
        valid: (H, W) bool, False where the source had no value (filled pixels).
    """

    values: np.ndarray
    kind: PriorKind
    focal_px: Optional[float] = None
    valid: Optional[np.ndarray] = None


@dataclass(frozen=True)
class PairPredictions:
    """Pairwise point maps for E directed edges over the views of one request.

    Attributes:
        edges: (E, 2) int64, indices (i, j) into the list of views that was passed.
        pts_i: (E, h, w, 3) float32, view i's points in camera i's frame.
        pts_j: (E, h, w, 3) float32, view j's points in camera i's frame.
        conf_i: (E, h, w) float32 confidence of ``pts_i`` (>= 1).
        conf_j: (E, h, w) float32 confidence of ``pts_j`` (>= 1).
    """

    edges: np.ndarray
    pts_i: np.ndarray
    pts_j: np.ndarray
    conf_i: np.ndarray
    conf_j: np.ndarray

    @property
    def num_edges(self) -> int:
        return int(self.edges.shape[0])


@dataclass(frozen=True)
class StageTimings:
    """Wall-clock milliseconds of the engine's stages (0.0 = not measured yet).

    Attributes:
        prepare_ms: preparing the last pushed frame (checks, resampling, rectification, the
            monocular prior, the network view).
        network_ms: pairwise network inference of the last alignment work (one clip in clip
            mode, one frame in live mode).
        align_ms: global alignment (solver) of the last alignment work.
        total_ms: the last alignment work end to end (network, alignment and bookkeeping;
            ``prepare_ms`` is not included).
    """

    prepare_ms: float = 0.0
    network_ms: float = 0.0
    align_ms: float = 0.0
    total_ms: float = 0.0


@dataclass(frozen=True)
class EngineStats:
    """Counters the node and the replay tool publish as diagnostics.

    Attributes:
        frames_in: frames pushed.
        frames_out: results emitted.
        frames_dropped: frames dropped (equal stamp, unusable frame); each sets ``last_status``.
        resets: world resets (stamp went backwards, image size changed).
        keyframes_added: keyframes the streaming aligner added (live: by the keyframe rule and
            every (re-)initialisation; clip: one per clip whose keyframe joined the window).
        tracking_losses: frames whose tracking was lost, each re-initialising the map (live).
        last_status: the last status note ('' normally).
        timings: the last stages' wall-clock times.
        scale_source: the last result's ``FrameResult.scale_source``.
        odometry_frames: frames pushed with usable odometry (``Frame.T_odom_cam``).
        odometry_disagreements: frames (and refined keyframes) whose odometry disagreed with
            vision beyond ``input.odometry_disagreement*`` (down-weighted; live mode).
    """

    frames_in: int = 0
    frames_out: int = 0
    frames_dropped: int = 0
    resets: int = 0
    keyframes_added: int = 0
    tracking_losses: int = 0
    last_status: str = ''
    timings: StageTimings = StageTimings()
    scale_source: str = 'none'
    odometry_frames: int = 0
    odometry_disagreements: int = 0


class FrameEngine(Protocol):
    """What the node, the replay and the benchmarks drive (implemented by ``engine.Engine``).

    ``push`` returns the results that became ready (each carrying its frame's ``tag``);
    ``flush`` returns everything still held (end of stream, deactivate, shutdown);
    ``keyframe_poses`` the current world's refined keyframe poses (live mode; [] otherwise).
    """

    def push(self, frame: Frame) -> List[FrameResult]: ...

    def flush(self) -> List[FrameResult]: ...

    def keyframe_poses(self) -> List[KeyframePose]: ...

    @property
    def stats(self) -> EngineStats: ...

    @property
    def held_frames(self) -> int: ...


def most_frequent_status(statuses: Sequence[Tuple[str, int]]) -> Tuple[str, int]:
    """The most frequent non-empty status of (status, count) pairs and its count, statuses that
    differ only in their numbers (a frame's stamp, a pixel count) counted as one; the first
    such text stands for them. ('', 0) when none."""
    groups: dict = {}
    for status, count in statuses:
        if status:
            key = re.sub(r'\d+', '#', status)
            first, total = groups.get(key, (status, 0))
            groups[key] = (first, total + int(count))
    if not groups:
        return '', 0
    return max(groups.values(), key=lambda item: item[1])
