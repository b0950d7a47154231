"""``report.json``, ``report.md`` and the plots of one run.

``report.json`` always has ``frames``, ``metric_scale`` and ``timing`` {``total_s``,
``ms_per_frame``}; ``depth`` {``abs_rel``, ``sq_rel``, ``rmse``, ``log_rmse``, ``delta_1_25``,
…} only with ground-truth depth and ``pose`` {``ate``, ``rpe_trans``, ``rpe_rot_deg``, …} only
with ground-truth poses (values null and ``skipped`` set when the trajectory is degenerate).
Non-finite numbers are written as null (strict JSON).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from align3r_ros.evaluation import plots
from align3r_ros.evaluation.collector import RunEvaluation
from align3r_ros.config import EvaluationConfig, MetricScaleMode
from align3r_ros.evaluation.depth_metrics import (DepthAlignment, DepthMetrics,
                                                  average_depth_metrics)
from align3r_ros.evaluation.pose_metrics import PoseMetrics, average_pose_metrics
from align3r_ros.structures import most_frequent_status


@dataclass(frozen=True)
class RunReport:
    """Everything a report states about one run.

    Attributes:
        frames: frames with results.
        metric_scale: True when every result was metric (metres), False otherwise.
        total_s: wall time of the run (reading, inference, alignment, writing), seconds.
        evaluation: metrics against ground truth, or None without ground truth.
        alignment: depth alignment used before the depth metrics.
        depth_max: depth cap of the depth metrics, metres.
        source: what was processed (input path, topics).
        settings: (name, value) pairs worth stating (mode, backend, ...).
        warnings: one line each.
        metric_frames: frames whose result was metric (None: not counted).
        keyframes_added, tracking_losses: the engine's counts (``EngineStats``; None: not
            counted).
    """

    frames: int
    metric_scale: bool
    total_s: float
    evaluation: Optional[RunEvaluation] = None
    alignment: DepthAlignment = DepthAlignment.L1_SCALE_SHIFT
    depth_max: float = EvaluationConfig().depth_max
    source: str = ''
    settings: Tuple[Tuple[str, Any], ...] = ()
    warnings: Tuple[str, ...] = ()
    metric_frames: Optional[int] = None
    keyframes_added: Optional[int] = None
    tracking_losses: Optional[int] = None

    @property
    def ms_per_frame(self) -> float:
        return 1e3 * self.total_s / self.frames if self.frames else float('nan')

    @property
    def depth(self) -> Optional[DepthMetrics]:
        """Depth metrics, or None without ground-truth depth."""
        return self.evaluation.depth if self.evaluation is not None else None

    @property
    def pose(self) -> Optional[PoseMetrics]:
        """Trajectory metrics, or None without ground-truth poses."""
        return self.evaluation.pose if self.evaluation is not None else None


@dataclass(frozen=True)
class DatasetAverage:
    """A dataset's scores over its sequences (``eval.json``'s ``average``).

    Attributes:
        sequences: sequences evaluated.
        depth: depth metrics averaged with valid-pixel weights (None: no sequence had depth).
        pose: pose metrics averaged over the sequences whose trajectory was not degenerate
            (``n_poses`` = sequences used; None: no sequence had poses).
        pose_skipped: names of the sequences whose trajectory was degenerate.
    """

    sequences: int
    depth: Optional[DepthMetrics]
    pose: Optional[PoseMetrics]
    pose_skipped: Tuple[str, ...] = ()


def average_reports(reports: List[RunReport]) -> DatasetAverage:
    """Average per-sequence reports (depth: valid-pixel weights; poses: usable sequences)."""
    depth = [r.depth for r in reports if r.depth is not None]
    poses = [r.pose for r in reports if r.pose is not None]
    return DatasetAverage(
        sequences=len(reports), depth=average_depth_metrics(depth) if depth else None,
        pose=average_pose_metrics(poses) if poses else None,
        pose_skipped=tuple(r.source for r in reports if r.pose is not None and not r.pose.ok))


_DEPTH_AVERAGE_KEYS = ('abs_rel', 'sq_rel', 'rmse', 'log_rmse', 'delta_1_25', 'delta_1_25_2',
                       'delta_1_25_3', 'valid_pixels')


def average_to_dict(average: DatasetAverage) -> Dict[str, Any]:
    """``eval.json``'s ``average`` section."""
    document: Dict[str, Any] = {'sequences': average.sequences}
    if average.depth is not None:
        document['depth'] = {k: _number(getattr(average.depth, k)) for k in _DEPTH_AVERAGE_KEYS}
        document['depth']['weighting'] = 'valid pixels'
    if average.pose is not None:
        document['pose'] = pose_section(average.pose)
        document['pose']['sequences_used'] = average.pose.n_poses
        document['pose']['sequences_skipped'] = list(average.pose_skipped)
        del document['pose']['poses']
    return document


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def depth_section(metrics: DepthMetrics, evaluation: RunEvaluation, alignment: DepthAlignment,
                  depth_max: float) -> Dict[str, Any]:
    return {key: _number(value) for key, value in (
        ('abs_rel', metrics.abs_rel), ('sq_rel', metrics.sq_rel), ('rmse', metrics.rmse),
        ('log_rmse', metrics.log_rmse), ('delta_1_25', metrics.delta_1_25),
        ('delta_1_25_2', metrics.delta_1_25_2), ('delta_1_25_3', metrics.delta_1_25_3),
        ('valid_pixels', metrics.valid_pixels), ('pred_coverage', metrics.pred_coverage),
        ('scale', metrics.scale), ('shift', metrics.shift), ('alignment', alignment.value),
        ('depth_max', depth_max), ('frames', evaluation.depth_frames),
        ('frame_stride', evaluation.depth_stride))}


def pose_section(metrics: PoseMetrics) -> Dict[str, Any]:
    section = {'ate': _number(metrics.ate), 'rpe_trans': _number(metrics.rpe_trans),
               'rpe_rot_deg': _number(metrics.rpe_rot_deg), 'poses': metrics.n_poses,
               'sim3_scale': _number(metrics.sim3_scale), 'alignment': 'sim3'}
    if metrics.skipped:
        section['skipped'] = metrics.skipped
    return section


def report_to_dict(report: RunReport) -> Dict[str, Any]:
    """The report.json content."""
    document: Dict[str, Any] = {
        'frames': report.frames,
        'metric_scale': bool(report.metric_scale),
        'metric_frames': report.metric_frames,
        'keyframes_added': report.keyframes_added,
        'tracking_losses': report.tracking_losses,
        'timing': {'total_s': _number(report.total_s),
                   'ms_per_frame': _number(report.ms_per_frame)},
    }
    evaluation = report.evaluation
    if evaluation is not None and evaluation.depth is not None:
        document['depth'] = depth_section(evaluation.depth, evaluation, report.alignment,
                                          report.depth_max)
    if evaluation is not None and evaluation.pose is not None:
        document['pose'] = pose_section(evaluation.pose)
    document['source'] = report.source
    document['settings'] = {name: value for name, value in report.settings}
    document['warnings'] = list(report.warnings)
    return document


def metric_scale_causes(status: str) -> List[str]:
    """The 'metric scale: ...' notes of one result's status ('; '-joined notes)."""
    return [part.strip() for part in str(status).split(';')
            if part.strip().startswith('metric scale')]


def metric_scale_warning(mode: MetricScaleMode, frames: int, metric_frames: int,
                         causes: Counter) -> str:
    """The report's warning when ``scale.metric: on`` was not honoured for every frame.

    Args:
        mode: ``scale.metric`` of the run.
        frames: results in the run; metric_frames: those that were metric.
        causes: count of each :func:`metric_scale_causes` note over the relative results
            (notes that differ only in their numbers count as one cause, as in the replay's
            'no valid depth' line: :func:`~align3r_ros.structures.most_frequent_status`).

    Returns:
        How many frames are relative and the most frequent cause (the engine's note, with its
        counts); '' for ``off`` and ``auto`` (auto means "metric when possible") or when every
        frame is metric.
    """
    relative = frames - metric_frames
    if MetricScaleMode(mode) != MetricScaleMode.ON or relative <= 0:
        return ''
    cause = most_frequent_status(list(causes.items()))[0] or 'no cause recorded'
    return (f'scale.metric is on but {relative} of {frames} frames are relative '
            f'(most frequent: {cause})')


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return f'{value:.{digits}g}' if abs(value) < 1e-3 and value else f'{value:.{digits}f}'
    return str(value)


def report_to_markdown(document: Dict[str, Any], figures: List[str]) -> str:
    """report.md from the report.json content and the written figure names."""
    lines = ['# align3r replay report', '', f'Source: `{document.get("source", "")}`', '',
             f'- frames: {document["frames"]}',
             f'- scale: {"metric (metres)" if document["metric_scale"] else "relative"}'
             + ('' if document.get('metric_frames') is None else
                f' ({document["metric_frames"]} of {document["frames"]} frames metric)'),
             f'- time: {_fmt(document["timing"]["total_s"], 2)} s total, '
             f'{_fmt(document["timing"]["ms_per_frame"], 1)} ms per frame']
    if document.get('keyframes_added') is not None:
        lines.append(f'- keyframes: {document["keyframes_added"]} added, '
                     f'{document.get("tracking_losses") or 0} tracking losses')
    for name, value in document.get('settings', {}).items():
        lines.append(f'- {name}: {value}')
    depth = document.get('depth')
    if depth:
        lines += ['', f'## Depth ({depth["alignment"]} alignment, cap {depth["depth_max"]} m, '
                      f'{depth["frames"]} frames)', '',
                  '| Abs Rel | Sq Rel | RMSE | log RMSE | δ<1.25 | δ<1.25² | δ<1.25³ |',
                  '|---|---|---|---|---|---|---|',
                  '| ' + ' | '.join(_fmt(depth[k]) for k in (
                      'abs_rel', 'sq_rel', 'rmse', 'log_rmse', 'delta_1_25', 'delta_1_25_2',
                      'delta_1_25_3')) + ' |']
    pose = document.get('pose')
    if pose:
        lines += ['', f'## Pose (Sim(3)-aligned, {pose["poses"]} poses)', '']
        if pose.get('skipped'):
            lines.append(f'Skipped: {pose["skipped"]}')
        else:
            lines += ['| ATE [m] | RPE trans [m] | RPE rot [deg] |', '|---|---|---|',
                      f'| {_fmt(pose["ate"])} | {_fmt(pose["rpe_trans"])} | '
                      f'{_fmt(pose["rpe_rot_deg"])} |']
    if figures:
        lines += ['', '## Figures', ''] + [f'![{name}]({name})' for name in figures]
    if document.get('warnings'):
        lines += ['', '## Warnings', ''] + [f'- {w}' for w in document['warnings']]
    return '\n'.join(lines) + '\n'


def write_report(directory: Path, report: RunReport, with_plots: bool = True) -> List[Path]:
    """Write report.json, report.md and the PNG figures into ``directory``; returns the files."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    document = report_to_dict(report)
    figures: List[Path] = []
    evaluation = report.evaluation
    if with_plots and evaluation is not None:
        if len(evaluation.T_world_cam_est_aligned):
            figures.append(plots.plot_trajectory(directory / 'trajectory.png',
                                                 evaluation.T_world_cam_gt,
                                                 evaluation.T_world_cam_est_aligned))
        if len(evaluation.position_errors) or len(evaluation.per_frame_abs_rel):
            figures.append(plots.plot_errors(directory / 'errors.png', evaluation.stamps_ns,
                                             evaluation.position_errors,
                                             evaluation.per_frame_stamps_ns,
                                             evaluation.per_frame_abs_rel))
        if evaluation.strip:
            figures.append(plots.plot_depth_strip(directory / 'depth_strip.png',
                                                  evaluation.strip))
    json_path = directory / 'report.json'
    json_path.write_text(json.dumps(document, indent=2, allow_nan=False) + '\n',
                         encoding='utf-8')
    md_path = directory / 'report.md'
    md_path.write_text(report_to_markdown(document, [f.name for f in figures]),
                       encoding='utf-8')
    return [json_path, md_path] + figures
