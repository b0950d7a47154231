"""The one TF tree of a bag (``bag/tf_tree.py``), used by the replay's odometry mounting and the
mapper's camera poses: static and interpolated links chained up to the root, static transforms
between any two frames of one static tree, a missing link or a bad rotation a named error."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from align3r_ros.bag.reader import BagReader
from align3r_ros.bag.tf_tree import MissingTransformError, TfTree, is_static_topic
from align3r_ros.bag.writer import AtomicBagWriter, Durability
from align3r_ros.errors import ConversionError
from align3r_ros.geometry.se3 import make_transform
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.transforms import matrix_to_transform_stamped

TYPES = MessageTypes.from_rosbags()
GAP_NS = 200_000_000
#: base_link -> mount -> cam_optical, and an imu beside the mount
T_BASE_MOUNT = make_transform(Rotation.from_euler('z', 0.3).as_matrix(), [0.2, 0.0, 0.5])
T_MOUNT_CAM = make_transform(Rotation.from_euler('xz', [-1.5, -1.2]).as_matrix(),
                             [0.0, 0.05, 0.0])
T_BASE_IMU = make_transform(Rotation.from_euler('y', 0.1).as_matrix(), [-0.1, 0.0, 0.2])


def pose(angle: float, t) -> np.ndarray:
    return make_transform(Rotation.from_euler('z', angle).as_matrix(), t)


def message(T, stamp, parent, child, types=TYPES):
    return types.TFMessage(transforms=[matrix_to_transform_stamped(T, stamp, parent, child,
                                                                   types)])


def static_tree() -> TfTree:
    tree = TfTree(GAP_NS)
    tree.add(message(T_BASE_MOUNT, 0, 'base_link', 'mount'), static=True)
    tree.add(message(T_MOUNT_CAM, 0, '/mount', 'cam_optical'), static=True)
    tree.add(message(T_BASE_IMU, 0, 'base_link', 'imu'), static=True)
    return tree


def test_a_chain_of_static_and_interpolated_links_is_looked_up_at_stamps():
    """REP 105 as the node publishes it: world -> odom and odom -> base on /tf (two samples
    each, 1 us apart), base -> camera on /tf_static. A stray /tf_static odom -> base is
    overruled by the link's /tf samples (in lookups; it is no static link either)."""
    tree = TfTree(GAP_NS)
    world_odom = pose(0.1, [1.0, 0.0, 0.0])
    base_cam = pose(-0.5, [0.2, 0.0, 0.3])
    tree.add(message(base_cam, 0, 'base', 'camera'), static=True)
    tree.add(message(pose(1.0, [5.0, 5.0, 5.0]), 0, 'odom', 'base'), static=True)
    for stamp, x, angle in ((1_000, 0.0, 0.0), (2_000, 2.0, 0.4)):
        tree.add(message(world_odom, stamp, 'world', 'odom'), static=False)
        tree.add(message(pose(angle, [x, 0.0, 0.0]), stamp, 'odom', 'base'), static=False)
    assert tree.chain('/camera') == ['camera', 'base', 'odom', 'world'] and len(tree) == 3
    poses, found = tree.lookup('/camera', np.array([1_500, 2_000, 9_000_000_000]))
    assert tree.world_frame == 'world' and found.tolist() == [True, True, False]
    # halfway: x 1.0 (linear), 0.2 rad (slerp), the static mounting at every stamp
    np.testing.assert_allclose(poses[0], world_odom @ pose(0.2, [1.0, 0.0, 0.0]) @ base_cam,
                               atol=1e-12)
    np.testing.assert_allclose(poses[1], world_odom @ pose(0.4, [2.0, 0.0, 0.0]) @ base_cam,
                               atol=1e-12)
    assert np.isnan(poses[2]).all()   # beyond the samples: not found, NaN
    with pytest.raises(MissingTransformError, match='no transform odom -> camera'):
        tree.static_transform('odom', 'camera')
    poses, found = tree.lookup('elsewhere', np.array([1_500]))
    assert not found.any() and np.isnan(poses).all() and tree.world_frame == 'elsewhere'


def test_a_dynamic_link_with_a_gap_wider_than_the_limit_is_not_bridged():
    tree = TfTree(max_gap_ns=1_000)
    for stamp in (0, 5_000):
        tree.add(message(pose(0.0, [stamp * 1e-3, 0, 0]), stamp, 'odom', 'base'), static=False)
    _, found = tree.lookup('base', np.array([0, 2_500, 5_000]))
    assert found.tolist() == [True, False, True]


def test_the_static_transform_walks_up_both_frames_to_a_common_ancestor():
    tree = static_tree()
    T_base_cam = T_BASE_MOUNT @ T_MOUNT_CAM
    np.testing.assert_allclose(tree.static_transform('base_link', 'cam_optical'), T_base_cam,
                               atol=1e-12)
    np.testing.assert_allclose(tree.static_transform('/cam_optical', 'base_link'),
                               np.linalg.inv(T_base_cam), atol=1e-12)
    np.testing.assert_allclose(tree.static_transform('imu', 'cam_optical'),
                               np.linalg.inv(T_BASE_IMU) @ T_base_cam, atol=1e-12)
    np.testing.assert_allclose(tree.static_transform('mount', 'mount'), np.eye(4))


def test_a_missing_link_is_the_named_error():
    tree = static_tree()
    with pytest.raises(MissingTransformError,
                       match='^/tf_static has no transform base_link -> elsewhere$'):
        tree.static_transform('base_link', 'elsewhere')
    # a link on /tf is no static link: odom -> base_link does not join odom to the camera
    tree.add(message(pose(0.0, [1.0, 0, 0]), 10, 'odom', 'base_link'), static=False)
    with pytest.raises(MissingTransformError, match='no transform odom -> cam_optical'):
        tree.static_transform('odom', 'cam_optical')
    _, found = tree.lookup('cam_optical', np.array([10]))
    assert found.tolist() == [True]   # while lookup chains it


def test_a_transform_without_a_rotation_is_named_by_its_frames_and_stamp():
    msg = message(np.eye(4), 7_000, 'odom', 'base')
    msg.transforms[0].transform.rotation = TYPES.Quaternion(x=0.0, y=0.0, z=0.0, w=0.0)
    with pytest.raises(ConversionError, match='^/tf transform odom -> base at 7000 ns: '):
        TfTree(GAP_NS).add(msg, static=False)


def test_the_static_tree_of_a_bag_reads_its_static_topics_only(tmp_path):
    assert is_static_topic('/tf_static') and is_static_topic('/robot/tf_static')
    assert not is_static_topic('/tf') and not is_static_topic('/not_tf_static')
    with AtomicBagWriter(tmp_path / 'bag') as bag:
        types = MessageTypes.from_rosbags(bag.typestore)
        for topic, durability in (('/tf_static', Durability.TRANSIENT_LOCAL),
                                  ('/robot/tf_static', Durability.TRANSIENT_LOCAL),
                                  ('/tf', Durability.VOLATILE)):
            bag.add_topic(topic, 'tf2_msgs/msg/TFMessage', durability, 10)
        bag.write('/tf_static', 0, message(T_BASE_MOUNT, 0, 'base_link', 'mount', types))
        bag.write('/robot/tf_static', 0, message(T_MOUNT_CAM, 0, 'mount', 'cam_optical', types))
        bag.write('/tf', 5, message(np.eye(4), 5, 'odom', 'base_link', types))
    with BagReader(tmp_path / 'bag') as reader:
        static = TfTree.from_bag(reader, GAP_NS, dynamic=False)
        full = TfTree.from_bag(reader, GAP_NS)
    assert len(static) == 2 and static.chain('cam_optical')[-1] == 'base_link'
    np.testing.assert_allclose(static.static_transform('base_link', 'cam_optical'),
                               T_BASE_MOUNT @ T_MOUNT_CAM, atol=1e-12)
    assert len(full) == 3 and full.chain('cam_optical')[-1] == 'odom'
