"""align3r-replay end to end: bags built from the real 7-Scenes frames, the third-party bag, and
bad input (one-line errors, non-zero exit, never an output bag)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from align3r_ros.bag.frames_to_bag import FramesBagOptions, write_frames_bag
from align3r_ros.bag.reader import BagReader
from align3r_ros.config import RunMode
from align3r_ros.config_io import load_config
from align3r_ros.errors import BagError
from align3r_ros.structures import Frame
from align3r_ros.tools import replay
from align3r_ros.tools.replay_run import ReplayOptions, run_replay
from support.fake_engine import FakeEngine

GT_TOPICS = ['--gt-depth-topic', '/camera/depth/image_raw', '--gt-pose-topic',
             '/ground_truth/pose']


@pytest.fixture(scope='module')
def kitchen(shared):
    """Frames 0, 3, 6, 9 of 7-Scenes redkitchen at 160x120 (every 4th pixel, K / 4)."""
    from align3r_ros.evaluation.datasets import load_sequence

    data = load_sequence('7scenes', shared / 'data' / '7scenes_redkitchen', frames=4)
    frames = []
    for f in data.frames:
        K = f.K.copy()
        K[:2] /= 4
        frames.append(Frame(stamp_ns=f.stamp_ns + 10**9, rgb=np.ascontiguousarray(
            f.rgb[::4, ::4]), K=K, gt_depth=np.ascontiguousarray(f.gt_depth[::4, ::4]),
            gt_T_world_cam=f.gt_T_world_cam))
    return frames


@pytest.fixture(scope='module')
def kitchen_bag(kitchen, tmp_path_factory):
    path = tmp_path_factory.mktemp('bags') / 'kitchen'
    write_frames_bag(kitchen, path, FramesBagOptions())
    return path


def half_truth_engine(config=None, on_push=None) -> FakeEngine:
    """The shared fake engine as these tests use it: answers a clip of two frames late with
    ground truth at half scale (exact up to Sim(3)), relative scale; ``on_push`` sees every
    frame pushed."""
    return FakeEngine(config, clip=2, truth_scale=0.5, is_metric=False, on_push=on_push)


def _fake_backends(config):
    """No weights: the offline tests replace align_sequence, which alone would use these."""
    return object(), None


def test_replay_with_fake_engine_writes_outputs_and_exact_metrics(kitchen_bag, kitchen, tmp_path):
    options = ReplayOptions(input=kitchen_bag, output=tmp_path / 'out', config=load_config(),
                            gt_depth_topic='/camera/depth/image_raw',
                            gt_pose_topic='/ground_truth/pose')
    done = []
    outcome = run_replay(options, engine_factory=half_truth_engine,
                         progress=lambda i, n: done.append((i, n)))
    assert done[-1] == (4, 4) and outcome.frames_written == 4
    evaluation = outcome.report.evaluation
    # Depth and poses are the ground truth up to scale 0.5: alignment recovers them.
    assert evaluation.depth.abs_rel < 1e-4 and evaluation.depth.delta_1_25 == 1.0
    assert evaluation.depth.scale == pytest.approx(2.0, rel=1e-3)
    assert evaluation.pose.ate < 1e-6 and evaluation.pose.sim3_scale == pytest.approx(2.0)
    with BagReader(tmp_path / 'out') as reader:
        counts = {t.name: t.count for t in reader.topics}
        stamps = [m.msg.header.stamp for m in reader.messages(['/align3r/depth/image'])]
    assert counts['/align3r/depth/image'] == 4 and counts['/tf'] == 4
    assert [s.sec * 10**9 + s.nanosec for s in stamps] == [f.stamp_ns for f in kitchen]


def test_replay_cli_oracle_end_to_end(kitchen_bag, kitchen, tmp_path, capsys):
    """The real engine with the oracle backend on real frames and real poses.

    Bounds: the oracle perturbs point maps by 2 % relative noise and random per-pair scales;
    global alignment averages over pairs, so after the paper's L1 scale-and-shift the depth
    error must stay below the noise (Abs Rel < 0.03, δ<1.25 > 0.97); poses: the four frames
    span ~5 cm, so the ATE must be well under 1 cm (measured ~1 mm) and RPE-rot under 1°.
    """
    out, report_dir = tmp_path / 'out', tmp_path / 'report'
    code = replay.main([str(kitchen_bag), '-o', str(out), '--pairwise-backend', 'oracle',
                        '--preprocess-long-side', '64', '--clip-length', '4', '--report',
                        str(report_dir), '--quiet'] + GT_TOPICS)
    assert code == 0
    report = json.loads((report_dir / 'report.json').read_text())
    assert report['frames'] == 4 and report['metric_scale'] is False
    assert report['timing']['total_s'] > 0 and report['timing']['ms_per_frame'] > 0
    depth, pose = report['depth'], report['pose']
    assert depth['abs_rel'] < 0.03 and depth['delta_1_25'] > 0.97
    assert set(depth) >= {'abs_rel', 'sq_rel', 'rmse', 'log_rmse', 'delta_1_25'}
    assert pose['ate'] < 0.01 and pose['rpe_trans'] < 0.01 and pose['rpe_rot_deg'] < 1.0
    assert {p.name for p in report_dir.iterdir()} == {
        'report.json', 'report.md', 'trajectory.png', 'errors.png', 'depth_strip.png'}
    with BagReader(out) as reader:
        (item,) = list(reader.messages(['/align3r/depth/image']))[:1]
        assert item.msg.encoding == '32FC1' and item.msg.header.frame_id == \
            'camera_optical_frame'


def test_report_without_ground_truth_has_no_metric_sections(kitchen_bag, tmp_path):
    options = ReplayOptions(input=kitchen_bag, output=tmp_path / 'out', config=load_config())
    outcome = run_replay(options, engine_factory=half_truth_engine)
    from align3r_ros.evaluation.report import report_to_dict
    document = report_to_dict(outcome.report)
    assert 'depth' not in document and 'pose' not in document and document['frames'] == 4


def test_offline_mode_uses_align_sequence(kitchen_bag, tmp_path, monkeypatch):
    import align3r_ros.engine.engine as engine_module

    calls = []

    def fake_align_sequence(frames, config, pairwise_backend, prior_backend):
        calls.append(len(frames))
        return [half_truth_engine(config).result(f) for f in frames]
    monkeypatch.setattr(engine_module, 'align_sequence', fake_align_sequence)
    monkeypatch.setattr(engine_module, 'build_backends', _fake_backends)
    options = ReplayOptions(input=kitchen_bag, output=tmp_path / 'out', config=load_config(),
                            mode=RunMode.OFFLINE, gt_pose_topic='/ground_truth/pose')
    outcome = run_replay(options)
    assert calls == [4] and outcome.frames_written == 4 and outcome.report.evaluation.pose.ok


def _run_cli(args, capsys):
    code = replay.main(args + ['--quiet'])
    return code, capsys.readouterr().err


def test_third_party_tf_bag_gives_a_clear_error(shared, tmp_path, capsys):
    code, err = _run_cli([str(shared / 'data' / 'evo_tf_example' / 'tf_example'), '-o',
                          str(tmp_path / 'out')], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert 'no image topic' in err
    assert '/tf (tf2_msgs/msg/TFMessage, 517 msgs)' in err and '/tf_static' in err
    assert not (tmp_path / 'out').exists()
    code, err = _run_cli([str(shared / 'data' / 'evo_tf_example' / 'tf_example'), '-o',
                          str(tmp_path / 'out'), '--image-topic', '/camera/image'], capsys)
    assert code == 1 and '/camera/image is not in the bag' in err


def test_bad_inputs_exit_non_zero_without_output(kitchen, kitchen_bag, tmp_path, capsys):
    # Corrupt: the database cut in half.
    corrupt = tmp_path / 'corrupt'
    shutil.copytree(kitchen_bag, corrupt)
    (db,) = corrupt.glob('*.db3')
    db.write_bytes(db.read_bytes()[:len(db.read_bytes()) // 2])
    code, err = _run_cli([str(corrupt), '-o', str(tmp_path / 'o1')], capsys)
    assert code == 1 and 'error:' in err and not (tmp_path / 'o1').exists()
    # Missing input, existing output.
    code, err = _run_cli([str(tmp_path / 'missing'), '-o', str(tmp_path / 'o2')], capsys)
    assert code == 1 and 'not found' in err
    (tmp_path / 'exists').mkdir()
    code, err = _run_cli([str(kitchen_bag), '-o', str(tmp_path / 'exists')], capsys)
    assert code == 1 and 'exists already' in err
    # A config flag out of range.
    code, err = _run_cli([str(kitchen_bag), '-o', str(tmp_path / 'o3'), '--clip-length', '1'],
                         capsys)
    assert code == 1 and 'clip.length' in err and not (tmp_path / 'o3').exists()


def test_unknown_encoding_produces_nothing(kitchen, tmp_path, capsys):
    from align3r_ros.bag.writer import AtomicBagWriter
    from align3r_ros.messages import MessageTypes
    from align3r_ros.messages.header import make_header
    from align3r_ros.messages.image import depth_to_image_msg, rgb_to_image_msg
    from align3r_ros.messages.odometry import pose_to_pose_stamped

    bag = tmp_path / 'yuv'
    with AtomicBagWriter(bag) as writer:  # ground truth too: the oracle is refused without it
        types = MessageTypes.from_rosbags(writer.typestore)
        writer.add_topic('/image', 'sensor_msgs/msg/Image')
        writer.add_topic(GT_TOPICS[1], 'sensor_msgs/msg/Image')
        writer.add_topic(GT_TOPICS[3], 'geometry_msgs/msg/PoseStamped')
        for frame in kitchen[:2]:
            header = make_header(frame.stamp_ns, 'c', types)
            msg = rgb_to_image_msg(frame.rgb, header, types)
            msg.encoding = 'yuv422'
            writer.write('/image', frame.stamp_ns, msg)
            writer.write(GT_TOPICS[1], frame.stamp_ns,
                         depth_to_image_msg(frame.gt_depth, header, types))
            writer.write(GT_TOPICS[3], frame.stamp_ns, pose_to_pose_stamped(
                frame.gt_T_world_cam, frame.stamp_ns, 'world', types))
    code, err = _run_cli([str(bag), '-o', str(tmp_path / 'out'), '--pairwise-backend',
                          'oracle', *GT_TOPICS], capsys)
    assert code == 1 and "unsupported image encoding 'yuv422'" in err
    assert not (tmp_path / 'out').exists()
    assert [p.name for p in tmp_path.iterdir()] == ['yuv']  # no staging directory left


def test_ground_truth_that_never_associates_warns(kitchen, tmp_path):
    shifted = [Frame(stamp_ns=f.stamp_ns, rgb=f.rgb, K=f.K) for f in kitchen]
    path = tmp_path / 'in'
    write_frames_bag(shifted, path, FramesBagOptions())
    # A pose topic of the wrong type is refused before anything is written.
    options = ReplayOptions(input=path, output=tmp_path / 'out', config=load_config(),
                            gt_pose_topic='/camera/camera_info')
    with pytest.raises(BagError, match='ground-truth pose topic /camera/camera_info has type'):
        run_replay(options, engine_factory=half_truth_engine)
    assert not (tmp_path / 'out').exists()
    # Ground-truth depth recorded 0.5 s away from every image never associates: a warning.
    late = [Frame(stamp_ns=f.stamp_ns + 5 * 10**8, rgb=f.rgb, gt_depth=f.gt_depth)
            for f in kitchen]
    write_frames_bag(late, tmp_path / 'late', FramesBagOptions(image_topic='/other/image'))
    from align3r_ros.bag.writer import AtomicBagWriter
    merged = tmp_path / 'merged'
    with AtomicBagWriter(merged) as writer:
        for source in (path, tmp_path / 'late'):
            with BagReader(source) as reader:
                for topic in reader.topics:
                    writer.add_topic(topic.name, topic.msgtype)
                for item in reader.messages([t.name for t in reader.topics
                                             if t.name != '/other/image']):
                    writer.write(item.topic, item.log_time_ns, item.msg)
    options = ReplayOptions(input=merged, output=tmp_path / 'out2', config=load_config(),
                            image_topic='/camera/image_raw',
                            gt_depth_topic='/camera/depth/image_raw')
    outcome = run_replay(options, engine_factory=half_truth_engine)
    assert any('never associates' in w for w in outcome.report.warnings)
    assert outcome.report.evaluation is None and outcome.frames_written == 4


@pytest.mark.slow
def test_readme_demo_thirty_frames_with_the_oracle(shared, tmp_path):
    """The README's weightless demo: all 30 real frames at full size, network long side 128.

    Bounds as in the 4-frame test; the trajectory spans ~0.5 m, so ATE < 3 cm (measured 1.2 cm).
    """
    from align3r_ros.tools import bag_from_frames

    bag = tmp_path / 'kitchen'
    assert bag_from_frames.main([str(shared / 'data' / '7scenes_redkitchen'), '--dataset',
                                 '7scenes', '-o', str(bag), '--quiet']) == 0
    assert replay.main([str(bag), '-o', str(tmp_path / 'out'), '--pairwise-backend', 'oracle',
                        '--preprocess-long-side', '128', '--report', str(tmp_path / 'report'),
                        '--quiet'] + GT_TOPICS) == 0
    report = json.loads((tmp_path / 'report' / 'report.json').read_text())
    assert report['frames'] == 30
    assert report['depth']['abs_rel'] < 0.03 and report['depth']['delta_1_25'] > 0.97
    assert report['pose']['ate'] < 0.03 and report['pose']['rpe_rot_deg'] < 1.0
    # docs/replay_eval.md's sample row is what this run prints (to its last printed digit, ±1)
    measured = {'Abs Rel': report['depth']['abs_rel'], 'Sq Rel': report['depth']['sq_rel'],
                'RMSE [m]': report['depth']['rmse'], 'log RMSE': report['depth']['log_rmse'],
                'δ<1.25': report['depth']['delta_1_25'], 'ATE [m]': report['pose']['ate'],
                'RPE trans [m]': report['pose']['rpe_trans'],
                'RPE rot [deg]': report['pose']['rpe_rot_deg']}
    documented = _documented_sample_row()
    assert set(documented) == set(measured)
    for name, text in documented.items():
        unit = 10.0 ** -len(text.split('.')[1])
        assert abs(measured[name] - float(text)) <= 1.5 * unit, (name, measured[name], text)


def _documented_sample_row():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / 'docs' / 'replay_eval.md').read_text(
        encoding='utf-8')
    rows = [line for line in page.split('### Sample report', 1)[1].splitlines()
            if line.startswith('|')]
    header, row = rows[0], rows[2]
    cells = [c.strip() for c in header.strip('|').split('|')]
    return dict(zip(cells, [c.strip() for c in row.strip('|').split('|')]))


@pytest.mark.slow
def test_tiny_random_network_end_to_end(shared, kitchen_bag, tmp_path):
    """The torch backend with the tiny random-weight DUSt3R fixture: the whole pipeline runs
    and writes finite poses for every frame (its depth is meaningless: random weights). Clip
    mode, as ``--clip-length`` says: live mode's map start needs confident static pixels that
    random weights do not give, and the replay then rightly exits non-zero (test_cli_replay_
    eval's test_replay_with_random_tiny_weights_exits_non_zero)."""
    weights = shared / 'fixtures' / 'dust3r_tiny' / 'weights.safetensors'
    assert replay.main([str(kitchen_bag), '-o', str(tmp_path / 'out'), '--pairwise-weights',
                        str(weights), '--pairwise-checkpoint-prior', 'none',
                        '--prior-backend', 'none', '--preprocess-long-side', '64',
                        '--stream-mode', 'clip', '--clip-length', '4', '--quiet']) == 0
    with BagReader(tmp_path / 'out') as reader:
        transforms = [m.msg.transforms[0].transform for m in reader.messages(['/tf'])]
    assert len(transforms) == 4
    assert all(np.isfinite([t.translation.x, t.rotation.w]).all() for t in transforms)


def test_mcap_output_decodes_independently_with_input_headers(kitchen_bag, kitchen, tmp_path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    from align3r_ros.bag.writer import Storage

    options = ReplayOptions(input=kitchen_bag, output=tmp_path / 'out', config=load_config(),
                            storage=Storage.MCAP)
    run_replay(options, engine_factory=half_truth_engine)
    (path,) = (tmp_path / 'out').glob('*.mcap')
    headers = {}
    with open(path, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        for _, channel, message, msg in reader.iter_decoded_messages():
            if channel.topic == '/tf':
                header = msg.transforms[0].header
                assert msg.transforms[0].child_frame_id == 'camera_optical_frame'
                assert header.frame_id == 'align3r_world'
            elif hasattr(msg, 'header'):
                header = msg.header
            else:
                continue
            stamp = header.stamp.sec * 10**9 + header.stamp.nanosec
            assert stamp == message.log_time
            headers.setdefault(channel.topic, []).append((stamp, header.frame_id))
    input_headers = [(f.stamp_ns, 'camera_optical_frame') for f in kitchen]
    assert headers['/align3r/depth/image'] == input_headers
    assert headers['/align3r/depth/camera_info'] == input_headers
    assert headers['/align3r/points'] == input_headers


@pytest.fixture(scope='module')
def half_prior_bag(kitchen, tmp_path_factory):
    """The kitchen frames with depth (the prior) recorded for the first two images only."""
    frames = [f if i < 2 else Frame(stamp_ns=f.stamp_ns, rgb=f.rgb, K=f.K,
                                    gt_T_world_cam=f.gt_T_world_cam)
              for i, f in enumerate(kitchen)]
    path = tmp_path_factory.mktemp('bags') / 'half_prior'
    write_frames_bag(frames, path, FramesBagOptions())
    return path


def test_prior_topic_reaches_the_engine_and_missing_priors_are_reported(
        half_prior_bag, kitchen, tmp_path):
    pushed = []

    options = ReplayOptions(input=half_prior_bag, output=tmp_path / 'out', config=load_config(),
                            prior_topic='/camera/depth/image_raw')
    outcome = run_replay(options, engine_factory=lambda config: half_truth_engine(
        config, on_push=pushed.append))
    assert outcome.topics.prior == '/camera/depth/image_raw' and outcome.frames_written == 4
    for got, sent in zip(pushed[:2], kitchen):  # 16UC1 millimetres -> metres
        valid = ~np.isnan(sent.gt_depth)
        assert np.array_equal(np.isnan(got.prior), ~valid)
        assert np.abs(got.prior[valid] - sent.gt_depth[valid]).max() <= 5e-4
        assert got.gt_depth is None  # the prior is not ground truth
    assert pushed[2].prior is None and pushed[3].prior is None
    (warning,) = [w for w in outcome.report.warnings if 'prior' in w]
    assert warning == ('2 of 4 frames have no prior depth on /camera/depth/image_raw within '
                       '20 ms of their stamp')
    assert ('prior backend', 'topic /camera/depth/image_raw (metric_depth), else depth_pro') \
        in outcome.report.settings


def test_offline_mode_drops_frames_without_the_prior_a_network_needs(
        half_prior_bag, tmp_path, monkeypatch):
    import align3r_ros.engine.engine as engine_module

    calls = []

    def fake_align_sequence(frames, config, pairwise_backend, prior_backend):
        calls.append([f.prior is not None for f in frames])
        return [half_truth_engine(config).result(f) for f in frames]
    monkeypatch.setattr(engine_module, 'align_sequence', fake_align_sequence)
    monkeypatch.setattr(engine_module, 'build_backends', _fake_backends)
    config = load_config({'pairwise': {'backend': 'torch'}, 'prior': {'backend': 'external'}})
    options = ReplayOptions(input=half_prior_bag, output=tmp_path / 'out', config=config,
                            mode=RunMode.OFFLINE, prior_topic='/camera/depth/image_raw')
    outcome = run_replay(options)
    assert calls == [[True, True]] and outcome.frames_written == 2
    assert any(w.endswith('they were dropped: the pairwise network needs a prior')
               for w in outcome.report.warnings)


def test_missing_prior_topic_lists_the_topics(kitchen_bag, tmp_path, capsys):
    code, err = _run_cli([str(kitchen_bag), '-o', str(tmp_path / 'out'), '--prior-topic',
                          '/rgbd/depth'], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert 'topic /rgbd/depth is not in the bag; it has: ' in err
    assert '/camera/depth/image_raw (sensor_msgs/msg/Image' in err
    assert not (tmp_path / 'out').exists()


@pytest.fixture(scope='module')
def synthetic_bag(tmp_path_factory):
    """Four rendered frames with ground truth (no ../shared needed)."""
    from align3r_ros.synthetic import make_sequence

    path = tmp_path_factory.mktemp('bags') / 'synthetic'
    write_frames_bag(make_sequence(4, 24, 32, seed=5).frames, path, FramesBagOptions())
    return path


def test_progress_bar_per_frame_with_log_warnings_through_it(synthetic_bag, tmp_path, capsys,
                                                               monkeypatch):
    import logging
    import sys

    from align3r_ros.tools import replay_run

    def warn(frame) -> None:
        logging.getLogger('align3r_ros.test').warning('odd frame %d', frame.stamp_ns)
    monkeypatch.setattr(replay_run, 'default_engine_factory',
                        lambda mode, on_stage: lambda config: half_truth_engine(config, warn))
    handler = logging.StreamHandler(sys.stderr)  # the tools' logging.basicConfig, on capsys
    handler.setFormatter(logging.Formatter('%(levelname)s: %(message)s'))
    logging.getLogger().addHandler(handler)
    try:
        options = ReplayOptions(input=synthetic_bag, output=tmp_path / 'out',
                                config=load_config())
        replay.replay_with_progress(options, quiet=False)
        err = capsys.readouterr().err
        replay.replay_with_progress(dataclasses.replace(options, output=tmp_path / 'out2'),
                                    quiet=True)
        quiet_err = capsys.readouterr().err
    finally:
        logging.getLogger().removeHandler(handler)
    screen = [line.rsplit('\r', 1)[-1] for line in err.split('\n')]
    warnings = [line for line in screen if 'odd frame' in line]
    assert len(warnings) == 4 and all(line.startswith('WARNING: odd frame ') for line in warnings)
    assert any('replay: 100%' in line and '4/4' in line for line in err.split('\r'))
    assert '%|' not in quiet_err and quiet_err.count('odd frame') == 4
