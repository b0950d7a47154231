"""The lifecycle node with the REAL engine (tiny torch weights) on real rclpy.

Skipped where rclpy is not importable (``source .ci/ros2_env.sh`` provides it). A camera node
publishes 7-Scenes frames as bgr8 ``image`` + ``camera_info`` and the sensor's
16UC1 depth (millimetres, 0 = no return, as a Kinect driver publishes it) on ``prior/depth``;
the node runs the default engine builder (torch Align3R backend, external prior from the topic)
and its outputs are checked message by message. Messages are built here from raw bytes, not with
the package's converters, so a converter bug cannot cancel itself out. Deterministic: the test
waits until the node has queued every frame, then deactivates (which processes the queue and
flushes the engine) and waits for every output; nothing depends on clip or timer timing.

Both stream modes run: live (the default: each frame's result from its own push) and clip.
Random weights may legitimately fail to align a frame; such a frame is still published with its
stamp, with NaN depth and a status saying why (the test reads each result's status where the
node publishes it). With these tiny random weights, live mode's bootstrap self-pair (f, f) has
two heads that disagree by far more than ``dynamic.threshold`` on ~every pixel, so with the
dynamic mask on every pixel is "dynamic" and no frame initialises ('not initialised: too few
confident static pixels (4 < 200; 963 confident, 1532 dynamic)' on the first frame): a property
of the weights, not of live mode (a trained network maps one image twice to the same points).
The live variant therefore turns the dynamic mask off, so frames do align.
"""

from __future__ import annotations

import gc
import time
import weakref

import cv2
import numpy as np
import pytest

from .conftest import SEVEN_SCENES_K, STEP_NS, T0_NS

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')

FRAMES = 6
CLIP = 4
FRAME_ID = 'kinect_rgb_optical_frame'
POINT_STRIDE = 2
NETWORK_HW = (32, 48)  # 640x480 at preprocess.long_side 48, centre-cropped to multiples of 16


def _overrides(weights, mode: str = 'clip') -> list:
    """The node's parameters; ``mode``: 'live' (default mode, dynamic mask off, see the module
    docstring) or 'clip'."""
    stream = [('stream.mode', 'clip')] if mode == 'clip' else [('dynamic.enabled', False)]
    return stream + [('pairwise.backend', 'torch'), ('pairwise.weights', str(weights)),
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


def _spin_until(executor, predicate, what: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s  # only guards against hanging
    while not predicate():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        executor.spin_once(timeout_sec=0.02)


@pytest.mark.parametrize('mode', ['live', 'clip'])
def test_node_real_engine_publishes_consistent_outputs(tiny_forward_weights, seven_scenes_dir,
                                                       mode):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.lifecycle import TransitionCallbackReturn as Ret
    from rclpy.parameter import Parameter
    from rclpy.qos import QoSProfile

    from align3r_ros.backends.torch_pairwise import TorchPairwiseBackend
    from align3r_ros.ros.message_types import rclpy_message_types
    from align3r_ros.ros.node import Align3rNode

    types = rclpy_message_types()
    context = rclpy.Context()
    rclpy.init(context=context)
    before = [weakref.ref(o) for o in gc.get_objects() if type(o) is TorchPairwiseBackend]
    node = Align3rNode(context=context, parameter_overrides=[
        Parameter(name, value=value) for name, value in _overrides(tiny_forward_weights, mode)])
    assert node.parameters.read_config().stream.mode.value == mode
    statuses = {}  # each result's status, where the node publishes it
    publish_result = node._publish_result
    node._publish_result = lambda result: (statuses.__setitem__(result.stamp_ns, result.status),
                                           publish_result(result))
    camera = rclpy.create_node('kinect', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(camera)
    outputs = {topic: [] for topic in ('/align3r/depth/image', '/align3r/depth/camera_info',
                                       '/align3r/points', '/tf', '/align3r/odometry',
                                       '/diagnostics')}
    msg_types = [types.Image, types.CameraInfo, types.PointCloud2, types.TFMessage,
                 types.Odometry, types.DiagnosticArray]
    for (topic, received), msg_type in zip(outputs.items(), msg_types):
        camera.create_subscription(msg_type, topic, received.append, 100)
    qos = QoSProfile(depth=10)  # reliable, like a camera driver
    image_pub = camera.create_publisher(types.Image, '/image', qos)
    info_pub = camera.create_publisher(types.CameraInfo, '/camera_info', qos)
    prior_pub = camera.create_publisher(types.Image, '/prior/depth', qos)
    try:
        assert node.trigger_configure() == Ret.SUCCESS
        queued = []
        submit = node._submit
        node._submit = lambda frame: (queued.append(frame.stamp_ns), submit(frame))
        assert node.trigger_activate() == Ret.SUCCESS
        inputs = node._inputs
        _spin_until(executor, lambda: all(
            inputs.reliability(t) == qos.reliability and p.get_subscription_count()
            for t, p in (('image', image_pub), ('camera_info', info_pub),
                         ('prior/depth', prior_pub))), 'inputs matched')
        _spin_until(executor, lambda: all(
            p.get_subscription_count() for p in node._outputs._publishers()
            if p.topic_name in outputs), 'outputs matched')

        stamps = [T0_NS + i * STEP_NS for i in range(FRAMES)]
        images = {}
        for i, stamp in enumerate(stamps):
            image, info, depth = _camera_messages(types, seven_scenes_dir, i, stamp)
            images[stamp] = image
            info_pub.publish(info)
            _spin_until(executor, lambda: inputs._latest_camera is not None and
                        inputs._latest_camera.K is not None and
                        len(queued) == i, f'camera_info {i}')
            prior_pub.publish(depth)
            image_pub.publish(image)
            _spin_until(executor, lambda: len(queued) == i + 1, f'frame {i} queued')
        # deactivate processes every queued frame and flushes what the engine holds
        assert node.trigger_deactivate() == Ret.SUCCESS
        _spin_until(executor, lambda: all(len(outputs[t]) >= FRAMES for t in (
            '/align3r/depth/image', '/align3r/depth/camera_info', '/align3r/points', '/tf',
            '/align3r/odometry')) and outputs['/diagnostics'], 'every output of every frame')
        assert sorted(statuses) == stamps
        _check_outputs(types, outputs, stamps, images, statuses, mode)
        # cleanup frees the engine and with it the loaded network
        assert node.trigger_cleanup() == Ret.SUCCESS
        assert node._worker is None
    finally:
        executor.shutdown()
        node.destroy_node()
        camera.destroy_node()
        rclpy.try_shutdown(context=context)
    gc.collect()
    alive = {id(r()) for r in before if r() is not None}
    leaked = [o for o in gc.get_objects()
              if type(o) is TorchPairwiseBackend and id(o) not in alive]
    assert leaked == []


def _check_outputs(types, outputs, stamps, images, statuses, mode) -> None:
    depth_msgs = outputs['/align3r/depth/image']
    info_msgs = outputs['/align3r/depth/camera_info']
    clouds = outputs['/align3r/points']
    odometry = outputs['/align3r/odometry']
    assert len(depth_msgs) == len(info_msgs) == len(clouds) == len(odometry) == FRAMES
    assert [_stamp(m.header) for m in depth_msgs] == stamps
    assert any(not statuses[s] for s in stamps), statuses  # the finite-depth check has teeth
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
        status = statuses[_stamp(depth.header)]
        if mode == 'clip' or not status:  # clip: every frame aligned with these weights
            assert np.isfinite(metres).any(), status
        else:  # live: a frame random weights cannot align says why
            assert np.isfinite(metres).any() or 'not initialised' in status or \
                'tracking failed' in status, status
        assert (metres[np.isfinite(metres)] > 0).all()
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

    transforms = [t for msg in outputs['/tf'] for t in msg.transforms]
    assert [(t.header.frame_id, t.child_frame_id) for t in transforms] == \
        [('align3r_world', FRAME_ID)] * FRAMES
    assert [_stamp(t.header) for t in transforms] == stamps
    for t in transforms:
        q = t.transform.rotation
        assert np.linalg.norm([q.x, q.y, q.z, q.w]) == pytest.approx(1.0, abs=1e-6)
    assert all(o.header.frame_id == 'align3r_world' and o.child_frame_id == FRAME_ID
               for o in odometry)

    status = outputs['/diagnostics'][-1].status[0]  # published at deactivate: final counts
    values = {kv.key: kv.value for kv in status.values}
    assert int(values['frames received']) == FRAMES
    assert int(values['frames published']) == FRAMES
    assert values['frames rejected'] == '0' and values['frames dropped'] == '0'


@pytest.mark.slow  # the 8000x6000 frame through the real engine: ~30-90 s on 2 cores
def test_node_real_engine_survives_bad_input(tiny_forward_weights, seven_scenes_dir):
    """On the real runtime with the real engine: a 1x1 image, an 8000x6000 image and stamps
    going backwards (a bag loop) are each a counted drop or reset with a throttled warning;
    the node keeps publishing afterwards."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.lifecycle import TransitionCallbackReturn as Ret
    from rclpy.parameter import Parameter
    from rclpy.qos import QoSProfile

    from align3r_ros.ros.message_types import rclpy_message_types
    from align3r_ros.ros.node import Align3rNode

    types = rclpy_message_types()
    context = rclpy.Context()
    rclpy.init(context=context)
    # no CameraInfo (static K): a 1x1 image must reach the engine, not fail the size check
    overrides = _overrides(tiny_forward_weights, 'clip') + [
        ('input.camera_info', 'none'), ('camera.fx', 585.0), ('camera.fy', 585.0)]
    node = Align3rNode(context=context,
                       parameter_overrides=[Parameter(n, value=v) for n, v in overrides])
    camera = rclpy.create_node('kinect', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(camera)
    depth, diagnostics = [], []
    camera.create_subscription(types.Image, '/align3r/depth/image', depth.append, 100)
    camera.create_subscription(types.DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    image_pub = camera.create_publisher(types.Image, '/image', QoSProfile(depth=10))
    prior_pub = camera.create_publisher(types.Image, '/prior/depth', QoSProfile(depth=10))
    warnings = []
    try:
        assert node.trigger_configure() == Ret.SUCCESS
        logger = node.get_logger()
        original_warning = logger.warning
        logger.warning = lambda msg, **kw: (warnings.append(msg), original_warning(msg, **kw))
        assert node.trigger_activate() == Ret.SUCCESS
        reliable = QoSProfile(depth=1).reliability
        _spin_until(executor, lambda: node._inputs.reliability('image') == reliable and
                    node._inputs.reliability('prior/depth') == reliable and
                    image_pub.get_subscription_count() and prior_pub.get_subscription_count(),
                    'inputs matched')

        def send(stamp: int, hw=(480, 640), index: int = 0) -> None:
            if hw == (480, 640):
                image, _, prior = _camera_messages(types, seven_scenes_dir, index, stamp)
            else:
                image = types.Image(header=_header(types, stamp), height=hw[0], width=hw[1],
                                    encoding='bgr8', is_bigendian=0, step=hw[1] * 3,
                                    data=np.full(hw[0] * hw[1] * 3, 128, np.uint8))
                prior = types.Image(header=_header(types, stamp), height=hw[0], width=hw[1],
                                    encoding='16UC1', is_bigendian=0, step=hw[1] * 2,
                                    data=(np.arange(hw[0] * hw[1] * 2) % 7 + 3).astype(
                                        np.uint8))  # 0.77-2.3 m, not constant
            sent.append(stamp)
            prior_pub.publish(prior)
            image_pub.publish(image)
            _spin_until(executor, lambda: node._worker.processed == len(sent),
                        f'frame {stamp} through the engine')

        sent = []
        stamps = [T0_NS + i * STEP_NS for i in range(8)]
        for i in range(3):
            send(stamps[i], index=i)
        send(stamps[3], hw=(1, 1))            # too small: dropped by the engine
        send(stamps[4], hw=(6000, 8000))      # a size change: held frames out, new world
        send(stamps[1], index=4)              # stamp going backwards: new world
        send(stamps[5], index=5)
        seen = len(diagnostics)
        assert node.trigger_deactivate() == Ret.SUCCESS  # publishes the final counts
        _spin_until(executor, lambda: len(diagnostics) > seen, 'final diagnostics')
        values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values}
        assert int(values['frames received']) == 7
        assert int(values['frames dropped']) >= 1 and int(values['engine resets']) >= 2
        assert values['engine errors'] == '0'
        assert any('too small' in w for w in warnings)
        # outputs from before and after the bad input (the last one flushed by deactivate)
        _spin_until(executor, lambda: {stamps[0], stamps[5]} <= {_stamp(m.header)
                                                                  for m in depth},
                    'depth before and after the bad input', timeout_s=60.0)
        assert node.trigger_cleanup() == Ret.SUCCESS
    finally:
        executor.shutdown()
        node.destroy_node()
        camera.destroy_node()
        rclpy.try_shutdown(context=context)
