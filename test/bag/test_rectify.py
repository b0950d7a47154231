"""Undistortion: a synthetic image distorted with a known model comes back undistorted."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from align3r_ros.bag.rectify import make_rectifier
from align3r_ros.errors import ConversionError
from align3r_ros.messages.camera_info import CameraModel

K = np.array([[80.0, 0.0, 63.5], [0.0, 80.0, 47.5], [0.0, 0.0, 1.0]])
H, W = 96, 128


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
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


@pytest.mark.parametrize('model, D', [
    ('plumb_bob', np.array([-0.2, 0.05, 0.001, -0.001, 0.0])),
    ('rational_polynomial', np.array([-0.2, 0.05, 0.001, -0.001, 0.0, 0.01, 0.0, 0.0])),
    ('equidistant', np.array([0.05, -0.01, 0.002, 0.0])),
])
def test_rectification_undoes_distortion(model, D):
    ideal = _pattern()
    recorded = _distort(ideal, model, D)
    rectifier = make_rectifier(CameraModel(K=K, D=D, distortion_model=model, width=W, height=H))
    assert not rectifier.is_identity
    assert np.allclose(rectifier.rectified.K, K) and not np.any(rectifier.rectified.D)
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
    camera = CameraModel(K=K, D=np.zeros(5), distortion_model='plumb_bob', width=W, height=H)
    rectifier = make_rectifier(camera)
    image = _pattern()
    assert rectifier.is_identity and rectifier.rectify_rgb(image) is image
    with pytest.raises(ConversionError, match='unknown distortion model'):
        make_rectifier(CameraModel(K=K, D=np.ones(5), distortion_model='weird', width=W,
                                   height=H))
    with pytest.raises(ConversionError, match='coefficients'):
        make_rectifier(CameraModel(K=K, D=np.ones(3), distortion_model='plumb_bob', width=W,
                                   height=H))
    with pytest.raises(ConversionError, match='CameraInfo is'):
        rectifier.rectify_rgb(image[:10])
