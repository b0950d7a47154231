"""Live facts (keyframes added, tracking losses) reach the public surfaces: EngineStats,
/diagnostics and the replay report."""

from __future__ import annotations

from align3r_ros.evaluation.report import RunReport, report_to_dict, report_to_markdown
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.diagnostics import PipelineHealth, health_to_diagnostics_msg
from align3r_ros.synthetic import make_sequence
from support.live_runs import live_engine, run_per_push, turned


def _rosbags_types() -> MessageTypes:
    from rosbags.typesys import Stores, get_typestore
    return MessageTypes.from_rosbags(get_typestore(Stores.ROS2_JAZZY))


def test_engine_stats_count_keyframes_and_losses_of_a_run_with_one_loss():
    seq = make_sequence(12, 48, 64, seed=1, num_movers=0, speed=2.0)
    frames = seq.frames[:6] + [turned(f, 1, 0, 6 + k) for k, f in enumerate(seq.frames[6:])]
    engine, _ = live_engine()
    results = [r for out in run_per_push(engine, frames) for r in out]
    lost = [n for n, r in enumerate(results) if 'tracking lost' in r.status]
    assert lost == [6] and engine.stats.tracking_losses == 1
    # the bootstrap and the re-initialisation after the loss, at least
    assert engine.stats.keyframes_added >= 2
    clip, _ = live_engine(stream={'mode': 'clip'}, clip={'length': 4})
    run_per_push(clip, seq.frames[:12])
    assert clip.stats.tracking_losses == 0 and clip.stats.keyframes_added == 3


def test_diagnostics_carry_keyframes_and_tracking_losses():
    msg = health_to_diagnostics_msg(PipelineHealth(keyframes_added=7, tracking_losses=2), 5,
                                    _rosbags_types())
    values = {kv.key: kv.value for kv in msg.status[0].values}
    assert values['keyframes added'] == '7' and values['tracking losses'] == '2'


def test_replay_report_states_keyframes_and_tracking_losses():
    report = RunReport(frames=10, metric_scale=False, total_s=1.0, keyframes_added=4,
                       tracking_losses=1)
    document = report_to_dict(report)
    assert document['keyframes_added'] == 4 and document['tracking_losses'] == 1
    assert '- keyframes: 4 added, 1 tracking losses' in report_to_markdown(document, [])
    silent = report_to_dict(RunReport(frames=1, metric_scale=False, total_s=1.0))
    assert 'keyframes:' not in report_to_markdown(silent, [])
