"""In-process tests of the align3r node on a real ROS 2 installation (tf2_ros_py's style).

Skipped where rclpy is absent (the ``ros`` marker and ``importorskip``); run on a ROS image:
``source /opt/ros/$ROS_DISTRO/setup.bash && colcon test --packages-select align3r_ros``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy')

H, W = 12, 16
T0 = 1_700_000_000_000_000_000


class _PlaneEngine:
    """One result per frame: a 2 m plane, identity pose."""

    def __init__(self, config):
        from align3r_ros.structures import EngineStats
        self.stats = EngineStats()

    def push(self, frame):
        from align3r_ros.structures import FrameResult
        h, w = frame.rgb.shape[:2]
        K = np.array([[20.0, 0, (w - 1) / 2], [0, 20.0, (h - 1) / 2], [0, 0, 1]])
        return [FrameResult(stamp_ns=frame.stamp_ns, depth=np.full((h, w), 2.0, np.float32),
                            confidence=np.full((h, w), 5.0, np.float32), K=K,
                            T_world_cam=np.eye(4), is_metric=True,
                            dynamic_mask=np.zeros((h, w), bool), rgb=frame.rgb)]


@pytest.fixture
def context():
    rclpy.init()
    yield
    rclpy.try_shutdown()


def _spin_until(executor, predicate, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not predicate():
        executor.spin_once(timeout_sec=0.05)
    return predicate()


def test_lifecycle_image_in_depth_and_tf_out(context):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.lifecycle import TransitionCallbackReturn
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from tf2_msgs.msg import TFMessage

    from align3r_ros.messages.header import make_header
    from align3r_ros.messages.image import rgb_to_image_msg
    from align3r_ros.ros.message_types import rclpy_message_types
    from align3r_ros.ros.node import Align3rNode

    types = rclpy_message_types()
    node = Align3rNode(engine_builder=lambda config: lambda: _PlaneEngine(config))
    peer = rclpy.create_node('align3r_test_peer')
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(peer)
    depth, tf = [], []
    peer.create_subscription(Image, '/align3r/depth/image', depth.append, 10)
    peer.create_subscription(TFMessage, '/tf', tf.append, 10)
    camera = peer.create_publisher(Image, '/image', qos_profile_sensor_data)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        rgb = np.zeros((H, W, 3), np.uint8)
        for i in range(20):  # discovery may swallow the first messages
            camera.publish(rgb_to_image_msg(rgb, make_header(T0 + i * 10**8, 'cam', types),
                                            types))
            if _spin_until(executor, lambda: depth and tf, timeout_s=0.5):
                break
        assert depth and depth[0].encoding == '32FC1'
        assert depth[0].header.frame_id == 'cam'
        assert tf[0].transforms[0].header.frame_id == 'align3r_world'
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    finally:
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()


def test_parameters_declared_with_descriptors(context):
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.parameter import Parameter

    from align3r_ros import config_io
    from align3r_ros.ros.node import Align3rNode

    node = Align3rNode(engine_builder=lambda config: lambda: _PlaneEngine(config))
    try:
        for spec in config_io.param_specs():
            descriptor: ParameterDescriptor = node.describe_parameter(spec.name)
            assert descriptor.read_only == (not spec.runtime)
        ok, = node.set_parameters([Parameter('output.point_stride', value=3)])
        assert ok.successful
        refused, = node.set_parameters([Parameter('clip.length', value=3)])
        assert not refused.successful
    finally:
        node.destroy_node()
