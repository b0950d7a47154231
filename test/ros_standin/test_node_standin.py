"""The align3r lifecycle node driven through the rclpy stand-in with real message classes."""

from __future__ import annotations

import time

import numpy as np
import pytest

from align3r_ros.messages import MessageTypes
from align3r_ros.messages.camera_info import intrinsics_to_camera_info
from align3r_ros.messages.header import header_stamp_ns, make_header
from align3r_ros.messages.image import depth_msg_to_metres, rgb_to_image_msg
from align3r_ros.messages.point_cloud import cloud_msg_to_arrays
from align3r_ros.messages.transforms import (
    matrix_to_transform_stamped,
    transform_to_matrix,
)

from .conftest import EngineFactory, FakeEngine

H, W = 12, 16
K = np.array([[20.0, 0, 7.5], [0, 20.0, 5.5], [0, 0, 1]])
T0 = 1_700_000_000_000_000_000
STEP = 33_000_000


@pytest.fixture
def types():
    return MessageTypes.from_rosbags()


def _rgb(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


class Rig:
    """The node under test plus a camera node publishing into it."""

    def __init__(self, ros, types, overrides=(), factory=None, camera_reliable=False):
        from align3r_ros.ros.node import Align3rNode
        self.ros, self.types = ros, types
        self.factory = factory or EngineFactory()
        params = [ros.Parameter(name, value=value) for name, value in overrides]
        self.node = Align3rNode(engine_builder=lambda config: lambda: self.factory(config),
                                parameter_overrides=params)
        self.camera = ros.Node('camera')
        qos = ros.QoSProfile(depth=5) if camera_reliable else ros.qos_profile_sensor_data
        self.image_pub = self.camera.create_publisher(types.Image, '/image', qos)
        self.info_pub = self.camera.create_publisher(types.CameraInfo, '/camera_info', qos)

    def pub(self, topic):
        return next(p for p in self.node.publishers if p.topic == topic)

    def start(self):
        ret = self.ros.TransitionCallbackReturn
        assert self.node.trigger_configure() == ret.SUCCESS
        assert self.node.trigger_activate() == ret.SUCCESS

    def send(self, stamp_ns, frame_id='cam_optical', info=True, size=(H, W), encoding='rgb8',
             seed=0):
        header = make_header(stamp_ns, frame_id, self.types)
        if info:
            self.info_pub.publish(intrinsics_to_camera_info(K, size[1], size[0], header,
                                                            self.types))
            self.spin()  # the executor takes camera_info first (any order is legal)
        rgb = np.random.default_rng(seed).integers(0, 256, size + (3,), dtype=np.uint8)
        self.image_pub.publish(rgb_to_image_msg(rgb, header, self.types, encoding))

    def spin(self, count=20):
        for _ in range(count):
            self.ros.spin_once(self.node, timeout_sec=0.0)

    def wait_published(self, topic, count, timeout_s=5.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.spin()
            if len(self.pub(topic).published) >= count:
                return self.pub(topic).published
            time.sleep(0.005)
        raise AssertionError(f'{topic}: {len(self.pub(topic).published)} < {count} messages')

    def stop(self):
        ret = self.ros.TransitionCallbackReturn
        assert self.node.trigger_deactivate() == ret.SUCCESS
        assert self.node.trigger_cleanup() == ret.SUCCESS


def test_full_lifecycle_publishes_every_output(ros, types):
    rig = Rig(ros, types, overrides=[('output.point_stride', 1)])
    assert rig.node._state_machine.current_state == (1, 'unconfigured')
    rig.start()
    assert rig.node._state_machine.current_state == (3, 'active')
    for i in range(3):
        rig.send(T0 + i * STEP, seed=i)
        rig.spin()
    depth_msgs = rig.wait_published('/align3r/depth/image', 3)
    info_msgs = rig.wait_published('/align3r/depth/camera_info', 3)
    clouds = rig.wait_published('/align3r/points', 3)
    tf_msgs = rig.wait_published('/tf', 3)
    odometry = rig.wait_published('/align3r/odometry', 3)
    paths = rig.wait_published('/align3r/path', 3)
    for i in range(3):
        stamp = T0 + i * STEP
        depth, info = depth_msgs[i], info_msgs[i]
        # identical headers: the input image's stamp and optical frame
        assert (header_stamp_ns(depth.header), depth.header.frame_id) == (stamp, 'cam_optical')
        assert (header_stamp_ns(info.header), info.header.frame_id) == (stamp, 'cam_optical')
        assert depth.encoding == '32FC1' and (depth.height, depth.width) == (H, W)
        metres = depth_msg_to_metres(depth)
        assert np.isnan(metres[0]).all() and np.allclose(metres[1:], 2.0)  # conf threshold
        np.testing.assert_allclose(np.asarray(info.k).reshape(3, 3), K)
        cloud = cloud_msg_to_arrays(clouds[i])
        assert cloud.xyz.shape == (H, W, 3) and clouds[i].is_dense is False
        assert clouds[i].header.frame_id == 'cam_optical'
        np.testing.assert_allclose(cloud.xyz[1:, :, 2], 2.0)
        transform = tf_msgs[i].transforms[0]
        assert (transform.header.frame_id, transform.child_frame_id) == ('align3r_world',
                                                                          'cam_optical')
        assert header_stamp_ns(transform.header) == stamp
        assert transform_to_matrix(transform.transform)[0, 3] == pytest.approx(0.1 * (i + 1))
        assert odometry[i].header.frame_id == 'align3r_world'
        assert odometry[i].child_frame_id == 'cam_optical'
    assert [header_stamp_ns(p.header) for p in paths[-1].poses] == [T0, T0 + STEP, T0 + 2 * STEP]
    rig.stop()
    assert rig.node._state_machine.current_state == (1, 'unconfigured')
    assert rig.node.publishers == [] and rig.node.subscriptions == []


def test_qos_inputs_sensor_data_outputs_reliable(ros, types):
    rig = Rig(ros, types, camera_reliable=True)  # a reliable camera still reaches best effort
    rig.start()
    image_sub = next(s for s in rig.node.subscriptions if s.topic == '/image')
    assert image_sub.qos.reliability == ros.ReliabilityPolicy.BEST_EFFORT
    assert image_sub.qos.depth == 5
    depth_pub = rig.pub('/align3r/depth/image')
    assert depth_pub.qos.reliability == ros.ReliabilityPolicy.RELIABLE
    assert depth_pub.qos.durability == ros.DurabilityPolicy.VOLATILE
    viewer = ros.Node('rviz')
    received = []
    viewer.create_subscription(types.Image, '/align3r/depth/image', received.append,
                               ros.qos_profile_sensor_data)
    rig.send(T0)
    rig.wait_published('/align3r/depth/image', 1)
    ros.spin_once(viewer)
    assert len(received) == 1  # best-effort readers get reliable outputs
    rig.stop()


def test_reliable_input_misses_best_effort_camera(ros, types):
    rig = Rig(ros, types, overrides=[('input.reliability', 'reliable')])
    rig.start()
    rig.send(T0)
    rig.spin()
    time.sleep(0.05)
    assert rig.factory.built[0].pushed == []  # the classic QoS mismatch: nothing arrives
    rig.stop()


def test_parameters_have_descriptors_and_only_runtime_keys_change(ros, types):
    rig = Rig(ros, types)
    node = rig.node
    length = node.describe_parameter('clip.length')
    assert length.read_only and length.integer_range[0].from_value == 2
    assert length.integer_range[0].to_value == 200
    stride = node.describe_parameter('output.point_stride')
    assert not stride.read_only
    mode = node.describe_parameter('frames.tf_mode')
    assert mode.additional_constraints == 'one of: direct, rep105, none'
    rig.start()
    ok, = node.set_parameters([ros.Parameter('output.point_stride', value=4)])
    assert ok.successful and node.config.output.point_stride == 4
    refused, = node.set_parameters([ros.Parameter('clip.length', value=4)])
    assert not refused.successful and 'read-only' in refused.reason
    out_of_range, = node.set_parameters([ros.Parameter('output.point_stride', value=0)])
    assert not out_of_range.successful and node.config.output.point_stride == 4
    # the callback itself refuses non-runtime keys even if a descriptor were writable
    from align3r_ros.ros.params import make_set_parameters_callback
    callback = make_set_parameters_callback(lambda: node.config, lambda c: None)
    result = callback([ros.Parameter('clip.length', value=4)])
    assert not result.successful and 'clip.length cannot change at run time' in result.reason
    rig.send(T0)
    cloud = cloud_msg_to_arrays(rig.wait_published('/align3r/points', 1)[0])
    assert cloud.xyz.shape == (H // 4, W // 4, 3)
    rig.stop()


def test_bad_weights_fail_configure_with_one_line(ros, types):
    from align3r_ros.errors import WeightsError

    def broken(config):
        raise WeightsError(f'weights file not found: {config.pairwise.weights}')
    rig = Rig(ros, types, overrides=[('pairwise.weights', '/nope.pth')])
    rig.node._engine_builder = broken
    ret = rig.node.trigger_configure()
    assert ret == ros.TransitionCallbackReturn.FAILURE
    assert rig.node._state_machine.current_state == (1, 'unconfigured')
    errors = [m for s, m in rig.node.get_logger().records if s == 'ERROR']
    assert errors == ['configure failed: weights file not found: /nope.pth']


def test_bad_inputs_are_rejected_counted_and_reported(ros, types):
    rig = Rig(ros, types)
    rig.start()
    rig.send(T0, encoding='rgb8')
    rig.wait_published('/align3r/depth/image', 1)
    bad = types.Image(header=make_header(T0 + STEP, 'cam_optical', types), height=2, width=2,
                      encoding='yuv422', is_bigendian=0, step=4, data=np.zeros(8, np.uint8))
    rig.image_pub.publish(bad)
    rig.spin()
    rig.send(T0 + 2 * STEP, size=(H * 2, W * 2), info=False)  # CameraInfo size mismatch
    rig.spin()
    warnings = [m for s, m in rig.node.get_logger().records if s == 'WARN']
    assert any('yuv422' in m for m in warnings)
    rig.node.publish_diagnostics()
    status = rig.pub('/diagnostics').published[-1].status[0]
    values = {kv.key: kv.value for kv in status.values}
    # the second warning falls in the same call site's throttle window; diagnostics keep it
    assert f'CameraInfo is {W}x{H} but the image is {2 * W}x{2 * H}' in values['last error']
    assert values['frames rejected'] == '2' and values['frames published'] == '1'
    assert status.level == types.DiagnosticStatus.ERROR
    assert values['scale'] == 'metric'
    rig.send(T0 + 3 * STEP)  # still running
    rig.wait_published('/align3r/depth/image', 2)
    rig.stop()


def test_backend_exception_and_oom_reset_and_keep_running(ros, types):
    class OutOfMemoryError(RuntimeError):
        pass
    errors = iter([RuntimeError('backend exploded'), OutOfMemoryError('CUDA out of memory')])
    factory = EngineFactory(lambda: FakeEngine(fail_on={T0 + STEP}, error=next(errors, None)
                                               or RuntimeError('x')))
    rig = Rig(ros, types, factory=factory)
    rig.start()
    for i in range(4):
        rig.send(T0 + i * STEP)
        rig.spin()
        time.sleep(0.02)
    published = rig.wait_published('/align3r/depth/image', 3)
    assert [header_stamp_ns(m.header) for m in published] == [T0, T0 + 2 * STEP, T0 + 3 * STEP]
    assert len(factory.built) == 2  # one reset after the failure
    rig.node.publish_diagnostics()
    values = {kv.key: kv.value
              for kv in rig.pub('/diagnostics').published[-1].status[0].values}
    assert values['engine errors'] == '1' and values['engine resets'] == '1'
    assert 'backend exploded' in values['last error']
    rig.stop()


def test_time_jumping_backwards_resets_engine_and_path(ros, types):
    rig = Rig(ros, types)
    rig.start()
    for stamp in (T0, T0 + STEP, T0):  # a bag loop
        rig.send(stamp)
        rig.spin()
        time.sleep(0.02)
    paths = rig.wait_published('/align3r/path', 3)
    assert len(rig.factory.built) == 2
    assert [header_stamp_ns(p.header) for p in paths[-1].poses] == [T0]
    assert any('stamp went back' in m for s, m in rig.node.get_logger().records)
    rig.stop()


def test_burst_drops_oldest_and_memory_stays_bounded(ros, types):
    factory = EngineFactory(lambda: FakeEngine(delay_s=0.05))
    rig = Rig(ros, types, overrides=[('input.queue_size', 2)], factory=factory)
    rig.start()
    for i in range(12):  # a burst much faster than inference
        rig.send(T0 + i * STEP, seed=i)
        rig.spin()
    assert len(rig.node._queue) <= 2
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(rig.node._queue):
        time.sleep(0.01)
    time.sleep(0.1)
    engine = factory.built[0]
    assert engine.pushed[-1] == T0 + 11 * STEP  # the newest frame always survives
    assert len(engine.pushed) < 12
    rig.node.publish_diagnostics()
    status = rig.pub('/diagnostics').published[-1].status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert int(values['frames dropped']) == 12 - len(engine.pushed) > 0
    assert status.level == types.DiagnosticStatus.WARN
    rig.stop()


def test_direct_mode_never_gives_a_second_parent(ros, types):
    static = ros.Node('robot_state_publisher')
    tf_static = static.create_publisher(
        types.TFMessage, '/tf_static',
        ros.QoSProfile(depth=1, durability=ros.DurabilityPolicy.TRANSIENT_LOCAL))
    tf_static.publish(types.TFMessage(transforms=[matrix_to_transform_stamped(
        np.eye(4), 0, 'camera_link', 'cam_optical', types)]))
    rig = Rig(ros, types)
    rig.start()
    rig.send(T0)
    rig.wait_published('/align3r/depth/image', 1)
    rig.spin()
    assert rig.pub('/tf').published == []
    assert any('already has the parent camera_link' in m
               for s, m in rig.node.get_logger().records if s == 'ERROR')
    rig.stop()


def test_rep105_publishes_world_to_odom(ros, types):
    robot = ros.Node('robot')
    tf_pub = robot.create_publisher(types.TFMessage, '/tf', 100)
    static_pub = robot.create_publisher(
        types.TFMessage, '/tf_static',
        ros.QoSProfile(depth=1, durability=ros.DurabilityPolicy.TRANSIENT_LOCAL))
    T_odom_base = np.eye(4)
    T_odom_base[:3, 3] = [1.0, 2.0, 0.0]
    T_base_cam = np.array([[0, 0, 1, 0.2], [-1, 0, 0, 0], [0, -1, 0, 0.5], [0, 0, 0, 1.0]])
    static_pub.publish(types.TFMessage(transforms=[matrix_to_transform_stamped(
        T_base_cam, 0, 'base_link', 'cam_optical', types)]))
    rig = Rig(ros, types, overrides=[('frames.tf_mode', 'rep105')])
    rig.start()
    tf_pub.publish(types.TFMessage(transforms=[matrix_to_transform_stamped(
        T_odom_base, T0, 'odom', 'base_link', types)]))
    rig.spin()
    rig.send(T0)
    tf_msgs = [m for m in rig.wait_published('/tf', 1)]
    transform = tf_msgs[0].transforms[0]
    assert (transform.header.frame_id, transform.child_frame_id) == ('align3r_world', 'odom')
    T_world_odom = transform_to_matrix(transform.transform)
    T_world_cam = np.eye(4)
    T_world_cam[0, 3] = 0.1  # FakeEngine's first pose
    np.testing.assert_allclose(T_world_odom @ T_odom_base @ T_base_cam, T_world_cam, atol=1e-9)
    odom = rig.wait_published('/align3r/odometry', 1)[0]
    assert odom.child_frame_id == 'base_link'
    rig.stop()


def test_compressed_transport_and_prior_topic(ros, types):
    from align3r_ros.messages.image import depth_to_image_msg, rgb_to_compressed_msg
    rig = Rig(ros, types, overrides=[('input.transport', 'compressed'),
                                     ('input.use_prior_topic', True),
                                     ('input.camera_info', 'none'),
                                     ('camera.fx', 30.0), ('camera.fy', 30.0)])
    seen = []
    rig.factory.make = lambda: _Recorder(seen)
    rig.start()
    compressed = rig.camera.create_publisher(types.CompressedImage, '/image/compressed',
                                             ros.qos_profile_sensor_data)
    prior = rig.camera.create_publisher(types.Image, '/prior/depth', ros.qos_profile_sensor_data)
    header = make_header(T0, 'cam_optical', types)
    compressed.publish(rgb_to_compressed_msg(_rgb(), header, types, 'png'))
    rig.spin()
    assert seen == []  # waits for its prior
    prior.publish(depth_to_image_msg(np.full((H, W), 3.0, np.float32), header, types, '16UC1'))
    rig.wait_published('/align3r/depth/image', 1)
    frame = seen[0]
    np.testing.assert_array_equal(frame.rgb, _rgb())
    np.testing.assert_allclose(frame.prior, 3.0)
    np.testing.assert_allclose(frame.K, [[30.0, 0, 7.5], [0, 30.0, 5.5], [0, 0, 1]])
    rig.stop()


class _Recorder(FakeEngine):
    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def push(self, frame):
        self.seen.append(frame)
        return super().push(frame)


def test_node_layer_is_the_only_rclpy_importer(ros):
    import ast
    from pathlib import Path
    package = Path(__file__).resolve().parents[2] / 'align3r_ros'
    ros_roots = ('rclpy', 'tf2_ros', 'rcl_interfaces', 'sensor_msgs', 'std_msgs',
                 'geometry_msgs', 'nav_msgs', 'tf2_msgs', 'diagnostic_msgs')
    offenders = []
    for path in package.rglob('*.py'):
        if 'ros' in path.relative_to(package).parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ''] if isinstance(node, ast.ImportFrom) else []
            offenders += [f'{path.name}: {n}' for n in names if n.split('.')[0] in ros_roots]
    assert offenders == []


class _ClipEngine(FakeEngine):
    """Emits results per clip of 3 frames, like the real engine; flush emits the rest."""

    def __init__(self):
        super().__init__()
        self.held = []

    def push(self, frame):
        self.held += super().push(frame)
        if len(self.held) < 3:
            return []
        out, self.held = self.held, []
        return out

    def flush(self):
        out, self.held = self.held, []
        return out


def test_clip_results_keep_their_own_stamps_and_deactivate_flushes(ros, types):
    rig = Rig(ros, types, factory=EngineFactory(_ClipEngine))
    rig.start()
    for i in range(4):
        rig.send(T0 + i * STEP, frame_id=f'cam{i}')
        rig.spin()
        time.sleep(0.02)
    published = rig.wait_published('/align3r/depth/image', 3)
    assert [(header_stamp_ns(m.header), m.header.frame_id) for m in published] == [
        (T0 + i * STEP, f'cam{i}') for i in range(3)]
    depth_pub = rig.pub('/align3r/depth/image')
    assert rig.node.trigger_deactivate() == ros.TransitionCallbackReturn.SUCCESS
    assert [header_stamp_ns(m.header) for m in depth_pub.published][-1] == T0 + 3 * STEP
    assert rig.node.trigger_cleanup() == ros.TransitionCallbackReturn.SUCCESS
