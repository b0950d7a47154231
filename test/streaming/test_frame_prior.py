"""Which prior a frame gets: ground-truth depth stands in for a metric prior for the oracle only.

``Frame.gt_depth`` is evaluation data. With ``scale.metric: on`` the oracle backend (which is
built from ground truth anyway) may use it as an RGB-D camera; a network backend must never see
it — as a prior point map or as the metric-scale reference.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from align3r_ros.backends.oracle import OracleBackend
from align3r_ros.engine.engine import Engine
from align3r_ros.errors import InputError
from align3r_ros.engine.steps.frame_prep import FramePreparer
from align3r_ros.synthetic import make_sequence
from support.configs import oracle_config

METRIC_ON = {'scale': {'metric': 'on'}, 'prior': {'backend': 'external'}}


def _config(pairwise: str):
    return oracle_config(pairwise={'backend': pairwise}, **METRIC_ON)


@pytest.fixture(scope='module')
def frames():
    return make_sequence(4, 32, 48, seed=0, num_movers=0).frames


def test_ground_truth_is_a_metric_prior_for_the_oracle_only(frames):
    frame = frames[0]
    assert frame.gt_depth is not None and frame.prior is None
    oracle = FramePreparer(_config('oracle'), False, None, keep_input_rgb=False)
    assert np.isfinite(oracle.prepare(frame, key=0).metric_prior).any()
    for backend in ('torch', 'onnx'):
        prepared = FramePreparer(_config(backend), False, None, False).prepare(frame, key=0)
        assert prepared.metric_prior is None, backend
        with pytest.raises(InputError, match='needs a prior but none is configured'):
            FramePreparer(_config(backend), True, None, False).prepare(frame, key=0)
    # The frame's own prior (a depth topic) serves every backend.
    with_prior = dataclasses.replace(frame, prior=frame.gt_depth.copy())
    prepared = FramePreparer(_config('torch'), True, None, False).prepare(with_prior, key=0)
    assert prepared.view.pointmap is not None and np.isfinite(prepared.metric_prior).any()


class _NeedsPrior(OracleBackend):
    """The oracle's predictions behind a network's interface: it needs a prior point map."""

    needs_pointmap = True


def test_engine_with_a_network_backend_never_uses_ground_truth_as_prior(frames):
    config = _config('torch')
    # A backend without prior input: results, but relative scale (no metric prior exists).
    engine = Engine(config, OracleBackend(config.oracle))
    results = [r for f in frames for r in engine.push(f)] + engine.flush()
    assert len(results) == len(frames) and not any(r.is_metric for r in results)
    # A backend that needs a prior: every frame is dropped (counted, with the reason).
    engine = Engine(config, _NeedsPrior(config.oracle))
    assert [r for f in frames for r in engine.push(f)] + engine.flush() == []
    assert engine.stats.frames_dropped == len(frames)
    assert 'needs a prior' in engine.stats.last_status
    # The same frames through the oracle: the ground truth plays an RGB-D camera.
    engine = Engine(_config('oracle'), OracleBackend(config.oracle))
    results = [r for f in frames for r in engine.push(f)] + engine.flush()
    assert len(results) == len(frames) and all(r.is_metric for r in results), \
        [r.status for r in results]
