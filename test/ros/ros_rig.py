"""The in-process test rig: the node under test plus a peer node on one executor.

Imported by ``conftest.py`` and the tests (``from .ros_rig import ...``); every ROS import is
inside a method, so importing this module needs no rclpy.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, Callable, Dict, List

import numpy as np

from support.fake_engine import EngineFactory

H, W = 12, 16
K = np.array([[20.0, 0, 8.0], [0, 20.0, 6.0], [0, 0, 1]])
T0 = 1_700_000_000_000_000_000
STEP = 33_333_333
DEADLINE_S = 60.0  # only guards against hanging; tests wait on events


def wait_until(predicate: Callable[[], bool], step: Callable[[], None],
               timeout_s: float = 60.0) -> bool:
    """Run ``step`` until ``predicate`` holds; the deadline only guards against hanging."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        step()
    return True


class Rig:
    """The node under test, plus a peer node (camera publisher, output listeners), one executor.

    The camera publishes reliable by default (the usual driver); ``start`` waits until the node
    subscribes with a matching QoS and every listener is matched, so no message is published
    into the void.
    """

    def __init__(self, context, overrides=(), factory: EngineFactory = None,
                 camera_reliable: bool = True, namespace: str = '') -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.parameter import Parameter
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from align3r_ros.ros.message_types import rclpy_message_types
        from align3r_ros.ros.node import Align3rNode

        self.types = rclpy_message_types()
        self.factory = factory or EngineFactory()
        self.node = Align3rNode(
            engine_builder=self.factory.builder(), context=context, namespace=namespace,
            parameter_overrides=[Parameter(n, value=v) for n, v in overrides])
        self.peer = Node_(context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.peer)
        self.camera_reliability = (ReliabilityPolicy.RELIABLE if camera_reliable
                                   else ReliabilityPolicy.BEST_EFFORT)
        qos = QoSProfile(depth=10, reliability=self.camera_reliability)
        prefix = f'/{namespace}' if namespace else ''
        self.image_pub = self.peer.create_publisher(self.types.Image, f'{prefix}/image', qos)
        self.info_pub = self.peer.create_publisher(self.types.CameraInfo,
                                                   f'{prefix}/camera_info', qos)
        self.received: Dict[str, List[Any]] = defaultdict(list)

    def listen(self, topic: str, msg_type: Any, qos: Any = 100) -> List[Any]:
        self.peer.create_subscription(msg_type, topic, self.received[topic].append, qos)
        return self.received[topic]

    def spin_until(self, predicate: Callable[[], bool], timeout_s: float = DEADLINE_S,
                   what: str = '') -> None:
        ok = wait_until(predicate, lambda: self.executor.spin_once(timeout_sec=0.02), timeout_s)
        assert ok, f'timed out after {timeout_s} s waiting for {what or predicate}'

    def configure(self):
        return self.node.trigger_configure()

    def start(self) -> None:
        from rclpy.lifecycle import TransitionCallbackReturn as Ret
        assert self.node.trigger_configure() == Ret.SUCCESS
        assert self.node.trigger_activate() == Ret.SUCCESS
        self.wait_matched()

    def wait_matched(self) -> None:
        from align3r_ros.config import QosReliability
        inputs, adaptive = self.node._inputs, (self.node.config.input.reliability is
                                               QosReliability.BEST_AVAILABLE)
        if inputs.reliability('image') is not None:
            self.spin_until(lambda: self.image_pub.get_subscription_count() > 0 and (
                not adaptive or inputs.reliability('image') == self.camera_reliability),
                what='the node to match the camera')
        outputs = self.node._outputs
        wanted = {t for t in self.received}
        for publisher in outputs._publishers():
            if publisher.topic_name in wanted:
                self.spin_until(lambda p=publisher: p.get_subscription_count() > 0,
                                what=f'{publisher.topic_name} matched')

    def send(self, stamp_ns: int, frame_id: str = 'cam_optical', info: bool = True,
             size=(H, W), encoding: str = 'rgb8', seed: int = 0) -> None:
        from align3r_ros.messages.camera_info import intrinsics_to_camera_info
        from align3r_ros.messages.header import make_header
        from align3r_ros.messages.image import rgb_to_image_msg
        header = make_header(stamp_ns, frame_id, self.types)
        if info:  # taken before the image (two topics: the executor's order is free)
            inputs = self.node._inputs
            previous = inputs._latest_camera
            self.info_pub.publish(intrinsics_to_camera_info(K, size[1], size[0], header,
                                                            self.types))
            self.spin_until(lambda: inputs._latest_camera is not previous,
                            what='camera_info taken')
        rgb = np.random.default_rng(seed).integers(0, 256, size + (3,), dtype=np.uint8)
        self.image_pub.publish(rgb_to_image_msg(rgb, header, self.types, encoding))

    def send_and_wait(self, stamp_ns: int, **kwargs) -> None:
        """Publish one frame and spin until the node counted it (received or rejected)."""
        before = self.node.frames_received
        self.send(stamp_ns, **kwargs)
        self.spin_until(lambda: self.node.frames_received > before, what=f'frame {stamp_ns}')

    def diagnostics(self) -> Dict[str, str]:
        """The node's latest diagnostics values (published now, then received)."""
        topic = '/diagnostics'
        count = len(self.received[topic])
        self.node.publish_diagnostics()
        self.spin_until(lambda: len(self.received[topic]) > count, what='diagnostics')
        status = self.received[topic][-1].status[0]
        values = {kv.key: kv.value for kv in status.values}
        values['level'] = status.level
        return values

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.peer.destroy_node()


def Node_(context):  # noqa: N802 - a factory that reads like the class it makes
    import rclpy
    return rclpy.create_node('align3r_test_peer', context=context)
