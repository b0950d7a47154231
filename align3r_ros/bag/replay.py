"""Bag in, bag out: a recorded bag through the engine into a bag of the node's outputs.

The same engine and the same message builders as the live node; the input's image stamps become
the output stamps. A depth topic (an RGB-D camera, a depth network node) may serve as the prior,
as the node's ``prior/depth`` does. Ground truth in the bag (depth, poses) is associated by stamp
and scored with the paper's protocol. Nothing is written at the output path unless at least one
frame produced a result and the bag closed cleanly.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from align3r_ros.bag.input_frames import DEPTH_MAX_DIFFERENCE_NS, BagFrame, BagFrameSource
from align3r_ros.bag.reader import BagReader
from align3r_ros.bag.result_writer import ResultBagWriter
from align3r_ros.bag.topics import InputTopics, select_input_topics
from align3r_ros.bag.writer import AtomicBagWriter, Storage
from align3r_ros.config import (Align3rConfig, CheckpointPrior, PairwiseBackendKind,
                                PriorBackendKind, PriorKind, StrEnum)
from align3r_ros.errors import BagError
from align3r_ros.evaluation.collector import EvaluationCollector
from align3r_ros.evaluation.depth_metrics import DEFAULT_DEPTH_MAX, DepthAlignment
from align3r_ros.evaluation.report import RunReport
from align3r_ros.messages.diagnostics import PipelineHealth
from align3r_ros.structures import FrameResult

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


class ReplayMode(StrEnum):
    STREAMING = 'streaming'  # Engine.push per frame, results a clip late (as the node)
    OFFLINE = 'offline'      # align_sequence on all frames (hierarchical)


@dataclass(frozen=True)
class ReplayOptions:
    """What one replay does (the command line of ``align3r-replay``)."""

    input: Path
    output: Path
    config: Align3rConfig
    mode: ReplayMode = ReplayMode.STREAMING
    storage: Storage = Storage.SQLITE3
    image_topic: Optional[str] = None
    camera_info_topic: Optional[str] = None
    prior_topic: Optional[str] = None
    gt_depth_topic: Optional[str] = None
    gt_pose_topic: Optional[str] = None
    gt_tf_frame: Optional[str] = None
    rectify: bool = True
    eval_alignment: DepthAlignment = DepthAlignment.L1_SCALE_SHIFT
    depth_max: float = DEFAULT_DEPTH_MAX
    eval_max_frames: int = 150


@dataclass(frozen=True)
class ReplayOutcome:
    """The run's summary: the report (with metrics when ground truth was given)."""

    report: RunReport
    topics: InputTopics
    frames_read: int
    frames_written: int


class _Run:
    """State of one replay: engine, writers, pending frames, evaluation."""

    def __init__(self, options: ReplayOptions, engine, writer: ResultBagWriter,
                 collector: EvaluationCollector, source: BagFrameSource) -> None:
        self.options = options
        self.writer = writer
        self.collector = collector
        self.source = source
        self.engine = engine
        self.pending: Dict[int, BagFrame] = {}
        self.metric: List[bool] = []

    def handle(self, results: List[FrameResult]) -> None:
        for result in results:
            bag_frame = self.pending.pop(int(result.stamp_ns), None)
            if bag_frame is None:
                logger.warning('result for unknown stamp %d ignored', result.stamp_ns)
                continue
            self.writer.write(result, bag_frame.frame_id, self._health(result))
            self.collector.add(result, bag_frame.frame)
            self.metric.append(bool(result.is_metric))
        if results:  # frames the engine dropped never come back: forget them
            newest = max(int(r.stamp_ns) for r in results)
            for stamp in [s for s in self.pending if s <= newest]:
                del self.pending[stamp]

    def _health(self, result: FrameResult) -> PipelineHealth:
        stats = getattr(self.engine, 'stats', None)
        return PipelineHealth(
            frames_received=getattr(stats, 'frames_in', 0),
            frames_published=self.writer.frames_written + 1,
            frames_dropped=getattr(stats, 'frames_dropped', 0),
            frames_rejected=self.source.frames_skipped,
            engine_resets=getattr(stats, 'resets', 0),
            stage_ms=tuple((str(k), float(v)) for k, v in
                           sorted(getattr(stats, 'stage_ms', {}).items())))


def _default_engine_factory(config: Align3rConfig):
    from align3r_ros.engine import Engine
    from align3r_ros.runtime import configure_runtime
    configure_runtime(config.runtime)
    return Engine.from_config(config)


def _copy_static_tf(reader: BagReader, writer: ResultBagWriter, warnings: List[str]) -> None:
    static = [t.name for t in reader.topics if t.name == '/tf_static']
    if not static:
        return
    try:
        for item in reader.messages(static):
            writer.write_static_transforms(item.log_time_ns, item.msg)
    except Exception as exc:  # a ROS 1 or foreign definition: outputs do not depend on it
        warnings.append(f'/tf_static not copied: {exc}')


def run_replay(options: ReplayOptions, engine_factory=_default_engine_factory,
               progress: Optional[ProgressCallback] = None) -> ReplayOutcome:
    """Replay ``options.input`` into ``options.output``.

    Args:
        options: the run.
        engine_factory: config -> engine with ``push``/``flush`` (tests inject fakes); only
            used in streaming mode.
        progress: called with (frames done, frames total) after every input frame.

    Raises:
        BagError: unreadable input, missing topics (listing those that exist), an existing
            output, or no frame produced a result (no output bag is left behind).
        Align3rError: configuration, weights or backend failures (no output bag either).
    """
    start = time.perf_counter()
    if options.output.exists():
        raise BagError(f'output {options.output} exists already; choose another path or '
                       'remove it')
    with BagReader(options.input) as reader:
        topics = select_input_topics(reader.topics, options.image_topic,
                                     options.camera_info_topic, options.gt_depth_topic,
                                     options.gt_pose_topic, options.gt_tf_frame,
                                     options.prior_topic)
        source = BagFrameSource(reader, topics, rectify=options.rectify)
        plan = source.scan()
        collector = EvaluationCollector(options.eval_alignment, options.depth_max,
                                        options.eval_max_frames)
        warnings = plan.warnings
        # Backends (weights) load before the output is touched: a bad config fails fast.
        engine = engine_factory(options.config) if options.mode is ReplayMode.STREAMING \
            else None
        with AtomicBagWriter(options.output, options.storage) as bag:
            writer = ResultBagWriter(bag, options.config)
            run = _Run(options, engine, writer, collector, source)
            _copy_static_tf(reader, writer, warnings)
            frames_read = _feed(run, source, plan.num_frames, options, progress)
            _warn_missing_priors(source, frames_read, options.config, warnings)
            if writer.frames_written == 0:
                last_status = getattr(getattr(engine, 'stats', None), 'last_status', '')
                reasons = '; '.join(warnings[-3:] + ([f'engine: {last_status}']
                                                     if last_status else [])) or \
                    'the engine returned no result'
                raise BagError(f'no frame of {topics.image} could be processed ({reasons})')
    total_s = time.perf_counter() - start
    evaluation = collector.evaluate() if (collector.has_depth or collector.has_poses) else None
    if topics.has_ground_truth and evaluation is None:
        warnings.append('ground truth was requested but never associated with a result')
    report = RunReport(
        frames=writer.frames_written, metric_scale=bool(run.metric) and all(run.metric),
        total_s=total_s, evaluation=evaluation, alignment=options.eval_alignment,
        depth_max=options.depth_max, source=f'{options.input} ({topics.image})',
        settings=_settings(options, topics), warnings=tuple(warnings))
    return ReplayOutcome(report=report, topics=topics, frames_read=frames_read,
                         frames_written=writer.frames_written)


def _feed(run: _Run, source: BagFrameSource, total: int, options: ReplayOptions,
          progress: Optional[ProgressCallback]) -> int:
    frames_read = 0
    if options.mode is ReplayMode.OFFLINE:
        from align3r_ros.engine import align_sequence

        frames: List[BagFrame] = []
        skip_without_prior = bool(options.prior_topic) and _prior_required(options.config)
        for bag_frame in source:
            frames_read += 1
            if not (skip_without_prior and bag_frame.frame.prior is None):
                frames.append(bag_frame)  # else align_sequence would refuse the whole sequence
            if progress:
                progress(frames_read, total)
        if len(frames) < 2:
            without_prior = f' ({frames_read - len(frames)} more without a prior on ' \
                f'{options.prior_topic})' if frames_read > len(frames) else ''
            raise BagError(f'offline mode needs at least 2 usable frames, got {len(frames)}'
                           f'{without_prior}')
        run.pending = {int(f.frame.stamp_ns): f for f in frames}
        run.handle(align_sequence([f.frame for f in frames], options.config))
        return frames_read
    for bag_frame in source:
        frames_read += 1
        run.pending[int(bag_frame.frame.stamp_ns)] = bag_frame
        run.handle(run.engine.push(bag_frame.frame))
        if progress:
            progress(frames_read, total)
    run.handle(run.engine.flush())
    return frames_read


def _prior_required(config: Align3rConfig) -> bool:
    """A frame without a topic prior has no prior at all, yet the pairwise network needs one.

    Decided from the config (the backends are built inside the engine): a network backend whose
    checkpoint takes a prior, with no prior network to fall back on.
    """
    return config.pairwise.backend is not PairwiseBackendKind.ORACLE and \
        config.pairwise.checkpoint_prior is not CheckpointPrior.NONE and \
        config.prior.backend in (PriorBackendKind.EXTERNAL, PriorBackendKind.NONE)


def _warn_missing_priors(source: BagFrameSource, frames_read: int, config: Align3rConfig,
                         warnings: List[str]) -> None:
    missing = source.frames_without_prior
    if not missing:
        return
    dropped = '; they were dropped: the pairwise network needs a prior' \
        if _prior_required(config) else ''
    warnings.append(f'{missing} of {frames_read} frames have no prior depth on '
                    f'{source.topics.prior} within {DEPTH_MAX_DIFFERENCE_NS / 1e6:g} ms of '
                    f'their stamp{dropped}')


def _settings(options: ReplayOptions, topics: InputTopics) -> Tuple[Tuple[str, str], ...]:
    config = options.config
    # The oracle builds no prior network unless prior.weights names one (engine.build_backends).
    oracle_without_prior = config.pairwise.backend is PairwiseBackendKind.ORACLE and \
        not config.prior.weights
    prior = 'none (oracle)' if oracle_without_prior else config.prior.backend.value
    if topics.prior:  # the frame's own prior comes first (streaming/frame_prep.py)
        kind = config.prior.kind if config.prior.backend is PriorBackendKind.EXTERNAL else \
            PriorKind.METRIC_DEPTH
        prior = f'topic {topics.prior} ({kind.value}), else {prior}'
    return (('mode', options.mode.value), ('pairwise backend', config.pairwise.backend.value),
            ('prior backend', prior),
            ('solver', config.align.solver.value), ('clip length', str(config.clip.length)),
            ('network long side', str(config.preprocess.long_side)),
            ('camera info', topics.camera_info or 'none (intrinsics estimated)'),
            ('output', str(options.output)))
