"""Live mode: every frame tracked against keyframes and returned by its own ``push``.

Per frame f (latency 0 frames; nothing waits for a later frame):

1. *Bootstrap* (no keyframe yet, or after tracking was lost): f's self-pair (f, f) gives its
   point map in its own camera; the focal comes from it (unless known, or already shared), its
   depth is the map's z, its pose the last published one (identity at the start). f becomes
   the first keyframe. After a loss the new map's scale is set so that f's median depth matches
   the last published frame's (continuity, not a measurement).
2. *Tracking*: pairs (f, k) with the ``stream.track_keyframes`` keyframes f is most likely to
   see (the ones the previous frame saw best); pose and per-pair scale by a robust closed form
   on a fixed pixel subsample (:mod:`align3r_ros.engine.live.tracking`); depth from f's own point
   map at that scale; dynamic pixels where two estimates of f's points disagree (a second keyframe,
   or the reverse pair (k, f) when only one keyframe exists).
3. *Keyframe rule* (:mod:`align3r_ros.engine.live.keyframes`): covisibility and parallax
   against the reference keyframe; loss when covisibility or the fit's inlier fraction collapses,
   which re-initialises the map (status says so).
4. *Refinement* when f becomes a keyframe: the window of at most ``stream.window`` keyframes is
   re-aligned by the existing solver on subsampled pairs (:mod:`align3r_ros.engine.live.refine`);
   f's own result carries the refined pose and depth; later frames track against the refined
   keyframes. Results already returned are never rewritten; :meth:`LiveAligner.keyframe_poses`
   exposes the refined keyframe poses (e.g. for a ``~/keyframes/path`` topic).

Metric scale (``scale.metric``) is estimated on each new keyframe and smoothed as in clip mode;
``output.resolution`` is applied by ``steps.output.frame_result``. Memory: at most
``stream.window`` keyframes and their cached pair maps; the backend forgets every other frame
after its push. The default per-frame path runs no iterative polish.

Over 300 lines: one state machine (bootstrap, tracking, loss, keyframes, output) whose stages
share its state; the maths lives in ``tracking``, ``keyframes``, ``fusion`` and ``refine``.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from typing import Deque, Dict, List, Optional, Tuple

import numpy as np
import torch

from align3r_ros.align.focal import estimate_focal
from align3r_ros.backends.base import PairwiseBackend
from align3r_ros.config import Align3rConfig
from align3r_ros.errors import Align3rError
from align3r_ros.geometry.camera import default_principal_point, intrinsics_matrix
from align3r_ros.engine.live.fusion import (fold_into_keyframes, fused_frame_depth,
                                            reverse_pair_points)
from align3r_ros.engine.live.keyframes import (LiveKeyframe, camera_points, covisibility,
                                               dynamic_from_disagreement, new_keyframe, parallax)
from align3r_ros.engine.live.refine import (PairCache, predict_new_pairs, refine_window,
                                            subsample_stride)
from align3r_ros.engine.live.tracking import TrackInput, fit_pose, frame_depth, sample_pixels
from align3r_ros.runtime import resolve_device
from align3r_ros.engine.steps.frame_prep import PreparedFrame
from align3r_ros.engine.steps.metric_scale import (MetricScaleTracker, estimate_metric_scale,
                                                   metric_scale_enabled)
from align3r_ros.engine.steps.output import frame_result
from align3r_ros.structures import FrameResult, KeyframePose, StageTimings

#: Pixels of f used for covisibility.
COVIS_PIXELS = 2048


class LiveAligner:
    """The live-mode stream aligner (see module docstring); a ``StreamAligner``.

    Args:
        config: engine config (``stream``, ``align``, ``dynamic``, ``scale``, ``output``,
            ``camera``, ``runtime`` groups are read).
        backend: pairwise backend (its ``forget`` is called for every frame that leaves).
    """

    def __init__(self, config: Align3rConfig, backend: PairwiseBackend) -> None:
        self.config = config
        self.backend = backend
        self.device = resolve_device(config.runtime.device)
        self.keyframes: Deque[LiveKeyframe] = deque()
        self.metric = MetricScaleTracker(config.scale.smoothing)
        self.cache = PairCache()
        self.K: Optional[np.ndarray] = None
        self.last_T_world_cam = np.eye(4)
        self._last_median_depth: Optional[float] = None
        self._seen: Dict[int, float] = {}
        self._pending_status = ''
        self._timings = StageTimings()
        self._generator = torch.Generator().manual_seed(0)
        self.keyframes_added = 0
        self.tracking_lost = 0

    # ---- StreamAligner interface ------------------------------------------------------------

    @property
    def held_frames(self) -> int:
        """Keyframes held (nothing else waits: every frame is emitted by its own push)."""
        return len(self.keyframes)

    @property
    def timings(self) -> StageTimings:
        return self._timings

    def keyframe_poses(self) -> List[KeyframePose]:
        """The window's keyframes, oldest first, with their latest refined poses (metric when
        the metric scale is known); [] before the first keyframe and after a reset or loss."""
        scale = self.metric.scale if metric_scale_enabled(
            self.config.scale.metric, self._metric_prior_seen) else None
        out = []
        for kf in self.keyframes:
            T = kf.T_world_cam.double().cpu().numpy().copy()
            if scale is not None:
                T[:3, 3] *= scale
            out.append(KeyframePose(stamp_ns=int(kf.prepared.stamp_ns), T_world_cam=T,
                                    is_metric=scale is not None))
        return out

    def push(self, prepared: PreparedFrame) -> List[FrameResult]:
        """Align ``prepared``; returns exactly its result."""
        start = time.perf_counter()
        self._network_s = 0.0
        status, self._pending_status = self._pending_status, ''
        if self.keyframes and self.keyframes[-1].prepared.network_hw != prepared.network_hw:
            status = _join(status, self._drop_map('reset: network size changed'))
        try:
            if not self.keyframes:
                result = self._bootstrap(prepared, status, target_median=None)
            else:
                result = self._track(prepared, status)
        except (Align3rError, ValueError, RuntimeError, np.linalg.LinAlgError) as error:
            result = self._failed(prepared, _join(status, f'tracking failed: {error}'))
        if not any(kf.key == prepared.view.key for kf in self.keyframes):
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
        self._drop_map('')
        self.last_T_world_cam = np.eye(4)
        self._last_median_depth = None
        self._pending_status = _join(self._pending_status, status)
        return []

    # ---- stages -----------------------------------------------------------------------------

    @property
    def _metric_prior_seen(self) -> bool:
        return bool(self.keyframes) and self.keyframes[-1].prepared.metric_prior is not None

    def _drop_map(self, status: str) -> str:
        self.backend.forget([kf.key for kf in self.keyframes])
        self.keyframes.clear()
        self.cache.clear()
        self.metric.reset()
        self._seen.clear()
        return status

    def _K_tensor(self) -> torch.Tensor:
        return torch.as_tensor(self.K, dtype=torch.float64, device=self.device)

    def _predict(self, views, edges) -> list:
        start = time.perf_counter()
        predictions = self.backend.predict(views, np.asarray(edges, np.int64))
        self._network_s += time.perf_counter() - start
        dev = self.device
        return [(torch.as_tensor(predictions.pts_i[e], device=dev),
                 torch.as_tensor(predictions.conf_i[e], device=dev),
                 torch.as_tensor(predictions.pts_j[e], device=dev),
                 torch.as_tensor(predictions.conf_j[e], device=dev))
                for e in range(predictions.num_edges)]

    def _bootstrap(self, prepared: PreparedFrame, status: str,
                   target_median: Optional[float], own: Optional[tuple] = None
                   ) -> FrameResult:
        """Start a map at ``prepared`` from its self-pair (f, f) (or ``own`` = (pts, conf):
        its point map from a pair already predicted). The self-pair's two maps of the same
        frame give a first dynamic mask where they disagree (focal and depth skip it)."""
        if own is None:
            pts, conf, other, conf_other = self._predict([prepared.view], [(0, 0)])[0]
        else:
            pts, conf = own
            other, conf_other = pts, conf
        cfg = self.config
        h, w = prepared.network_hw
        dynamic = torch.zeros((h, w), dtype=torch.bool, device=self.device)
        if cfg.dynamic.enabled and own is None:
            dynamic = dynamic_from_disagreement(pts, other, torch.minimum(conf, conf_other),
                                                cfg.dynamic.threshold)
        pts = 0.5 * (pts + other)
        conf = torch.minimum(conf, conf_other)
        z = pts[..., 2]
        confident = torch.isfinite(pts).all(-1) & (z > 0) & (conf >= cfg.align.min_conf_thr)
        static = int((confident & ~dynamic).sum())
        if static < cfg.scale.min_pixels:  # e.g. the self-pair's two maps disagree everywhere
            return self._failed(prepared, _join(status, (
                f'not initialised: too few confident static pixels ({static} < '
                f'{cfg.scale.min_pixels}; {int(confident.sum())} confident, '
                f'{int(dynamic.sum())} dynamic)')))
        if prepared.K_known is not None:
            self.K = np.asarray(prepared.K_known, np.float64)
        elif self.K is None:
            cx, cy = default_principal_point(h, w)
            use = confident & ~dynamic
            flat = torch.where(use[..., None], pts, torch.zeros_like(pts))
            focal = estimate_focal(flat.reshape(-1, 3).cpu().numpy(), (h, w), (cx, cy))
            if not (np.isfinite(focal) and focal > 0):
                focal = float(max(h, w))
            self.K = intrinsics_matrix(focal, focal, cx, cy)
        depth = torch.where(confident, z, torch.full_like(z, float('nan'))).float()
        if target_median is not None:
            median = float(depth[confident].median())
            if median > 0 and np.isfinite(target_median):
                depth = depth * (target_median / median)
        T = torch.as_tensor(self.last_T_world_cam, dtype=torch.float64, device=self.device)
        keyframe = new_keyframe(prepared, T, depth, conf.float(), dynamic)
        self._add_keyframe(keyframe)
        return self._emit(prepared, keyframe, float('nan'), status)

    def _ranked_keyframes(self) -> List[LiveKeyframe]:
        """Keyframes by the previous frame's covisibility (unseen ones by recency)."""
        order = sorted(range(len(self.keyframes)),
                       key=lambda n: (self._seen.get(self.keyframes[n].key, -1.0), n),
                       reverse=True)
        return [self.keyframes[n] for n in order[:self.config.stream.track_keyframes]]

    def _track(self, prepared: PreparedFrame, status: str) -> FrameResult:
        cfg = self.config
        stream = cfg.stream
        chosen = self._ranked_keyframes()
        views = [prepared.view] + [kf.prepared.view for kf in chosen]
        edges = [(0, n + 1) for n in range(len(chosen))]
        reverse = len(chosen) == 1 and cfg.dynamic.enabled
        if reverse:
            edges.append((1, 0))
        maps = self._predict(views, edges)
        K = self._K_tensor()
        inputs = [TrackInput(pts_i=m[0], conf_i=m[1], pts_j=m[2], conf_j=m[3],
                             X_world=kf.world_points(K).to(m[2].dtype),
                             usable=kf.usable(cfg.align.min_conf_thr))
                  for m, kf in zip(maps, chosen)]
        fit = fit_pose(inputs, stream.track_pixels, stream.track_iterations,
                       cfg.dynamic.threshold, cfg.scale.min_pixels,
                       float(np.log(cfg.align.min_conf_thr)), self._generator)
        T = fit.T_world_cam()
        depth, conf, points = frame_depth(inputs, fit.scales)
        dynamic = torch.zeros(conf.shape, dtype=torch.bool, device=conf.device)
        if cfg.dynamic.enabled:
            second = points[1] if not reverse else \
                reverse_pair_points(maps[-1][0], maps[-1][2], chosen[0], fit,
                                    cfg.align.min_conf_thr)
            if second is not None:
                dynamic = dynamic_from_disagreement(points[0], second, conf,
                                                    cfg.dynamic.threshold)
        valid = torch.isfinite(depth) & (depth > 0) & (conf >= cfg.align.min_conf_thr)
        if int(valid.sum()) < cfg.scale.min_pixels:
            return self._failed(prepared, _join(status, 'tracking failed: too few confident '
                                                        'pixels in the frame'))
        world = self._sample_world(depth, valid & ~dynamic, K, T)
        overlaps = [covisibility(world, kf, K, prepared.network_hw) for kf in chosen]
        best = int(np.argmax(overlaps))
        median_depth = float(depth[valid].median())
        if overlaps[best] < stream.lost_overlap or fit.inlier_fraction < stream.lost_inliers:
            self.tracking_lost += 1
            note = (f'tracking lost (covisibility {overlaps[best]:.2f}, inliers '
                    f'{fit.inlier_fraction:.2f}): re-initialised')
            self._drop_map('')
            return self._bootstrap(prepared, _join(status, note), self._last_median_depth,
                                   own=(maps[0][0], maps[0][1]))
        self._seen = {kf.key: o for kf, o in zip(chosen, overlaps)}
        threshold = cfg.dynamic.threshold
        fused = fold_into_keyframes(chosen, inputs, fit, threshold)
        self.keyframes = deque(fused.get(kf.key, kf) for kf in self.keyframes)
        depth = fused_frame_depth(depth, inputs, dynamic, T, K, self.keyframes, threshold)
        residual = fit.residual
        frame = new_keyframe(prepared, T,
                             torch.where(valid, depth, torch.full_like(depth, float('nan'))),
                             conf, dynamic)
        if overlaps[best] < stream.keyframe_overlap or \
                parallax(T, chosen[best], median_depth) > stream.keyframe_parallax:
            frame, note = self._new_keyframe(frame)
            status = _join(status, note)
        return self._emit(prepared, frame, residual, status)

    def _sample_world(self, depth, mask, K, T) -> torch.Tensor:
        index = sample_pixels(mask, COVIS_PIXELS, self._generator)
        cam = camera_points(depth, K).reshape(-1, 3)[index].double()
        return cam @ T[:3, :3].T + T[:3, 3]

    def _new_keyframe(self, frame: LiveKeyframe) -> Tuple[LiveKeyframe, str]:
        """Add ``frame`` as a keyframe and refine the window; returns the refined frame."""
        self._add_keyframe(frame)
        window = list(self.keyframes)
        hw = frame.prepared.network_hw
        stride = subsample_stride(hw, self.config.stream.refine_pixels)
        views = [kf.prepared.view for kf in window]
        self._network_s += predict_new_pairs(views, self.backend, self.cache, stride)
        s = slice(None, None, stride)
        depth_sub = np.stack([kf.depth[s, s].cpu().numpy() for kf in window])
        T_now = np.stack([kf.T_world_cam.cpu().numpy() for kf in window])
        outcome = refine_window([kf.key for kf in window], T_now, depth_sub, self.K, stride,
                                self.cache, self.config)
        if outcome.T_world_cam is None:
            self._update_metric(self.keyframes[-1])
            return self.keyframes[-1], outcome.status
        refined = [dataclasses.replace(kf, T_world_cam=torch.as_tensor(
                       T, dtype=torch.float64, device=self.device))
                   for kf, T in zip(window, outcome.T_world_cam)]
        self.keyframes = deque(refined)
        self._update_metric(refined[-1])
        return refined[-1], ''

    def _add_keyframe(self, keyframe: LiveKeyframe) -> None:
        self.keyframes.append(keyframe)
        self.keyframes_added += 1
        while len(self.keyframes) > self.config.stream.window:
            self.backend.forget([self.keyframes.popleft().key])
        self.cache.keep_only([kf.key for kf in self.keyframes])
        if len(self.keyframes) == 1:
            self._update_metric(keyframe)

    def _update_metric(self, keyframe: LiveKeyframe) -> None:
        prior = keyframe.prepared.metric_prior
        if prior is None or not metric_scale_enabled(self.config.scale.metric, True):
            return
        usable = keyframe.usable(self.config.align.min_conf_thr).cpu().numpy()
        self.metric.update(estimate_metric_scale(keyframe.depth.cpu().numpy(), prior, usable,
                                                 self.config.scale.min_pixels))

    def _failed(self, prepared: PreparedFrame, status: str) -> FrameResult:
        """Last pose, NaN depth, the shared K (or a default one), a status."""
        h, w = prepared.network_hw
        if self.K is None:
            K = prepared.K_known if prepared.K_known is not None else \
                intrinsics_matrix(max(h, w), max(h, w), *default_principal_point(h, w))
        else:
            K = self.K
        return frame_result(prepared, self.last_T_world_cam, np.full((h, w), np.nan, np.float32),
                            K, np.zeros((h, w), np.float32), np.zeros((h, w), bool), self.config,
                            self._scale(prepared), float('nan'), status)

    def _scale(self, prepared: PreparedFrame) -> Optional[float]:
        if not metric_scale_enabled(self.config.scale.metric, prepared.metric_prior is not None):
            return None
        return self.metric.scale

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
        scale = self._scale(prepared)
        if scale is None and metric_scale_enabled(self.config.scale.metric,
                                                  prepared.metric_prior is not None):
            status = _join(status, 'metric scale: not enough confident pixels')
        return frame_result(prepared, T, depth, self.K, frame.confidence.cpu().numpy(),
                            frame.dynamic.cpu().numpy(), self.config, scale, residual, status)


def _join(*parts: str) -> str:
    return '; '.join(p for p in parts if p)
