"""Undistortion in the engine: a frame recorded through a known distortion comes back ideal."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from align3r_ros.config_io import load_config
from align3r_ros.engine.engine import Engine
from align3r_ros.errors import InputError
from align3r_ros.engine.steps.frame_prep import FramePreparer
from align3r_ros.engine.steps.rectify import FrameRectifier, make_rectifier
from align3r_ros.structures import Frame

K = np.array([[80.0, 0.0, 63.5], [0.0, 80.0, 47.5], [0.0, 0.0, 1.0]])
H, W = 96, 128
PLUMB_BOB = np.array([-0.2, 0.05, 0.001, -0.001, 0.0])


def _pattern() -> np.ndarray:
    """A smooth, textured (H, W, 3) uint8 image (linear interpolation stays accurate)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    r = 127 + 100 * np.sin(x / 7.0) * np.cos(y / 9.0)
    g = 127 + 100 * np.cos(x / 11.0 + y / 13.0)
    return np.stack([r, g, 255 - r], axis=2).astype(np.uint8)


def _distort(image: np.ndarray, model: str, D: np.ndarray) -> np.ndarray:
    """The image a camera with (K, D) records of an ideal pinhole ``image`` (forward model)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    # For each distorted pixel find the undistorted ray, then sample the ideal image there.
    pts = np.stack([x.ravel(), y.ravel()], axis=1).reshape(-1, 1, 2)
    if model == 'equidistant':
        ideal = cv2.fisheye.undistortPoints(pts, K, D[:4].reshape(4, 1), P=K)
    else:
        ideal = cv2.undistortPoints(pts, K, D, P=K)
    map_x = ideal[:, 0, 0].reshape(H, W).astype(np.float32)
    map_y = ideal[:, 0, 1].reshape(H, W).astype(np.float32)
    interpolation = cv2.INTER_LINEAR if image.dtype == np.uint8 else cv2.INTER_NEAREST
    return cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=np.nan if image.dtype.kind == 'f' else 0)


@pytest.mark.parametrize('model, D', [
    ('plumb_bob', PLUMB_BOB),
    ('rational_polynomial', np.array([-0.2, 0.05, 0.001, -0.001, 0.0, 0.01, 0.0, 0.0])),
    ('equidistant', np.array([0.05, -0.01, 0.002, 0.0])),
])
def test_rectification_undoes_distortion(model, D):
    ideal = _pattern()
    recorded = _distort(ideal, model, D)
    rectifier = make_rectifier(K, D, model, H, W)
    assert not rectifier.is_identity
    rectified = rectifier.rectify_rgb(recorded)
    inner = (slice(20, H - 20), slice(25, W - 25))
    error_after = np.abs(rectified[inner].astype(float) - ideal[inner]).mean()
    error_before = np.abs(recorded[inner].astype(float) - ideal[inner]).mean()
    # Two bilinear resamplings of a smooth pattern: a few grey levels; distortion: tens.
    assert error_after < 4.0 and error_before > 4 * error_after
    depth = np.full((H, W), 2.0, np.float32)
    rectified_depth = rectifier.rectify_depth(depth)
    assert set(np.unique(rectified_depth[np.isfinite(rectified_depth)])) == {2.0}


def test_zero_distortion_is_identity_and_bad_models_fail():
    image = _pattern()
    for model in ('plumb_bob', ''):
        rectifier = make_rectifier(K, np.zeros(5), model, H, W)
        assert rectifier.is_identity and rectifier.rectify_rgb(image) is image
    with pytest.raises(InputError, match='unknown distortion model'):
        make_rectifier(K, np.ones(5), 'weird', H, W)
    with pytest.raises(InputError, match='coefficients'):
        make_rectifier(K, np.ones(3), 'plumb_bob', H, W)
    with pytest.raises(InputError, match='camera model is'):
        make_rectifier(K, PLUMB_BOB, 'plumb_bob', H, W).rectify_rgb(image[:10])


def test_frame_is_rectified_alike_everywhere_and_tables_are_cached():
    ideal = _pattern()
    y, x = np.mgrid[0:H, 0:W]
    depth = (1.0 + 0.01 * x + 0.02 * y).astype(np.float32)
    mask = x > W // 2
    frame = Frame(stamp_ns=1, rgb=_distort(ideal, 'plumb_bob', PLUMB_BOB), K=K,
                  prior=_distort(depth, 'plumb_bob', PLUMB_BOB)[::2, ::2].copy(),
                  gt_depth=_distort(depth, 'plumb_bob', PLUMB_BOB),
                  gt_dynamic_mask=_distort(mask.astype(np.uint8), 'plumb_bob', PLUMB_BOB) > 0,
                  distortion_model='plumb_bob', D=PLUMB_BOB)
    rectifier = FrameRectifier(max_models=2)
    out = rectifier.rectify(frame)
    assert out.distortion_model == '' and out.D is None and np.array_equal(out.K, K)
    assert out.prior.shape == out.gt_depth.shape == (H, W)
    inner = (slice(20, H - 20), slice(25, W - 25))
    assert np.abs(out.rgb[inner].astype(float) - ideal[inner]).mean() < 4.0
    # depth-like data: nearest neighbour, so the values are the scene's own (no blending)
    np.testing.assert_allclose(out.gt_depth[inner], depth[inner], atol=0.05)
    assert (out.gt_dynamic_mask[inner] == mask[inner]).mean() > 0.97
    assert rectifier.rectify(out) is out  # nothing left to undo
    assert rectifier.rectifier(frame) is rectifier.rectifier(frame)  # cached tables
    for k in range(5):  # bounded: ever-changing calibrations never grow the cache
        rectifier.rectifier(dataclasses.replace(frame, D=PLUMB_BOB * (1 + k)))
    assert len(rectifier._cache) <= 2


def test_the_engine_rectifies_and_drops_what_it_cannot_undo():
    config = load_config({'pairwise': {'backend': 'oracle'}, 'preprocess': {'long_side': 64},
                          'camera': {'intrinsics': 'known'}})
    ideal = Frame(stamp_ns=1, rgb=_pattern(), K=K)
    distorted = dataclasses.replace(ideal, rgb=_distort(ideal.rgb, 'plumb_bob', PLUMB_BOB),
                                    distortion_model='plumb_bob', D=PLUMB_BOB)
    preparer = FramePreparer(config, needs_pointmap=False, prior_backend=None,
                             keep_input_rgb=True)
    from_distorted = preparer.prepare(distorted, key=1)
    from_ideal = preparer.prepare(ideal, key=1)
    inner = (slice(20, H - 20), slice(25, W - 25))
    diff = np.abs(from_distorted.input_rgb[inner].astype(float) - from_ideal.input_rgb[inner])
    assert diff.mean() < 4.0
    raw = np.abs(distorted.rgb[inner].astype(float) - ideal.rgb[inner]).mean()
    assert raw > 4 * diff.mean()
    np.testing.assert_allclose(from_distorted.K_known, from_ideal.K_known)
    engine = Engine.from_config(config)
    assert engine.push(dataclasses.replace(distorted, distortion_model='weird')) == []
    assert engine.stats.frames_dropped == 1 and 'weird' in engine.stats.last_status
    assert engine.push(dataclasses.replace(distorted, K=None, stamp_ns=2)) == []
    assert engine.stats.frames_dropped == 2 and 'without K' in engine.stats.last_status
