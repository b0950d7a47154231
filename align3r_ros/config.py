"""Configuration: frozen dataclasses, the single source of every default.

The same field metadata (help, unit, range, choices, run-time safety) feeds the ROS parameter
declarations, the generated ``config/align3r.yaml``, the command-line flags of every tool and the
parameter table in README (see :mod:`align3r_ros.config_io`, which also loads and validates
configs: :func:`align3r_ros.config_io.load_config`). Nothing else writes a default.

Standard library only: launch files, tools and the ROS layer import this module cheaply.
ROS parameter names are the dotted paths of the fields, e.g. ``clip.length``, ``align.solver``.

Over 300 lines on purpose: it is the one table of every parameter (group dataclasses and their
enums); splitting it would scatter the defaults this module exists to hold in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional


def param(default: Any, help: str, *, unit: str = '', low: Optional[float] = None,
          high: Optional[float] = None, runtime: bool = False) -> Any:
    """Declare a config field with its metadata.

    Args:
        default: the default value (the only place it is written).
        help: one-line description (ROS descriptor, CLI help, README).
        unit: physical unit, '' when dimensionless.
        low, high: inclusive numeric range, None when open.
        runtime: True when the value may change while the node runs (parameter-set callback).
    """
    return field(default=default, metadata={
        'help': help, 'unit': unit, 'low': low, 'high': high, 'runtime': runtime})


class StrEnum(str, Enum):
    """A string enum that prints as its value (Python 3.10 has no enum.StrEnum)."""

    def __str__(self) -> str:
        return str(self.value)


class PairwiseBackendKind(StrEnum):
    TORCH = 'torch'
    ONNX = 'onnx'
    ORACLE = 'oracle'


class CheckpointPrior(StrEnum):
    """Which monocular prior a pairwise checkpoint was trained with (spec §2.2)."""

    AUTO = 'auto'                    # infer from the weights file name, else accept any
    DEPTH_PRO = 'depth_pro'          # Align3R-DepthPro: metric depth
    DEPTH_ANYTHING_V2 = 'depth_anything_v2'  # Align3R-DAv2: relative disparity used as depth
    NONE = 'none'                    # plain DUSt3R / MonST3R: no prior input


class PriorBackendKind(StrEnum):
    DEPTH_PRO = 'depth_pro'
    DEPTH_ANYTHING_V2 = 'depth_anything_v2'
    ONNX = 'onnx'
    EXTERNAL = 'external'
    NONE = 'none'


class DepthAnythingSize(StrEnum):
    """The official Depth Anything V2 releases, by DINOv2 encoder."""

    VITS = 'vits'  # Small
    VITB = 'vitb'  # Base
    VITL = 'vitl'  # Large


class PriorKind(StrEnum):
    """What a prior map holds."""

    METRIC_DEPTH = 'metric_depth'      # metres along the optical axis
    RELATIVE_DEPTH = 'relative_depth'  # depth up to an unknown scale
    DISPARITY = 'disparity'            # affine-invariant inverse depth (Depth Anything V2)


class PreprocessMode(StrEnum):
    CROP = 'crop'      # centre crop to multiples of 16 (demo / pose_test)
    RESIZE = 'resize'  # anisotropic resize to multiples of 16 (depth_test)


class GraphKind(StrEnum):
    SLIDING_WINDOW = 'sliding_window'  # swin-K: (i, i+1..i+K)
    STRIDE_WINDOW = 'stride_window'    # swinstride-K: (i, i+1, i+3, ..., i+2K-1)
    COMPLETE = 'complete'


class Solver(StrEnum):
    ADAM = 'adam'  # reference-compatible first-order schedule
    FAST = 'fast'  # the faster solver of the same objective


class Schedule(StrEnum):
    LINEAR = 'linear'
    COSINE = 'cosine'


class ConfidenceMode(StrEnum):
    LOG = 'log'          # weights log(conf) (demo / pose_test)
    UNIFORM = 'uniform'  # every conf > 1 set to 10 first (depth_test)


class MetricScaleMode(StrEnum):
    AUTO = 'auto'  # metric when the prior is metric
    ON = 'on'
    OFF = 'off'


class IntrinsicsMode(StrEnum):
    ESTIMATE = 'estimate'  # focal optimised, principal point at the image centre
    KNOWN = 'known'        # focal and principal point fixed from the camera


class ImageTransport(StrEnum):
    RAW = 'raw'
    COMPRESSED = 'compressed'


class CameraInfoMode(StrEnum):
    LATEST = 'latest'
    SYNC = 'sync'
    NONE = 'none'


class QosReliability(StrEnum):
    """Input QoS reliability. ``best_available`` matches the publishers: reliable when every
    publisher of the topic is reliable, best effort otherwise (re-chosen as publishers come and
    go, so the start order of camera and node does not matter)."""

    BEST_AVAILABLE = 'best_available'
    BEST_EFFORT = 'best_effort'
    RELIABLE = 'reliable'


class TfMode(StrEnum):
    DIRECT = 'direct'
    REP105 = 'rep105'
    NONE = 'none'


class OdometrySource(StrEnum):
    """Where the robot's odometry comes from (``input.odometry``)."""

    NONE = 'none'    # not used
    TF = 'tf'        # tf2: frames.odom_frame -> the image frame at each image stamp
    TOPIC = 'topic'  # nav_msgs/Odometry on input.odometry_topic, interpolated to the stamp


class OutputResolution(StrEnum):
    INPUT = 'input'      # results resized back to the input image resolution
    NETWORK = 'network'  # results at the network resolution (e.g. 512x288)


class Device(StrEnum):
    AUTO = 'auto'
    CPU = 'cpu'
    CUDA = 'cuda'


class StreamMode(StrEnum):
    LIVE = 'live'  # each frame tracked against keyframes, its result from its own push
    CLIP = 'clip'  # clips of clip.length frames aligned together, results one clip late


class DType(StrEnum):
    FP32 = 'fp32'
    FP16 = 'fp16'
    BF16 = 'bf16'


@dataclass(frozen=True)
class PairwiseConfig:
    backend: PairwiseBackendKind = param(
        PairwiseBackendKind.TORCH, 'Pairwise point-map backend: torch, onnx or oracle '
        '(ground truth turned into predictions; needs GT depth and poses)')
    weights: str = param('', 'Align3R / DUSt3R checkpoint (.pth or .safetensors); '
                             'for onnx, the directory holding encoder.onnx and decoder.onnx')
    checkpoint_prior: CheckpointPrior = param(
        CheckpointPrior.AUTO, 'Prior the checkpoint was trained with; a mismatch with '
                              'prior.backend is reported at start-up')
    batch_pairs: int = param(8, 'Pairs decoded per network batch', low=1, high=256)
    cache_frames: int = param(64, 'Per-frame encoder outputs kept in the cache', low=2, high=4096)


@dataclass(frozen=True)
class OracleConfig:
    noise: float = param(0.02, 'Relative Gaussian noise of oracle point maps', low=0.0, high=1.0)
    seed: int = param(0, 'Random seed of the oracle backend', low=0)
    scale_min: float = param(0.5, 'Smallest random per-pair scale', low=1e-3)
    scale_max: float = param(2.0, 'Largest random per-pair scale', low=1e-3)
    dynamic_corruption: float = param(
        0.3, 'Relative displacement given to pixels of moving objects (their pairwise '
             'predictions disagree with the static scene)', low=0.0)


@dataclass(frozen=True)
class PriorConfig:
    backend: PriorBackendKind = param(
        PriorBackendKind.DEPTH_PRO, 'Monocular depth prior: depth_pro, depth_anything_v2, '
                                    'onnx, external (caller supplies depth) or none')
    weights: str = param('', 'Prior checkpoint (depth_pro.pt, depth_anything_v2_vitl.pth, '
                             'or an .onnx file for the onnx backend)')
    model: DepthAnythingSize = param(DepthAnythingSize.VITL,
                                     'Depth Anything V2 size (DINOv2 encoder)')
    kind: PriorKind = param(PriorKind.METRIC_DEPTH, 'What an onnx or external prior holds: '
                                                    'metric_depth, relative_depth or disparity')


@dataclass(frozen=True)
class PreprocessConfig:
    long_side: int = param(512, 'Network input long side (official: 512)', unit='px',
                           low=16, high=4096)
    mode: PreprocessMode = param(PreprocessMode.CROP, 'Fit to multiples of 16 by centre '
                                                      'crop or by resize')


@dataclass(frozen=True)
class GraphConfig:
    kind: GraphKind = param(GraphKind.SLIDING_WINDOW, 'Pair graph inside a clip')
    window: int = param(5, 'Window size of the pair graph', low=1, high=64)
    cyclic: bool = param(False, 'Wrap the window around the end of the clip')
    symmetric: bool = param(True, 'Use both directions (i, j) and (j, i) of every pair')


@dataclass(frozen=True)
class ClipConfig:
    length: int = param(10, 'Frames per clip (M); one keyframe per clip', low=2, high=200)
    keyframe_window: int = param(8, 'Recent keyframes aligned with each new keyframe '
                                    '(older ones stay fixed)', low=2, high=64)


@dataclass(frozen=True)
class StreamConfig:
    mode: StreamMode = param(
        StreamMode.LIVE, 'Streaming mode: live (each frame tracked against keyframes and '
                         'returned by its own push; live.*) or clip (clips aligned together, '
                         'one clip late; clip.*)')


@dataclass(frozen=True)
class LiveConfig:
    track_keyframes: int = param(2, 'Keyframes each new frame is paired with (most covisible '
                                    'first)', low=1, high=8)
    window: int = param(5, 'Keyframes held and refined together when one is added', low=2,
                        high=32)
    track_pixels: int = param(4096, 'Confident static keyframe pixels sampled per pair for '
                                    'tracking', unit='px', low=64, high=1000000)
    track_iterations: int = param(5, 'Robust (IRLS) steps of the pose and scale fit', low=1,
                                  high=100)
    inlier_threshold: float = param(0.1, 'Relative residual (over the distance to the camera) '
                                         'of a tracking inlier', low=0.0)
    min_pixels: int = param(200, 'Confident pixels a frame needs to start a map or be tracked',
                            unit='px', low=1)
    refine_pixels: int = param(3072, 'Pixel budget per keyframe of the window refinement (pair '
                                     'maps subsampled to fit)', unit='px', low=64,
                               high=1000000)
    keyframe_overlap: float = param(0.8, 'A frame whose covisible fraction with its reference '
                                         'keyframe falls below this becomes a keyframe',
                                    low=0.0, high=1.0)
    keyframe_parallax: float = param(0.1, 'A frame whose baseline to its reference keyframe '
                                          'exceeds this fraction of its median depth becomes '
                                          'a keyframe', low=0.0)
    lost_overlap: float = param(0.2, 'Covisible fraction below which tracking is lost (the map '
                                     'is re-initialised)', low=0.0, high=1.0)
    lost_inliers: float = param(0.3, 'Fraction of sampled pixels agreeing with the fitted pose '
                                     'below which tracking is lost', low=0.0, high=1.0)


#: Parameters that moved, old name -> new name (an old name is refused with this hint).
MOVED_PARAMS = {f'stream.{name}': f'live.{name}' for name in (
    'track_keyframes', 'window', 'track_pixels', 'track_iterations', 'refine_pixels',
    'keyframe_overlap', 'keyframe_parallax', 'lost_overlap', 'lost_inliers')}


@dataclass(frozen=True)
class AlignConfig:
    solver: Solver = param(Solver.FAST, 'Global alignment solver: adam (reference schedule) '
                                        'or fast')
    iterations: int = param(300, 'Iterations of the adam solver', low=1, high=100000)
    lr: float = param(0.01, 'Adam learning rate', low=0.0)
    lr_min: float = param(1e-3, 'Final learning rate of the schedule', low=0.0)
    schedule: Schedule = param(Schedule.LINEAR, 'Learning-rate schedule: linear or cosine')
    confidence: ConfidenceMode = param(ConfidenceMode.LOG, 'Confidence weighting: log '
                                                           '(demo) or uniform (depth_test)')
    min_conf_thr: float = param(3.0, 'Confidence below which a pixel is invalid', low=1.0)
    temporal_weight: float = param(0.01, 'Weight of the temporal smoothing term', low=0.0)
    translation_weight: float = param(1.0, 'Translation weight inside temporal smoothing',
                                      low=0.0)
    shared_focal: bool = param(True, 'One focal length for all frames')


@dataclass(frozen=True)
class CameraConfig:
    intrinsics: IntrinsicsMode = param(
        IntrinsicsMode.ESTIMATE, 'estimate: focal optimised; known: focal and principal point '
                                 'fixed from CameraInfo or the static values below')
    fx: float = param(0.0, 'Static focal x at the input resolution (0: unset)', unit='px',
                      low=0.0)
    fy: float = param(0.0, 'Static focal y at the input resolution (0: unset)', unit='px',
                      low=0.0)
    cx: float = param(0.0, 'Static principal point x (0: unset)', unit='px', low=0.0)
    cy: float = param(0.0, 'Static principal point y (0: unset)', unit='px', low=0.0)


@dataclass(frozen=True)
class ScaleConfig:
    metric: MetricScaleMode = param(MetricScaleMode.AUTO, 'Metric scale from a metric prior: '
                                                          'auto, on or off')
    smoothing: float = param(0.2, 'Weight of a new keyframe estimate in the metric prior\'s '
                                  'tracked scale (exponential smoothing; the odometry scale\'s '
                                  'smoothing is its window)', low=0.0, high=1.0)
    min_pixels: int = param(200, 'Confident static pixels needed for a scale estimate', low=1)
    odometry_min_baseline: float = param(
        0.1, 'Odometry path extent (largest distance between two fitted frames) the metric '
             'scale from odometry needs', unit='m', low=0.0)
    odometry_window: int = param(
        120, 'Latest frames with odometry in the metric scale fit (the fit is its smoothing; '
             'its cost per frame grows with the square)', low=2, high=500)


@dataclass(frozen=True)
class DynamicConfig:
    enabled: bool = param(True, 'Detect dynamic pixels from pairwise disagreement')
    threshold: float = param(0.1, 'Relative 3-D disagreement above which a pixel is dynamic',
                             low=0.0)
    weight: float = param(0.1, 'Confidence factor applied to dynamic pixels', low=0.0, high=1.0)


@dataclass(frozen=True)
class InputConfig:
    transport: ImageTransport = param(ImageTransport.RAW, 'Image input: raw or compressed')
    camera_info: CameraInfoMode = param(CameraInfoMode.LATEST, 'CameraInfo handling: latest, '
                                                               'sync or none')
    use_prior_topic: bool = param(False, 'Subscribe to prior/depth and use it as the prior')
    reliability: QosReliability = param(QosReliability.BEST_AVAILABLE,
                                        'Input QoS reliability: best_available matches the '
                                        'publishers (reliable when all of them are)')
    qos_depth: int = param(5, 'Input QoS history depth', low=1, high=1000)
    queue_size: int = param(4, 'Frames queued for the worker (oldest dropped)', low=1,
                            high=1000)
    odometry: OdometrySource = param(
        OdometrySource.NONE, 'Robot odometry for metric scale and drift: none, tf '
                             '(frames.odom_frame -> image frame through tf2) or topic '
                             '(input.odometry_topic)')
    odometry_topic: str = param('odom', 'nav_msgs/Odometry topic of input.odometry topic (child '
                                        'frame: the base or the camera; the rest from TF)')
    odometry_timeout: float = param(0.05, 'Longest wait for odometry at an image stamp before '
                                          'the frame goes on without it', unit='s', low=0.0,
                                    high=10.0)
    odometry_weight: float = param(0.2, 'Weight of the odometry motion prior in tracking and '
                                        'keyframe refinement, vision = 1 (0: scale only)',
                                   low=0.0)
    odometry_disagreement: float = param(
        0.05, 'Odometry and vision disagreeing by more than this (translation of the motion '
              'to the reference keyframe) down-weights odometry for the frame', unit='m',
        low=0.0)
    odometry_disagreement_deg: float = param(
        5.0, 'Rotation disagreement of the same motion above which odometry is down-weighted',
        unit='deg', low=0.0)


@dataclass(frozen=True)
class OutputConfig:
    resolution: OutputResolution = param(OutputResolution.NETWORK,
                                         'Publish depth at the network or the input resolution')
    conf_threshold: float = param(3.0, 'Confidence below which depth is published as NaN',
                                  low=0.0, runtime=True)
    point_stride: int = param(2, 'Pixel stride of the point cloud', low=1, high=64,
                              runtime=True)
    organized_cloud: bool = param(True, 'Organized (H x W) cloud with NaN, else unorganized',
                                  runtime=True)
    publish_depth: bool = param(True, 'Publish ~/depth/image and ~/depth/camera_info',
                                runtime=True)
    publish_cloud: bool = param(True, 'Publish ~/points', runtime=True)
    publish_odometry: bool = param(True, 'Publish ~/odometry and ~/path', runtime=True)
    publish_dynamic_mask: bool = param(True, 'Publish ~/dynamic_mask/image (mono8, 255 '
                                             'dynamic) and ~/dynamic_mask/camera_info',
                                       runtime=True)
    publish_confidence: bool = param(True, 'Publish ~/confidence/image (32FC1, NaN where none)',
                                     runtime=True)
    exclude_dynamic: bool = param(False, 'Publish dynamic pixels as NaN in ~/depth/image and '
                                         '~/points (static-only outputs for mapping)',
                                  runtime=True)
    dynamic_dilate_px: int = param(2, 'Grow the dynamic mask by this radius before it is '
                                      'published and applied', unit='px', low=0, high=64,
                                   runtime=True)
    path_length: int = param(1000, 'Poses kept in ~/path', low=1, high=1000000, runtime=True)
    qos_depth: int = param(5, 'Output QoS history depth (reliable, volatile)', low=1, high=1000)


@dataclass(frozen=True)
class FramesConfig:
    world_frame: str = param('align3r_world', 'Frame of the aligned trajectory')
    tf_mode: TfMode = param(TfMode.DIRECT, 'TF: direct (world -> camera optical), rep105 '
                                           '(world -> odom) or none')
    odom_frame: str = param('odom', 'Odometry frame (rep105 mode)')
    base_frame: str = param('base_link', 'Robot base frame (rep105 mode)')
    camera_frame: str = param('', 'Override of the image frame_id (empty: use the header)')


@dataclass(frozen=True)
class RuntimeConfig:
    device: Device = param(Device.AUTO, 'Inference device: auto, cpu or cuda')
    dtype: DType = param(DType.FP32, 'Inference dtype on accelerators (heads stay fp32)')
    threads: int = param(0, 'CPU threads for torch and onnxruntime (0: their default)', low=0,
                         high=256)


@dataclass(frozen=True)
class Align3rConfig:
    """Root of the configuration tree; field names are the ROS parameter groups."""

    pairwise: PairwiseConfig = field(default_factory=PairwiseConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    clip: ClipConfig = field(default_factory=ClipConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    scale: ScaleConfig = field(default_factory=ScaleConfig)
    dynamic: DynamicConfig = field(default_factory=DynamicConfig)
    input: InputConfig = field(default_factory=InputConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    frames: FramesConfig = field(default_factory=FramesConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


class RunMode(StrEnum):
    """How a tool drives the engine over a recorded sequence (``--mode`` of replay and eval)."""

    STREAMING = 'streaming'  # Engine.push per frame, as the node (stream.mode applies)
    OFFLINE = 'offline'      # align_sequence on all frames: the paper's hierarchy


@dataclass(frozen=True)
class EvaluationConfig:
    """Defaults of the tools' evaluation options (command-line flags, not ROS parameters)."""

    depth_max: float = param(70.0, 'Depth cap of the metrics (the official evaluation uses 70 '
                                   'for every dataset)', unit='m', low=0.0)
    max_depth_frames: int = param(150, 'Depth frames held for the metrics (evenly thinned '
                                       'beyond)', low=2)
    replay_mode: RunMode = param(RunMode.STREAMING, 'align3r-replay: streaming (as the node) '
                                                    'or offline (hierarchical)')
    eval_mode: RunMode = param(RunMode.OFFLINE, 'align3r-eval: offline hierarchical alignment '
                                                '(the paper) or the streaming engine')
