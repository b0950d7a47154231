"""sensor_msgs/CameraInfo <-> a pinhole camera model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from align3r_ros.errors import ConversionError
from align3r_ros.messages.types import MessageTypes


@dataclass(frozen=True)
class CameraModel:
    """Calibration of one camera.

    Attributes:
        K: (3, 3) float64 intrinsics in pixels at (height, width).
        D: (N,) float64 distortion coefficients of ``distortion_model``.
        distortion_model: e.g. 'plumb_bob', 'rational_polynomial', 'equidistant'.
        width, height: the image size ``K`` is valid for, pixels.
    """

    K: np.ndarray
    D: np.ndarray
    distortion_model: str
    width: int
    height: int

    def check_image_size(self, height: int, width: int) -> None:
        """Raise ConversionError when an image of (height, width) does not match."""
        if (int(height), int(width)) != (self.height, self.width):
            raise ConversionError(f'CameraInfo is {self.width}x{self.height} but the image is '
                                  f'{width}x{height}')


def camera_info_to_camera(msg: Any) -> CameraModel:
    """sensor_msgs/CameraInfo -> CameraModel.

    Binning divides K (REP 104: K is for the full-resolution sensor); a region of interest
    shifts the principal point.

    Raises:
        ConversionError: an uncalibrated (zero) K, a non-finite K or an empty size.
    """
    width, height = int(msg.width), int(msg.height)
    K = np.asarray(msg.k, dtype=np.float64).reshape(-1)
    if K.size != 9:
        raise ConversionError(f'CameraInfo k has {K.size} values, expected 9')
    K = K.reshape(3, 3).copy()
    if width <= 0 or height <= 0:
        raise ConversionError(f'CameraInfo has an empty size {width}x{height}')
    if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ConversionError(f'CameraInfo is uncalibrated or invalid: fx={K[0, 0]}, '
                              f'fy={K[1, 1]}')
    roi = getattr(msg, 'roi', None)
    if roi is not None and int(roi.width) > 0 and int(roi.height) > 0:
        K[0, 2] -= int(roi.x_offset)
        K[1, 2] -= int(roi.y_offset)
        width, height = int(roi.width), int(roi.height)
    bin_x, bin_y = max(int(msg.binning_x), 1), max(int(msg.binning_y), 1)
    if bin_x > 1 or bin_y > 1:
        K[0] /= bin_x
        K[1] /= bin_y
        width, height = width // bin_x, height // bin_y
    D = np.asarray(msg.d, dtype=np.float64).reshape(-1).copy()
    return CameraModel(K=K, D=D, distortion_model=str(msg.distortion_model), width=width,
                       height=height)


def intrinsics_to_camera_info(K: np.ndarray, width: int, height: int, header: Any,
                              types: MessageTypes, D: Optional[np.ndarray] = None,
                              distortion_model: str = 'plumb_bob') -> Any:
    """(3, 3) K at (height, width) -> sensor_msgs/CameraInfo with K, R = I, P = [K | 0].

    ``D`` defaults to five zeros (an undistorted plumb_bob camera, as published depth is).
    """
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ConversionError(f'K must be (3, 3), got {K.shape}')
    P = np.zeros((3, 4))
    P[:, :3] = K
    D = np.zeros(5) if D is None else np.asarray(D, dtype=np.float64).reshape(-1)
    roi = types.RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return types.CameraInfo(header=header, height=int(height), width=int(width),
                            distortion_model=distortion_model, d=types.float_array(D),
                            k=types.float_array(K.reshape(-1)),
                            r=types.float_array(np.eye(3).reshape(-1)),
                            p=types.float_array(P.reshape(-1)), binning_x=0, binning_y=0,
                            roi=roi)
