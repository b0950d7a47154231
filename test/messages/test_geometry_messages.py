"""CameraInfo, PointCloud2, TF, Odometry/Path, diagnostics and header conversions."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.errors import ConversionError
from align3r_ros.messages import (
    camera_info,
    diagnostics,
    header,
    odometry,
    point_cloud,
    transforms,
)
from align3r_ros.structures import StageTimings

K = np.array([[500.0, 0.0, 319.5], [0.0, 505.0, 239.5], [0.0, 0.0, 1.0]])


def _random_pose(seed: int) -> np.ndarray:
    from scipy.spatial.transform import Rotation
    rng = np.random.default_rng(seed)
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(rng.normal(size=3)).as_matrix()
    T[:3, 3] = rng.normal(size=3) * 3
    return T


@pytest.mark.parametrize('stamp_ns', [0, 1, 999_999_999, 1_700_000_000_123_456_789])
def test_stamp_round_trip(types, cdr_round_trip, stamp_ns):
    hdr = cdr_round_trip(header.make_header(stamp_ns, 'cam', types))
    assert header.header_stamp_ns(hdr) == stamp_ns and hdr.frame_id == 'cam'
    assert 0 <= hdr.stamp.nanosec < 1_000_000_000


def test_negative_stamp_raises(types):
    with pytest.raises(ConversionError, match='-5'):
        header.stamp_ns_to_time(-5, types)


def test_camera_info_round_trip(types, cdr_round_trip):
    msg = camera_info.intrinsics_to_camera_info(K, 640, 480, header.make_header(3, 'c', types),
                                                types)
    msg = cdr_round_trip(msg)
    np.testing.assert_array_equal(np.asarray(msg.p).reshape(3, 4)[:, :3], K)
    np.testing.assert_array_equal(np.asarray(msg.r).reshape(3, 3), np.eye(3))
    camera = camera_info.camera_info_to_camera(msg)
    np.testing.assert_array_equal(camera.K, K)
    assert (camera.width, camera.height, camera.distortion_model) == (640, 480, 'plumb_bob')
    np.testing.assert_array_equal(camera.D, np.zeros(5))
    camera.check_image_size(480, 640)
    with pytest.raises(ConversionError, match='640x480 but the image is 320x240'):
        camera.check_image_size(240, 320)


def test_camera_info_binning_and_roi(types):
    msg = camera_info.intrinsics_to_camera_info(K, 640, 480, header.make_header(0, 'c', types),
                                                types)
    msg.binning_x = msg.binning_y = 2
    camera = camera_info.camera_info_to_camera(msg)
    assert (camera.width, camera.height) == (320, 240)
    assert camera.K[0, 0] == pytest.approx(250.0) and camera.K[1, 2] == pytest.approx(119.75)


def test_uncalibrated_camera_info_raises(types):
    msg = camera_info.intrinsics_to_camera_info(np.zeros((3, 3)), 640, 480,
                                                header.make_header(0, 'c', types), types)
    with pytest.raises(ConversionError, match='uncalibrated'):
        camera_info.camera_info_to_camera(msg)


def _depth_scene(h=12, w=16):
    rng = np.random.default_rng(3)
    depth = rng.uniform(0.5, 5.0, (h, w)).astype(np.float32)
    depth[2, 3] = np.nan
    conf = rng.uniform(1.0, 10.0, (h, w)).astype(np.float32)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Ks = np.array([[20.0, 0, 7.5], [0, 21.0, 5.5], [0, 0, 1]])
    return depth, conf, rgb, Ks


@pytest.mark.parametrize('stride', [1, 2, 3])
def test_organized_cloud_back_projects_exactly(types, cdr_round_trip, stride):
    depth, conf, rgb, Ks = _depth_scene()
    msg = point_cloud.depth_to_cloud_msg(depth, Ks, header.make_header(5, 'opt', types), types,
                                         rgb=rgb, confidence=conf, conf_threshold=4.0,
                                         stride=stride, organized=True)
    msg = cdr_round_trip(msg)
    assert (msg.height, msg.width) == depth[::stride, ::stride].shape
    assert msg.is_dense is False and msg.point_step == 16
    assert msg.row_step == 16 * msg.width
    assert [(f.name, f.offset, f.datatype, f.count) for f in msg.fields] == [
        ('x', 0, 7, 1), ('y', 4, 7, 1), ('z', 8, 7, 1), ('rgb', 12, 7, 1)]
    cloud = point_cloud.cloud_msg_to_arrays(msg)
    vv, uu = np.mgrid[0:depth.shape[0]:stride, 0:depth.shape[1]:stride]
    z = depth[::stride, ::stride]
    valid = np.isfinite(z) & (conf[::stride, ::stride] >= 4.0)
    expected = np.stack([(uu - Ks[0, 2]) * z / Ks[0, 0], (vv - Ks[1, 2]) * z / Ks[1, 1], z], -1)
    np.testing.assert_array_equal(np.isnan(cloud.xyz[..., 2]), ~valid)
    np.testing.assert_allclose(cloud.xyz[valid], expected[valid], rtol=1e-6)
    np.testing.assert_array_equal(cloud.rgb, rgb[::stride, ::stride])


def test_unorganized_cloud_holds_only_valid_points(types, cdr_round_trip):
    depth, conf, rgb, Ks = _depth_scene()
    msg = cdr_round_trip(point_cloud.depth_to_cloud_msg(
        depth, Ks, header.make_header(5, 'opt', types), types, rgb=rgb, confidence=conf,
        conf_threshold=4.0, stride=1, organized=False))
    valid = np.isfinite(depth) & (conf >= 4.0)
    assert msg.height == 1 and msg.width == int(valid.sum()) and msg.is_dense is True
    cloud = point_cloud.cloud_msg_to_arrays(msg)
    np.testing.assert_allclose(cloud.xyz[0, :, 2], depth[valid])
    np.testing.assert_array_equal(cloud.rgb[0], rgb[valid])


def test_rgb_packing_is_0x00rrggbb():
    packed = point_cloud.pack_rgb(np.array([[0x12, 0x34, 0x56]], np.uint8))
    assert packed.view(np.uint32)[0] == 0x00123456
    np.testing.assert_array_equal(point_cloud.unpack_rgb(packed), [[0x12, 0x34, 0x56]])


def test_cloud_rejects_mismatched_shapes(types):
    depth, conf, _, Ks = _depth_scene()
    with pytest.raises(ConversionError, match='confidence shape'):
        point_cloud.depth_to_cloud_msg(depth, Ks, header.make_header(0, 'o', types), types,
                                       confidence=conf[1:])


@pytest.mark.parametrize('seed', range(5))
def test_transform_round_trip(types, cdr_round_trip, seed):
    T = _random_pose(seed)
    msg = cdr_round_trip(transforms.matrix_to_transform_stamped(T, 42, 'world', 'cam', types))
    assert (msg.header.frame_id, msg.child_frame_id) == ('world', 'cam')
    assert header.header_stamp_ns(msg.header) == 42
    np.testing.assert_allclose(transforms.transform_to_matrix(msg.transform), T, atol=1e-12)
    q = msg.transform.rotation
    assert q.w >= 0 and np.linalg.norm([q.x, q.y, q.z, q.w]) == pytest.approx(1.0)


def test_quaternion_matches_rep103_optical_rotation(types):
    # camera_link (x fwd, y left, z up) -> optical (x right, y down, z fwd)
    R_link_optical = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float)
    q = transforms.matrix_to_transform(np.block([[R_link_optical, np.zeros((3, 1))],
                                                  [np.zeros((1, 3)), np.ones((1, 1))]]),
                                       types).rotation
    np.testing.assert_allclose([q.x, q.y, q.z, q.w], transforms.Q_LINK_OPTICAL_XYZW, atol=1e-12)


def test_transform_rejects_same_frames_and_nan(types):
    with pytest.raises(ConversionError, match="'cam'"):
        transforms.matrix_to_transform_stamped(np.eye(4), 0, 'cam', 'cam', types)
    bad = np.eye(4)
    bad[0, 3] = np.nan
    with pytest.raises(ConversionError, match='T_parent_child'):
        transforms.matrix_to_transform_stamped(bad, 0, 'w', 'c', types)


def test_rep105_chain_reproduces_camera_pose():
    T_world_cam, T_odom_base, T_base_cam = _random_pose(1), _random_pose(2), _random_pose(3)
    T_world_odom = transforms.world_to_odom(T_world_cam, T_odom_base, T_base_cam)
    np.testing.assert_allclose(T_world_odom @ T_odom_base @ T_base_cam, T_world_cam,
                               atol=1e-10)


def test_odometry_and_bounded_path(types, cdr_round_trip):
    T = _random_pose(4)
    odom = cdr_round_trip(odometry.pose_to_odometry_msg(T, 9, 'world', 'cam', types))
    assert (odom.header.frame_id, odom.child_frame_id) == ('world', 'cam')
    np.testing.assert_allclose(transforms.pose_to_matrix(odom.pose.pose), T, atol=1e-12)
    assert np.asarray(odom.twist.covariance)[0] == -1.0
    path = odometry.BoundedPath(3)
    for stamp in range(5):
        path.add(odometry.pose_to_pose_stamped(T, stamp, 'world', types), world_id=0)
    msg = cdr_round_trip(path.to_msg(4, 'world', types))
    assert [header.header_stamp_ns(p.header) for p in msg.poses] == [2, 3, 4]
    path.add(odometry.pose_to_pose_stamped(T, 1, 'world', types), world_id=0)  # same world
    assert len(path) == 3
    path.add(odometry.pose_to_pose_stamped(T, 5, 'world', types), world_id=1)  # engine reset
    assert len(path) == 1


def test_diagnostics_levels_and_values(types, cdr_round_trip):
    health = diagnostics.PipelineHealth(queue_depth=2, queue_capacity=4, frames_dropped=3,
                                        recent_drops=1, is_metric=True, residual=0.25,
                                        timings=StageTimings(network_ms=12.5),
                                        publish_ms=0.5)
    msg = cdr_round_trip(diagnostics.health_to_diagnostics_msg(health, 11, types))
    status = msg.status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.level == types.DiagnosticStatus.WARN and 'dropped 1' in status.message
    assert values['scale'] == 'metric' and values['frames dropped'] == '3'
    assert values['latency network ms'] == '12.500' and values['alignment residual'] == '0.25'
    assert values['latency publish ms'] == '0.500' and values['latency align ms'] == '0.000'
    ok = diagnostics.health_to_diagnostics_msg(diagnostics.PipelineHealth(is_metric=False), 0,
                                               types)
    assert ok.status[0].level == types.DiagnosticStatus.OK
    assert 'relative' in ok.status[0].message
    error = diagnostics.health_to_diagnostics_msg(
        diagnostics.PipelineHealth(recent_error=True, last_error='CUDA out of memory'), 0, types)
    assert error.status[0].level == types.DiagnosticStatus.ERROR
    assert 'out of memory' in error.status[0].message
