"""A depth image registered to its colour image's size: nearest neighbour, never a blend."""

from __future__ import annotations

import numpy as np

from align3r_ros.streams.depth import depth_at_size


def test_depth_is_resized_by_nearest_neighbour_without_mixing_across_edges():
    depth = np.array([[1.0, 1.0, 5.0, 5.0], [1.0, np.nan, 5.0, 5.0]], np.float32)
    out = depth_at_size(depth, (4, 8))
    assert out.shape == (4, 8) and out.dtype == np.float32
    finite = out[np.isfinite(out)]
    assert set(finite.tolist()) <= {1.0, 5.0}  # no value between the two surfaces
    assert np.array_equal(out[:, :4] == 1.0, np.isfinite(out[:, :4]))
    assert (out[:, 4:] == 5.0).all() and np.isnan(out).sum() == 4  # the NaN pixel, 2x2


def test_depth_at_the_size_already_and_none_come_back_as_they_are():
    depth = np.ones((3, 4), np.float32)
    assert depth_at_size(depth, (3, 4)) is depth
    assert depth_at_size(None, (3, 4)) is None
