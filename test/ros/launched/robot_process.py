"""A robot as one process: a camera publishing 7-Scenes frames, and a listener for the node's
results (what a robot sends to a GPU server and gets back).

    python robot_process.py --frames DIR --image-topic /robot1/camera/image_raw \
        --info-topic /robot1/camera/camera_info --results /robot1/align3r \
        --count 90 --rate 30 [--compressed] [--clock] [--frame-id robot1_camera]

It waits until the node subscribes to the image and camera_info topics with a QoS matching its
own, then publishes warm-up frames (frame_id ``<frame id>_warmup``) until the node's depth, cloud,
odometry and TF of one of them have come back (so every path is matched both ways; frames sent
before a reader matched are lost, and that start-up edge is not what is measured), then
``count`` measured frames at ``rate``, cycling through the folder's JPEGs: 640x480 bgr8
``Image`` or, with ``--compressed``, the JPEG bytes as a ``CompressedImage`` on
``IMAGE_TOPIC/compressed``. Stamps are ``T0_NS + index * period`` over all frames; with
``--clock`` each frame's stamp is published on /clock first (use_sim_time). It then waits until
every measured frame's results are back, or ``--timeout`` seconds after the last one, and prints
one JSON line (``Report``): the measured stamps, the stamps received per output, results of
another camera's frames, and the /diagnostics stamps of the node. Exit 0, or 2 when the node
never subscribed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Set

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from tf2_msgs.msg import TFMessage

T0_NS = 1_700_000_000 * 10**9
WARMUP_SUFFIX = '_warmup'  # warm-up frames' frame_id: the camera's own + this
#: 7-Scenes intrinsics (fx = fy = 585, cx = 320, cy = 240) at 640x480.
K = (585.0, 0.0, 320.0, 0.0, 585.0, 240.0, 0.0, 0.0, 1.0)
#: the node's outputs listened to, relative to ``--results`` (TF: /tf).
OUTPUTS = ('depth/image', 'points', 'odometry')


def stamp_ns(index: int, rate_hz: float) -> int:
    """Stamp of frame ``index`` (warm-up frames included) at ``rate_hz``."""
    return T0_NS + index * int(round(1e9 / rate_hz))


def _ns(stamp) -> int:
    return int(stamp.sec) * 10**9 + int(stamp.nanosec)


@dataclasses.dataclass
class Report:
    """What came back (stamps in ns; ``received`` keyed by output, 'tf' included)."""

    first: int  # the first (warm-up) frame's stamp
    measured: List[int]
    received: Dict[str, List[int]]
    foreign: List[str]
    diagnostics: List[int]


class Robot:
    def __init__(self, node, args) -> None:
        self.node, self.args = node, args
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # notified on every result recorded
        self.frame_id = args.frame_id
        self.warmup_frame = args.frame_id + WARMUP_SUFFIX
        self.received: Dict[str, Dict[str, Set[int]]] = {}  # output -> frame_id -> stamps
        self.foreign: List[str] = []
        self.diagnostics: List[int] = []
        reliability = (ReliabilityPolicy.RELIABLE if args.reliability == 'reliable'
                       else ReliabilityPolicy.BEST_EFFORT)
        self.reliability = reliability
        qos = QoSProfile(depth=10, reliability=reliability)
        image_type = CompressedImage if args.compressed else Image
        self.image_topic = args.image_topic + ('/compressed' if args.compressed else '')
        self.image_pub = node.create_publisher(image_type, self.image_topic, qos)
        self.info_pub = node.create_publisher(CameraInfo, args.info_topic, qos)
        self.clock_pub = node.create_publisher(Clock, '/clock', 10) if args.clock else None
        results = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        for name, msg_type in zip(OUTPUTS, (Image, PointCloud2, Odometry)):
            node.create_subscription(msg_type, f'{args.results}/{name}',
                                     lambda m, n=name: self._on_header(n, m), results)
        node.create_subscription(TFMessage, '/tf', self._on_tf, results)
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, results)
        self.images = self._load(Path(args.frames))

    def _load(self, folder: Path) -> List[bytes]:
        jpegs = [p.read_bytes() for p in sorted(folder.glob('*.color.jpg'))]
        if not jpegs:
            raise SystemExit(f'no *.color.jpg in {folder}')
        if self.args.compressed:
            return jpegs
        return [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR).tobytes()
                for j in jpegs]

    # -- results (executor thread) -----------------------------------------------------------
    def _record(self, output: str, frame_id: str, stamp: int) -> None:
        with self.lock:
            if frame_id not in (self.frame_id, self.warmup_frame):
                self.foreign.append(f'{output}: {frame_id}')
            self.received.setdefault(output, {}).setdefault(frame_id, set()).add(stamp)
            self.changed.notify_all()

    def _on_header(self, output: str, msg) -> None:
        frame = msg.child_frame_id if output == 'odometry' else msg.header.frame_id
        self._record(output, str(frame), _ns(msg.header.stamp))

    def _on_tf(self, msg) -> None:
        for t in msg.transforms:
            if str(t.header.frame_id) == self.args.world_frame:
                self._record('tf', str(t.child_frame_id), _ns(t.header.stamp))

    def _on_diagnostics(self, msg) -> None:
        if any(s.name.startswith(self.args.diagnostics_name) for s in msg.status):
            with self.lock:
                self.diagnostics.append(_ns(msg.header.stamp))

    def stamps(self, output: str, frame_id: str) -> Set[int]:
        with self.lock:
            return set(self.received.get(output, {}).get(frame_id, set()))

    # -- camera (main thread) ----------------------------------------------------------------
    def subscribed(self) -> bool:
        """The node subscribes to both topics with a QoS that matches ours (and to /clock)."""
        node = self.node
        for topic, pub in ((self.image_topic, self.image_pub),
                           (self.args.info_topic, self.info_pub)):
            infos = node.get_subscriptions_info_by_topic(topic)
            if pub.get_subscription_count() == 0 or not infos or any(
                    i.qos_profile.reliability != self.reliability for i in infos):
                return False
        return self.clock_pub is None or self.clock_pub.get_subscription_count() > 0

    def publish(self, index: int, frame_id: str) -> None:
        args, stamp = self.args, stamp_ns(index, self.args.rate)
        sec, nanosec = divmod(stamp, 10**9)
        self.publish_clock(stamp)
        data = self.images[index % len(self.images)]
        if args.compressed:
            image = CompressedImage(format='jpeg', data=data)
        else:
            image = Image(width=640, height=480, encoding='bgr8', step=640 * 3, data=data)
        info = CameraInfo(width=640, height=480, distortion_model='plumb_bob', d=[0.0] * 5,
                          k=list(K), r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                          p=[585.0, 0.0, 320.0, 0.0, 0.0, 585.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0])
        for msg in (info, image):
            msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
            msg.header.frame_id = frame_id
        self.info_pub.publish(info)
        self.image_pub.publish(image)

    def publish_clock(self, stamp: int) -> None:
        """/clock at ``stamp`` (with ``--clock`` only)."""
        if self.clock_pub is not None:
            clock = Clock()
            clock.clock.sec, clock.clock.nanosec = divmod(stamp, 10**9)
            self.clock_pub.publish(clock)

    def warmed_up(self) -> bool:
        names = OUTPUTS + ('tf',)
        return all(self.stamps(name, self.warmup_frame) for name in names)

    def complete(self, measured: List[int]) -> bool:
        wanted = set(measured)
        return all(wanted <= self.stamps(name, self.frame_id) for name in OUTPUTS + ('tf',))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--frames', required=True, help='folder of 640x480 *.color.jpg')
    parser.add_argument('--image-topic', required=True)
    parser.add_argument('--info-topic', required=True)
    parser.add_argument('--results', required=True, help="the node's namespace + name")
    parser.add_argument('--count', type=int, default=10)
    parser.add_argument('--rate', type=float, default=10.0)
    parser.add_argument('--compressed', action='store_true')
    parser.add_argument('--clock', action='store_true')
    parser.add_argument('--frame-id', default='camera_color_optical_frame')
    parser.add_argument('--world-frame', default='align3r_world')
    parser.add_argument('--diagnostics-name', default='align3r')
    parser.add_argument('--reliability', choices=('reliable', 'best_effort'),
                        default='reliable')
    parser.add_argument('--timeout', type=float, default=120.0,
                        help='guard only: give up this long after the last frame')
    args = parser.parse_args()
    rclpy.init()
    node = rclpy.create_node('robot_camera')
    robot = Robot(node, args)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    period = 1.0 / args.rate
    try:
        deadline = time.monotonic() + args.timeout
        while not robot.subscribed():
            if time.monotonic() > deadline:
                print('no matching subscriber', flush=True)
                return 2
            # /clock runs from the start, as `ros2 bag play --clock` has it: a node on sim
            # time has no timers (its input QoS refresh included) before the first one
            robot.publish_clock(stamp_ns(0, args.rate))
            time.sleep(0.05)
        index = 0
        while not robot.warmed_up():
            if time.monotonic() > deadline:
                print('no results of the warm-up frames', flush=True)
                return 2
            robot.publish(index, robot.warmup_frame)
            index += 1
            time.sleep(period)
        print(f'warm after {index} frames', flush=True)
        measured = []
        start = time.monotonic()
        for k in range(args.count):
            robot.publish(index, args.frame_id)
            measured.append(stamp_ns(index, args.rate))
            index += 1
            time.sleep(max(0.0, start + (k + 1) * period - time.monotonic()))  # the rate
        with robot.changed:  # woken by each recorded result; the timeout only ends a hang
            robot.changed.wait_for(lambda: robot.complete(measured), timeout=args.timeout)
        with robot.lock:
            received = {name: sorted(s for f, stamps in by_frame.items() if f == args.frame_id
                                     for s in stamps)
                        for name, by_frame in robot.received.items()}
            report = Report(first=stamp_ns(0, args.rate), measured=measured, received=received,
                            foreign=sorted(set(robot.foreign)),
                            diagnostics=list(robot.diagnostics))
        print(json.dumps(dataclasses.asdict(report)), flush=True)
        return 0
    finally:
        executor.shutdown()
        spinner.join(timeout=10.0)  # a spinning thread left at exit aborts the interpreter
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
