"""Streaming incremental alignment: clips in, per-frame results out, bounded state.

State held at any time: the current clip (at most ``clip.length`` prepared frames) and a window of
at most ``clip.keyframe_window - 1`` earlier keyframes (each: a network view, a pose, a depth map,
K). When a clip completes, (1) its keyframe (first frame) is aligned against the window, whose
keyframes stay fixed, (2) the clip is aligned with its keyframe anchored, (3) results for every
frame of the clip are emitted, the keyframe joins the window, and the backend forgets every frame
that left. Cost per clip is therefore constant and memory does not grow with the run.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Deque, List, Optional

import numpy as np

from align3r_ros.backends.base import PairwiseBackend
from align3r_ros.config import Align3rConfig, MetricScaleMode
from align3r_ros.geometry.camera import default_intrinsics
from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.engine.steps.metric_scale import (MetricScaleTracker, estimate_metric_scale,
                                                   metric_scale_enabled, metric_scale_note,
                                                   metric_support)
from align3r_ros.engine.steps.odometry_scale import OdometryScale
from align3r_ros.engine.steps.output import frame_result
from align3r_ros.engine.steps.stages import (KeyframeState, StageOutput, align_clip,
                                             align_keyframe, keyframe_state)
from align3r_ros.structures import FrameResult, KeyframePose, StageTimings


def _clip_scale_inputs(clip: List[PreparedFrame], out: StageOutput, config: Align3rConfig):
    """(depth, metric prior, usable) of an aligned clip; None without a metric prior or output."""
    if not out.ok or any(p.metric_prior is None for p in clip):
        return None
    prior = np.stack([p.metric_prior for p in clip])
    usable = (out.confidence >= config.align.min_conf_thr) & ~out.dynamic_mask
    return out.depth, prior, usable


def clip_metric_estimate(clip: List[PreparedFrame], out: StageOutput,
                         config: Align3rConfig) -> Optional[float]:
    """Robust metric factor of one aligned clip (None without a metric prior or support)."""
    inputs = _clip_scale_inputs(clip, out, config)
    return None if inputs is None else estimate_metric_scale(*inputs, config.scale.min_pixels)


def clip_metric_support(clip: List[PreparedFrame], out: StageOutput,
                        config: Align3rConfig) -> Optional[int]:
    """Confident static pixels of the clip with a metric prior (None: no prior or no output)."""
    inputs = _clip_scale_inputs(clip, out, config)
    return None if inputs is None else int(metric_support(*inputs).sum())


class ClipAligner:
    """The clip-mode :class:`~align3r_ros.engine.aligner.StreamAligner` (module docstring).

    Args:
        config: engine config.
        backend: pairwise backend (its ``forget`` is called for frames that leave).
    """

    def __init__(self, config: Align3rConfig, backend: PairwiseBackend) -> None:
        self.config = config
        self.backend = backend
        self.clip: List[PreparedFrame] = []
        self.window: Deque[KeyframeState] = deque()
        self.metric = MetricScaleTracker(config.scale.smoothing)
        self.last_T_world_cam = np.eye(4)
        self._timings = StageTimings()
        self._pending_status = ''
        #: keyframes that joined the window; clip mode never loses tracking
        self.keyframes_added = 0
        self.tracking_losses = 0
        self.odometry_disagreements = 0
        #: metric scale from the robot's odometry (before a metric prior), steps/odometry_scale
        self.odometry = OdometryScale(config.scale.odometry_min_baseline,
                                      config.scale.odometry_window)
        self._scale_source = ''

    def keyframe_poses(self) -> List[KeyframePose]:
        """[]: clip mode publishes a clip's poses once, after its solve; nothing moves later."""
        return []

    @property
    def held_frames(self) -> int:
        """Frames currently held (clip + keyframe window)."""
        return len(self.clip) + len(self.window)

    @property
    def timings(self) -> StageTimings:
        """Times of the last clip (network, alignment, whole clip); ``prepare_ms`` is 0."""
        return self._timings

    def note(self, status: str) -> None:
        """Attach ``status`` to the next emitted results (e.g. a reset reason)."""
        self._pending_status = '; '.join(s for s in (self._pending_status, status) if s)

    def push(self, prepared: PreparedFrame) -> List[FrameResult]:
        """Add a frame; returns the clip's results when it completes, else []."""
        self.clip.append(prepared)
        if len(self.clip) < self.config.clip.length:
            return []
        return self._process_clip()

    def flush(self) -> List[FrameResult]:
        """Align and emit a partial clip (end of stream)."""
        return self._process_clip() if self.clip else []

    def reset(self, status: str) -> List[FrameResult]:
        """Emit the partial clip, then forget the world (new size, failure); ``status`` noted."""
        results = self.flush()
        self.backend.forget([kf.prepared.view.key for kf in self.window])
        self.window.clear()
        self.metric.reset()
        self.odometry.reset()
        self.last_T_world_cam = np.eye(4)
        self.note(status)
        return results

    def _process_clip(self) -> List[FrameResult]:
        clip, self.clip = self.clip, []
        start = time.perf_counter()
        status = self._pending_status
        self._pending_status = ''
        keyframe: Optional[KeyframeState] = None
        kf_out: Optional[StageOutput] = None
        network_s = align_s = 0.0
        if self.window:
            kf_out = align_keyframe(clip[0], list(self.window), self.backend, self.config)
            network_s, align_s = kf_out.network_s, kf_out.align_s
            if kf_out.ok:
                keyframe = keyframe_state(clip[0], kf_out)
            else:
                status = _join(status, f'reset: keyframe {kf_out.status}')
                self.backend.forget([kf.prepared.view.key for kf in self.window])
                self.window.clear()
                self.metric.reset()
                self.odometry.reset()
        if len(clip) >= 2:
            out = align_clip(clip, keyframe, self.backend, self.config,
                             fallback_T=self.last_T_world_cam)
            network_s += out.network_s
            align_s += out.align_s
        elif keyframe is not None:
            out = kf_out  # a clip of only its keyframe: the keyframe stage aligned it
        else:
            out = _unaligned_output(clip[0], self.last_T_world_cam)
        status = _join(status, out.status)
        scale = self._metric_scale(clip, out)
        if scale is None:
            status = _join(status, metric_scale_note(
                self.config.scale.metric, clip[0].metric_prior is not None,
                clip_metric_support(clip, out, self.config), self.config.scale.min_pixels))
        results = [frame_result(p, out.T_world_cam[k], out.depth[k], out.K[k],
                                out.confidence[k], out.dynamic_mask[k], self.config, scale,
                                out.residual, status, scale_source=self._scale_source)
                   for k, p in enumerate(clip)]
        self.last_T_world_cam = out.T_world_cam[-1].copy()
        self._retire(clip, out, keyframe)
        self._timings = StageTimings(network_ms=1e3 * network_s, align_ms=1e3 * align_s,
                                     total_ms=1e3 * (time.perf_counter() - start))
        return results

    def _metric_scale(self, clip: List[PreparedFrame], out: StageOutput) -> Optional[float]:
        """Odometry first (once the fitted frames span its baseline), then a metric prior. The
        odometry fit takes each clip's frames at their solved poses; its window spans clips."""
        odometry = self.odometry.add_frames([p.stamp_ns for p in clip], out.T_world_cam,
                                            [p.T_odom_cam for p in clip]) if out.ok else \
            self.odometry.scale
        self._scale_source = 'odometry'
        if odometry is not None and \
                MetricScaleMode(self.config.scale.metric) != MetricScaleMode.OFF:
            return odometry
        self._scale_source = ''
        if not metric_scale_enabled(self.config.scale.metric, clip[0].metric_prior is not None):
            return None
        return self.metric.update(clip_metric_estimate(clip, out, self.config))

    def _retire(self, clip: List[PreparedFrame], out: StageOutput,
                keyframe: Optional[KeyframeState]) -> None:
        """Keyframe into the window (oldest out), every other frame of the clip forgotten."""
        self.backend.forget([p.view.key for p in clip[1:]])
        if keyframe is None and out.ok and np.isfinite(out.depth[0]).any():
            keyframe = keyframe_state(clip[0], out)
        if keyframe is None:
            self.backend.forget([clip[0].view.key])
            return
        self.window.append(keyframe)
        self.keyframes_added += 1
        while len(self.window) > self.config.clip.keyframe_window - 1:
            self.backend.forget([self.window.popleft().prepared.view.key])


def _unaligned_output(prepared: PreparedFrame, fallback_T: np.ndarray) -> StageOutput:
    """A lone frame with nothing to pair it with: last pose, no depth, a status."""
    h, w = prepared.network_hw
    K = prepared.K_known
    if K is None:
        K = default_intrinsics(h, w, float(max(h, w)))
    return StageOutput(T_world_cam=fallback_T[None].copy(),
                       depth=np.full((1, h, w), np.nan, np.float32), K=K[None],
                       confidence=np.zeros((1, h, w), np.float32),
                       dynamic_mask=np.zeros((1, h, w), bool), residual=float('nan'),
                       status='single frame: not aligned', network_s=0.0, align_s=0.0)


def _join(*parts: str) -> str:
    return '; '.join(p for p in parts if p)
