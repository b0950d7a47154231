"""The two alignment stages shared by the streaming and offline hierarchical modes.

* Keyframe stage: a new keyframe is aligned against the window of earlier keyframes, the
  most recent one's pose held fixed; only pairs between the new keyframe and each earlier one
  are predicted.
* Clip stage: a clip's frames (its keyframe at local index 0) are aligned on the configured
  pair graph with the keyframe's pose held fixed and its intrinsics imposed on every frame.

Scale linking: anchors fix one pose, not depth maps. After the solve, the solution is scaled
about the anchored camera by the robust ratio of the stored depths of the earlier keyframes
(keyframe stage) or of the keyframe (clip stage) to their re-estimated depths, on confident
static pixels, so every clip shares the keyframes' scale. (Two or more pose anchors would fix
the scale through their camera centres alone: a baseline of a few decimetres against scenes
metres deep, badly conditioned, and thrown off by moving objects.)

Why not anchor depth maps: a solver's estimate of a free frame carries a small common scale
bias (~0.5 % under 2 % noise); against a fixed depth map that bias can only be absorbed by
moving the free camera, by 0.5 % of the scene depth, whereas against one fixed pose and a
rescale it stays a 0.5 % error of the (much shorter) baseline. Measured on a 24-frame 48x64
hierarchy (clips of 6): ATE 2.2 % of the path with depth anchors, 1.2 % with this scheme
(13 % vs 1.2 % with the adam solver).

No temporal smoothing in either stage (:func:`anchored_stage_config`): the official
hierarchical depth evaluation aligns its clips with ``cloud_opt``, which has no temporal term,
and with it the free end of an anchored chain (a clip's last frame, the newest keyframe) is
pulled back onto its neighbour (docs/clip_boundaries.md). Flat alignment keeps
``align.temporal_weight`` (the official pose evaluation runs flat, with it).

Both return plain arrays in the world frame of the keyframes; failures come back as a status
and never as non-finite poses.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from align3r_ros.align import FrameAnchor, make_pair_edges
from align3r_ros.backends.base import PairwiseBackend
from align3r_ros.config import Align3rConfig
from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.engine.steps.solve import SolveOutcome, solve_frames


@dataclass(frozen=True)
class KeyframeState:
    """An aligned keyframe held fixed by later stages.

    Attributes:
        prepared: the keyframe.
        T_world_cam: (4, 4) camera-to-world, alignment units.
        depth: (h, w) float32 depth, finite and positive everywhere (holes filled).
        K: (3, 3) intrinsics at (h, w).
    """

    prepared: PreparedFrame
    T_world_cam: np.ndarray
    depth: np.ndarray
    K: np.ndarray


@dataclass(frozen=True)
class StageOutput:
    """Aligned frames of one stage (N frames at (h, w)).

    Attributes:
        T_world_cam: (N, 4, 4), always finite (fallback poses when the solve failed).
        depth: (N, h, w) float32 (NaN everywhere when the solve failed).
        K: (N, 3, 3).
        confidence: (N, h, w) float32.
        dynamic_mask: (N, h, w) bool.
        residual: mean alignment residual.
        status: '' or why the solve failed.
        network_s, align_s: seconds spent in the backend and in alignment.
    """

    T_world_cam: np.ndarray
    depth: np.ndarray
    K: np.ndarray
    confidence: np.ndarray
    dynamic_mask: np.ndarray
    residual: float
    status: str
    network_s: float
    align_s: float

    @property
    def ok(self) -> bool:
        return not self.status


def filled_depth(depth: np.ndarray) -> np.ndarray:
    """(h, w) float32 with non-finite or non-positive pixels set to the median valid depth."""
    depth = np.asarray(depth, dtype=np.float32)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(depth) & (depth > 0)
    fill = float(np.median(depth[valid])) if valid.any() else 1.0
    return np.where(valid, depth, np.float32(fill)).astype(np.float32)


def depth_ratio(stored: np.ndarray, solved: np.ndarray, confidence: np.ndarray,
                min_conf: float) -> float:
    """Robust factor r with ``stored ~= r * solved`` (median over confident finite pixels)."""
    with np.errstate(invalid='ignore', divide='ignore'):
        ratio = np.asarray(stored, np.float64) / np.asarray(solved, np.float64)
        ok = np.isfinite(ratio) & (ratio > 0) & (confidence >= min_conf)
        if ok.sum() < 16:
            ok = np.isfinite(ratio) & (ratio > 0)
    return float(np.median(ratio[ok])) if ok.any() else 1.0


def rescale_about(out: 'StageOutput', T_world_anchor: np.ndarray, factor: float
                  ) -> 'StageOutput':
    """Scale a stage's world by ``factor`` about the anchored camera centre (it stays put)."""
    if not out.ok or factor == 1.0 or not np.isfinite(factor) or factor <= 0:
        return out
    centre = np.asarray(T_world_anchor, np.float64)[:3, 3]
    T = out.T_world_cam.copy()
    T[:, :3, 3] = centre + factor * (T[:, :3, 3] - centre)
    return dataclasses.replace(out, T_world_cam=T,
                               depth=(out.depth * np.float32(factor)).astype(np.float32))


def anchored_stage_config(config: Align3rConfig) -> Align3rConfig:
    """``config`` for the keyframe and clip stages: ``align.temporal_weight`` 0 (module
    docstring; without the term the fast solver also runs no Adam polish)."""
    if config.align.temporal_weight == 0.0:
        return config
    return dataclasses.replace(config, align=dataclasses.replace(config.align,
                                                                  temporal_weight=0.0))


def _stack_known(frames: Sequence[PreparedFrame]) -> Optional[np.ndarray]:
    if all(p.K_known is not None for p in frames):
        return np.stack([p.K_known for p in frames])
    return None


def run_stage(frames: Sequence[PreparedFrame], edges: np.ndarray, backend: PairwiseBackend,
         config: Align3rConfig, K_known, anchors, fallback_T: np.ndarray,
         fallback_K: Optional[np.ndarray]) -> StageOutput:
    """Predict ``edges`` over ``frames`` and solve; fallback pose/K when the solve fails."""
    views = [p.view for p in frames]
    hw = frames[0].network_hw
    start = time.perf_counter()
    predictions = backend.predict(views, edges)
    network_s = time.perf_counter() - start
    outcome: SolveOutcome = solve_frames(predictions, len(frames), hw, config, K_known=K_known,
                                         anchors=anchors)
    align_s = time.perf_counter() - start - network_s
    n = len(frames)
    result = outcome.result
    if result is None:
        K = fallback_K if fallback_K is not None else _default_K(hw)
        return StageOutput(
            T_world_cam=np.repeat(fallback_T[None], n, axis=0),
            depth=np.full((n,) + hw, np.nan, np.float32), K=np.repeat(K[None], n, axis=0),
            confidence=np.zeros((n,) + hw, np.float32), dynamic_mask=outcome.dynamic_mask,
            residual=float('nan'), status=outcome.status, network_s=network_s,
            align_s=align_s)
    return StageOutput(T_world_cam=np.asarray(result.T_world_cam, np.float64),
                       depth=np.asarray(result.depth, np.float32),
                       K=np.asarray(result.K, np.float64),
                       confidence=np.asarray(result.confidence, np.float32),
                       dynamic_mask=outcome.dynamic_mask, residual=outcome.residual, status='',
                       network_s=network_s, align_s=align_s)


def _default_K(hw) -> np.ndarray:
    h, w = hw
    focal = float(max(h, w))
    return np.array([[focal, 0.0, w / 2.0], [0.0, focal, h / 2.0], [0.0, 0.0, 1.0]])


def align_keyframe(new: PreparedFrame, window: Sequence[KeyframeState],
                   backend: PairwiseBackend, config: Align3rConfig) -> StageOutput:
    """Align ``new`` against the pose-fixed keyframes of ``window`` (oldest first, not empty).

    Returns a 1-frame :class:`StageOutput` for the new keyframe. Intrinsics: known ones when
    configured, else the window's (one focal for the whole stream).
    """
    n = len(window) + 1
    frames = [kf.prepared for kf in window] + [new]
    pairs = []
    for i in range(n - 1):
        pairs += [(n - 1, i), (i, n - 1)]
    edges = np.asarray(pairs, dtype=np.int64)
    anchors = [FrameAnchor(index=n - 2, T_world_cam=window[-1].T_world_cam)]
    K_known = _stack_known(frames)
    if K_known is None:
        K_known = np.repeat(window[-1].K[None], n, axis=0)
    out = run_stage(frames, edges, backend, anchored_stage_config(config), K_known, anchors,
                    window[-1].T_world_cam, window[-1].K)
    # the scale: every earlier keyframe's stored depth against its re-estimated depth
    static = ~out.dynamic_mask[:n - 1]
    factor = depth_ratio(np.stack([kf.depth for kf in window]), out.depth[:n - 1],
                         np.where(static, out.confidence[:n - 1], 0.0),
                         config.align.min_conf_thr)
    out = rescale_about(out, window[-1].T_world_cam, factor)
    last = slice(n - 1, n)
    return StageOutput(T_world_cam=out.T_world_cam[last], depth=out.depth[last], K=out.K[last],
                       confidence=out.confidence[last], dynamic_mask=out.dynamic_mask[last],
                       residual=out.residual, status=out.status, network_s=out.network_s,
                       align_s=out.align_s)


def align_clip(clip: Sequence[PreparedFrame], keyframe: Optional[KeyframeState],
               backend: PairwiseBackend, config: Align3rConfig,
               fallback_T: Optional[np.ndarray] = None) -> StageOutput:
    """Align a clip (>= 2 frames; ``clip[0]`` is its keyframe).

    With ``keyframe`` the keyframe's pose, depth scale and intrinsics are imposed; without it the
    clip is aligned freely and re-expressed so that its keyframe sits at ``fallback_T``
    (identity by default): the first clip of a stream defines the world.
    """
    graph = config.graph
    edges = make_pair_edges(len(clip), graph.kind, min(graph.window, len(clip) - 1),
                            graph.cyclic, graph.symmetric)
    K_known = _stack_known(clip)
    anchors = ()
    base_T = np.eye(4) if fallback_T is None else np.asarray(fallback_T, np.float64)
    fallback_K = None
    if keyframe is not None:
        anchors = [FrameAnchor(index=0, T_world_cam=keyframe.T_world_cam)]
        if K_known is None:
            K_known = np.repeat(keyframe.K[None], len(clip), axis=0)
        base_T = keyframe.T_world_cam
        fallback_K = keyframe.K
    out = run_stage(clip, edges, backend, anchored_stage_config(config), K_known, anchors,
                    base_T, fallback_K)
    if keyframe is None:
        return place_first_frame(out, base_T)
    factor = depth_ratio(keyframe.depth, out.depth[0], out.confidence[0],
                         config.align.min_conf_thr)
    return rescale_about(out, keyframe.T_world_cam, factor)


def place_first_frame(out: StageOutput, T_world_first: np.ndarray) -> StageOutput:
    """Move a freely aligned stage rigidly so that its frame 0 has pose ``T_world_first``."""
    if not out.ok:
        return out
    T_new_old = np.asarray(T_world_first, np.float64) @ np.linalg.inv(out.T_world_cam[0])
    return dataclasses.replace(out, T_world_cam=T_new_old[None] @ out.T_world_cam)


def keyframe_state(prepared: PreparedFrame, out: StageOutput, index: int = 0) -> KeyframeState:
    """The fixed state of frame ``index`` of a successful stage output."""
    return KeyframeState(prepared=prepared, T_world_cam=out.T_world_cam[index].copy(),
                         depth=filled_depth(out.depth[index]), K=out.K[index].copy())
