"""The replay use case: a recorded bag through the engine into a bag of the node's outputs.

``align3r-replay`` (:mod:`align3r_ros.tools.replay`) and ``align3r-demo`` run it. The same engine
and the same message builders as the live node; the input's image stamps become the output
stamps. A depth topic (an RGB-D camera, a depth network node) may serve as the prior, as the
node's ``prior/depth`` does. Ground truth in the bag (depth, poses) is associated by stamp and
scored with the paper's protocol. Nothing is written at the output path unless at least one
frame produced a result and the bag closed cleanly.

``bag/`` only reads and writes bags; this module composes it with the engine (through the one
feed loop, :func:`align3r_ros.engine.feed.run_frames`) and the evaluation.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np

from align3r_ros.bag.input_frames import DEPTH_MAX_DIFFERENCE_NS, BagFrame, BagFrameSource
from align3r_ros.bag.odometry import (BagOdometry, OdometrySpec, odometry_for_replay,
                                     odometry_warnings)
from align3r_ros.bag.reader import BagReader
from align3r_ros.bag.result_writer import ResultBagWriter
from align3r_ros.bag.topics import InputTopics, select_input_topics
from align3r_ros.bag.writer import AtomicBagWriter, Storage
from align3r_ros.config import (Align3rConfig, CheckpointPrior, EvaluationConfig,
                                PairwiseBackendKind, PriorBackendKind, PriorKind, RunMode)
from align3r_ros.errors import BagError, ConfigError, InputError
from align3r_ros.evaluation.collector import EvaluationCollector
from align3r_ros.evaluation.dataset_files import Trajectory
from align3r_ros.evaluation.depth_metrics import DepthAlignment
from align3r_ros.evaluation.report import RunReport, metric_scale_causes, metric_scale_warning
from align3r_ros.engine.feed import OfflineEngine, StageCallback, run_frames
from align3r_ros.messages.diagnostics import PipelineHealth
from align3r_ros.engine.steps.rectify import FrameRectifier
from align3r_ros.structures import Frame, FrameEngine, FrameResult

logger = logging.getLogger(__name__)

#: Called with (frames read, frames in the bag) after every input frame.
ProgressCallback = Callable[[int, int], None]
#: Builds the engine a replay drives (tests inject fakes).
EngineFactory = Callable[[Align3rConfig], FrameEngine]

_EVAL = EvaluationConfig()


@dataclass(frozen=True)
class ReplayOptions:
    """What one replay does (the command line of ``align3r-replay``)."""

    input: Path
    output: Path
    config: Align3rConfig
    mode: RunMode = RunMode.STREAMING
    storage: Storage = Storage.SQLITE3
    image_topic: Optional[str] = None
    camera_info_topic: Optional[str] = None
    prior_topic: Optional[str] = None
    gt_depth_topic: Optional[str] = None
    gt_pose_topic: Optional[str] = None
    gt_tf_frame: Optional[str] = None
    rectify: bool = True
    eval_alignment: DepthAlignment = DepthAlignment.L1_SCALE_SHIFT
    depth_max: float = _EVAL.depth_max
    eval_max_frames: int = _EVAL.max_depth_frames
    odometry: Optional[OdometrySpec] = None


@dataclass(frozen=True)
class ReplayOutcome:
    """The run's summary: the report (with metrics when ground truth was given).

    Attributes:
        frames_with_depth: results holding at least one finite depth value (0: every
            alignment failed, whether or not ground truth was given).
        trajectory: the written results' camera poses in the world frame (those with a
            finite pose), stamped with their input image stamps (``--trajectory``).
        statuses_without_depth: frame status -> how many results without a finite depth
            value had it ('' when a result gave none).
    """

    report: RunReport
    topics: InputTopics
    frames_read: int
    frames_written: int
    frames_with_depth: int
    trajectory: Trajectory = field(default_factory=lambda: Trajectory(
        np.zeros(0, np.int64), np.zeros((0, 4, 4))))
    statuses_without_depth: Tuple[Tuple[str, int], ...] = ()


class _Sink:
    """Where results go: the output bag and the evaluation (each result carries its BagFrame);
    after each push (:meth:`after_push`) the keyframe path, as the node publishes it."""

    def __init__(self, engine: FrameEngine, writer: ResultBagWriter,
                 collector: EvaluationCollector, source: BagFrameSource) -> None:
        self.engine = engine
        self.writer = writer
        self.collector = collector
        self.source = source
        self.metric: List[bool] = []
        self.relative_causes: Counter = Counter()  # 'metric scale: ...' notes of relative ones
        self.with_depth = 0
        self.rectifier = FrameRectifier()
        self.stamps: List[int] = []
        self.poses: List[np.ndarray] = []
        self.statuses_without_depth: Counter = Counter()
        self._last_stamp: Optional[int] = None

    def __call__(self, result: FrameResult) -> None:
        bag_frame = result.tag
        if not isinstance(bag_frame, BagFrame):
            logger.warning('result %d without its input frame ignored', result.stamp_ns)
            return
        self.writer.write(result, bag_frame.frame_id, self._health())
        # results are in the rectified image's geometry: ground truth is rectified alike
        self.collector.add(result, self.rectifier.rectify(bag_frame.frame))
        self.metric.append(bool(result.is_metric))
        if not result.is_metric:
            self.relative_causes.update(metric_scale_causes(result.status))
        has_depth = bool(np.isfinite(result.depth).any())
        self.with_depth += has_depth
        if not has_depth:
            self.statuses_without_depth[str(result.status or '')] += 1
        T = np.asarray(result.T_world_cam, dtype=np.float64)
        if np.all(np.isfinite(T)):
            self.stamps.append(int(result.stamp_ns))
            self.poses.append(T)
        self._last_stamp = int(result.stamp_ns)

    def after_push(self) -> None:
        """The node's rule: after a push that returned results, ``~/keyframes/path`` with the
        engine's refined keyframe window and the last result's stamp (written when changed)."""
        if self._last_stamp is None:
            return
        stamp, self._last_stamp = self._last_stamp, None
        self.writer.write_keyframes(self.engine.keyframe_poses(), stamp)

    def trajectory(self) -> Trajectory:
        return Trajectory(np.array(self.stamps, dtype=np.int64),
                          np.stack(self.poses) if self.poses else np.zeros((0, 4, 4)))

    def _health(self) -> PipelineHealth:
        stats = self.engine.stats
        return PipelineHealth(
            frames_received=stats.frames_in, frames_published=self.writer.frames_written + 1,
            frames_dropped=stats.frames_dropped, frames_rejected=self.source.frames_skipped,
            engine_resets=stats.resets, keyframes_added=stats.keyframes_added,
            tracking_losses=stats.tracking_losses, timings=stats.timings,
            scale_source=stats.scale_source,
            odometry_disagreements=stats.odometry_disagreements)


def default_engine_factory(mode: RunMode,
                           on_stage: Optional[StageCallback] = None) -> EngineFactory:
    """The real engine of ``mode`` (streaming :class:`Engine`, or :class:`OfflineEngine`).

    Backends (weights) load when the factory is called, before any output is touched.
    """
    def build(config: Align3rConfig) -> FrameEngine:
        if mode is RunMode.OFFLINE:
            return OfflineEngine(config, on_stage=on_stage)
        from align3r_ros.engine.engine import Engine
        return Engine.from_config(config)
    return build


def _copy_static_tf(reader: BagReader, writer: ResultBagWriter, warnings: List[str]) -> None:
    static = [t.name for t in reader.topics if t.name == '/tf_static']
    if not static:
        return
    try:
        for item in reader.messages(static):
            writer.write_static_transforms(item.log_time_ns, item.msg)
    except Exception as exc:  # a ROS 1 or foreign definition: outputs do not depend on it
        warnings.append(f'/tf_static not copied: {exc}')


def run_replay(options: ReplayOptions, engine_factory: Optional[EngineFactory] = None,
               progress: Optional[ProgressCallback] = None,
               on_stage: Optional[StageCallback] = None,
               on_flush: Optional[Callable[[], None]] = None) -> ReplayOutcome:
    """Replay ``options.input`` into ``options.output``.

    Args:
        options: the run.
        engine_factory: config -> engine (default: :func:`default_engine_factory` of
            ``options.mode``).
        progress: called with (frames read, frames total) after every input frame.
        on_stage: offline mode's alignment stages (with the default engine factory).
        on_flush: called once every frame is pushed, before the engine aligns what it holds.

    Raises:
        BagError: unreadable input, missing topics (listing those that exist), an existing
            output, or no frame produced a result (no output bag is left behind).
        Align3rError: configuration, weights or backend failures (no output bag either).
    """
    start = time.perf_counter()
    if options.output.exists():
        raise BagError(f'output {options.output} exists already; choose another path or '
                       'remove it')
    factory = engine_factory or default_engine_factory(options.mode, on_stage)
    with BagReader(options.input) as reader:
        topics = select_input_topics(reader.topics, options.image_topic,
                                     options.camera_info_topic, options.gt_depth_topic,
                                     options.gt_pose_topic, options.gt_tf_frame,
                                     options.prior_topic)
        check_backend_topics(options.config, topics)
        source = BagFrameSource(reader, topics, rectify=options.rectify)
        plan = source.scan()
        odometry = odometry_for_replay(reader, options.odometry, topics.image,
                                       plan.image_stamps_ns)
        collector = EvaluationCollector(options.eval_alignment, options.depth_max,
                                        options.eval_max_frames,
                                        conf_threshold=options.config.output.conf_threshold)
        warnings = plan.warnings
        engine = factory(options.config)  # before the output is touched: fails fast
        with AtomicBagWriter(options.output, options.storage) as bag:
            writer = ResultBagWriter(bag, options.config)
            sink = _Sink(engine, writer, collector, source)
            _copy_static_tf(reader, writer, warnings)
            frames = _EngineFrames(source, options, odometry)
            try:
                run_frames(engine, frames.tagged(), sink,
                           on_frame=lambda _: _after_push(sink, progress, frames.read,
                                                          plan.num_frames),
                           on_flush=on_flush)
            except InputError as error:
                if options.mode is not RunMode.OFFLINE:
                    raise
                raise BagError(f'{error}{frames.skipped_note()}') from error
            _warn_missing_priors(source, frames.read, options.config, warnings)
            warnings.extend(odometry_warnings(odometry))
            if writer.frames_written == 0:
                last_status = engine.stats.last_status
                reasons = '; '.join(warnings[-3:] + ([f'engine: {last_status}']
                                                     if last_status else [])) or \
                    'the engine returned no result'
                raise BagError(f'no frame of {topics.image} could be processed ({reasons})')
    total_s = time.perf_counter() - start
    evaluation = collector.evaluate() if (collector.has_depth or collector.has_poses) else None
    if topics.has_ground_truth and evaluation is None:
        warnings.append('ground truth was requested but never associated with a result')
    scale_warning = metric_scale_warning(options.config.scale.metric, len(sink.metric),
                                         sum(sink.metric), sink.relative_causes)
    if scale_warning:
        warnings.append(scale_warning)
    report = RunReport(
        frames=writer.frames_written, metric_scale=bool(sink.metric) and all(sink.metric),
        total_s=total_s, evaluation=evaluation, alignment=options.eval_alignment,
        depth_max=options.depth_max, source=f'{options.input} ({topics.image})',
        settings=_settings(options, topics) + _scale_settings(engine.stats, options),
        warnings=tuple(warnings),
        metric_frames=sum(sink.metric), keyframes_added=engine.stats.keyframes_added,
        tracking_losses=engine.stats.tracking_losses)
    return ReplayOutcome(report=report, topics=topics, frames_read=frames.read,
                         frames_written=writer.frames_written,
                         frames_with_depth=sink.with_depth, trajectory=sink.trajectory(),
                         statuses_without_depth=tuple(
                             sink.statuses_without_depth.most_common()))


def _after_push(sink: _Sink, progress: Optional[ProgressCallback], read: int,
                total: int) -> None:
    sink.after_push()
    if progress is not None:
        progress(read, total)


def check_backend_topics(config: Align3rConfig, topics: InputTopics) -> None:
    """Refuse, before any frame is read, a backend the selected topics cannot feed.

    Raises:
        ConfigError: the oracle backend without ground-truth depth and poses (it turns them
            into its predictions).
    """
    if config.pairwise.backend is PairwiseBackendKind.ORACLE and \
            not (topics.gt_depth and (topics.gt_pose or topics.gt_tf_frame)):
        raise ConfigError('the oracle backend needs --gt-depth-topic and --gt-pose-topic (or '
                          '--gt-tf-frame): it turns ground truth into its predictions')


class _EngineFrames:
    """The bag's frames as engine input, each tagged with its :class:`BagFrame`.

    In offline mode a frame without the prior the pairwise network needs is left out (the
    whole sequence would otherwise be refused); the streaming engine drops such frames itself.
    """

    def __init__(self, source: BagFrameSource, options: ReplayOptions,
                 odometry: Optional[BagOdometry] = None) -> None:
        self.source = source
        self.options = options
        self.odometry = odometry
        self.read = 0
        self.left_out = 0

    def tagged(self) -> Iterator[Frame]:
        skip_without_prior = self.options.mode is RunMode.OFFLINE and \
            bool(self.options.prior_topic) and _prior_required(self.options.config)
        for bag_frame in self.source:
            self.read += 1
            if skip_without_prior and bag_frame.frame.prior is None:
                self.left_out += 1
                continue
            odometry = self.odometry.at(bag_frame.frame.stamp_ns) if self.odometry else None
            yield dataclasses.replace(bag_frame.frame, tag=bag_frame, T_odom_cam=odometry)

    def skipped_note(self) -> str:
        if not self.left_out:
            return ''
        return f' ({self.left_out} more without a prior on {self.options.prior_topic})'


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


def _scale_settings(stats, options: ReplayOptions) -> Tuple[Tuple[str, str], ...]:
    """The report's scale source (the last result's) and, with odometry, its disagreements."""
    out = (('scale source', str(stats.scale_source)),)
    if options.odometry is not None:
        out += (('odometry frames', str(stats.odometry_frames)),
                ('odometry disagreements', str(stats.odometry_disagreements)))
    return out


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
            ('solver', config.align.solver.value), ('stream mode', config.stream.mode.value),
            ('clip length', str(config.clip.length)),
            ('network long side', str(config.preprocess.long_side)),
            ('camera info', topics.camera_info or 'none (intrinsics estimated)'),
            ('output', str(options.output))) + \
        ((('odometry', options.odometry.describe()),) if options.odometry else ())
