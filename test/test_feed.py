"""The one feed loop (``feed.run_frames``) and the offline engine behind the same shape."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.config_io import load_config
from align3r_ros.errors import InputError
from align3r_ros.engine.feed import OfflineEngine, OfflineStage, collect_results, run_frames
from align3r_ros.config import PriorKind
from align3r_ros.structures import EngineStats, Frame, FrameResult, PriorMap
from align3r_ros.synthetic import make_sequence


class PairEngine:
    """Emits results two frames at a time; flush emits what is held."""

    def __init__(self):
        self.held = []
        self.flushes = 0

    @property
    def stats(self):
        return EngineStats()

    @property
    def held_frames(self):
        return len(self.held)

    def push(self, frame):
        self.held.append(frame)
        return self._emit() if len(self.held) == 2 else []

    def flush(self):
        self.flushes += 1
        return self._emit()

    def _emit(self):
        out = [FrameResult(stamp_ns=f.stamp_ns, depth=np.zeros((2, 2), np.float32),
                           confidence=np.ones((2, 2), np.float32), K=np.eye(3),
                           T_world_cam=np.eye(4), is_metric=False,
                           dynamic_mask=np.zeros((2, 2), bool), tag=f.tag) for f in self.held]
        self.held = []
        return out


class OnesPrior:
    """A metric prior of 1 m everywhere (counts its calls through the progress)."""

    kind = PriorKind.METRIC_DEPTH

    def estimate(self, rgb, K=None):
        return PriorMap(values=np.ones(rgb.shape[:2], np.float32), kind=self.kind)


def _frames(n):
    return [Frame(stamp_ns=10 + k, rgb=np.zeros((2, 2, 3), np.uint8), tag=('id', k))
            for k in range(n)]


def test_run_frames_hands_over_every_result_once_as_soon_as_ready_then_flushes():
    engine = PairEngine()
    seen, events = [], []
    summary = run_frames(engine, iter(_frames(5)),
                         on_result=lambda r: events.append(('result', r.tag[1])) or seen.append(r),
                         on_frame=lambda n: events.append(('frame', n)))
    assert summary.frames_in == 5 and summary.results_out == 5 and engine.flushes == 1
    assert [r.tag for r in seen] == [('id', k) for k in range(5)]
    # results of a push come before that push's progress tick; the tail comes from the flush
    assert events == [('frame', 1), ('result', 0), ('result', 1), ('frame', 2), ('frame', 3),
                      ('result', 2), ('result', 3), ('frame', 4), ('frame', 5), ('result', 4)]


def test_offline_engine_aligns_at_flush_and_reports_each_stage():
    seq = make_sequence(6, 24, 32, seed=4)
    config = load_config({'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': 32},
                          'clip': {'length': 3}})
    stages = []
    engine = OfflineEngine(config, OracleBackend.from_config(config), OnesPrior(),
                           on_stage=stages.append)
    frames = [dataclasses.replace(f, tag=k) for k, f in enumerate(seq.frames)]
    results = collect_results(engine, frames)
    assert [r.tag for r in results] == list(range(6)) and engine.held_frames == 0
    assert all(np.isfinite(r.T_world_cam).all() for r in results)
    align = [s for s in stages if s.name == 'align']
    # keyframes, then two clips: three solved stages, reported in order, ending complete
    assert {s.total for s in align} == {3}
    assert [s.done for s in align] == [0, 1, 2, 3]
    prepare = [s for s in stages if s.name == 'prepare']
    assert prepare == [OfflineStage('prepare', k, 6) for k in range(7)]
    assert stages.index(prepare[-1]) < stages.index(align[0])  # every frame before any solve
    assert engine.stats.frames_in == 6 and engine.stats.frames_out == 6


def test_offline_engine_refuses_fewer_than_two_frames():
    config = load_config({'pairwise': {'backend': 'oracle'}})
    engine = OfflineEngine(config, OracleBackend.from_config(config))
    engine.push(make_sequence(1, 24, 32).frames[0])
    with pytest.raises(InputError, match='at least 2 frames, got 1'):
        engine.flush()
