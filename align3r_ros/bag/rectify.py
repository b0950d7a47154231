"""Undistortion of images from a CameraInfo model, with the rectified model used for outputs.

plumb_bob and rational_polynomial go through ``cv2.initUndistortRectifyMap``; equidistant through
``cv2.fisheye.initUndistortRectifyMap``. The rectified camera keeps the input K (the maps send
each output pixel of the ideal pinhole K to its distorted source), zero distortion and the same
size: downstream intrinsics stay what the calibration says. A model whose coefficients are all
zero needs no maps and passes images through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from align3r_ros.errors import ConversionError
from align3r_ros.messages.camera_info import CameraModel

PINHOLE_MODELS = ('plumb_bob', 'rational_polynomial')
FISHEYE_MODELS = ('equidistant', 'fisheye')


@dataclass(frozen=True)
class Rectifier:
    """Remap tables for one camera model.

    Attributes:
        source: the calibration as recorded.
        rectified: the model of rectified images (same K and size, zero distortion).
        map_x, map_y: (H, W) float32 source coordinates per output pixel, or None when the
            camera has no distortion (identity).
    """

    source: CameraModel
    rectified: CameraModel
    map_x: Optional[np.ndarray]
    map_y: Optional[np.ndarray]

    @property
    def is_identity(self) -> bool:
        return self.map_x is None

    def rectify_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> rectified (H, W, 3) uint8 (bilinear, black outside)."""
        return self._remap(rgb, linear=True)

    def rectify_depth(self, depth: np.ndarray) -> np.ndarray:
        """(H, W) float depth -> rectified depth (nearest neighbour, NaN outside): depth must
        not be blended across object boundaries."""
        return self._remap(depth, linear=False)

    def _remap(self, image: np.ndarray, linear: bool) -> np.ndarray:
        import cv2

        self.source.check_image_size(*image.shape[:2])
        if self.map_x is None:
            return image
        border = np.nan if image.dtype.kind == 'f' else 0
        return cv2.remap(image, self.map_x, self.map_y,
                         cv2.INTER_LINEAR if linear else cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def make_rectifier(camera: CameraModel) -> Rectifier:
    """Build the remap tables for ``camera``.

    Raises:
        ConversionError: an unknown distortion model or a wrong number of coefficients.
    """
    import cv2

    model = camera.distortion_model.strip().lower()
    D = np.asarray(camera.D, dtype=np.float64).reshape(-1)
    rectified = CameraModel(K=camera.K.copy(), D=np.zeros(5), distortion_model='plumb_bob',
                            width=camera.width, height=camera.height)
    if D.size == 0 or not np.any(D):
        if model and model not in PINHOLE_MODELS + FISHEYE_MODELS:
            raise ConversionError(f'unknown distortion model {camera.distortion_model!r}')
        return Rectifier(camera, rectified, None, None)
    size = (camera.width, camera.height)
    if model in PINHOLE_MODELS:
        expected = (4, 5, 8, 12, 14)
        if D.size not in expected:
            raise ConversionError(f'{model} with {D.size} coefficients (expected one of '
                                  f'{expected})')
        map_x, map_y = cv2.initUndistortRectifyMap(camera.K, D, None, camera.K, size,
                                                   cv2.CV_32FC1)
    elif model in FISHEYE_MODELS:
        if D.size < 4:
            raise ConversionError(f'equidistant needs 4 coefficients, got {D.size}')
        map_x, map_y = cv2.fisheye.initUndistortRectifyMap(camera.K, D[:4].reshape(4, 1),
                                                           np.eye(3), camera.K, size,
                                                           cv2.CV_32FC1)
    else:
        raise ConversionError(f'unknown distortion model {camera.distortion_model!r}; '
                              f'supported: {", ".join(PINHOLE_MODELS + FISHEYE_MODELS)}')
    return Rectifier(camera, rectified, map_x, map_y)
