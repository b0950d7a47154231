"""Engine results -> the topics the live node publishes, written into a bag.

Messages are built by the same pure functions as the node (:mod:`align3r_ros.messages`) with the
``rosbags`` Humble classes. Topic names are those of a node named ``align3r`` in the root
namespace (``~/depth/image`` -> ``/align3r/depth/image``). Every output is stamped with the input
image's stamp; the depth image and its CameraInfo share one header (stamp and optical frame).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from align3r_ros.bag.writer import AtomicBagWriter, Durability
from align3r_ros.config import Align3rConfig, TfMode
from align3r_ros.errors import ConfigError
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.camera_info import intrinsics_to_camera_info
from align3r_ros.messages.diagnostics import PipelineHealth, health_to_diagnostics_msg
from align3r_ros.messages.header import make_header
from align3r_ros.messages.image import depth_to_image_msg
from align3r_ros.messages.odometry import BoundedPath, pose_to_odometry_msg, pose_to_pose_stamped
from align3r_ros.messages.point_cloud import depth_to_cloud_msg
from align3r_ros.messages.transforms import matrix_to_transform_stamped
from align3r_ros.structures import FrameResult

DEFAULT_OPTICAL_FRAME = 'camera_optical_frame'


@dataclass(frozen=True)
class OutputTopicNames:
    """Resolved output topic names (node ``align3r`` in the root namespace)."""

    depth: str = '/align3r/depth/image'
    depth_info: str = '/align3r/depth/camera_info'
    points: str = '/align3r/points'
    odometry: str = '/align3r/odometry'
    path: str = '/align3r/path'
    tf: str = '/tf'
    tf_static: str = '/tf_static'
    diagnostics: str = '/diagnostics'


def masked_depth(result: FrameResult, conf_threshold: float) -> np.ndarray:
    """(H, W) float32 depth with NaN where invalid or below the confidence threshold."""
    depth = np.array(result.depth, dtype=np.float32)
    with np.errstate(invalid='ignore'):
        depth[~(np.asarray(result.confidence) >= conf_threshold)] = np.nan
    return depth


class ResultBagWriter:
    """Writes one engine result per frame on the node's output topics.

    Args:
        bag: an open :class:`AtomicBagWriter`.
        config: the replay's config (output toggles, frames, path length, QoS depth).
        names: output topic names.
    """

    def __init__(self, bag: AtomicBagWriter, config: Align3rConfig,
                 names: OutputTopicNames = OutputTopicNames()) -> None:
        if config.frames.tf_mode is TfMode.REP105:
            raise ConfigError('frames.tf_mode rep105 needs live TF lookups (odom -> base); '
                              'replay supports direct and none')
        self.bag = bag
        self.config = config
        self.names = names
        self.types = MessageTypes.from_rosbags(bag.typestore)
        self._path = BoundedPath(config.output.path_length)
        depth = config.output.qos_depth
        out = config.output
        declared = [(names.diagnostics, 'diagnostic_msgs/msg/DiagnosticArray')]
        if out.publish_depth:
            declared += [(names.depth, 'sensor_msgs/msg/Image'),
                         (names.depth_info, 'sensor_msgs/msg/CameraInfo')]
        if out.publish_cloud:
            declared.append((names.points, 'sensor_msgs/msg/PointCloud2'))
        if out.publish_odometry:
            declared += [(names.odometry, 'nav_msgs/msg/Odometry'),
                         (names.path, 'nav_msgs/msg/Path')]
        if config.frames.tf_mode is TfMode.DIRECT:
            declared.append((names.tf, 'tf2_msgs/msg/TFMessage'))
        for topic, msgtype in declared:
            bag.add_topic(topic, msgtype, Durability.VOLATILE, depth)
        self.frames_written = 0

    def camera_frame(self, input_frame_id: str) -> str:
        """The optical frame of the outputs: the config override, the image's, or a default."""
        return self.config.frames.camera_frame or input_frame_id or DEFAULT_OPTICAL_FRAME

    def write_static_transforms(self, stamp_ns: int, msg: Any) -> None:
        """Copy an input /tf_static message (transient-local, as latched TF is)."""
        self.bag.add_topic(self.names.tf_static, 'tf2_msgs/msg/TFMessage',
                           Durability.TRANSIENT_LOCAL, 1)
        self.bag.write(self.names.tf_static, stamp_ns, msg)

    def write(self, result: FrameResult, input_frame_id: str, health: PipelineHealth) -> None:
        """Write every enabled output of one result (log time = stamp = the image stamp)."""
        types, names, out = self.types, self.names, self.config.output
        stamp = int(result.stamp_ns)
        frame_id = self.camera_frame(input_frame_id)
        world = self.config.frames.world_frame
        header = make_header(stamp, frame_id, types)
        depth = masked_depth(result, out.conf_threshold)
        height, width = depth.shape
        if out.publish_depth:
            self.bag.write(names.depth, stamp, depth_to_image_msg(depth, header, types))
            self.bag.write(names.depth_info, stamp,
                           intrinsics_to_camera_info(result.K, width, height, header, types))
        if out.publish_cloud:
            cloud = depth_to_cloud_msg(depth, result.K, header, types, rgb=result.rgb,
                                       stride=out.point_stride, organized=out.organized_cloud)
            self.bag.write(names.points, stamp, cloud)
        if self.config.frames.tf_mode is TfMode.DIRECT:
            transform = matrix_to_transform_stamped(result.T_world_cam, stamp, world, frame_id,
                                                    types)
            self.bag.write(names.tf, stamp, types.TFMessage(transforms=[transform]))
        if out.publish_odometry:
            self.bag.write(names.odometry, stamp, pose_to_odometry_msg(
                result.T_world_cam, stamp, world, frame_id, types))
            self._path.add(pose_to_pose_stamped(result.T_world_cam, stamp, world, types), stamp)
            self.bag.write(names.path, stamp, self._path.to_msg(stamp, world, types))
        # The scale state, residual and status of this very result (the counters are the
        # caller's).
        health = dataclasses.replace(health, is_metric=bool(result.is_metric),
                                     residual=float(result.residual),
                                     status=result.status or health.status)
        self.bag.write(names.diagnostics, stamp, health_to_diagnostics_msg(health, stamp, types))
        self.frames_written += 1
