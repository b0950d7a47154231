"""Live mode: every frame tracked against keyframes and returned by its own ``push``.

A visible state machine (:class:`LiveState`): INIT (no map: the next frame starts one),
TRACKING (a map: the next frame is tracked against it), LOST (tracking was lost and the frame
that lost it could not start a new map: the next one does, at the last frame's scale). Per
frame f (latency 0 frames; nothing waits for a later frame):

1. *INIT / LOST* (:mod:`~align3r_ros.engine.live.bootstrap`): f's own point map starts a
   map, f its first keyframe at the last published pose; after a loss at the last frame's scale.
2. *TRACKING*: :func:`~align3r_ros.engine.live.track.track_frame` returns a
   :class:`~align3r_ros.engine.live.track.TrackOutcome` (pose, per-pair scales, depth, dynamic
   mask, covisibility, parallax) and changes nothing. The aligner acts on it: ``is_lost``
   drops the map and starts a new one from f (status says so); otherwise f's view of the
   tracked keyframes is fused into them and theirs into f's depth (``fusion``), and
   ``needs_keyframe`` (:mod:`~align3r_ros.engine.live.keyframes`) makes f a keyframe, which
   refines the window of at most ``live.window`` keyframes (``refine``). f's result carries the
   refined pose; results already returned are never rewritten (:meth:`keyframe_poses` exposes
   the refined ones).

Metric scale (``scale.metric``) is estimated on each new keyframe and smoothed as in clip mode;
``output.resolution`` is applied by ``steps.output.frame_result``. Memory: at most
``live.window`` keyframes and their cached pair maps; the backend forgets every other frame
after its push. The default per-frame path runs no iterative polish.

The map (keyframes, pair cache, metric tracker, K) is a
:class:`~align3r_ros.engine.live.window.KeyframeWindow`; the maths lives in ``tracking``,
``keyframes``, ``fusion`` and ``refine``.
"""

from __future__ import annotations

import time
from enum import Enum
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from align3r_ros.backends.base import PairwiseBackend
from align3r_ros.config import Align3rConfig, MetricScaleMode
from align3r_ros.engine.live.bootstrap import at_median, focal_intrinsics, map_start
from align3r_ros.engine.live.fusion import fold_into_keyframes, fused_frame_depth
from align3r_ros.engine.live.keyframes import (LiveKeyframe, is_lost, needs_keyframe,
                                               new_keyframe)
from align3r_ros.engine.live.odometry import LiveOdometry
from align3r_ros.engine.live.pairs import PairMaps
from align3r_ros.engine.live.track import TrackOutcome, track_frame
from align3r_ros.engine.live.window import KeyframeWindow
from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.engine.steps.metric_scale import metric_scale_enabled, metric_scale_note
from align3r_ros.engine.steps.output import frame_result
from align3r_ros.errors import Align3rError
from align3r_ros.geometry.camera import default_principal_point, intrinsics_matrix
from align3r_ros.runtime import resolve_device
from align3r_ros.structures import FrameResult, KeyframePose, StageTimings


class LiveState(Enum):
    """Where live mode stands between two frames (module docstring)."""

    INIT = 'init'
    TRACKING = 'tracking'
    LOST = 'lost'


class LiveAligner:
    """The live-mode stream aligner (see module docstring); a ``StreamAligner``.

    Args:
        config: engine config (``live``, ``align``, ``dynamic``, ``scale``, ``output``,
            ``camera``, ``runtime`` groups are read).
        backend: pairwise backend (its ``forget`` is called for every frame that leaves).

    Attributes:
        state: the current :class:`LiveState`.
        window: the map (:class:`~align3r_ros.engine.live.window.KeyframeWindow`).
        keyframes_added: keyframes added since the aligner was built.
        tracking_losses: frames whose tracking was lost since the aligner was built.
    """

    def __init__(self, config: Align3rConfig, backend: PairwiseBackend) -> None:
        self.config = config
        self.backend = backend
        self.device = resolve_device(config.runtime.device)
        self.state = LiveState.INIT
        self.window = KeyframeWindow(config, backend, self.device)
        #: the robot's odometry: world anchoring, metric scale, drift prior (live/odometry.py)
        self.odometry = LiveOdometry(config)
        self.last_T_world_cam = np.eye(4)
        self.keyframes_added = 0
        self.tracking_losses = 0
        self._last_median_depth: Optional[float] = None
        self._pending_status = ''
        self._timings = StageTimings()
        self._network_s = 0.0
        self._K_hw: Optional[Tuple[int, int]] = None
        self._generator = torch.Generator().manual_seed(0)

    # ---- StreamAligner interface ------------------------------------------------------------

    @property
    def held_frames(self) -> int:
        """Keyframes held (nothing else waits: every frame is emitted by its own push)."""
        return len(self.window)

    @property
    def timings(self) -> StageTimings:
        return self._timings

    @property
    def odometry_disagreements(self) -> int:
        """Frames and refined keyframes whose odometry disagreed with vision."""
        return self.odometry.disagreements

    def keyframe_poses(self) -> List[KeyframePose]:
        """The window's keyframes, oldest first, with their latest refined poses (metric when
        the metric scale is known); [] before the first keyframe and after a reset or loss."""
        scale, _ = self._odometry_scale()
        if scale is None:
            return self.window.poses()
        return self.odometry.keyframe_poses(self.window.keyframes, scale)

    def push(self, prepared: PreparedFrame) -> List[FrameResult]:
        """Align ``prepared``; returns exactly its result."""
        start = time.perf_counter()
        self._network_s = 0.0
        status, self._pending_status = self._pending_status, ''
        if len(self.window) and self.window.newest.prepared.network_hw != prepared.network_hw:
            self._drop_map(LiveState.INIT)
            status = _join(status, 'reset: network size changed')
        try:
            if self.state is LiveState.TRACKING:
                result = self._act(prepared, track_frame(prepared, self.window, self._predict,
                                                         self.config, self._generator), status)
            else:  # INIT, or LOST: a new map, at the last frame's scale after a loss
                target = self._last_median_depth if self.state is LiveState.LOST else None
                result = self._initialise(prepared, status, target)
        except (Align3rError, ValueError, RuntimeError, np.linalg.LinAlgError) as error:
            result = self._failed(prepared, _join(status, f'tracking failed: {error}'))
        if not self.window.holds(prepared.view.key):
            self.backend.forget([prepared.view.key])
        total_s = time.perf_counter() - start
        # align: everything but the backend (tracking, fusion, refinement, output)
        self._timings = StageTimings(network_ms=1e3 * self._network_s,
                                     align_ms=1e3 * (total_s - self._network_s),
                                     total_ms=1e3 * total_s)
        return [result]

    def flush(self) -> List[FrameResult]:
        """Nothing waits in live mode: returns []; the map is kept."""
        return []

    def reset(self, status: str) -> List[FrameResult]:
        """Forget the map (new size, caller's reset); ``status`` goes on the next result."""
        self._drop_map(LiveState.INIT)
        self.odometry.new_world()
        self.last_T_world_cam = np.eye(4)
        self._last_median_depth = None
        self._pending_status = _join(self._pending_status, status)
        return []

    # ---- the state machine ------------------------------------------------------------------

    def _act(self, prepared: PreparedFrame, outcome: TrackOutcome, status: str) -> FrameResult:
        """TRACKING: act on the outcome of tracking ``prepared``."""
        if outcome.failure:
            return self._failed(prepared, _join(status, f'tracking failed: {outcome.failure}'))
        live = self.config.live
        if is_lost(outcome.overlap, outcome.inliers, live):
            self.tracking_losses += 1
            note = (f'tracking lost (covisibility {outcome.overlap:.2f}, inliers '
                    f'{outcome.inliers:.2f}): re-initialised')
            self._drop_map(LiveState.LOST)
            return self._initialise(prepared, _join(status, note), self._last_median_depth,
                                    own=outcome.own)
        self.window.observed(outcome.tracked, outcome.overlaps)
        T_frame, note = self.odometry.prior(prepared, outcome.T_world_cam)
        status = _join(status, note)
        threshold = self.config.dynamic.threshold
        self.window.replace(fold_into_keyframes(outcome.tracked, outcome.edges, outcome.fit,
                                                threshold))
        depth = fused_frame_depth(outcome.depth, outcome.edges, outcome.dynamic,
                                  T_frame, self.window.K_tensor(),
                                  self.window.keyframes, threshold)
        nan = torch.full_like(depth, float('nan'))
        frame = new_keyframe(prepared, T_frame,
                             torch.where(outcome.valid, depth, nan), outcome.confidence,
                             outcome.dynamic)
        if needs_keyframe(outcome.overlap, outcome.parallax, live):
            self._add_keyframe(frame)
            frame, note, network_s = self.window.refine()
            self._network_s += network_s
            replaced, odometry_note = self.odometry.refined(self.window.keyframes)
            self.window.replace(replaced)
            frame = self.window.newest
            self.odometry.keyframe_added(frame)
            status = _join(status, note, odometry_note)
        return self._emit(prepared, frame, outcome.fit.residual, status)

    def _initialise(self, prepared: PreparedFrame, status: str,
                    target_median: Optional[float], own: Optional[PairMaps] = None
                    ) -> FrameResult:
        """INIT / LOST: start a map at ``prepared`` (:mod:`~.bootstrap`) from its self-pair
        (f, f), or from ``own``, a pair (f, k) already predicted; ``target_median``: the new
        map's scale puts f's median depth there (continuity after a loss)."""
        pair = own if own is not None else self._predict([prepared.view], [(0, 0)])[0]
        start = map_start(pair, own is None, self.config)
        if start.failure:
            return self._failed(prepared, _join(status, start.failure))
        hw = prepared.network_hw
        if prepared.K_known is not None:
            self.window.K = np.asarray(prepared.K_known, np.float64)
        elif self.window.K is None or self._K_hw != hw:  # K is shared at one network size
            self.window.K = focal_intrinsics(start, hw)
        self._K_hw = hw
        T = torch.as_tensor(self.odometry.start_pose(prepared, self.last_T_world_cam),
                            dtype=torch.float64, device=self.device)
        keyframe = new_keyframe(prepared, T, at_median(start, target_median), start.confidence,
                                start.dynamic)
        self._add_keyframe(keyframe)
        self.odometry.keyframe_added(keyframe)
        self.state = LiveState.TRACKING
        return self._emit(prepared, keyframe, float('nan'), status)

    def _add_keyframe(self, keyframe: LiveKeyframe) -> None:
        self.window.add(keyframe)
        self.keyframes_added += 1

    def _drop_map(self, state: LiveState) -> None:
        self.window.clear()
        self.odometry.new_map()
        self.state = state

    def _predict(self, views: Sequence, edges: Sequence[Tuple[int, int]]) -> List[PairMaps]:
        start = time.perf_counter()
        predictions = self.backend.predict(list(views), np.asarray(edges, np.int64))
        self._network_s += time.perf_counter() - start
        return [PairMaps.of_edge(predictions, e).to_device(self.device)
                for e in range(predictions.num_edges)]

    def _failed(self, prepared: PreparedFrame, status: str) -> FrameResult:
        """Last pose, NaN depth, the shared K (or a default one), a status."""
        h, w = prepared.network_hw
        K = self.window.K
        if K is None:
            K = prepared.K_known if prepared.K_known is not None else \
                intrinsics_matrix(max(h, w), max(h, w), *default_principal_point(h, w))
        scale, source = self._scale(prepared)
        return frame_result(prepared, self.odometry.to_output(self.last_T_world_cam, scale),
                            np.full((h, w), np.nan, np.float32), K, np.zeros((h, w), np.float32),
                            np.zeros((h, w), bool), self.config, scale, float('nan'), status,
                            scale_source=source)

    def _odometry_scale(self) -> Tuple[Optional[float], str]:
        """(the odometry's metres per unit, 'odometry') once it holds and scale.metric is not
        off, else (None, '')."""
        scale = self.odometry.metres_per_unit
        if scale is None or MetricScaleMode(self.config.scale.metric) == MetricScaleMode.OFF:
            return None, ''
        return scale, 'odometry'

    def _scale(self, prepared: PreparedFrame) -> Tuple[Optional[float], str]:
        """(metres per unit or None, its source): odometry first, then a metric prior."""
        scale, source = self._odometry_scale()
        if scale is not None:
            return scale, source
        if not metric_scale_enabled(self.config.scale.metric, prepared.metric_prior is not None):
            return None, ''
        return self.window.metric.scale, 'prior'

    def _emit(self, prepared: PreparedFrame, frame: LiveKeyframe, residual: float,
              status: str) -> FrameResult:
        T = frame.T_world_cam.cpu().numpy()
        if not np.isfinite(T).all():
            return self._failed(prepared, _join(status, 'tracking failed: non-finite pose'))
        self.last_T_world_cam = T.copy()
        depth = frame.depth.cpu().numpy()
        with np.errstate(invalid='ignore'):
            finite = depth[np.isfinite(depth) & (depth > 0)]
        if finite.size:
            self._last_median_depth = float(np.median(finite))
        scale, source = self._scale(prepared)
        if scale is None:
            status = _join(status, metric_scale_note(
                self.config.scale.metric, prepared.metric_prior is not None,
                self.window.metric_support, self.config.scale.min_pixels))
            if prepared.T_odom_cam is not None and \
                    MetricScaleMode(self.config.scale.metric) != MetricScaleMode.OFF:
                status = _join(status, 'metric scale from odometry: waiting for '
                                       f'{self.config.scale.odometry_min_baseline:g} m of '
                                       'odometry motion')
        return frame_result(prepared, self.odometry.to_output(T, scale), depth, self.window.K,
                            frame.confidence.cpu().numpy(), frame.dynamic.cpu().numpy(),
                            self.config, scale, residual, status, scale_source=source)


def _join(*parts: str) -> str:
    return '; '.join(p for p in parts if p)
