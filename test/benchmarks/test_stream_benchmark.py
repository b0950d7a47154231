"""align3r-bench stream: runs on tiny cases and its JSON has the fields (not a timed test)."""

from __future__ import annotations

import json

import pytest
import torch

from align3r_ros.benchmarks import stream
from align3r_ros.benchmarks.stream_cases import drive, network_run, ping_pong
from align3r_ros.structures import EngineStats

pytest.importorskip('cv2')


class _Recorder:
    """A FrameEngine stand-in: results come out ``delay`` pushes late, the rest at flush."""

    stats = EngineStats()  # no keyframes

    def __init__(self, delay: int) -> None:
        self.delay = delay
        self.held = []

    def push(self, frame):
        self.held.append(frame)
        if len(self.held) > self.delay:
            return [_Result(self.held.pop(0))]
        return []

    def flush(self):
        out = [_Result(f) for f in self.held]
        self.held = []
        return out


class _Result:
    def __init__(self, frame) -> None:
        self.stamp_ns = frame.stamp_ns
        self.T_world_cam = frame.gt_T_world_cam


def test_latency_counts_pushes_between_a_frame_and_its_result(shared):
    from align3r_ros.evaluation.datasets import DatasetKind, load_sequence
    seq = load_sequence(DatasetKind.SEVEN_SCENES, shared / 'data' / '7scenes_redkitchen',
                        frames=3)
    frames = list(ping_pong(seq.frames, 7, 10))
    assert [f.stamp_ns for f in frames] == [10, 20, 30, 40, 50, 60, 70]
    # forward and back over 3 frames: 0 1 2 1 0 1 2
    assert [f.gt_T_world_cam is seq.frames[k].gt_T_world_cam
            for f, k in zip(frames, (0, 1, 2, 1, 0, 1, 2))] == [True] * 7
    live = drive(_Recorder(0), frames, keep_results=False)
    assert live['latency_frames'] == {'median': 0.0, 'max': 0, 'mean': 0.0}
    late = drive(_Recorder(2), frames, keep_results=False)
    # frames 0..4 come out 2 pushes late; 5 and 6 at flush (push index 7): 2 and 1 late
    assert late['latency_frames']['max'] == 2 and late['results'] == 7
    assert late['latency_frames']['mean'] == pytest.approx((5 * 2 + 2 + 1) / 7)


def test_oracle_part_prints_both_modes_with_their_fields(shared, capsys, tmp_path):
    out = tmp_path / 'stream.json'
    code = stream.main(['--frames', '4', '--long-side', '48', '--threads', '1', '--soak', '6',
                        '--data', str(shared / 'data' / '7scenes_redkitchen'),
                        '--out', str(out)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == report
    assert [m['mode'] for m in report['modes']] == ['live', 'clip']
    for mode in report['modes']:
        assert mode['frames'] == 4 and mode['results'] == 4 and mode['non_finite_poses'] == 0
        for key in ('median', 'p95', 'max'):
            assert mode['push_seconds'][key] > 0
        assert mode['latency_frames']['max'] >= 0 and 0 <= mode['keyframe_rate'] <= 1
        assert mode['peak_rss_mib'] > 0 and mode['trajectory_length_m'] > 0
        assert mode['ate_percent_of_length'] >= 0 and 0 <= mode['abs_rel_median_scaled'] < 1
    soak = report['modes'][0]['soak']
    assert soak['frames'] == 6 and soak['rss_mib_at_end'] > 0 and soak['non_finite_poses'] == 0
    assert 'soak' not in report['modes'][1]  # --soak-modes defaults to live only
    assert set(report['ratios']) >= {'clip_over_live_seconds_per_frame'}


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without CUDA')
def test_network_part_skips_with_a_reason_without_cuda():
    result = network_run(frames=2, device='cuda', dtype='bf16', prior_model='vitl', warmup=0,
                         cpu_threads=1)
    assert 'no CUDA device' in result['skipped']


def test_network_part_runs_the_tiny_networks_end_to_end(shared):
    fixtures = shared / 'fixtures'
    result = network_run(frames=3, device='cpu', dtype='fp32', warmup=1, cpu_threads=1,
                         prior_model=str(fixtures / 'depth_anything_v2_tiny' / 'config.json'),
                         network=str(fixtures / 'align3r_tiny' / 'config.json'))
    assert result['frames'] == 3 and result['results'] == 3, result
    assert result['input_size'] == [854, 480] and result['fps_end_to_end'] > 0
    assert result['latency_ms']['max'] >= result['latency_ms']['median'] > 0
