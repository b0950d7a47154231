"""The align3r lifecycle node in-process on real rclpy: outputs, parameters, faults, QoS, TF.

One rclpy context per test; node and a peer node (camera + listeners) on one executor, spun
until the awaited event (tf2_ros_py's test style). Engines are fakes (``support/fake_engine.py``).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from support.fake_engine import EngineFactory, FakeEngine
from .ros_rig import STEP, T0, H, K, W

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')

from rclpy.lifecycle import TransitionCallbackReturn as Ret  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402


def _stamp(header) -> int:
    return int(header.stamp.sec) * 10**9 + int(header.stamp.nanosec)


def test_full_lifecycle_publishes_every_output(rig_factory):
    from align3r_ros.messages.image import depth_msg_to_metres
    from align3r_ros.messages.point_cloud import cloud_msg_to_arrays
    from align3r_ros.messages.transforms import transform_to_matrix

    rig = rig_factory(overrides=[('output.point_stride', 1)])
    t = rig.types
    topics = {'/align3r/depth/image': t.Image, '/align3r/depth/camera_info': t.CameraInfo,
              '/align3r/points': t.PointCloud2, '/tf': t.TFMessage,
              '/align3r/odometry': t.Odometry, '/align3r/path': t.Path}
    got = {topic: rig.listen(topic, msg_type) for topic, msg_type in topics.items()}
    assert rig.node._state_machine.current_state == (1, 'unconfigured')
    rig.start()
    assert rig.node._state_machine.current_state == (3, 'active')
    for i in range(3):
        rig.send_and_wait(T0 + i * STEP, seed=i)
    rig.spin_until(lambda: all(len(m) >= 3 for m in got.values()), what='3 of every output')
    for i in range(3):
        stamp = T0 + i * STEP
        depth, info = got['/align3r/depth/image'][i], got['/align3r/depth/camera_info'][i]
        assert (_stamp(depth.header), depth.header.frame_id) == (stamp, 'cam_optical')
        assert (_stamp(info.header), info.header.frame_id) == (stamp, 'cam_optical')
        assert depth.encoding == '32FC1' and (depth.height, depth.width) == (H, W)
        metres = depth_msg_to_metres(depth)
        assert np.isnan(metres[0]).all() and np.allclose(metres[1:], 2.0)  # conf threshold
        np.testing.assert_allclose(np.asarray(info.k).reshape(3, 3), K)
        cloud = cloud_msg_to_arrays(got['/align3r/points'][i])
        assert cloud.xyz.shape == (H, W, 3)
        np.testing.assert_allclose(cloud.xyz[1:, :, 2], 2.0)
        transform = got['/tf'][i].transforms[0]
        assert (transform.header.frame_id, transform.child_frame_id) == ('align3r_world',
                                                                          'cam_optical')
        assert _stamp(transform.header) == stamp
        assert transform_to_matrix(transform.transform)[0, 3] == pytest.approx(0.1 * (i + 1))
        odometry = got['/align3r/odometry'][i]
        assert (odometry.header.frame_id, odometry.child_frame_id) == ('align3r_world',
                                                                        'cam_optical')
    assert [_stamp(p.header) for p in got['/align3r/path'][-1].poses] == [
        T0, T0 + STEP, T0 + 2 * STEP]
    assert rig.node.trigger_deactivate() == Ret.SUCCESS
    assert rig.node.trigger_cleanup() == Ret.SUCCESS
    assert rig.node._state_machine.current_state == (1, 'unconfigured')
    graph = rig.peer.get_subscriber_names_and_types_by_node('align3r', '/')
    assert not [name for name, _ in graph if name in ('/image', '/camera_info')]


def test_parameters_have_descriptors_and_restart_keys_wait_for_the_next_configure(rig_factory):
    rig = rig_factory()
    node = rig.node
    length = node.describe_parameter('clip.length')
    assert length.integer_range[0].from_value == 2 and length.integer_range[0].to_value == 200
    assert node.describe_parameter('frames.tf_mode').additional_constraints == \
        'one of: direct, rep105, none'
    # unconfigured: a restart-needing parameter can be set, and configure uses it
    ok, = node.set_parameters([Parameter('clip.length', value=4)])
    assert ok.successful, ok.reason
    rig.start()
    assert node.config.clip.length == 4
    # active: run-time keys apply at once, restart-needing ones are refused with the reason
    ok, = node.set_parameters([Parameter('output.point_stride', value=4)])
    assert ok.successful and node.config.output.point_stride == 4
    refused, = node.set_parameters([Parameter('clip.length', value=6)])
    assert not refused.successful
    assert 'clip.length cannot change while the node is active' in refused.reason
    out_of_range, = node.set_parameters([Parameter('output.point_stride', value=0)])
    assert not out_of_range.successful and node.config.output.point_stride == 4
    assert 'output.point_stride' in out_of_range.reason and '64' in out_of_range.reason
    # an integer for a double is that double (ros2 param set ... 3)
    as_int, = node.set_parameters([Parameter('output.conf_threshold', value=2)])
    assert as_int.successful and node.config.output.conf_threshold == 2.0
    # inactive: settable, takes effect on the next configure (not on activate)
    assert node.trigger_deactivate() == Ret.SUCCESS
    ok, = node.set_parameters([Parameter('clip.length', value=6)])
    assert ok.successful, ok.reason
    assert node.trigger_activate() == Ret.SUCCESS and node.config.clip.length == 4
    assert node.trigger_deactivate() == Ret.SUCCESS
    assert node.trigger_cleanup() == Ret.SUCCESS
    assert node.trigger_configure() == Ret.SUCCESS and node.config.clip.length == 6
    assert node.config.output.point_stride == 4  # what was set stays set


@pytest.mark.parametrize('name, value, expected', [
    ('output.conf_threshold', 3, None),  # a YAML integer for a double: accepted
    ('clip.length', 1, 'clip.length: 1 is below its minimum 2 (allowed: int in [2, 200])'),
    ('clip.length', 'ten', "clip.length: 'ten' is not a valid int (allowed: int in [2, 200])"),
    ('output.conf_threshold', -1.0,
     'output.conf_threshold: -1.0 is below its minimum 0.0 (allowed: float in [0, inf])'),
])
def test_bad_parameter_overrides_fail_configure_with_one_line(context, name, value, expected):
    from align3r_ros.ros.node import Align3rNode
    logs = []
    node = Align3rNode(engine_builder=EngineFactory().builder(), context=context,
                       parameter_overrides=[Parameter(name, value=value)])
    node.get_logger().error = lambda msg, **kw: logs.append(msg)  # capture the one line
    try:
        result = node.trigger_configure()
        if expected is None:
            assert result == Ret.SUCCESS and node.config.output.conf_threshold == 3.0
            assert node.get_parameter(name).value == 3.0
            return
        assert result == Ret.FAILURE
        assert logs[-1] == f'configure failed: {expected}'
        assert node._state_machine.current_state == (1, 'unconfigured')
        # corrected through the parameter service's path, configure succeeds
        ok, = node.set_parameters([Parameter(name, value=4 if name == 'clip.length' else 1.0)])
        assert ok.successful, ok.reason
        assert node.trigger_configure() == Ret.SUCCESS
    finally:
        node.destroy_node()


def test_deactivate_processes_the_queued_frames_and_flushes(rig_factory):
    gate = threading.Event()
    factory = EngineFactory(lambda: FakeEngine(clip=3, gate=gate))
    rig = rig_factory(factory=factory, overrides=[('input.queue_size', 10)])
    depth = rig.listen('/align3r/depth/image', rig.types.Image)
    rig.start()
    stamps = [T0 + i * STEP for i in range(5)]
    for stamp in stamps:  # the engine is blocked: every frame waits in the queue
        rig.send_and_wait(stamp)
    assert len(rig.node._queue) >= 4
    # inference resumes only once deactivate asked the worker to stop: what is queued then
    # must still be processed
    worker = rig.node._worker
    threading.Thread(target=lambda: (worker._stop.wait(), gate.set()), daemon=True).start()
    assert rig.node.trigger_deactivate() == Ret.SUCCESS  # drains the queue, flushes 2 held
    assert factory.built[0].pushed == stamps
    rig.spin_until(lambda: len(depth) == 5, what='every frame published')
    assert [_stamp(m.header) for m in depth] == stamps
    assert rig.node.trigger_cleanup() == Ret.SUCCESS


def test_bad_inputs_are_rejected_counted_and_reported(rig_factory):
    rig = rig_factory()
    t = rig.types
    rig.listen('/diagnostics', t.DiagnosticArray)
    depth = rig.listen('/align3r/depth/image', t.Image)
    rig.start()
    rig.send_and_wait(T0)
    rig.spin_until(lambda: len(depth) == 1)
    from align3r_ros.messages.header import make_header
    header = make_header(T0 + STEP, 'cam_optical', t)
    bad = [
        t.Image(header=header, height=2, width=2, encoding='yuv422', is_bigendian=0, step=4,
                data=np.zeros(8, np.uint8)),                       # unsupported encoding
        t.Image(header=header, height=H, width=W, encoding='rgb8', is_bigendian=0, step=W * 3,
                data=np.zeros(H * W * 3 - 5, np.uint8)),           # data shorter than step*h
    ]
    for msg in bad:
        before = rig.node.frames_received
        rig.image_pub.publish(msg)
        rig.spin_until(lambda: rig.node.frames_received > before)
    rig.send_and_wait(T0 + 2 * STEP, size=(H * 2, W * 2), info=False)  # CameraInfo size
    values = rig.diagnostics()
    assert f'CameraInfo is {W}x{H} but the image is {2 * W}x{2 * H}' in values['last error']
    assert values['frames rejected'] == '3' and values['frames published'] == '1'
    assert values['level'] == t.DiagnosticStatus.ERROR
    rig.send_and_wait(T0 + 3 * STEP)  # still running
    rig.spin_until(lambda: len(depth) == 2)


def test_nan_camera_info_is_rejected_and_the_node_keeps_running(rig_factory):
    from align3r_ros.messages.camera_info import intrinsics_to_camera_info
    from align3r_ros.messages.header import make_header
    rig = rig_factory()
    rig.listen('/diagnostics', rig.types.DiagnosticArray)
    rig.start()
    info = intrinsics_to_camera_info(K, W, H, make_header(T0, 'cam_optical', rig.types),
                                     rig.types)
    info.k[0] = float('nan')
    rig.info_pub.publish(info)
    rig.spin_until(lambda: rig.node._counters.rejected == 1, what='the NaN K rejected')
    assert 'camera_info' in rig.diagnostics()['last error']


def test_backend_exception_and_oom_reset_and_keep_running(rig_factory):
    class OutOfMemoryError(RuntimeError):
        pass
    errors = iter([RuntimeError('backend exploded'), OutOfMemoryError('CUDA out of memory')])
    factory = EngineFactory(lambda: FakeEngine(fail_on={T0 + STEP},
                                               error=next(errors, RuntimeError('x'))))
    rig = rig_factory(factory=factory)
    rig.listen('/diagnostics', rig.types.DiagnosticArray)
    depth = rig.listen('/align3r/depth/image', rig.types.Image)
    rig.start()
    for i in range(4):
        rig.send_and_wait(T0 + i * STEP)
    rig.spin_until(lambda: len(depth) == 3)
    assert [_stamp(m.header) for m in depth] == [T0, T0 + 2 * STEP, T0 + 3 * STEP]
    assert len(factory.built) == 2  # one reset after the failure
    values = rig.diagnostics()
    assert values['engine errors'] == '1' and values['engine resets'] == '1'
    assert 'backend exploded' in values['last error']


def test_burst_drops_oldest_counts_and_memory_stays_bounded(rig_factory):
    gate = threading.Event()
    factory = EngineFactory(lambda: FakeEngine(gate=gate))
    rig = rig_factory(factory=factory, overrides=[('input.queue_size', 2)])
    rig.listen('/diagnostics', rig.types.DiagnosticArray)
    rig.start()
    for i in range(12):  # a burst while inference is blocked
        rig.send_and_wait(T0 + i * STEP, seed=i)
    assert len(rig.node._queue) == 2
    gate.set()
    rig.spin_until(lambda: len(rig.node._queue) == 0 and rig.node._counters.published >= 3)
    engine = factory.built[0]
    assert engine.pushed[-2:] == [T0 + 10 * STEP, T0 + 11 * STEP]  # the newest survive
    values = rig.diagnostics()
    assert int(values['frames dropped']) == 12 - len(engine.pushed) >= 9


def test_stamp_gaps_are_reported_as_frames_lost_in_transport(rig_factory):
    rig = rig_factory()
    rig.listen('/diagnostics', rig.types.DiagnosticArray)
    rig.start()
    sent = [0, 1, 2, 3, 4, 5, 8, 9, 10, 14, 15]  # frames 6, 7, 11, 12, 13 never arrive
    for i in sent:
        rig.send_and_wait(T0 + i * STEP + (i % 3) * 1_000_000)  # 1 ms jitter
    values = rig.diagnostics()
    assert values['frames lost in transport (estimated)'] == '5'
    assert values['frames received'] == str(len(sent))


def test_clip_results_keep_their_own_stamps_and_frame_ids(rig_factory):
    rig = rig_factory(factory=EngineFactory(lambda: FakeEngine(clip=3)))
    depth = rig.listen('/align3r/depth/image', rig.types.Image)
    rig.start()
    for i in range(4):
        rig.send_and_wait(T0 + i * STEP, frame_id=f'cam{i}')
    rig.spin_until(lambda: len(depth) == 3)
    assert [(_stamp(m.header), m.header.frame_id) for m in depth] == [
        (T0 + i * STEP, f'cam{i}') for i in range(3)]
    assert rig.node.trigger_deactivate() == Ret.SUCCESS
    rig.spin_until(lambda: len(depth) == 4)
    assert (_stamp(depth[3].header), depth[3].header.frame_id) == (T0 + 3 * STEP, 'cam3')
