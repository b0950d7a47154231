"""Dynamic-mask helpers: thresholding, isolated-pixel removal, weights, precision/recall."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.engine.steps.dynamic_mask import (detect_dynamic, dynamic_pixel_weights,
                                                   mask_precision_recall)


def test_blob_kept_isolated_pixels_and_low_confidence_dropped():
    residual = np.full((1, 12, 12), 0.02)
    residual[0, 3:8, 3:8] = 0.4    # an object
    residual[0, 10, 1] = 0.9       # an isolated noisy pixel
    residual[0, 0, 0] = np.nan
    confidence = np.full((1, 12, 12), 5.0)
    mask = detect_dynamic(residual, confidence, threshold=0.1)
    assert mask[0, 3:8, 3:8].sum() >= 21   # the opening only trims corners
    assert not mask[0, 10, 1] and not mask[0, 0, 0]
    confidence[0, 3:8, 3:8] = 1.0          # no valid prediction there
    assert not detect_dynamic(residual, confidence, threshold=0.1).any()


def test_weights_and_scores():
    mask = np.array([[True, False], [False, False]])
    np.testing.assert_allclose(dynamic_pixel_weights(mask, 0.1), [[0.1, 1.0], [1.0, 1.0]])
    truth = np.array([[True, True], [False, False]])
    precision, recall = mask_precision_recall(mask, truth)
    assert precision == pytest.approx(1.0) and recall == pytest.approx(0.5)
    assert np.isnan(mask_precision_recall(np.zeros_like(mask), truth)[0])
