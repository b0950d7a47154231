"""``~/keyframes/path`` on real rclpy: the live engine's refined keyframe window, in-process.

The node runs the REAL live engine (oracle backend) on a moving synthetic sequence: each image
the rig publishes is swapped, by stamp, for the synthetic frame of that index (the oracle needs
the frame's ground truth, which no ROS message carries); the node's conversion, queue, worker
and publishers are the real ones.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from support.fake_engine import EngineFactory
from .ros_rig import STEP, T0

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')

FRAMES = 24
TOPIC = '/align3r/keyframes/path'


def _stamp(header) -> int:
    return int(header.stamp.sec) * 10**9 + int(header.stamp.nanosec)


class SyntheticLiveEngine:
    """A real live-mode Engine fed the synthetic frame whose index the stamp gives."""

    def __init__(self) -> None:
        from align3r_ros.backends.oracle import OracleBackend
        from align3r_ros.config_io import load_config
        from align3r_ros.engine.engine import Engine
        from align3r_ros.synthetic import make_sequence

        config = load_config({'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': 64},
                              'align': {'temporal_weight': 0.0}})
        assert config.stream.mode.value == 'live'  # the default
        self.engine = Engine(config, OracleBackend.from_config(config))
        self.frames = make_sequence(FRAMES, 48, 64, seed=0, num_movers=0, speed=2.0).frames
        self.published = {}

    @property
    def stats(self):
        return self.engine.stats

    def keyframe_poses(self):
        return self.engine.keyframe_poses()

    def push(self, frame):
        synthetic = self.frames[(frame.stamp_ns - T0) // STEP]
        results = self.engine.push(dataclasses.replace(synthetic, stamp_ns=frame.stamp_ns,
                                                       tag=frame.tag))
        self.published.update({r.stamp_ns: r.T_world_cam for r in results})
        return results

    def flush(self):
        return self.engine.flush()


def test_keyframe_path_carries_the_refined_window_after_a_moving_sequence(rig_factory):
    from align3r_ros.messages.transforms import pose_to_matrix

    factory = EngineFactory(SyntheticLiveEngine)
    rig = rig_factory(factory=factory, overrides=[('input.queue_size', FRAMES)])
    paths = rig.listen(TOPIC, rig.types.Path)
    odometry = rig.listen('/align3r/odometry', rig.types.Odometry)
    rig.start()
    stamps = [T0 + i * STEP for i in range(FRAMES)]
    for i, stamp in enumerate(stamps):
        rig.send_and_wait(stamp, seed=i)
    rig.spin_until(lambda: len(odometry) == FRAMES, what='every frame published')
    engine = factory.built[0]
    window = engine.keyframe_poses()
    expected = [kf.stamp_ns for kf in window]
    assert len(expected) >= 3 and set(expected) <= set(stamps)
    rig.spin_until(lambda: paths and [_stamp(p.header) for p in paths[-1].poses] == expected,
                   what=f'the keyframe path {expected}')
    last = paths[-1]
    assert last.header.frame_id == 'align3r_world'
    assert _stamp(last.header) in stamps
    for kf, pose in zip(window, last.poses):
        assert pose.header.frame_id == 'align3r_world'
        np.testing.assert_allclose(pose_to_matrix(pose.pose), kf.T_world_cam, atol=1e-9)
    # published when it changes, not once per frame; each message differs from the previous
    assert 3 <= len(paths) < FRAMES
    seen = [[(_stamp(p.header), tuple(np.round(pose_to_matrix(p.pose).ravel(), 12)))
             for p in path.poses] for path in paths]
    assert all(a != b for a, b in zip(seen, seen[1:]))
    # the refined window moved older keyframes; their per-frame outputs kept the old poses
    moved = [np.abs(kf.T_world_cam - engine.published[kf.stamp_ns]).max() for kf in window[:-1]]
    assert max(moved) > 0
    odom_stamps = [_stamp(o.header) for o in odometry]
    assert odom_stamps == stamps
