"""The engine: frames in, aligned per-frame results out; used by the ROS node and the tools.

Streaming (:class:`Engine`): ``push(frame)`` returns the results that became ready — in
``stream.mode: live`` the frame's own result, in ``clip`` mode a whole clip once it completes
(``clip.length`` frames, so one clip late); ``flush()`` emits everything still held. The mode is
a :class:`~align3r_ros.engine.aligner.StreamAligner` chosen in one place (``_stream_aligner``).
Offline (:func:`align_sequence`): the hierarchical scheme on a whole sequence.

The engine owns the frame policy, for the node and the tools alike (transports only convert
and hand frames over):

* stamps: a frame whose stamp equals the previous accepted one is dropped and counted
  ('dropped: duplicate stamp ...'); a stamp that goes backwards (a bag loop, a restarted
  driver) emits the held frames, then resets the world ('reset: stamp went backwards ...',
  ``EngineStats.resets``) and the frame starts the new world;
* size: a frame of a new size emits the held frames and resets the world alike;
* ``FrameResult.world_id`` counts the resets, so consumers restart paths where worlds change;
* rectification and K: the :class:`FramePreparer` (distorted images are rectified; unknown
  principal point = (W/2, H/2), see ``structures``);
* a frame that cannot be prepared is dropped (before any reset: one unusable frame never
  resets the world); a failed solve yields finite fallback poses, NaN depth and a status.

Held state is bounded by the aligner's window (``held_frames``). No ROS import here.
"""

from __future__ import annotations

import dataclasses
import time
from typing import List, Optional, Sequence

from align3r_ros.backends.base import PairwiseBackend, PriorBackend
from align3r_ros.config import (Align3rConfig, OutputResolution, PairwiseBackendKind,
                                StreamMode)
from align3r_ros.config_io import ConfigSource, load_config
from align3r_ros.errors import Align3rError, InputError
from align3r_ros.engine.aligner import StreamAligner
from align3r_ros.engine.steps.frame_prep import FramePreparer, PreparedFrame
from align3r_ros.engine.offline.hierarchical import align_hierarchical
from align3r_ros.engine.clip.aligner import ClipAligner
from align3r_ros.structures import (EngineStats, Frame, FrameResult, KeyframePose,
                                    StageTimings)


def build_backends(config: Align3rConfig) -> tuple:
    """(pairwise backend, prior backend or None) from the config.

    The oracle gets no prior network unless ``prior.weights`` names one: its metric prior is
    the frame's own depth (``Frame.prior``, or the ground truth with ``scale.metric: on``).
    """
    from align3r_ros.backends.factory import build_pairwise_backend
    pairwise = build_pairwise_backend(config)
    prior = None
    if config.pairwise.backend != PairwiseBackendKind.ORACLE or config.prior.weights:
        from align3r_ros.backends.prior_factory import build_prior_backend
        prior = build_prior_backend(config)
    return pairwise, prior


def _preparer(config: Align3rConfig, pairwise: PairwiseBackend,
              prior: Optional[PriorBackend]) -> FramePreparer:
    return FramePreparer(config, bool(pairwise.needs_pointmap), prior,
                         keep_input_rgb=config.output.resolution == OutputResolution.INPUT)


def _stream_aligner(config: Align3rConfig, backend: PairwiseBackend) -> StreamAligner:
    """``stream.mode``: live (each frame's result from its own push) or clip."""
    if config.stream.mode == StreamMode.LIVE:
        from align3r_ros.engine.live import LiveAligner
        return LiveAligner(config, backend)
    return ClipAligner(config, backend)


class Engine:
    """Streaming incremental alignment (see module docstring).

    Args:
        config: a validated :class:`Align3rConfig`.
        pairwise_backend: point-map predictions (torch, onnx, oracle, or any implementation
            of :class:`~align3r_ros.backends.base.PairwiseBackend`).
        prior_backend: monocular prior, or None.
    """

    def __init__(self, config: Align3rConfig, pairwise_backend: PairwiseBackend,
                 prior_backend: Optional[PriorBackend] = None) -> None:
        self.config = config
        self._prepare = _preparer(config, pairwise_backend, prior_backend)
        self._stream: StreamAligner = _stream_aligner(config, pairwise_backend)
        self._stats = EngineStats()
        self._last_stamp: Optional[int] = None
        self._input_hw: Optional[tuple] = None
        self._world_id = 0

    @classmethod
    def from_config(cls, config: ConfigSource) -> 'Engine':
        """Build the backends named by the config (see :func:`build_backends`).

        ``config`` is anything :func:`~align3r_ros.config_io.load_config` takes (a validated
        config, a YAML path, a mapping of overrides).
        """
        config = load_config(config)
        return cls(config, *build_backends(config))

    @property
    def stats(self) -> EngineStats:
        """Counters and the last stage timings (an immutable snapshot)."""
        return self._stats

    @property
    def held_frames(self) -> int:
        """Frames held by the engine now (waiting frames + keyframes); bounded by the config."""
        return self._stream.held_frames

    def keyframe_poses(self) -> List[KeyframePose]:
        """The current world's keyframes with their latest refined poses, oldest first (live
        mode: the refined window, e.g. for the node's ``~/keyframes/path``; [] in clip mode).

        The results already returned keep the poses they were published with; these may have
        moved since (a later window refinement)."""
        return list(self._stream.keyframe_poses())

    def push(self, frame: Frame) -> List[FrameResult]:
        """Add one frame; returns the results that became ready (possibly []).

        The frame policy (module docstring) applies first; the results of held frames that a
        reset emits come first, with the old ``world_id``.
        """
        self._count(frames_in=1)
        stamp = int(frame.stamp_ns)
        if stamp == self._last_stamp:
            return self._drop(f'dropped: duplicate stamp {stamp}')
        start = time.perf_counter()
        try:  # before the reset checks: one unusable frame must not reset the stream
            prepared: PreparedFrame = self._prepare.prepare(frame, key=stamp)
        except Align3rError as error:
            return self._drop(f'dropped: {error}')
        prepare_ms = 1e3 * (time.perf_counter() - start)
        if prepared.T_odom_cam is not None:
            self._stats = dataclasses.replace(
                self._stats, odometry_frames=self._stats.odometry_frames + 1)
        reasons = []
        if self._last_stamp is not None and stamp < self._last_stamp:
            reasons.append(f'stamp went backwards {self._last_stamp} -> {stamp}')
        shape = tuple(frame.shape)
        if self._input_hw is not None and shape != self._input_hw:
            reasons.append(f'size changed {self._input_hw} -> {shape}')
        results: List[FrameResult] = []
        reset_status = ''
        if reasons:
            reset_status = 'reset: ' + ', '.join(reasons)
            results = self._in_world(self._stream.reset(reset_status))
            self._world_id += 1
            self._count(resets=1)
        self._last_stamp = stamp
        self._input_hw = shape
        new = self._in_world(self._stream.push(prepared))
        return self._emitted(results + new, prepare_ms,
                             status=new[-1].status if new else reset_status)

    def flush(self) -> List[FrameResult]:
        """Align and emit every held frame (end of stream); the world is kept."""
        return self._emitted(self._in_world(self._stream.flush()),
                             self._stats.timings.prepare_ms)

    def _in_world(self, results: List[FrameResult]) -> List[FrameResult]:
        return [r if r.world_id == self._world_id else
                dataclasses.replace(r, world_id=self._world_id) for r in results]

    def _emitted(self, results: List[FrameResult], prepare_ms: float,
                 status: str = '') -> List[FrameResult]:
        timings: StageTimings = self._stream.timings if results else self._stats.timings
        timings = dataclasses.replace(timings, prepare_ms=prepare_ms)
        status = status or (results[-1].status if results else self._stats.last_status)
        self._stats = dataclasses.replace(self._stats,
                                          frames_out=self._stats.frames_out + len(results),
                                          scale_source=results[-1].scale_source if results
                                          else self._stats.scale_source,
                                          odometry_disagreements=(
                                              self._stream.odometry_disagreements),
                                          keyframes_added=self._stream.keyframes_added,
                                          tracking_losses=self._stream.tracking_losses,
                                          last_status=status, timings=timings)
        return results

    def _drop(self, status: str) -> List[FrameResult]:
        self._stats = dataclasses.replace(self._stats, last_status=status,
                                          frames_dropped=self._stats.frames_dropped + 1)
        return []

    def _count(self, frames_in: int = 0, resets: int = 0) -> None:
        self._stats = dataclasses.replace(self._stats,
                                          frames_in=self._stats.frames_in + frames_in,
                                          resets=self._stats.resets + resets)


def align_sequence(frames: Sequence[Frame], config: ConfigSource,
                   pairwise_backend: Optional[PairwiseBackend] = None,
                   prior_backend: Optional[PriorBackend] = None) -> List[FrameResult]:
    """Offline hierarchical alignment of a whole sequence (one result per frame, in order).

    ``config`` is anything :func:`~align3r_ros.config_io.load_config` takes; backends are built
    from it unless given.

    Raises:
        InputError: fewer than two frames, frames of different sizes, stamps not increasing.
    """
    config = load_config(config)
    if len(frames) < 2:
        raise InputError(f'align_sequence needs at least 2 frames, got {len(frames)}')
    shapes = {tuple(f.rgb.shape[:2]) for f in frames}
    if len(shapes) != 1:
        raise InputError(f'align_sequence needs frames of one size, got {sorted(shapes)}')
    stamps = [int(f.stamp_ns) for f in frames]
    for k, (a, b) in enumerate(zip(stamps, stamps[1:]), start=1):
        if b <= a:  # one sequence is one world; the streaming engine resets instead
            raise InputError(f'align_sequence needs strictly increasing stamps: frame {k} has '
                             f'{b} ns after {a} ns (streaming mode drops a repeated stamp and '
                             'starts a new world when time goes backwards)')
    if pairwise_backend is None:
        pairwise_backend, built_prior = build_backends(config)
        prior_backend = prior_backend if prior_backend is not None else built_prior
    preparer = _preparer(config, pairwise_backend, prior_backend)
    prepared = [preparer.prepare(frame, key=stamp) for frame, stamp in zip(frames, stamps)]
    return align_hierarchical(prepared, pairwise_backend, config)
