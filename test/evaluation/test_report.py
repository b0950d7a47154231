"""Collector (bounded memory), report.json / report.md, and the PNG figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from align3r_ros.evaluation.collector import EvaluationCollector
from align3r_ros.evaluation.report import RunReport, report_to_dict, write_report
from align3r_ros.structures import Frame, FrameResult


def _pair(i: int, scale: float = 0.5):
    y, x = np.mgrid[0:12, 0:16]
    gt = (1.0 + 0.1 * x + 0.05 * y + 0.01 * i).astype(np.float32)  # smooth: resizes well
    gt[0] = np.nan
    T_gt = np.eye(4)
    T_gt[:3, 3] = [0.1 * i, 0.02 * i * i, 0.01 * i]
    T_est = T_gt.copy()
    T_est[:3, 3] *= scale
    frame = Frame(stamp_ns=10**9 + i * 10**8, rgb=np.full((12, 16, 3), i, np.uint8),
                  gt_depth=gt, gt_T_world_cam=T_gt)
    result = FrameResult(stamp_ns=frame.stamp_ns, depth=(scale * gt[::2, ::2]),
                         confidence=np.ones((6, 8), np.float32), K=np.eye(3), T_world_cam=T_est,
                         is_metric=False, dynamic_mask=np.zeros((6, 8), bool))
    return result, frame


def test_collector_thins_evenly_and_bounds_memory():
    collector = EvaluationCollector(max_depth_frames=4)
    for i in range(10):
        collector.add(*_pair(i))
    evaluation = collector.evaluate()
    # Held 4 -> thinned to 2 (stride 2), then 4 again -> 2 (stride 4); frames 0, 4, 8 kept.
    assert evaluation.depth_stride == 4
    assert [int((s - 10**9) // 10**8) for s in evaluation.per_frame_stamps_ns] == [0, 4, 8]
    assert evaluation.pose.n_poses == 10 and evaluation.pose.ate < 1e-9
    # Prediction at half resolution, bilinearly upsampled: close but not exact.
    assert 0.0 < evaluation.depth.abs_rel < 0.05
    assert len(evaluation.strip) == 3 and evaluation.strip[0].rgb.shape == (12, 16, 3)


def test_report_json_markdown_and_figures(tmp_path):
    collector = EvaluationCollector()
    for i in range(5):
        collector.add(*_pair(i))
    report = RunReport(frames=5, metric_scale=False, total_s=2.0,
                       evaluation=collector.evaluate(), source='unit', warnings=('w1',))
    files = write_report(tmp_path, report)
    assert {f.name for f in files} == {'report.json', 'report.md', 'trajectory.png',
                                       'errors.png', 'depth_strip.png'}
    for png in tmp_path.glob('*.png'):
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and png.stat().st_size > 5000
    document = json.loads((tmp_path / 'report.json').read_text())
    assert document['frames'] == 5 and document['timing'] == {'total_s': 2.0,
                                                               'ms_per_frame': 400.0}
    assert set(document['depth']) >= {'abs_rel', 'sq_rel', 'rmse', 'log_rmse', 'delta_1_25'}
    assert set(document['pose']) >= {'ate', 'rpe_trans', 'rpe_rot_deg'}
    markdown = (tmp_path / 'report.md').read_text()
    assert '| Abs Rel |' in markdown and '![trajectory.png](trajectory.png)' in markdown
    assert '- w1' in markdown


def test_degenerate_trajectory_is_reported_as_skipped_with_null_values(tmp_path):
    collector = EvaluationCollector()
    for i in range(4):
        result, frame = _pair(i)
        T = np.eye(4)
        collector.add(FrameResult(result.stamp_ns, result.depth, result.confidence, result.K,
                                  T, False, result.dynamic_mask),
                      Frame(frame.stamp_ns, frame.rgb, gt_depth=None, gt_T_world_cam=T))
    report = RunReport(frames=4, metric_scale=False, total_s=0.0,
                       evaluation=collector.evaluate())
    document = report_to_dict(report)
    assert 'depth' not in document
    assert document['pose']['ate'] is None and 'Degenerate' in document['pose']['skipped']
    assert document['timing']['ms_per_frame'] == 0.0
    write_report(tmp_path, report)
    json.loads((tmp_path / 'report.json').read_text())  # strict JSON (no NaN)
    assert not (tmp_path / 'trajectory.png').exists()


def test_empty_report_has_only_the_always_present_sections():
    document = report_to_dict(RunReport(frames=0, metric_scale=False, total_s=1.0))
    assert document['frames'] == 0 and document['timing']['ms_per_frame'] is None
    assert 'depth' not in document and 'pose' not in document
    with pytest.raises(Exception):
        EvaluationCollector(max_depth_frames=1)


def test_dataset_average_is_typed_and_its_json_is_strict():
    """Depth averages weight sequences by valid pixels; a degenerate trajectory is skipped and
    named; what cannot be computed is null in the JSON, never NaN."""
    from align3r_ros.evaluation.depth_metrics import DepthMetrics
    from align3r_ros.evaluation.pose_metrics import PoseMetrics
    from align3r_ros.evaluation.report import average_reports, average_to_dict
    from align3r_ros.evaluation.collector import RunEvaluation

    def report(name, abs_rel, pixels, pose):
        depth = DepthMetrics(abs_rel=abs_rel, sq_rel=0.0, rmse=0.0, log_rmse=0.0,
                             delta_1_25=1.0, delta_1_25_2=1.0, delta_1_25_3=1.0,
                             valid_pixels=pixels, scale=1.0, shift=0.0, pred_coverage=1.0)
        return RunReport(frames=3, metric_scale=False, total_s=1.0, source=name,
                         evaluation=RunEvaluation(depth=depth, pose=pose))
    nan = float('nan')
    reports = [report('a', 0.1, 300, PoseMetrics(0.02, 0.01, 0.5, 3)),
               report('b', 0.3, 100, PoseMetrics(nan, nan, nan, 3, skipped='degenerate'))]
    average = average_reports(reports)
    assert average.sequences == 2 and average.depth.abs_rel == pytest.approx(0.15)
    assert average.pose.n_poses == 1 and average.pose.ate == pytest.approx(0.02)
    assert average.pose_skipped == ('b',) and reports[1].pose.skipped == 'degenerate'
    document = average_to_dict(average)
    assert document['depth']['valid_pixels'] == 400 and 'poses' not in document['pose']
    assert document['pose']['sequences_used'] == 1
    assert document['pose']['sequences_skipped'] == ['b']
    everything_skipped = average_to_dict(average_reports(reports[1:]))
    assert everything_skipped['pose']['ate'] is None
    json.dumps(everything_skipped, allow_nan=False)
