"""Output publishers: depth + camera_info, points, dynamic mask + camera_info, confidence, TF,
odometry, path, keyframe path, diagnostics.

The messages of a result come from :func:`align3r_ros.messages.compose.compose_result` (the
input image's stamp, its optical frame id, depth masked once). TF-specific policy stays here:
``direct`` publishes world -> camera optical frame but never gives a frame a second parent
(refused when /tf_static already parents it); ``rep105`` looks up odom -> base and base -> camera
and publishes world -> odom. QoS: outputs reliable + volatile (keep last ``output.qos_depth``),
/tf as tf2's ``TransformBroadcaster`` (reliable, keep last 100), /diagnostics reliable.
Destroying waits (bounded) until reliable subscribers acknowledged what was published, so a
shutdown right after the last frame does not lose its outputs.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time
from tf2_ros import TransformBroadcaster, TransformException

from align3r_ros.config import Align3rConfig, OutputConfig, TfMode
from align3r_ros.geometry.se3 import invert_transform
from align3r_ros.messages.compose import KeyframePathGate, compose_result, odometry_messages
from align3r_ros.messages.diagnostics import PipelineHealth, health_to_diagnostics_msg
from align3r_ros.messages.odometry import BoundedPath
from align3r_ros.messages.output_topics import OUTPUT_TOPICS
from align3r_ros.messages.transforms import (
    matrix_to_transform_stamped,
    transform_to_matrix,
    world_to_odom,
)
from align3r_ros.messages.types import MessageTypes
from align3r_ros.structures import FrameResult

#: longest ``destroy`` waits for reliable subscribers to acknowledge the last outputs.
ACK_TIMEOUT_S = 3.0


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
        names = OUTPUT_TOPICS
        self.depth = node.create_publisher(types.Image, names.private(names.depth), qos)
        self.depth_info = node.create_publisher(types.CameraInfo,
                                                names.private(names.depth_info), qos)
        self.points = node.create_publisher(types.PointCloud2, names.private(names.points), qos)
        self.dynamic_mask = node.create_publisher(types.Image, names.private(names.dynamic_mask),
                                                  qos)
        self.dynamic_mask_info = node.create_publisher(
            types.CameraInfo, names.private(names.dynamic_mask_info), qos)
        self.confidence = node.create_publisher(types.Image, names.private(names.confidence),
                                                qos)
        self.odometry = node.create_publisher(types.Odometry, names.private(names.odometry), qos)
        self.path = node.create_publisher(types.Path, names.private(names.path), qos)
        self.keyframes = node.create_publisher(types.Path, names.private(names.keyframes), qos)
        self._keyframe_gate = KeyframePathGate()
        self.diagnostics = node.create_publisher(types.DiagnosticArray, names.diagnostics, 10)
        self.tf = None
        self._tf_static_sub = None
        if config.frames.tf_mode is not TfMode.NONE:
            self.tf = TransformBroadcaster(node)
            self._tf_static_sub = node.create_subscription(
                types.TFMessage, names.tf_static, self._on_tf_static, tf_static_qos())
        self._path = BoundedPath(config.output.path_length)

    def _publishers(self) -> list:
        extra = [self.tf.pub_tf] if self.tf is not None else []
        return [self.depth, self.depth_info, self.points, self.dynamic_mask,
                self.dynamic_mask_info, self.confidence, self.odometry, self.path,
                self.keyframes, self.diagnostics] + extra

    def destroy(self) -> None:
        """Wait (at most ACK_TIMEOUT_S) for reliable subscribers to acknowledge, then destroy."""
        deadline = time.monotonic() + ACK_TIMEOUT_S
        for publisher in self._publishers():
            left = deadline - time.monotonic()
            if left > 0 and publisher.get_subscription_count():
                publisher.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9)))
        for publisher in self._publishers():
            self._node.destroy_publisher(publisher)
        if self._tf_static_sub is not None:
            self._node.destroy_subscription(self._tf_static_sub)
        self._path.clear()

    def _on_tf_static(self, msg: Any) -> None:
        for transform in msg.transforms:
            self._static_parents[str(transform.child_frame_id)] = str(transform.header.frame_id)

    def publish_result(self, result: FrameResult, config: Align3rConfig) -> None:
        """Publish every enabled output of one aligned frame (``result.tag``: image frame_id)."""
        types, output = self._types, config.output
        messages = compose_result(result, str(result.tag or ''), config, types)
        for publisher, msg in ((self.depth, messages.depth),
                               (self.depth_info, messages.depth_info),
                               (self.points, messages.cloud),
                               (self.dynamic_mask, messages.dynamic_mask),
                               (self.dynamic_mask_info, messages.dynamic_mask_info),
                               (self.confidence, messages.confidence)):
            if msg is not None:
                publisher.publish(msg)
        odometry, pose = messages.odometry, messages.pose
        if config.frames.tf_mode is TfMode.DIRECT:
            self._publish_direct(messages.transform, messages.camera_frame, config)
        elif config.frames.tf_mode is TfMode.REP105:
            T_world_base = self._publish_rep105(result, messages.camera_frame, config)
            if T_world_base is not None and output.publish_odometry:
                odometry, pose = odometry_messages(T_world_base, result.stamp_ns,
                                                   config.frames.base_frame, config, types)
        if output.publish_odometry and odometry is not None:
            self.odometry.publish(odometry)
            if output.path_length != self._path.max_length:  # a run-time parameter
                self._path.set_max_length(output.path_length)
            self._path.add(pose, world_id=result.world_id)
            self.path.publish(self._path.to_msg(result.stamp_ns, config.frames.world_frame,
                                                types))

    def publish_keyframes(self, keyframes: Sequence[Any], stamp_ns: int,
                          config: Align3rConfig) -> None:
        """``~/keyframes/path``: the engine's refined keyframe window (``KeyframePose`` list),
        published only when it changed (new keyframe, refinement, reset); ``stamp_ns`` is the
        input stamp of the frame whose push changed it. Nothing before the first keyframe."""
        msg = self._keyframe_gate.message(keyframes, stamp_ns, config, self._types)
        if msg is not None:
            self.keyframes.publish(msg)

    def _publish_direct(self, transform: Any, camera_frame: str, config: Align3rConfig) -> None:
        parent = self._static_parents.get(camera_frame)
        if parent is not None and parent != config.frames.world_frame:
            self._logger.error(
                f'{camera_frame} already has the parent {parent} on /tf_static: not '
                'publishing a second one; use frames.tf_mode rep105',
                throttle_duration_sec=10.0)
            return
        self.tf.sendTransform(transform)

    def _publish_rep105(self, result: FrameResult, camera_frame: str,
                        config: Align3rConfig) -> Optional[np.ndarray]:
        """world -> odom keeping odom -> base -> ... -> camera untouched; returns T_world_base
        (None when the lookups fail)."""
        frames, types = config.frames, self._types
        T_world_cam = np.asarray(result.T_world_cam, dtype=np.float64)
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
            return None
        T_world_odom = world_to_odom(T_world_cam, T_odom_base, T_base_cam)
        self.tf.sendTransform(matrix_to_transform_stamped(
            T_world_odom, result.stamp_ns, frames.world_frame, frames.odom_frame, types))
        return T_world_cam @ invert_transform(T_base_cam)

    def publish_diagnostics(self, health: PipelineHealth, lost: int, stamp_ns: int,
                            extra: Sequence[Tuple[str, str]] = (),
                            extra_warning: str = '') -> None:
        """One DiagnosticArray: the pipeline's health plus the frames estimated lost in
        transport (stamp gaps; see :mod:`align3r_ros.ros.arrivals`) and ``extra`` key/values
        (the odometry input's); ``extra_warning`` makes an OK status WARN with that message."""
        msg = health_to_diagnostics_msg(health, stamp_ns, self._types)
        status = msg.status[0]
        status.values.append(self._types.KeyValue(key='frames lost in transport (estimated)',
                                                  value=str(int(lost))))
        if lost and status.level == self._types.DiagnosticStatus.OK:
            status.level = self._types.DiagnosticStatus.WARN
            status.message = f'{lost} frames lost before reaching the node (stamp gaps)'
        status.values.extend(self._types.KeyValue(key=k, value=v) for k, v in extra)
        if extra_warning and status.level == self._types.DiagnosticStatus.OK:
            status.level = self._types.DiagnosticStatus.WARN
            status.message = extra_warning
        self.diagnostics.publish(msg)
