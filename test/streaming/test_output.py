"""Known intrinsics, output resolution and NaN masking of the results."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.engine.engine import Engine
from align3r_ros.networks.preprocess import plan_transform
from align3r_ros.synthetic import make_sequence
from support.configs import oracle_config
from support.torch_threads import single_torch_thread

# 40x60 input, long side 48: resized to 32x48, so K is scaled by 0.8 at network resolution
SIZE = (40, 60)


@pytest.fixture(scope='module')
def sequence():
    return make_sequence(6, *SIZE, seed=5, num_movers=0)


def _run(config, frames):
    engine = Engine.from_config(config)
    with single_torch_thread():
        results = [r for f in frames for r in engine.push(f)] + engine.flush()
    return results


@pytest.mark.parametrize('resolution', ['network', 'input'])
def test_known_intrinsics_are_kept_exactly(sequence, resolution):
    config = oracle_config(preprocess={'long_side': 48}, clip={'length': 6},
                           camera={'intrinsics': 'known'}, output={'resolution': resolution})
    results = _run(config, sequence.frames)
    transform = plan_transform(SIZE, 48)
    expected = sequence.K if resolution == 'input' else transform.K_to_network(sequence.K)
    shape = SIZE if resolution == 'input' else tuple(transform.network_hw)
    for r in results:
        np.testing.assert_allclose(r.K, expected, atol=1e-9)
        assert r.depth.shape == shape and r.rgb.shape == shape + (3,)
        assert r.depth.dtype == np.float32 and r.confidence.dtype == np.float32
        # published depth: NaN exactly where confidence is below the threshold (or nothing
        # was predicted); the result keeps the low-confidence depth for a lower threshold
        low = r.confidence < config.output.conf_threshold
        masked = r.masked_depth(config.output.conf_threshold)
        assert np.isnan(masked[low]).all()
        assert np.isfinite(masked[~low]).mean() > 0.99
        assert np.array_equal(np.isfinite(masked), np.isfinite(r.depth) & ~low)
        assert (r.depth[np.isfinite(r.depth)] > 0).all()
        if resolution == 'network':  # nothing outside a crop: every low pixel has depth
            assert low.any() and np.isfinite(r.depth[low]).all()
    # input resolution: depth agrees with ground truth up to one scale
    if resolution == 'input':
        depth = np.stack([r.masked_depth(config.output.conf_threshold) for r in results])
        ok = np.isfinite(depth)
        scale = np.median(sequence.depth[ok] / depth[ok])
        assert np.median(np.abs(scale * depth[ok] / sequence.depth[ok] - 1)) < 0.02


def test_static_camera_intrinsics_from_config(sequence):
    fx = float(sequence.K[0, 0])
    frames = [f.__class__(stamp_ns=f.stamp_ns, rgb=f.rgb, gt_depth=f.gt_depth,
                          gt_T_world_cam=f.gt_T_world_cam) for f in sequence.frames[:2]]
    config = oracle_config(preprocess={'long_side': 48}, camera={
        'intrinsics': 'known', 'fx': fx, 'fy': fx, 'cx': 30.0, 'cy': 20.0},
        output={'resolution': 'input'})
    results = _run(config, frames)
    np.testing.assert_allclose(results[0].K, sequence.K, atol=1e-9)


def test_external_metric_prior_makes_results_metric():
    """Frame.prior (metres, any resolution: here half) is a metric prior: with scale.metric
    auto, depth and poses come out metric. The prior is the GT depth scaled by 1.0, so the
    median depth ratio must be 1 (bound 3 %: 8 frames at 32x48)."""
    seq = make_sequence(8, 32, 48, seed=6, num_movers=0)
    frames = [f.__class__(stamp_ns=f.stamp_ns, rgb=f.rgb, K=f.K, gt_depth=f.gt_depth,
                          gt_T_world_cam=f.gt_T_world_cam, prior=f.gt_depth[::2, ::2].copy())
              for f in seq.frames]
    config = oracle_config(preprocess={'long_side': 48}, clip={'length': 4})
    results = _run(config, frames)
    assert all(r.is_metric for r in results)
    depth = np.stack([r.depth for r in results])
    ok = np.isfinite(depth)
    assert np.median(depth[ok] / seq.depth[ok]) == pytest.approx(1.0, abs=0.03)
    # without a prior the same run is not metric
    plain = _run(config, seq.frames)
    assert not any(r.is_metric for r in plain)
