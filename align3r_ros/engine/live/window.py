"""The live map: the keyframe window with everything that lives and dies with it.

A :class:`KeyframeWindow` owns the keyframes (at most ``live.window``, oldest first), the pair
cache of the window refinement, the metric-scale tracker and the shared intrinsics K; it tells
the backend to forget every keyframe that leaves. Dropping the map (a loss, a reset) clears all
of it except K, which stays shared for the stream's image size.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from align3r_ros.backends.base import PairwiseBackend
from align3r_ros.config import Align3rConfig
from align3r_ros.engine.live.keyframes import LiveKeyframe
from align3r_ros.engine.live.refine import (PairCache, predict_new_pairs, refine_window,
                                            subsample_stride)
from align3r_ros.engine.steps.metric_scale import (MetricScaleTracker, estimate_metric_scale,
                                                   metric_scale_enabled, metric_support)
from align3r_ros.structures import KeyframePose


class KeyframeWindow:
    """Keyframes, pair cache, metric tracker and K of one live map (module docstring).

    Args:
        config: engine config (``live``, ``scale``, ``align`` groups are read).
        backend: the pairwise backend (predicts the refinement's pairs; ``forget`` for every
            keyframe that leaves).
        device: where the keyframes' tensors live.
    """

    def __init__(self, config: Align3rConfig, backend: PairwiseBackend,
                 device: torch.device) -> None:
        self.config = config
        self.backend = backend
        self.device = device
        self.keyframes: Deque[LiveKeyframe] = deque()
        self.cache = PairCache()
        self.metric = MetricScaleTracker(config.scale.smoothing)
        #: confident static pixels with a metric prior of the last keyframe estimated (None:
        #: none estimated yet) -- named in the status while the scale is unknown
        self.metric_support: Optional[int] = None
        #: (3, 3) float64 intrinsics at the network resolution, shared by every keyframe.
        self.K: Optional[np.ndarray] = None
        self._seen: Dict[int, float] = {}

    def __len__(self) -> int:
        return len(self.keyframes)

    def holds(self, key: int) -> bool:
        return any(kf.key == key for kf in self.keyframes)

    @property
    def newest(self) -> LiveKeyframe:
        return self.keyframes[-1]

    def K_tensor(self) -> torch.Tensor:
        """K as a float64 tensor on the window's device."""
        return torch.as_tensor(self.K, dtype=torch.float64, device=self.device)

    def ranked(self, count: int) -> List[LiveKeyframe]:
        """The ``count`` keyframes the next frame most likely sees: by the previous frame's
        covisibility, unseen ones by recency."""
        order = sorted(range(len(self.keyframes)),
                       key=lambda n: (self._seen.get(self.keyframes[n].key, -1.0), n),
                       reverse=True)
        return [self.keyframes[n] for n in order[:count]]

    def observed(self, chosen: Sequence[LiveKeyframe], overlaps: Sequence[float]) -> None:
        """Remember how much the last tracked frame saw of each tracked keyframe."""
        self._seen = {kf.key: o for kf, o in zip(chosen, overlaps)}

    def replace(self, updated: Dict[int, LiveKeyframe]) -> None:
        """Swap in new versions of keyframes (by key), e.g. with an observation fused in."""
        self.keyframes = deque(updated.get(kf.key, kf) for kf in self.keyframes)

    def add(self, keyframe: LiveKeyframe) -> None:
        """Append a keyframe; the oldest leave beyond ``live.window`` (forgotten by the
        backend, their cached pairs dropped). The first keyframe of a map updates the metric
        scale."""
        self.keyframes.append(keyframe)
        while len(self.keyframes) > self.config.live.window:
            self.backend.forget([self.keyframes.popleft().key])
        self.cache.keep_only([kf.key for kf in self.keyframes])
        if len(self.keyframes) == 1:
            self.update_metric(keyframe)

    def clear(self) -> None:
        """Drop the map (K stays)."""
        self.backend.forget([kf.key for kf in self.keyframes])
        self.keyframes.clear()
        self.cache.clear()
        self.metric.reset()
        self.metric_support = None
        self._seen.clear()

    def refine(self) -> Tuple[LiveKeyframe, str, float]:
        """Refine the window after a keyframe was added (:func:`refine.refine_window`).

        Returns:
            the newest keyframe (refined, or as tracked when the refinement was skipped), a
            status note ('' or why it was skipped) and the backend's seconds.
        """
        window = list(self.keyframes)
        stride = subsample_stride(window[-1].prepared.network_hw,
                                  self.config.live.refine_pixels)
        network_s = predict_new_pairs([kf.prepared.view for kf in window], self.backend,
                                      self.cache, stride)
        s = slice(None, None, stride)
        depth_sub = np.stack([kf.depth[s, s].cpu().numpy() for kf in window])
        T_now = np.stack([kf.T_world_cam.cpu().numpy() for kf in window])
        outcome = refine_window([kf.key for kf in window], T_now, depth_sub, self.K, stride,
                                self.cache, self.config)
        if outcome.T_world_cam is not None:
            self.keyframes = deque(
                dataclasses.replace(kf, T_world_cam=torch.as_tensor(
                    T, dtype=torch.float64, device=self.device))
                for kf, T in zip(window, outcome.T_world_cam))
        self.update_metric(self.newest)
        return self.newest, outcome.status, network_s

    def update_metric(self, keyframe: LiveKeyframe) -> None:
        """Fold the keyframe's metric-scale estimate in (when it has a metric prior)."""
        prior = keyframe.prepared.metric_prior
        if prior is None or not metric_scale_enabled(self.config.scale.metric, True):
            return
        usable = keyframe.usable(self.config.align.min_conf_thr).cpu().numpy()
        depth = keyframe.depth.cpu().numpy()
        self.metric_support = int(metric_support(depth, prior, usable).sum())
        self.metric.update(estimate_metric_scale(depth, prior, usable,
                                                 self.config.scale.min_pixels))

    def poses(self) -> List[KeyframePose]:
        """The keyframes, oldest first, with their latest poses (metric when the metric scale
        is known and enabled for the newest keyframe's prior)."""
        prior_seen = bool(self.keyframes) and self.newest.prepared.metric_prior is not None
        scale = self.metric.scale if metric_scale_enabled(self.config.scale.metric,
                                                          prior_seen) else None
        out = []
        for kf in self.keyframes:
            T = kf.T_world_cam.double().cpu().numpy().copy()
            if scale is not None:
                T[:3, 3] *= scale
            out.append(KeyframePose(stamp_ns=int(kf.prepared.stamp_ns), T_world_cam=T,
                                    is_metric=scale is not None))
        return out
