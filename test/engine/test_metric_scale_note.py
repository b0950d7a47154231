"""Why a result is not metric: the status note of ``scale.metric`` (issue: never silent)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from align3r_ros.config import MetricScaleMode
from align3r_ros.engine.steps.metric_scale import metric_scale_note, metric_support
from align3r_ros.evaluation.report import metric_scale_causes, metric_scale_warning


def test_on_without_a_metric_prior_is_named_auto_stays_quiet():
    assert 'no metric prior' in metric_scale_note(MetricScaleMode.ON, False, None, 200)
    assert metric_scale_note(MetricScaleMode.AUTO, False, None, 200) == ''
    assert metric_scale_note(MetricScaleMode.OFF, False, None, 200) == ''
    assert metric_scale_note(MetricScaleMode.OFF, True, 3, 200) == ''


def test_too_little_support_names_the_counts_in_on_and_auto():
    for mode in (MetricScaleMode.ON, MetricScaleMode.AUTO):
        note = metric_scale_note(mode, True, 137, 200)
        assert '137 confident static pixels' in note and 'scale.min_pixels 200' in note


def test_support_counts_usable_pixels_with_finite_positive_depth_and_prior():
    depth = np.array([[1.0, np.nan, 2.0, -1.0], [1.0, 1.0, 1.0, 1.0]])
    prior = np.array([[2.0, 2.0, np.nan, 2.0], [0.0, 3.0, 3.0, 3.0]])
    usable = np.array([[True, True, True, True], [True, True, True, False]])
    # (0,0) ok; (0,1) depth NaN; (0,2) prior NaN; (0,3) depth < 0; (1,0) prior 0; (1,3) unusable
    assert int(metric_support(depth, prior, usable).sum()) == 3


def test_report_warning_names_the_share_and_the_most_frequent_cause():
    causes = Counter(metric_scale_causes('reset: x; metric scale: 5 confident static pixels '
                                         'with a metric prior, below scale.min_pixels 200'))
    warning = metric_scale_warning(MetricScaleMode.ON, 10, 4, causes)
    assert warning.startswith('scale.metric is on but 6 of 10 frames are relative')
    assert 'below scale.min_pixels 200' in warning
    assert metric_scale_warning(MetricScaleMode.AUTO, 10, 4, causes) == ''
    assert metric_scale_warning(MetricScaleMode.ON, 10, 10, Counter()) == ''


def test_report_warning_counts_notes_that_differ_only_in_numbers_as_one_cause():
    """Live mode's note carries each keyframe's pixel count: 3 such notes outnumber 2 others."""
    causes = Counter({'metric scale: 12 confident static pixels with a metric prior, below '
                      'scale.min_pixels 200': 1,
                      'metric scale: 15 confident static pixels with a metric prior, below '
                      'scale.min_pixels 200': 1,
                      'metric scale: 9 confident static pixels with a metric prior, below '
                      'scale.min_pixels 200': 1,
                      'metric scale: scale.metric is on but there is no metric prior': 2})
    warning = metric_scale_warning(MetricScaleMode.ON, 5, 0, causes)
    assert 'confident static pixels' in warning and 'no metric prior' not in warning
