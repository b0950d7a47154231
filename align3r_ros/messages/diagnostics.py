"""Pipeline health -> diagnostic_msgs/DiagnosticArray (one status, ``align3r: pipeline``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Tuple

from align3r_ros.messages.header import make_header
from align3r_ros.messages.types import MessageTypes
from align3r_ros.structures import StageTimings


@dataclass(frozen=True)
class PipelineHealth:
    """A snapshot of the node's (or replay tool's) pipeline.

    Attributes:
        queue_depth, queue_capacity: frames waiting for the worker / the bound.
        frames_received: input frames accepted by the callbacks.
        frames_published: frames whose outputs were published.
        frames_dropped: frames dropped because the queue was full (oldest first).
        frames_rejected: inputs that failed conversion (bad encoding, size mismatch...).
        engine_errors: exceptions raised by the engine/backends (each followed by a reset).
        engine_resets: engine resets (errors, time jumping backwards, size changes).
        keyframes_added: keyframes the engine added (``EngineStats.keyframes_added``).
        tracking_losses: frames whose tracking was lost (live mode; each re-initialises).
        recent_drops: frames dropped since the previous report.
        recent_error: the last error happened since the previous report.
        is_metric: scale state of the last result: True metric (metres), False relative
            (unknown scale), None before the first result.
        residual: alignment residual of the last result (unitless; NaN when unknown).
        dynamic_fraction: share of the last result's pixels marked dynamic, [0, 1] (NaN
            before the first result).
        timings: the engine's last stage timings (``EngineStats.timings``).
        publish_ms: turning the last result into messages and publishing (or writing) them.
        last_error: one line describing the last error ('' when none).
        status: the engine's last status note ('' normally).
        scale_source: where the last result's metres came from: 'odometry', 'prior' or
            'none' (``FrameResult.scale_source``; '' before the first result).
        odometry_disagreements: frames whose odometry disagreed with vision
            (``EngineStats.odometry_disagreements``).
    """

    queue_depth: int = 0
    queue_capacity: int = 0
    frames_received: int = 0
    frames_published: int = 0
    frames_dropped: int = 0
    frames_rejected: int = 0
    engine_errors: int = 0
    engine_resets: int = 0
    keyframes_added: int = 0
    tracking_losses: int = 0
    recent_drops: int = 0
    recent_error: bool = False
    is_metric: Optional[bool] = None
    residual: float = float('nan')
    dynamic_fraction: float = float('nan')
    timings: StageTimings = StageTimings()
    publish_ms: float = 0.0
    last_error: str = ''
    status: str = ''
    scale_source: str = ''
    odometry_disagreements: int = 0


def scale_state(is_metric: Optional[bool]) -> str:
    """'metric', 'relative' or 'unknown' (before the first result)."""
    return 'unknown' if is_metric is None else ('metric' if is_metric else 'relative')


def _level_and_message(health: PipelineHealth, types: MessageTypes) -> Tuple[Any, str]:
    # The class constants keep the transport's type: int in rosbags, bytes in rclpy (``byte``).
    status_cls = types.DiagnosticStatus
    if health.recent_error:
        return status_cls.ERROR, f'error: {health.last_error}'
    if health.recent_drops:
        return status_cls.WARN, (f'dropped {health.recent_drops} frame(s): inference is '
                                 'slower than the input')
    if health.status:
        return status_cls.WARN, health.status
    return status_cls.OK, f'running, scale {scale_state(health.is_metric)}'


def _latencies(health: PipelineHealth) -> Tuple[Tuple[str, float], ...]:
    t = health.timings
    return (('prepare', t.prepare_ms), ('network', t.network_ms), ('align', t.align_ms),
            ('total', t.total_ms), ('publish', health.publish_ms))


def health_to_diagnostics_msg(health: PipelineHealth, stamp_ns: int, types: MessageTypes,
                              name: str = 'align3r: pipeline',
                              hardware_id: str = 'align3r') -> Any:
    """DiagnosticArray with one DiagnosticStatus describing ``health``.

    Level: ERROR after a recent error, WARN after recent drops or with an engine status note,
    otherwise OK. Values (KeyValue, strings): queue, counters (keyframes and tracking losses
    too), scale, residual, per-stage latency.
    """
    level, message = _level_and_message(health, types)
    residual = '' if not math.isfinite(health.residual) else f'{health.residual:.6g}'
    pairs = [
        ('queue depth', str(health.queue_depth)),
        ('queue capacity', str(health.queue_capacity)),
        ('frames received', str(health.frames_received)),
        ('frames published', str(health.frames_published)),
        ('frames dropped', str(health.frames_dropped)),
        ('frames rejected', str(health.frames_rejected)),
        ('engine errors', str(health.engine_errors)),
        ('engine resets', str(health.engine_resets)),
        ('keyframes added', str(health.keyframes_added)),
        ('tracking losses', str(health.tracking_losses)),
        ('scale', scale_state(health.is_metric)),
        ('scale source', health.scale_source),
        ('odometry disagreements', str(health.odometry_disagreements)),
        ('alignment residual', residual),
        ('dynamic pixel fraction', '' if not math.isfinite(health.dynamic_fraction) else
         f'{health.dynamic_fraction:.4f}'),
        ('last error', health.last_error),
    ]
    pairs += [(f'latency {stage} ms', f'{ms:.3f}') for stage, ms in _latencies(health)]
    status = types.DiagnosticStatus(
        level=level, name=name, message=message, hardware_id=hardware_id,
        values=[types.KeyValue(key=key, value=value) for key, value in pairs])
    return types.DiagnosticArray(header=make_header(stamp_ns, '', types), status=[status])
