"""One result -> the messages of one frame: mask from the config in force, headers, TF modes."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.config_io import load_config
from align3r_ros.messages import compose
from align3r_ros.messages.header import header_stamp_ns
from align3r_ros.messages.image import depth_msg_to_metres
from align3r_ros.messages.point_cloud import cloud_msg_to_arrays
from align3r_ros.messages.transforms import pose_to_matrix, transform_to_matrix
from align3r_ros.structures import FrameResult

H, W = 4, 5
K = np.array([[6.0, 0.0, 2.5], [0.0, 6.0, 2.0], [0.0, 0.0, 1.0]])
STAMP = 1_700_000_000_123_456_789


def _result() -> FrameResult:
    depth = np.linspace(1.0, 3.0, H * W, dtype=np.float32).reshape(H, W)
    depth[0, 0] = np.nan  # invalid whatever the threshold
    confidence = np.full((H, W), 5.0, np.float32)
    confidence[2, 3] = 2.0  # between the two thresholds below
    T = np.eye(4)
    T[:3, 3] = [0.5, -0.25, 2.0]
    return FrameResult(stamp_ns=STAMP, depth=depth, confidence=confidence, K=K, T_world_cam=T,
                       is_metric=True, dynamic_mask=np.zeros((H, W), bool),
                       rgb=np.full((H, W, 3), 9, np.uint8))


def test_the_threshold_in_force_masks_once(types):
    result = _result()
    strict = compose.compose_result(result, 'cam', load_config(
        {'output': {'conf_threshold': 3.0, 'point_stride': 1}}), types)
    lenient = compose.compose_result(result, 'cam', load_config(
        {'output': {'conf_threshold': 1.0, 'point_stride': 1}}), types)
    strict_depth, lenient_depth = depth_msg_to_metres(strict.depth), \
        depth_msg_to_metres(lenient.depth)
    assert np.isnan(strict_depth[2, 3]) and lenient_depth[2, 3] == result.depth[2, 3]
    assert np.isnan(strict_depth[0, 0]) and np.isnan(lenient_depth[0, 0])
    assert np.isfinite(strict_depth).sum() == H * W - 2
    assert np.isfinite(lenient_depth).sum() == H * W - 1
    # the cloud uses the same masked depth
    strict_xyz = cloud_msg_to_arrays(strict.cloud).xyz
    lenient_xyz = cloud_msg_to_arrays(lenient.cloud).xyz
    assert np.isnan(strict_xyz[2, 3]).all()
    assert lenient_xyz[2, 3, 2] == pytest.approx(result.depth[2, 3])
    # the result itself is never changed
    assert np.isfinite(result.depth[2, 3])


@pytest.mark.parametrize('input_id, override, expected', [
    ('cam_optical', '', 'cam_optical'),
    ('', '', compose.FALLBACK_CAMERA_FRAME),
    ('cam_optical', 'override', 'override'),
])
def test_optical_frame_and_shared_header(types, input_id, override, expected):
    config = load_config({'frames': {'camera_frame': override}})
    messages = compose.compose_result(_result(), input_id, config, types)
    assert messages.camera_frame == expected
    headers = [messages.depth.header, messages.depth_info.header, messages.cloud.header]
    assert [h.frame_id for h in headers] == [expected] * 3
    assert [header_stamp_ns(h) for h in headers] == [STAMP] * 3
    assert len({id(h) for h in headers}) == 3  # equal values, never one shared object
    assert messages.transform.child_frame_id == expected
    assert messages.odometry.child_frame_id == expected
    np.testing.assert_allclose(np.asarray(messages.depth_info.k).reshape(3, 3), K)
    assert (messages.depth_info.height, messages.depth_info.width) == (H, W)


def test_tf_modes_and_odometry(types):
    result = _result()
    direct = compose.compose_result(result, 'cam', load_config({}), types)
    np.testing.assert_allclose(transform_to_matrix(direct.transform.transform),
                               result.T_world_cam, atol=1e-12)
    assert direct.transform.header.frame_id == 'align3r_world'
    assert header_stamp_ns(direct.transform.header) == STAMP
    np.testing.assert_allclose(pose_to_matrix(direct.odometry.pose.pose), result.T_world_cam,
                               atol=1e-12)
    np.testing.assert_allclose(pose_to_matrix(direct.pose.pose), result.T_world_cam,
                               atol=1e-12)
    assert direct.pose.header.frame_id == direct.odometry.header.frame_id == 'align3r_world'
    none = compose.compose_result(result, 'cam', load_config({'frames': {'tf_mode': 'none'}}),
                                  types)
    assert none.transform is None and none.odometry is not None and none.pose is not None
    rep105 = compose.compose_result(result, 'cam', load_config(
        {'frames': {'tf_mode': 'rep105'}}), types)
    assert rep105.transform is None and rep105.odometry is None and rep105.pose is None
    off = compose.compose_result(result, 'cam', load_config({'output': {
        'publish_depth': False, 'publish_cloud': False, 'publish_odometry': False}}), types)
    assert (off.depth, off.depth_info, off.cloud, off.odometry, off.pose) == (None,) * 5
    assert off.transform is not None


def test_masked_depth_is_the_one_mask():
    result = _result()
    masked = result.masked_depth(3.0)
    assert masked.dtype == np.float32 and masked.shape == (H, W)
    expected = result.depth.copy()
    expected[2, 3] = np.nan
    np.testing.assert_array_equal(masked, expected)
    np.testing.assert_array_equal(result.masked_depth(0.0), result.depth)


def test_keyframe_path_is_the_window_in_the_world_frame(types, cdr_round_trip):
    from align3r_ros.engine.live import KeyframePose
    poses = []
    for n in range(3):
        T = np.eye(4)
        angle = 0.3 * n
        T[:3, :3] = [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0],
                     [-np.sin(angle), 0, np.cos(angle)]]
        T[:3, 3] = [0.1 * n, -0.2, 1.5 + n]
        poses.append(KeyframePose(stamp_ns=STAMP + 7 * n, T_world_cam=T, is_metric=True))
    config = load_config({'frames': {'world_frame': 'map'}})
    msg = cdr_round_trip(compose.keyframe_path_msg(poses, STAMP + 99, config, types))
    assert msg.header.frame_id == 'map' and header_stamp_ns(msg.header) == STAMP + 99
    assert [header_stamp_ns(p.header) for p in msg.poses] == [STAMP, STAMP + 7, STAMP + 14]
    assert [p.header.frame_id for p in msg.poses] == ['map'] * 3
    for sent, got in zip(poses, msg.poses):
        np.testing.assert_allclose(pose_to_matrix(got.pose), sent.T_world_cam, atol=1e-12)
    empty = compose.keyframe_path_msg([], STAMP, config, types)  # after a reset: cleared
    assert list(empty.poses) == [] and empty.header.frame_id == 'map'


def test_output_topics_resolve_like_a_node_named_align3r():
    from align3r_ros.messages.output_topics import OUTPUT_TOPICS
    root = OUTPUT_TOPICS.resolved()
    assert (root.depth, root.keyframes, root.tf, root.diagnostics) == (
        '/align3r/depth/image', '/align3r/keyframes/path', '/tf', '/diagnostics')
    assert OUTPUT_TOPICS.resolved('cam', '/robot1/').points == '/robot1/cam/points'
    assert OUTPUT_TOPICS.private(OUTPUT_TOPICS.odometry) == '~/odometry'
    assert OUTPUT_TOPICS.private(OUTPUT_TOPICS.tf_static) == '/tf_static'
