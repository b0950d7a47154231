"""A camera driver as a separate process: bgr8 Image + CameraInfo at a fixed rate.

    python camera_process.py --topic /image --count 150 --width 640 --height 480 \
        --rate 30 --reliability reliable|best_effort

It waits until the node subscribes to both topics with a QoS that matches its own. With
``--handshake`` it then publishes warm-up frames until a line arrives on stdin (best-effort
frames sent before the node's reader matched this writer are lost, and that start-up edge is
not what is measured), prints ``warm-up stopped``, waits for a second line, and only then
publishes the ``count`` measured frames. Stamps are ``T0 + i / rate`` over all frames. It
waits until reliable subscribers acknowledged them, prints ``published N`` and exits 0.
"""

import argparse
import sys
import threading
import time

import numpy as np
import rclpy
from rclpy.duration import Duration
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

T0_S = 1_700_000_000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--topic', default='/image')
    parser.add_argument('--info-topic', default='/camera_info')
    parser.add_argument('--count', type=int, default=150)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--reliability', choices=('reliable', 'best_effort'), default='reliable')
    parser.add_argument('--handshake', action='store_true')
    args = parser.parse_args()
    reliability = (ReliabilityPolicy.RELIABLE if args.reliability == 'reliable'
                   else ReliabilityPolicy.BEST_EFFORT)
    rclpy.init()
    node = rclpy.create_node('camera_driver')
    qos = QoSProfile(depth=5, reliability=reliability)
    image_pub = node.create_publisher(Image, args.topic, qos)
    info_pub = node.create_publisher(CameraInfo, args.info_topic, qos)

    def matched(topic: str, publisher) -> bool:
        infos = node.get_subscriptions_info_by_topic(topic)
        return publisher.get_subscription_count() > 0 and bool(infos) and all(
            i.qos_profile.reliability == reliability for i in infos)
    deadline = time.monotonic() + 60.0
    while not (matched(args.topic, image_pub) and matched(args.info_topic, info_pub)):
        if time.monotonic() > deadline:
            print('no matching subscriber', flush=True)
            return 2
        rclpy.spin_once(node, timeout_sec=0.05)
    w, h = args.width, args.height
    data = np.random.default_rng(0).integers(0, 256, h * w * 3, dtype=np.uint8).tobytes()
    f = float(w)
    period = 1.0 / args.rate
    start = time.monotonic()
    index = 0

    def publish(frame_id: str) -> None:
        nonlocal index
        stamp_ns = T0_S * 10**9 + int(round(index * period * 1e9))
        info = CameraInfo(width=w, height=h, distortion_model='plumb_bob', d=[0.0] * 5,
                          k=[f, 0.0, w / 2, 0.0, f, h / 2, 0.0, 0.0, 1.0],
                          r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                          p=[f, 0.0, w / 2, 0.0, 0.0, f, h / 2, 0.0, 0.0, 0.0, 1.0, 0.0])
        image = Image(width=w, height=h, encoding='bgr8', step=w * 3, data=data)
        for msg in (info, image):
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 10**9)
            msg.header.frame_id = frame_id
        info_pub.publish(info)
        image_pub.publish(image)
        index += 1
        time.sleep(max(0.0, start + index * period - time.monotonic()))  # the camera's rate

    if args.handshake:
        go = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.readline(), go.set()), daemon=True).start()
        while not go.is_set():
            publish('warmup')
        print('warm-up stopped', flush=True)
        sys.stdin.readline()
        start, index = time.monotonic() - index * period, index
    for _ in range(args.count):
        publish('camera_color_optical_frame')
    if reliability == ReliabilityPolicy.RELIABLE:
        image_pub.wait_for_all_acked(Duration(seconds=30))
    print(f'published {args.count}', flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
