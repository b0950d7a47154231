"""Metric scale: robust estimate against outliers, tracking, enabling rules."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.config import MetricScaleMode
from align3r_ros.engine.steps.metric_scale import (MetricScaleTracker, estimate_metric_scale,
                                                   metric_scale_enabled)


def test_recovers_scale_despite_outliers_and_holes():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 3.0, size=(2, 20, 30))
    prior = 2.5 * depth * (1 + 0.03 * rng.standard_normal(depth.shape))
    prior[0, :6] *= 3.0      # 20 % gross outliers (e.g. a moving object)
    prior[1, :2] = np.nan    # prior holes
    usable = np.ones(depth.shape, dtype=bool)
    assert estimate_metric_scale(depth, prior, usable, 100) == pytest.approx(2.5, rel=0.01)


def test_not_enough_pixels_gives_none():
    depth = np.ones((4, 4))
    usable = np.zeros((4, 4), dtype=bool)
    usable[0, :3] = True
    assert estimate_metric_scale(depth, 2 * depth, usable, 4) is None
    assert estimate_metric_scale(depth, 2 * depth, usable, 3) == pytest.approx(2.0)


def test_tracker_smooths_in_log_space_and_ignores_none():
    tracker = MetricScaleTracker(smoothing=0.5)
    assert tracker.scale is None
    assert tracker.update(None) is None
    assert tracker.update(2.0) == pytest.approx(2.0)
    assert tracker.update(8.0) == pytest.approx(4.0)  # geometric midpoint
    assert tracker.update(float('nan')) == pytest.approx(4.0)
    tracker.reset()
    assert tracker.scale is None


@pytest.mark.parametrize('mode,metric_prior,expected', [
    (MetricScaleMode.AUTO, True, True), (MetricScaleMode.AUTO, False, False),
    (MetricScaleMode.ON, True, True), (MetricScaleMode.OFF, True, False)])
def test_enabling_rules(mode, metric_prior, expected):
    assert metric_scale_enabled(mode, metric_prior) is expected
