"""External depth priors: units, invalid-pixel filling, resizing, rejection of unusable maps."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.backends.prior_external import (
    ExternalPriorBackend, external_depth_to_prior)
from align3r_ros.config import PriorKind
from align3r_ros.errors import ConfigError, InputError


def test_float_metres_at_frame_resolution_pass_through():
    depth = np.linspace(0.5, 3.0, 48 * 64, dtype=np.float32).reshape(48, 64)
    prior = external_depth_to_prior(depth, (48, 64))
    assert prior.kind == PriorKind.METRIC_DEPTH and prior.focal_px is None
    np.testing.assert_array_equal(prior.values, depth)
    assert prior.valid.all()


def test_uint16_millimetres_become_metres():
    depth = np.full((30, 40), 1234, np.uint16)
    prior = external_depth_to_prior(depth[..., None], (30, 40))
    np.testing.assert_allclose(prior.values, 1.234, rtol=1e-6)


def test_invalid_pixels_filled_with_nearest_valid():
    depth = np.full((6, 8), 2.0, np.float32)
    depth[:, 4:] = 5.0
    depth[0, 0] = 0.0
    depth[2, 6] = np.nan
    depth[5, 7] = np.inf
    depth[3, 1] = -1.0
    prior = external_depth_to_prior(depth, (6, 8))
    assert np.isfinite(prior.values).all()
    assert prior.values[0, 0] == 2.0 and prior.values[3, 1] == 2.0
    assert prior.values[2, 6] == 5.0 and prior.values[5, 7] == 5.0
    assert (~prior.valid).sum() == 4
    assert not prior.valid[0, 0] and not prior.valid[2, 6]


def test_other_resolution_is_resized_to_the_frame():
    rng = np.random.default_rng(0)
    depth = rng.uniform(1, 4, (24, 32)).astype(np.float32)
    depth[0, 0] = 0
    prior = external_depth_to_prior(depth, (48, 64))
    assert prior.values.shape == (48, 64) and prior.valid.shape == (48, 64)
    # Nearest: no new values are invented (no flying pixels across depth edges).
    assert set(np.unique(prior.values)) <= set(np.unique(depth[depth > 0]))
    assert not prior.valid[0, 0] and prior.valid[2, 2]
    linear = external_depth_to_prior(depth, (12, 16), interpolation='linear')
    assert linear.values.shape == (12, 16)
    assert np.isfinite(linear.values).all()


@pytest.mark.parametrize('depth, match', [
    (np.zeros((10, 10), np.float32), 'no valid pixel'),
    (np.full((10, 10), np.nan, np.float32), 'no valid pixel'),
    (np.ones((10, 10), np.int32), 'dtype'),
    (np.ones((10, 10, 3), np.float32), 'shape'),
    (np.ones((10, 40), np.float32), 'aspect'),
])
def test_unusable_depth_is_rejected(depth, match):
    with pytest.raises(InputError, match=match):
        external_depth_to_prior(depth, (10, 10))


def test_backend_requires_depth_with_the_frame():
    backend = ExternalPriorBackend(kind=PriorKind.DISPARITY)
    rgb = np.zeros((10, 20, 3), np.uint8)
    with pytest.raises(InputError, match='no depth'):
        backend.estimate(rgb)
    prior = backend.estimate(rgb, depth=np.ones((5, 10), np.float32))
    assert prior.kind == PriorKind.DISPARITY and prior.values.shape == (10, 20)
    with pytest.raises(ConfigError, match='cubic'):
        ExternalPriorBackend(interpolation='cubic')
