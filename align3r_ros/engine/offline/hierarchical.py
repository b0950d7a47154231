"""Offline alignment of a sequence: hierarchical (the paper's scheme, done properly) and flat.

Hierarchical: the sequence is cut into clips of ``clip.length`` frames (a last clip of one frame
joins the previous clip); the first frame of each clip is its keyframe; all keyframes are
aligned globally on a sliding-window graph of ``clip.keyframe_window`` (complete when there are
few keyframes); then every clip is aligned with its keyframe anchored in pose, depth (hence
scale) and intrinsics, so clips share one scale. Unlike the official code, nothing is re-scaled
per clip and no clip is re-anchored afterwards (spec §6.2). Peak memory is that of one stage.

Flat: one alignment of every frame on the configured pair graph (the official default for
short videos; memory grows with N). Only flat alignment runs the temporal smoothing term
(``align.temporal_weight``); the keyframe and clip stages run without it, as the official
hierarchical evaluation does (``steps.stages.anchored_stage_config``).
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from align3r_ros.align import make_pair_edges
from align3r_ros.backends.base import PairwiseBackend
from align3r_ros.config import Align3rConfig, GraphKind, MetricScaleMode
from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.engine.clip.aligner import clip_metric_estimate, clip_metric_support
from align3r_ros.engine.steps.metric_scale import metric_scale_enabled, metric_scale_note
from align3r_ros.engine.steps.odometry_scale import sequence_odometry_scale
from align3r_ros.engine.steps.output import frame_result
from align3r_ros.engine.steps.stages import (KeyframeState, StageOutput, align_clip,
                                             anchored_stage_config, keyframe_state,
                                             place_first_frame, run_stage)
from align3r_ros.structures import FrameResult


def split_clips(num_frames: int, length: int) -> List[range]:
    """Consecutive clips of ``length`` frames; a last clip of one frame joins the previous."""
    clips = [range(start, min(start + length, num_frames))
             for start in range(0, num_frames, length)]
    if len(clips) > 1 and len(clips[-1]) == 1:
        clips[-2] = range(clips[-2].start, clips[-1].stop)
        clips.pop()
    return clips


def _align_keyframes(keyframes: Sequence[PreparedFrame], backend: PairwiseBackend,
                     config: Align3rConfig) -> StageOutput:
    window = config.clip.keyframe_window
    edges = make_pair_edges(len(keyframes), GraphKind.SLIDING_WINDOW,
                            min(window, len(keyframes) - 1), False, True)
    K_known = None
    if all(p.K_known is not None for p in keyframes):
        K_known = np.stack([p.K_known for p in keyframes])
    out = run_stage(keyframes, edges, backend, anchored_stage_config(config), K_known, (),
                    np.eye(4), None)
    return place_first_frame(out, np.eye(4))  # keyframe 0 defines the world


def _emit(frames: Sequence[PreparedFrame], outputs: List[StageOutput], config: Align3rConfig,
          scale: Optional[float], status: str, scale_source: str = '') -> List[FrameResult]:
    results = []
    index = 0
    for out in outputs:
        for k in range(len(out.T_world_cam)):
            note = '; '.join(s for s in (status, out.status) if s)
            results.append(frame_result(frames[index], out.T_world_cam[k], out.depth[k],
                                        out.K[k], out.confidence[k], out.dynamic_mask[k],
                                        config, scale, out.residual, note,
                                        scale_source=scale_source))
            index += 1
    return results


def _sequence_scale(frames, clips, outputs, config) -> Tuple[Optional[float], str, str]:
    """The median of per-clip estimates from the robot's odometry (it takes precedence),
    else of per-clip metric-prior estimates, and the status note when there is none.

    Returns:
        (scale or None, '' or why the sequence is not metric -- metric_scale_note, with the
        largest clip's support -- and 'odometry' when the scale came from it, else '').
    """
    has_prior = frames[0].metric_prior is not None
    members = [[frames[i] for i in clip] for clip in clips]
    odometry = [sequence_odometry_scale(out.T_world_cam, [p.T_odom_cam for p in m],
                                        config.scale.odometry_min_baseline)
                for m, out in zip(members, outputs)]  # per clip: one solve, one scale
    odometry = [s for s in odometry if s is not None]
    if odometry and MetricScaleMode(config.scale.metric) != MetricScaleMode.OFF:
        return float(np.exp(np.median(np.log(odometry)))), '', 'odometry'
    if not metric_scale_enabled(config.scale.metric, has_prior):
        return None, metric_scale_note(config.scale.metric, has_prior, None, 0), ''
    estimates = [clip_metric_estimate(m, out, config) for m, out in zip(members, outputs)]
    estimates = [e for e in estimates if e is not None]
    if estimates:
        return float(np.exp(np.median(np.log(estimates)))), '', ''
    supports = [clip_metric_support(m, out, config) for m, out in zip(members, outputs)]
    supports = [n for n in supports if n is not None]
    return None, metric_scale_note(config.scale.metric, True, max(supports, default=None),
                                   config.scale.min_pixels), ''


def align_hierarchical(frames: Sequence[PreparedFrame], backend: PairwiseBackend,
                       config: Align3rConfig) -> List[FrameResult]:
    """Keyframes globally, then clips anchored to their keyframes (see module docstring).

    Args:
        frames: prepared frames of one sequence, all of one network size, >= 2.
    """
    clips = split_clips(len(frames), config.clip.length)
    if len(clips) == 1:
        return align_flat(frames, backend, config)
    keyframes = [frames[clip.start] for clip in clips]
    kf_out = _align_keyframes(keyframes, backend, config)
    status = '' if kf_out.ok else f'keyframes: {kf_out.status}'
    outputs = []
    for k, clip in enumerate(clips):
        members = [frames[i] for i in clip]
        keyframe: Optional[KeyframeState] = keyframe_state(keyframes[k], kf_out, k) \
            if kf_out.ok else None
        outputs.append(align_clip(members, keyframe, backend, config,
                                  fallback_T=kf_out.T_world_cam[k]))
        backend.forget([p.view.key for p in members[1:]])
    backend.forget([p.view.key for p in keyframes])
    scale, scale_note, source = _sequence_scale(frames, clips, outputs, config)
    return _emit(frames, outputs, config, scale, '; '.join(s for s in (status, scale_note) if s),
                 source)


def align_flat(frames: Sequence[PreparedFrame], backend: PairwiseBackend,
               config: Align3rConfig) -> List[FrameResult]:
    """Every frame in one alignment on the configured pair graph (>= 2 frames)."""
    graph = config.graph
    edges = make_pair_edges(len(frames), graph.kind, min(graph.window, len(frames) - 1),
                            graph.cyclic, graph.symmetric)
    K_known = None
    if all(p.K_known is not None for p in frames):
        K_known = np.stack([p.K_known for p in frames])
    out = run_stage(frames, edges, backend, config, K_known, (), np.eye(4), None)
    out = place_first_frame(out, np.eye(4))
    backend.forget([p.view.key for p in frames])
    scale, scale_note, source = _sequence_scale(frames, [range(len(frames))], [out], config)
    return _emit(frames, [out], config, scale, scale_note, source)
