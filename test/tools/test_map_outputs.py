"""Map-ready outputs of align3r-replay and align3r-demo (issue 15): the node's full topic set
(dynamic mask + CameraInfo, confidence, keyframe path) in every output bag, one header per
frame, the trajectory as a TUM file that evo scores like the report, and a failure line that
names the frames' own status."""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from align3r_ros.bag.reader import BagReader
from align3r_ros.evaluation.dataset_files import read_tum_trajectory
from align3r_ros.messages.image import as_uint8, depth_msg_to_metres
from align3r_ros.messages.output_topics import OUTPUT_TOPICS
from support.tool_inputs import GT_FLAGS, synthetic_frames, write_bag

ORACLE = ['--pairwise-backend', 'oracle', '--preprocess-long-side', '64']
FRAMES = 12
NAMES = OUTPUT_TOPICS.resolved()
#: every topic the node publishes, as a recording of it names them; /tf_static only when the
#: input bag has one to copy (the synthetic bags have none)
NODE_TOPICS = {getattr(NAMES, f.name) for f in dataclasses.fields(NAMES)} - {NAMES.tf_static}


def _dynamic_frames():
    """The demo's scene: a textured room, one moving sphere, ground truth."""
    from align3r_ros.synthetic import iter_frames

    return list(iter_frames(FRAMES, 96, 128, seed=0, num_movers=1))


@pytest.fixture(scope='module')
def replayed(tmp_path_factory):
    """One oracle replay (live mode, the default) with a report and a trajectory file."""
    from align3r_ros.bag.frames_to_bag import FramesBagOptions, write_frames_bag
    from align3r_ros.tools import replay

    root = tmp_path_factory.mktemp('replay')
    write_frames_bag(_dynamic_frames(), root / 'input', FramesBagOptions())
    code = replay.main([str(root / 'input'), '-o', str(root / 'out'), '--report',
                        str(root / 'report'), '--trajectory', str(root / 'traj.txt'),
                        '--quiet', *GT_FLAGS, *ORACLE])
    assert code == 0
    return root


def _messages(bag: Path):
    with BagReader(bag) as reader:
        topics = {t.name: t.count for t in reader.topics}
        by_topic = defaultdict(list)
        for item in reader.messages([t for t in topics if t != NAMES.diagnostics]):
            by_topic[item.topic].append(item.msg)
    return topics, by_topic


def _header(msg):
    return int(msg.header.stamp.sec), int(msg.header.stamp.nanosec), str(msg.header.frame_id)


def test_replay_bag_has_the_node_topic_set_and_one_header_per_frame(replayed):
    topics, by_topic = _messages(replayed / 'out')
    assert set(topics) == NODE_TOPICS
    assert topics[NAMES.keyframes] >= 1  # live mode: the refined keyframe window
    depth = by_topic[NAMES.depth]
    assert len(depth) == FRAMES
    for name in (NAMES.dynamic_mask, NAMES.dynamic_mask_info, NAMES.confidence,
                 NAMES.depth_info):
        assert [_header(m) for m in by_topic[name]] == [_header(m) for m in depth], name
    for depth_msg, mask, confidence in zip(depth, by_topic[NAMES.dynamic_mask],
                                           by_topic[NAMES.confidence]):
        assert (mask.height, mask.width) == (depth_msg.height, depth_msg.width)
        assert (confidence.height, confidence.width) == (depth_msg.height, depth_msg.width)
        assert mask.encoding == 'mono8' and confidence.encoding == '32FC1'
        assert set(np.unique(as_uint8(mask.data))) <= {0, 255}
        values = depth_msg_to_metres(confidence)
        assert np.isfinite(values).any() and np.nanmin(values) >= 1.0  # DUSt3R-style >= 1


def test_trajectory_file_holds_every_pose_with_the_input_stamps(replayed):
    trajectory = read_tum_trajectory(replayed / 'traj.txt')
    frames = _dynamic_frames()
    assert list(trajectory.stamps_ns) == [f.stamp_ns for f in frames]
    lines = (replayed / 'traj.txt').read_text().splitlines()
    assert lines[0].startswith('#') and len(lines) == FRAMES + 1
    assert all(len(line.split()) == 8 for line in lines[1:])
    with BagReader(replayed / 'out') as reader:
        odometry = [item.msg for item in reader.messages([NAMES.odometry])]
    for T, odom in zip(trajectory.T_world_cam, odometry):  # the published poses
        p = odom.pose.pose.position
        assert np.allclose(T[:3, 3], [p.x, p.y, p.z], atol=1e-12)


def test_evo_ape_with_sim3_alignment_equals_the_report_ate(replayed):
    evo_metrics = pytest.importorskip('evo.core.metrics', reason='evo is not installed')
    from evo.core import sync
    from evo.core.trajectory import PoseTrajectory3D
    from evo.tools import file_interface

    frames = _dynamic_frames()
    reference = PoseTrajectory3D(poses_se3=[f.gt_T_world_cam for f in frames],
                                 timestamps=np.array([f.stamp_ns / 1e9 for f in frames]))
    estimate = file_interface.read_tum_trajectory_file(str(replayed / 'traj.txt'))
    reference, estimate = sync.associate_trajectories(reference, estimate)
    assert estimate.num_poses == FRAMES
    estimate.align(reference, correct_scale=True)  # evo_ape ... -as
    ape = evo_metrics.APE(evo_metrics.PoseRelation.translation_part)
    ape.process_data((reference, estimate))
    rmse = ape.get_statistic(evo_metrics.StatisticsType.rmse)
    ate = json.loads((replayed / 'report' / 'report.json').read_text())['pose']['ate']
    assert ate > 0 and rmse == pytest.approx(ate, rel=1e-6)


def test_demo_bag_has_the_node_topic_set_and_the_mover_in_its_mask(tmp_path):
    from align3r_ros.config import RunMode
    from align3r_ros.tools.demo import DemoScene, run_demo

    run_demo(tmp_path, DemoScene(frames=FRAMES), RunMode.STREAMING, quiet=True)
    topics, by_topic = _messages(tmp_path / 'output_bag')
    assert set(topics) == NODE_TOPICS
    assert len(by_topic[NAMES.dynamic_mask]) == len(by_topic[NAMES.depth]) == FRAMES
    # the oracle got the rendered mover masks: the sphere shows in every frame's mask
    assert all((as_uint8(m.data) == 255).any() for m in by_topic[NAMES.dynamic_mask])


def test_replay_trajectory_location_is_checked_before_any_work(tmp_path, capsys):
    from align3r_ros.tools import replay

    write_bag(tmp_path / 'input', 3)
    (tmp_path / 'traj.txt').write_text('keep\n')
    code = replay.main([str(tmp_path / 'input'), '-o', str(tmp_path / 'out'), '--quiet',
                        '--trajectory', str(tmp_path / 'traj.txt'), *GT_FLAGS, *ORACLE])
    assert code != 0 and '--trajectory' in capsys.readouterr().err
    assert (tmp_path / 'traj.txt').read_text() == 'keep\n' and not (tmp_path / 'out').exists()


class _NoIntrinsicsEngine:
    """Every result without depth, each saying why (as the oracle does without CameraInfo),
    except one with another status: the most frequent one is named."""

    def __init__(self, config) -> None:
        from align3r_ros.structures import EngineStats
        self.stats = EngineStats()

    def push(self, frame):
        from align3r_ros.structures import FrameResult

        # each frame's status names its own stamp, as the engine's do: counted as one cause
        status = f'oracle: frame {frame.stamp_ns} has no intrinsics (give CameraInfo)' \
            if frame.stamp_ns != synthetic_frames(4)[0].stamp_ns else 'reset: size changed'
        return [FrameResult(stamp_ns=frame.stamp_ns, depth=np.full(frame.shape, np.nan,
                                                                   np.float32),
                            confidence=np.zeros(frame.shape, np.float32), K=np.eye(3),
                            T_world_cam=np.eye(4), is_metric=False,
                            dynamic_mask=np.zeros(frame.shape, bool), status=status,
                            tag=frame.tag)]

    def flush(self):
        return []

    def keyframe_poses(self):
        return []


def test_no_valid_depth_names_the_most_frequent_frame_status(tmp_path, monkeypatch, capsys):
    from align3r_ros.tools import replay, replay_run

    write_bag(tmp_path / 'input', 4)
    monkeypatch.setattr(replay_run, 'default_engine_factory',
                        lambda mode, on_stage=None: _NoIntrinsicsEngine)
    code = replay.main([str(tmp_path / 'input'), '-o', str(tmp_path / 'out'), '--quiet'])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    second = synthetic_frames(4)[1].stamp_ns
    assert 'none of the 4 results holds a valid depth map (most frequent frame status ' \
           f'(3 of 4): oracle: frame {second} has no intrinsics (give CameraInfo))' in err[0]
    assert 'every alignment failed?' not in err[0]
