"""Engine results -> the topics the live node publishes, written into a bag.

Messages come from the node's composition (:func:`align3r_ros.messages.compose.compose_result`)
with the ``rosbags`` Humble classes: the same stamps, frames, mask and TF as the live node. Topic
names are those of a node named ``align3r`` in the root namespace (``~/depth/image`` ->
``/align3r/depth/image``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

from align3r_ros.bag.writer import AtomicBagWriter, Durability
from align3r_ros.config import Align3rConfig, TfMode
from align3r_ros.errors import ConfigError
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.compose import KeyframePathGate, camera_frame_id, compose_result
from align3r_ros.messages.diagnostics import PipelineHealth, health_to_diagnostics_msg
from align3r_ros.messages.dynamic import dynamic_fraction
from align3r_ros.messages.odometry import BoundedPath
from align3r_ros.messages.output_topics import OUTPUT_TOPICS, OutputTopics
from align3r_ros.structures import FrameResult


class ResultBagWriter:
    """Writes one engine result per frame on the node's output topics.

    Args:
        bag: an open :class:`AtomicBagWriter`.
        config: the replay's config (output toggles, frames, path length, QoS depth).
        names: output topic names, fully qualified (default: the node's, for a node
            ``align3r`` in the root namespace — the topics a recording of the node holds).
    """

    def __init__(self, bag: AtomicBagWriter, config: Align3rConfig,
                 names: OutputTopics = OUTPUT_TOPICS.resolved()) -> None:
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
        declared = [(names.diagnostics, 'diagnostic_msgs/msg/DiagnosticArray'),
                    (names.keyframes, 'nav_msgs/msg/Path')]
        if out.publish_depth:
            declared += [(names.depth, 'sensor_msgs/msg/Image'),
                         (names.depth_info, 'sensor_msgs/msg/CameraInfo')]
        if out.publish_cloud:
            declared.append((names.points, 'sensor_msgs/msg/PointCloud2'))
        if out.publish_dynamic_mask:
            declared += [(names.dynamic_mask, 'sensor_msgs/msg/Image'),
                         (names.dynamic_mask_info, 'sensor_msgs/msg/CameraInfo')]
        if out.publish_confidence:
            declared.append((names.confidence, 'sensor_msgs/msg/Image'))
        if out.publish_odometry:
            declared += [(names.odometry, 'nav_msgs/msg/Odometry'),
                         (names.path, 'nav_msgs/msg/Path')]
        if config.frames.tf_mode is TfMode.DIRECT:
            declared.append((names.tf, 'tf2_msgs/msg/TFMessage'))
        for topic, msgtype in declared:
            bag.add_topic(topic, msgtype, Durability.VOLATILE, depth)
        self._keyframe_gate = KeyframePathGate()
        self.frames_written = 0

    def camera_frame(self, input_frame_id: str) -> str:
        """The optical frame of the outputs: the config override, the image's, or the fallback."""
        return camera_frame_id(input_frame_id, self.config)

    def write_static_transforms(self, stamp_ns: int, msg: Any) -> None:
        """Copy an input /tf_static message (transient-local, as latched TF is)."""
        self.bag.add_topic(self.names.tf_static, 'tf2_msgs/msg/TFMessage',
                           Durability.TRANSIENT_LOCAL, 1)
        self.bag.write(self.names.tf_static, stamp_ns, msg)

    def write(self, result: FrameResult, input_frame_id: str, health: PipelineHealth) -> None:
        """Write every enabled output of one result (log time = stamp = the image stamp)."""
        names, stamp = self.names, int(result.stamp_ns)
        messages = compose_result(result, input_frame_id, self.config, self.types)
        for topic, msg in ((names.depth, messages.depth), (names.depth_info, messages.depth_info),
                           (names.points, messages.cloud),
                           (names.dynamic_mask, messages.dynamic_mask),
                           (names.dynamic_mask_info, messages.dynamic_mask_info),
                           (names.confidence, messages.confidence),
                           (names.odometry, messages.odometry)):
            if msg is not None:
                self.bag.write(topic, stamp, msg)
        if messages.transform is not None:
            self.bag.write(names.tf, stamp, self.types.TFMessage(transforms=[messages.transform]))
        if messages.pose is not None:
            world = self.config.frames.world_frame
            self._path.add(messages.pose, world_id=result.world_id)
            self.bag.write(names.path, stamp, self._path.to_msg(stamp, world, self.types))
        # The scale state, residual and status of this very result (the counters are the
        # caller's).
        health = dataclasses.replace(health, is_metric=bool(result.is_metric),
                                     residual=float(result.residual),
                                     dynamic_fraction=dynamic_fraction(result),
                                     status=result.status or health.status)
        self.bag.write(names.diagnostics, stamp,
                       health_to_diagnostics_msg(health, stamp, self.types))
        self.frames_written += 1

    def write_keyframes(self, keyframes: Sequence[Any], stamp_ns: int) -> None:
        """``~/keyframes/path`` as the node publishes it: the engine's refined keyframe window
        (``KeyframePose`` list) after a push that returned results, written only when it
        changed; ``stamp_ns``: the last such result's input stamp (also the log time)."""
        msg = self._keyframe_gate.message(keyframes, stamp_ns, self.config, self.types)
        if msg is not None:
            self.bag.write(self.names.keyframes, int(stamp_ns), msg)
