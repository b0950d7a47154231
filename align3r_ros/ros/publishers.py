"""Output publishers: depth + camera_info, points, TF, odometry, path and diagnostics.

Every output of a frame carries the INPUT image's stamp (never ``now()``, so bag replay works)
and its optical frame id. TF never gives an existing frame a second parent: ``direct`` publishes
world -> camera optical frame (refused when /tf_static already parents that frame), ``rep105``
publishes world -> odom through the looked-up odom -> base and base -> camera transforms.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from tf2_ros import TransformBroadcaster, TransformException

from align3r_ros.config import Align3rConfig, OutputConfig, TfMode
from align3r_ros.messages.camera_info import intrinsics_to_camera_info
from align3r_ros.messages.diagnostics import PipelineHealth, health_to_diagnostics_msg
from align3r_ros.messages.header import copy_header, make_header
from align3r_ros.messages.image import depth_to_image_msg
from align3r_ros.messages.odometry import (
    BoundedPath,
    pose_to_odometry_msg,
    pose_to_pose_stamped,
)
from align3r_ros.messages.point_cloud import depth_to_cloud_msg
from align3r_ros.messages.transforms import (
    invert_transform,
    matrix_to_transform_stamped,
    transform_to_matrix,
    world_to_odom,
)
from align3r_ros.messages.types import MessageTypes
from align3r_ros.structures import FrameResult

#: used when an image header has an empty frame_id (a driver bug); TF needs a name.
FALLBACK_CAMERA_FRAME = 'align3r_camera_optical_frame'


def output_qos(config: OutputConfig) -> QoSProfile:
    """Reliable, volatile, keep last N: RViz, ``ros2 bag record`` and best-effort readers."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=config.qos_depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def tf_static_qos() -> QoSProfile:
    """What tf2 uses for /tf_static: reliable, transient local."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


class OutputPublishers:
    """Publishers of one activation; ``publish_result`` runs in the worker thread."""

    def __init__(self, node: Any, config: Align3rConfig, types: MessageTypes,
                 tf_buffer: Optional[Any] = None) -> None:
        self._node = node
        self._types = types
        self._logger = node.get_logger()
        self._tf_buffer = tf_buffer
        self._static_parents: Dict[str, str] = {}
        qos = output_qos(config.output)
        self.depth = node.create_publisher(types.Image, '~/depth/image', qos)
        self.depth_info = node.create_publisher(types.CameraInfo, '~/depth/camera_info', qos)
        self.points = node.create_publisher(types.PointCloud2, '~/points', qos)
        self.odometry = node.create_publisher(types.Odometry, '~/odometry', qos)
        self.path = node.create_publisher(types.Path, '~/path', qos)
        self.diagnostics = node.create_publisher(types.DiagnosticArray, '/diagnostics', 10)
        self.tf = None
        self._tf_static_sub = None
        if config.frames.tf_mode is not TfMode.NONE:
            self.tf = TransformBroadcaster(node)
            self._tf_static_sub = node.create_subscription(
                types.TFMessage, '/tf_static', self._on_tf_static, tf_static_qos())
        self._path = BoundedPath(config.output.path_length)

    def destroy(self) -> None:
        for publisher in (self.depth, self.depth_info, self.points, self.odometry, self.path,
                          self.diagnostics):
            self._node.destroy_publisher(publisher)
        if self.tf is not None:
            self._node.destroy_publisher(self.tf.pub_tf)
            self._node.destroy_subscription(self._tf_static_sub)
        self._path.clear()

    def _on_tf_static(self, msg: Any) -> None:
        for transform in msg.transforms:
            self._static_parents[str(transform.child_frame_id)] = str(transform.header.frame_id)

    def reset_path(self) -> None:
        self._path.clear()

    def publish_result(self, result: FrameResult, frame_id: str, config: Align3rConfig) -> None:
        """Publish every enabled output of one aligned frame."""
        types, output = self._types, config.output
        camera_frame = config.frames.camera_frame or frame_id or FALLBACK_CAMERA_FRAME
        header = make_header(result.stamp_ns, camera_frame, types)
        depth = np.asarray(result.depth, dtype=np.float32)
        with np.errstate(invalid='ignore'):
            confident = np.asarray(result.confidence) >= output.conf_threshold
        depth = np.where(confident, depth, np.float32(np.nan))
        height, width = depth.shape
        if output.publish_depth:
            self.depth.publish(depth_to_image_msg(depth, header, types))
            self.depth_info.publish(intrinsics_to_camera_info(
                result.K, width, height, copy_header(header, types), types))
        if output.publish_cloud:
            self.points.publish(depth_to_cloud_msg(
                depth, result.K, copy_header(header, types), types, rgb=result.rgb,
                stride=output.point_stride, organized=output.organized_cloud))
        T_world_child, child_frame = self._publish_tf(result, camera_frame, config)
        if output.publish_odometry and T_world_child is not None:
            world = config.frames.world_frame
            self.odometry.publish(pose_to_odometry_msg(T_world_child, result.stamp_ns, world,
                                                       child_frame, types))
            if output.path_length != self._path.max_length:  # a run-time parameter
                self._path.set_max_length(output.path_length)
            self._path.add(pose_to_pose_stamped(T_world_child, result.stamp_ns, world, types),
                           result.stamp_ns)
            self.path.publish(self._path.to_msg(result.stamp_ns, world, types))

    def _publish_tf(self, result: FrameResult, camera_frame: str,
                    config: Align3rConfig) -> tuple:
        """Publish TF per mode; returns (pose of the odometry child in world, child frame)."""
        frames, types = config.frames, self._types
        T_world_cam = np.asarray(result.T_world_cam, dtype=np.float64)
        if frames.tf_mode is TfMode.NONE:
            return T_world_cam, camera_frame
        if frames.tf_mode is TfMode.DIRECT:
            parent = self._static_parents.get(camera_frame)
            if parent is not None and parent != frames.world_frame:
                self._logger.error(
                    f'{camera_frame} already has the parent {parent} on /tf_static: not '
                    'publishing a second one; use frames.tf_mode rep105',
                    throttle_duration_sec=10.0)
                return T_world_cam, camera_frame
            self.tf.sendTransform(matrix_to_transform_stamped(
                T_world_cam, result.stamp_ns, frames.world_frame, camera_frame, types))
            return T_world_cam, camera_frame
        # REP 105: world -> odom, keeping odom -> base -> ... -> camera untouched.
        try:
            T_odom_base = transform_to_matrix(self._tf_buffer.lookup_transform(
                frames.odom_frame, frames.base_frame, Time(nanoseconds=result.stamp_ns),
                timeout=Duration(seconds=0.05)).transform)
            T_base_cam = transform_to_matrix(self._tf_buffer.lookup_transform(
                frames.base_frame, camera_frame, Time()).transform)
        except TransformException as exc:
            self._logger.warning(f'rep105: TF lookup failed, not publishing '
                                 f'{frames.world_frame} -> {frames.odom_frame}: {exc}',
                                 throttle_duration_sec=5.0)
            return None, frames.base_frame
        T_world_odom = world_to_odom(T_world_cam, T_odom_base, T_base_cam)
        self.tf.sendTransform(matrix_to_transform_stamped(
            T_world_odom, result.stamp_ns, frames.world_frame, frames.odom_frame, types))
        return T_world_cam @ invert_transform(T_base_cam), frames.base_frame

    def publish_diagnostics(self, health: PipelineHealth, stamp_ns: int) -> None:
        self.diagnostics.publish(health_to_diagnostics_msg(health, stamp_ns, self._types))
