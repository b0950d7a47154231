"""Map-ready outputs on real rclpy (issue 15): ``~/dynamic_mask/image`` + ``camera_info`` and
``~/confidence/image`` with the depth's header for every frame (live and clip mode), static-only
depth and clouds with ``output.exclude_dynamic``, run-time toggles, the dynamic pixel fraction
in /diagnostics, and the replay's bag carrying the node's topic set."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from support.fake_engine import EngineFactory, FakeEngine
from .ros_rig import STEP, T0, H, W

pytestmark = pytest.mark.ros
rclpy = pytest.importorskip('rclpy', reason='needs rclpy (source .ci/ros2_env.sh)')

from rclpy.lifecycle import TransitionCallbackReturn as Ret  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

DEPTH, DEPTH_INFO = '/align3r/depth/image', '/align3r/depth/camera_info'
MASK, MASK_INFO = '/align3r/dynamic_mask/image', '/align3r/dynamic_mask/camera_info'
CONFIDENCE, POINTS = '/align3r/confidence/image', '/align3r/points'


def engine_mask(index: int) -> np.ndarray:
    """The fake engine's dynamic mask of its ``index``-th result: a 3x4 box moving right."""
    mask = np.zeros((H, W), bool)
    mask[4:7, 2 + index:6 + index] = True
    return mask


class MoverEngine(FakeEngine):
    """FakeEngine whose results mark a moving box as dynamic."""

    def result(self, frame):
        result = super().result(frame)
        return dataclasses.replace(result, dynamic_mask=engine_mask(len(self.pushed) - 1))


def _stamp(header) -> int:
    return int(header.stamp.sec) * 10**9 + int(header.stamp.nanosec)


def _header(msg):
    return _stamp(msg.header), msg.header.frame_id


def _mono8(msg) -> np.ndarray:
    from align3r_ros.messages.image import as_uint8
    assert msg.encoding == 'mono8' and (msg.height, msg.width, msg.step) == (H, W, W)
    return as_uint8(msg.data).reshape(H, W)


def _listen_all(rig):
    t = rig.types
    return {topic: rig.listen(topic, msg_type) for topic, msg_type in (
        (DEPTH, t.Image), (DEPTH_INFO, t.CameraInfo), (MASK, t.Image),
        (MASK_INFO, t.CameraInfo), (CONFIDENCE, t.Image), (POINTS, t.PointCloud2))}


@pytest.mark.parametrize('mode', ['live', 'clip'])
def test_mask_and_confidence_share_the_depth_header_for_every_frame(rig_factory, mode):
    from align3r_ros.messages.dynamic import grow_mask
    from align3r_ros.messages.image import depth_msg_to_metres

    make = MoverEngine if mode == 'live' else (lambda: MoverEngine(clip=3))
    rig = rig_factory(factory=EngineFactory(make))
    got = _listen_all(rig)
    rig.start()
    radius = rig.node.config.output.dynamic_dilate_px
    assert radius > 0
    for i in range(4):
        rig.send_and_wait(T0 + i * STEP, frame_id=f'cam{i}', seed=i)
    assert rig.node.trigger_deactivate() == Ret.SUCCESS  # clip mode: the flush publishes #4
    rig.spin_until(lambda: all(len(m) == 4 for m in got.values()), what='4 of every output')
    expected = [(T0 + i * STEP, f'cam{i}') for i in range(4)]
    assert [_header(m) for m in got[DEPTH]] == expected
    for topic in (DEPTH_INFO, MASK, MASK_INFO, CONFIDENCE):
        assert [_header(m) for m in got[topic]] == expected, topic
    for i in range(4):
        mask, info = _mono8(got[MASK][i]), got[MASK_INFO][i]
        assert np.array_equal(mask == 255, grow_mask(engine_mask(i), radius))
        assert set(np.unique(mask)) == {0, 255}
        assert np.array_equal(info.k, got[DEPTH_INFO][i].k)
        assert (info.height, info.width) == (H, W)
        confidence = got[CONFIDENCE][i]
        assert confidence.encoding == '32FC1' and (confidence.height, confidence.width) == (H, W)
        values = depth_msg_to_metres(confidence)  # a 32FC1 decode
        assert np.allclose(values[0], 1.0) and np.allclose(values[1:], 5.0)  # the engine's


def test_exclude_dynamic_and_run_time_toggles_apply_to_the_next_frame(rig_factory):
    from align3r_ros.messages.image import depth_msg_to_metres
    from align3r_ros.messages.point_cloud import cloud_msg_to_arrays

    rig = rig_factory(factory=EngineFactory(MoverEngine),
                      overrides=[('output.point_stride', 1)])
    got = _listen_all(rig)
    rig.listen('/diagnostics', rig.types.DiagnosticArray)
    rig.start()
    node = rig.node

    def frame(i: int) -> None:
        rig.send_and_wait(T0 + i * STEP, seed=i)
        rig.spin_until(lambda: len(got[DEPTH]) == i + 1 and len(got[POINTS]) == i + 1,
                       what=f'frame {i}')

    def masks(n: int) -> None:  # the mask topic is delivered independently of the depth's
        rig.spin_until(lambda: len(got[MASK]) == n, what=f'{n} masks')

    def set_params(**values) -> None:
        results = node.set_parameters([Parameter(f'output.{k}', value=v)
                                       for k, v in values.items()])
        assert all(r.successful for r in results), results

    def valid(i: int):
        depth = np.isfinite(depth_msg_to_metres(got[DEPTH][i]))
        cloud = np.isfinite(cloud_msg_to_arrays(got[POINTS][i]).xyz[..., 2])
        return depth, cloud

    frame(0)  # defaults: the mask is published, nothing is excluded
    depth0, cloud0 = valid(0)
    assert depth0[1:].all() and not depth0[0].any()  # only the confidence mask (row 0)
    assert np.array_equal(cloud0, depth0)

    set_params(exclude_dynamic=True)
    frame(1)
    masks(2)
    mask = _mono8(got[MASK][1]) == 255
    depth1, cloud1 = valid(1)
    confident = np.ones((H, W), bool)
    confident[0] = False
    assert np.array_equal(depth1, confident & ~mask)  # the mask's pixels and nothing else
    assert np.array_equal(cloud1, depth1)
    removed = (confident & mask & ~depth1).sum() / (confident & mask).sum()
    assert removed >= 0.95

    set_params(dynamic_dilate_px=0, publish_confidence=False)
    frame(2)
    masks(3)
    mask2 = _mono8(got[MASK][2]) == 255
    assert np.array_equal(mask2, engine_mask(2))  # not grown any more
    assert np.array_equal(valid(2)[0], confident & ~engine_mask(2))

    set_params(exclude_dynamic=False, publish_dynamic_mask=False, publish_confidence=True)
    frame(3)
    assert np.array_equal(valid(3)[0], confident)
    set_params(publish_dynamic_mask=True)
    frame(4)
    rig.spin_until(lambda: len(got[MASK]) == 4 and len(got[CONFIDENCE]) == 4,
                   what='the mask and confidence of frame 4')
    # reliable and in order: frame 3's mask and frame 2's confidence would have come first
    assert [_stamp(m.header) for m in got[MASK]] == [T0 + i * STEP for i in (0, 1, 2, 4)]
    assert [_stamp(m.header) for m in got[MASK_INFO]] == [T0 + i * STEP for i in (0, 1, 2, 4)]
    assert [_stamp(m.header) for m in got[CONFIDENCE]] == [T0 + i * STEP for i in (0, 1, 3, 4)]
    # the worker counts a frame right after publishing it: its subscribers may be faster
    target = float(engine_mask(4).mean())
    rig.spin_until(lambda: abs(float(rig.diagnostics()['dynamic pixel fraction']) - target)
                   <= 1e-4, what="frame 4's dynamic pixel fraction in /diagnostics")


def test_replay_and_demo_bags_carry_the_node_topic_set(rig_factory, tmp_path):
    """The node's own publishers (its graph view, no discovery lag) against the topics of the
    demo's output bag (the replay's code path), both against OutputTopics."""
    from align3r_ros.bag.reader import BagReader
    from align3r_ros.config import RunMode
    from align3r_ros.messages.output_topics import OUTPUT_TOPICS
    from align3r_ros.tools.demo import DemoScene, run_demo

    rig = rig_factory()
    rig.start()
    published = {p.topic_name for p in rig.node._outputs._publishers()}
    names = OUTPUT_TOPICS.resolved()
    every = {getattr(names, f.name) for f in dataclasses.fields(names)}
    assert published == every - {names.tf_static}  # /tf_static: the node only listens
    run_demo(tmp_path, DemoScene(frames=6), RunMode.STREAMING, quiet=True)
    with BagReader(tmp_path / 'output_bag') as reader:
        in_bag = {t.name for t in reader.topics}
    assert in_bag == published  # the synthetic input has no /tf_static to copy
