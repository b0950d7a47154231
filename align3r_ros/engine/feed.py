"""The one loop that feeds frames to an engine and hands back its results.

``align3r-replay``, ``align3r-eval``, ``align3r-demo`` and the alignment benchmarks all drive a
:class:`~align3r_ros.structures.FrameEngine` through :func:`run_frames`: every frame is pushed,
every result the engine returns is handed to ``on_result`` as soon as it is ready (so a caller
that writes results holds nothing), and ``flush()`` ends the stream. The ROS node feeds the same
engine from its worker thread (frames arrive one at a time there, not as an iterable).

Offline (hierarchical) alignment needs every frame before it can emit any result;
:class:`OfflineEngine` gives it the same ``push``/``flush`` shape: ``push`` holds frames, ``flush``
aligns them all (``engine.align_sequence``) and reports its stages through ``on_stage``.

Nothing here changes global state: entry points call ``runtime.configure_runtime`` once, before
they build the engine.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence

import numpy as np

from align3r_ros.backends.base import NetworkView, PairwiseBackend, PriorBackend
from align3r_ros.config import Align3rConfig
from align3r_ros.structures import (EngineStats, Frame, FrameEngine, FrameResult, KeyframePose,
                                    PriorMap)

#: Called with each result, in the order the engine emits them.
ResultCallback = Callable[[FrameResult], None]
#: Called after each pushed frame with the number of frames pushed so far.
FrameCallback = Callable[[int], None]


@dataclass(frozen=True)
class FeedSummary:
    """What one :func:`run_frames` call did.

    Attributes:
        frames_in: frames pushed into the engine.
        results_out: results handed to ``on_result`` (frames the engine dropped never return).
    """

    frames_in: int
    results_out: int


def run_frames(engine: FrameEngine, frames: Iterable[Frame], on_result: ResultCallback,
               on_frame: Optional[FrameCallback] = None,
               on_flush: Optional[Callable[[], None]] = None) -> FeedSummary:
    """Push every frame of ``frames`` into ``engine``, then flush it.

    Args:
        engine: a streaming :class:`~align3r_ros.engine.engine.Engine`, an
            :class:`OfflineEngine` or any :class:`~align3r_ros.structures.FrameEngine`.
        frames: consumed lazily (a bag reader, a renderer): one frame is held at a time.
        on_result: receives every result once, as soon as the engine returns it.
        on_frame: progress, called after each push with the frames pushed so far.
        on_flush: called once before ``flush`` (which may align a whole clip or sequence).

    Raises:
        whatever the engine raises (streaming engines drop bad frames and raise nothing for
        them; :class:`OfflineEngine` raises InputError for an unusable sequence).
    """
    frames_in = results_out = 0
    for frame in frames:
        frames_in += 1
        for result in engine.push(frame):
            on_result(result)
            results_out += 1
        if on_frame is not None:
            on_frame(frames_in)
    if on_flush is not None:
        on_flush()
    for result in engine.flush():
        on_result(result)
        results_out += 1
    return FeedSummary(frames_in=frames_in, results_out=results_out)


def collect_results(engine: FrameEngine, frames: Iterable[Frame],
                    on_frame: Optional[FrameCallback] = None) -> List[FrameResult]:
    """:func:`run_frames` keeping every result (in emission order), for short sequences."""
    results: List[FrameResult] = []
    run_frames(engine, frames, results.append, on_frame)
    return results


@dataclass(frozen=True)
class OfflineStage:
    """Progress of an :class:`OfflineEngine` flush.

    Attributes:
        name: 'prepare' (per frame run through the prior network; only with one) or 'align'
            (per solved stage: the keyframes, then each clip; one stage for a single clip).
        done: units of ``name`` finished.
        total: units of ``name`` in this flush.
    """

    name: str
    done: int
    total: int


StageCallback = Callable[[OfflineStage], None]


class OfflineEngine:
    """Offline hierarchical alignment behind the :class:`FrameEngine` shape (module docstring).

    Args:
        config: a validated config.
        pairwise_backend, prior_backend: as :func:`~align3r_ros.engine.engine.align_sequence` takes
            them; built from ``config`` here when ``pairwise_backend`` is None (weights load
            before any frame is read: a bad config fails fast).
        on_stage: progress of the flush (see :class:`OfflineStage`), or None.

    Memory: every pushed frame is held until ``flush`` (the hierarchy needs them all).
    """

    def __init__(self, config: Align3rConfig, pairwise_backend: Optional[PairwiseBackend] = None,
                 prior_backend: Optional[PriorBackend] = None,
                 on_stage: Optional[StageCallback] = None) -> None:
        from align3r_ros.engine import engine

        if pairwise_backend is None:
            pairwise_backend, built_prior = engine.build_backends(config)
            prior_backend = prior_backend if prior_backend is not None else built_prior
        self.config = config
        self._pairwise = pairwise_backend
        self._prior = prior_backend
        self._on_stage = on_stage
        self._held: List[Frame] = []
        self._stats = EngineStats()

    @property
    def stats(self) -> EngineStats:
        return self._stats

    @property
    def held_frames(self) -> int:
        return len(self._held)

    def keyframe_poses(self) -> List[KeyframePose]:
        """[]: the offline hierarchy returns every pose once, at the flush."""
        return []

    def push(self, frame: Frame) -> List[FrameResult]:
        """Hold ``frame`` for the flush; never returns results."""
        self._held.append(frame)
        self._stats = dataclasses.replace(self._stats, frames_in=self._stats.frames_in + 1)
        return []

    def flush(self) -> List[FrameResult]:
        """Align every held frame (one result per frame, in order).

        Raises:
            InputError: fewer than two frames, frames of different sizes, stamps not
                increasing (``align_sequence``'s checks).
        """
        from align3r_ros.engine import engine
        from align3r_ros.engine.offline.hierarchical import split_clips

        frames, self._held = self._held, []
        pairwise, prior = self._pairwise, self._prior
        clips = split_clips(len(frames), self.config.clip.length)
        stages = 1 if len(clips) == 1 else 1 + len(clips)
        if self._on_stage is not None:
            pairwise = _StageCounter(pairwise, stages, self._on_stage)
            if prior is not None:  # without a prior network preparing is only resampling
                prior = _PrepareCounter(prior, len(frames), self._on_stage)
                self._on_stage(OfflineStage('prepare', 0, len(frames)))
        results = engine.align_sequence(frames, self.config, pairwise, prior)
        if self._on_stage is not None:
            self._on_stage(OfflineStage('align', stages, stages))
        self._stats = dataclasses.replace(self._stats,
                                          frames_out=self._stats.frames_out + len(results),
                                          last_status=results[-1].status if results else '',
                                          scale_source=results[-1].scale_source if results
                                          else self._stats.scale_source,
                                          odometry_frames=self._stats.odometry_frames + sum(
                                              f.T_odom_cam is not None for f in frames))
        return results


class _StageCounter:
    """A pairwise backend that reports each solved stage (one ``predict`` per stage)."""

    def __init__(self, inner: PairwiseBackend, total: int, on_stage: StageCallback) -> None:
        self._inner = inner
        self._total = total
        self._on_stage = on_stage
        self._started = 0
        self.needs_pointmap = inner.needs_pointmap

    def predict(self, views: Sequence[NetworkView], edges: np.ndarray):
        # stage k starts: stage k - 1 (network and solve) is done
        self._on_stage(OfflineStage('align', min(self._started, self._total), self._total))
        self._started += 1
        return self._inner.predict(views, edges)

    def forget(self, keys: Sequence[int]) -> None:
        self._inner.forget(keys)


class _PrepareCounter:
    """A prior backend that reports each frame it prepared."""

    def __init__(self, inner: PriorBackend, total: int, on_stage: StageCallback) -> None:
        self._inner = inner
        self._total = total
        self._on_stage = on_stage
        self._done = 0
        self.kind = inner.kind

    def estimate(self, rgb: np.ndarray, K: Optional[np.ndarray] = None) -> PriorMap:
        prior = self._inner.estimate(rgb, K)
        self._done += 1
        self._on_stage(OfflineStage('prepare', self._done, self._total))
        return prior
