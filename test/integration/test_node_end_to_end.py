"""The lifecycle node with the REAL engine (tiny torch weights) through the rclpy stand-in.

A camera node publishes 7-Scenes frames as bgr8 ``image`` + ``camera_info`` and the sensor's
16UC1 depth (millimetres, 0 = no return, as a Kinect driver publishes it) on ``prior/depth``;
the node runs the default engine builder (torch Align3R backend, external prior from the topic)
and its outputs are checked message by message. Messages are built here from raw bytes, not with
the package's converters, so a converter bug cannot cancel itself out.
"""

from __future__ import annotations

import gc
import time
import weakref

import cv2
import numpy as np
import pytest

from align3r_ros.messages import MessageTypes

from .conftest import SEVEN_SCENES_K, STEP_NS, T0_NS

FRAMES = 6
CLIP = 4
FRAME_ID = 'kinect_rgb_optical_frame'
POINT_STRIDE = 2
NETWORK_HW = (32, 48)  # 640x480 at preprocess.long_side 48, centre-cropped to multiples of 16


def _overrides(weights) -> list:
    return [('pairwise.backend', 'torch'), ('pairwise.weights', str(weights)),
            ('pairwise.checkpoint_prior', 'depth_pro'), ('prior.backend', 'external'),
            ('prior.kind', 'metric_depth'), ('input.use_prior_topic', True),
            ('input.queue_size', FRAMES), ('preprocess.long_side', 48),
            ('clip.length', CLIP), ('align.temporal_weight', 0.0),
            ('align.min_conf_thr', 1.5), ('output.conf_threshold', 1.5),
            ('output.point_stride', POINT_STRIDE), ('runtime.device', 'cpu')]


def _header(types, stamp_ns: int):
    return types.Header(stamp=types.Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9),
                        frame_id=FRAME_ID)


def _camera_messages(types, folder, index: int, stamp_ns: int):
    """(Image bgr8, CameraInfo, Image 16UC1) of 7-Scenes frame ``3 * index``."""
    name = f'frame-{3 * index:06d}'
    bgr = cv2.imread(str(folder / 'color' / f'{name}.color.jpg'), cv2.IMREAD_COLOR)
    depth_mm = cv2.imread(str(folder / 'depth' / f'{name}.depth.png'), cv2.IMREAD_UNCHANGED)
    assert bgr.shape == (480, 640, 3) and depth_mm.dtype == np.uint16
    depth_mm = np.where(depth_mm == 65535, 0, depth_mm).astype('<u2')  # 7-Scenes' "no data"
    image = types.Image(header=_header(types, stamp_ns), height=480, width=640, encoding='bgr8',
                        is_bigendian=0, step=640 * 3,
                        data=np.frombuffer(bgr.tobytes(), np.uint8))
    depth = types.Image(header=_header(types, stamp_ns), height=480, width=640,
                        encoding='16UC1', is_bigendian=0, step=640 * 2,
                        data=np.frombuffer(depth_mm.tobytes(), np.uint8))
    K = SEVEN_SCENES_K
    info = types.CameraInfo(
        header=_header(types, stamp_ns), height=480, width=640, distortion_model='plumb_bob',
        d=np.zeros(5), k=K.reshape(-1).copy(), r=np.eye(3).reshape(-1),
        p=np.hstack([K, np.zeros((3, 1))]).reshape(-1), binning_x=0, binning_y=0,
        roi=types.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0,
                                   do_rectify=False))
    return image, info, depth


def _stamp(header) -> int:
    return int(header.stamp.sec) * 10**9 + int(header.stamp.nanosec)


def _spin_until(ros, node, publisher, count, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ros.spin_once(node, timeout_sec=0.0)
        if len(publisher.published) >= count:
            return publisher.published
        time.sleep(0.002)
    raise AssertionError(f'{publisher.topic}: {len(publisher.published)} < {count} messages '
                         f'after {timeout_s} s; log: {node.get_logger().records[-5:]}')


def test_node_real_engine_publishes_consistent_outputs(ros, tiny_forward_weights,
                                                       seven_scenes_dir):
    from align3r_ros.backends.torch_pairwise import TorchPairwiseBackend
    from align3r_ros.ros.node import Align3rNode

    types = MessageTypes.from_rosbags()
    ret = ros.TransitionCallbackReturn
    before = [weakref.ref(o) for o in gc.get_objects() if type(o) is TorchPairwiseBackend]
    node = Align3rNode(parameter_overrides=[ros.Parameter(name, value=value)
                                            for name, value in _overrides(tiny_forward_weights)])
    assert node.trigger_configure() == ret.SUCCESS, node.get_logger().records
    assert node.trigger_activate() == ret.SUCCESS
    outputs = {p.topic: p for p in node.publishers}  # deactivate destroys them
    camera = ros.Node('kinect')
    qos = ros.qos_profile_sensor_data
    image_pub = camera.create_publisher(types.Image, '/image', qos)
    info_pub = camera.create_publisher(types.CameraInfo, '/camera_info', qos)
    prior_pub = camera.create_publisher(types.Image, '/prior/depth', qos)

    stamps = [T0_NS + i * STEP_NS for i in range(FRAMES)]
    images = {}
    for i, stamp in enumerate(stamps):
        image, info, depth = _camera_messages(types, seven_scenes_dir, i, stamp)
        images[stamp] = image
        for publisher, msg in ((info_pub, info), (prior_pub, depth), (image_pub, image)):
            publisher.publish(msg)
            for _ in range(3):
                ros.spin_once(node, timeout_sec=0.0)  # sensor QoS keeps 5: drain as we go

    _spin_until(ros, node, outputs['/align3r/depth/image'], CLIP)  # one clip late
    diagnostics = _spin_until(ros, node, outputs['/diagnostics'], 1, timeout_s=5.0)  # 1 s timer
    # deactivate flushes the partial clip (frames 5 and 6) with the real engine
    assert node.trigger_deactivate() == ret.SUCCESS
    depth_msgs = outputs['/align3r/depth/image'].published
    info_msgs = outputs['/align3r/depth/camera_info'].published
    clouds = outputs['/align3r/points'].published
    tf_msgs = outputs['/tf'].published
    odometry = outputs['/align3r/odometry'].published
    assert len(depth_msgs) == len(info_msgs) == len(clouds) == len(odometry) == FRAMES
    assert [_stamp(m.header) for m in depth_msgs] == stamps

    for depth, info, cloud in zip(depth_msgs, info_msgs, clouds):
        image = images[_stamp(depth.header)]
        # headers identical to the input image's, field by field
        for header in (depth.header, info.header, cloud.header):
            assert (header.stamp.sec, header.stamp.nanosec, header.frame_id) == (
                image.header.stamp.sec, image.header.stamp.nanosec, image.header.frame_id)
        assert depth.encoding == '32FC1' and (depth.height, depth.width) == NETWORK_HW
        assert depth.step == depth.width * 4 and len(depth.data) == depth.step * depth.height
        assert depth.is_bigendian == 0
        metres = np.frombuffer(bytes(depth.data), '<f4').reshape(NETWORK_HW)
        assert np.isfinite(metres).any() and (metres[np.isfinite(metres)] > 0).all()
        assert (info.height, info.width) == NETWORK_HW
        K = np.asarray(info.k).reshape(3, 3)
        assert np.isfinite(K).all() and K[0, 0] > 0 and K[1, 1] > 0 and K[2, 2] == 1
        # PointCloud2 layout: x, y, z float32 first, little endian, rows of point_step
        fields = {f.name: (f.offset, f.datatype, f.count) for f in cloud.fields}
        for offset, name in enumerate('xyz'):
            assert fields[name] == (4 * offset, types.PointField.FLOAT32, 1)
        assert cloud.is_bigendian is False or cloud.is_bigendian == 0
        assert cloud.point_step >= 12 and cloud.row_step == cloud.point_step * cloud.width
        assert len(cloud.data) == cloud.row_step * cloud.height
        stride_hw = tuple(-(-n // POINT_STRIDE) for n in NETWORK_HW)
        assert (cloud.height, cloud.width) == stride_hw  # organized, every 2nd pixel
        assert cloud.is_dense is False

    transforms = [t for msg in tf_msgs for t in msg.transforms]
    assert [(t.header.frame_id, t.child_frame_id) for t in transforms] == \
        [('align3r_world', FRAME_ID)] * FRAMES
    assert [_stamp(t.header) for t in transforms] == stamps
    for t in transforms:
        q = t.transform.rotation
        assert np.linalg.norm([q.x, q.y, q.z, q.w]) == pytest.approx(1.0, abs=1e-6)
    assert all(o.header.frame_id == 'align3r_world' and o.child_frame_id == FRAME_ID
               for o in odometry)

    status = diagnostics[-1].status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert int(values['frames received']) == FRAMES
    assert int(values['frames published']) >= CLIP
    assert values['frames rejected'] == '0'

    # cleanup frees the engine and with it the loaded network
    assert node.trigger_cleanup() == ret.SUCCESS
    assert node._worker is None and node.publishers == [] and node.subscriptions == []
    gc.collect()
    alive = {id(r()) for r in before if r() is not None}
    leaked = [o for o in gc.get_objects()
              if type(o) is TorchPairwiseBackend and id(o) not in alive]
    assert leaked == []
