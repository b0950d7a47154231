"""sensor_msgs/Image and CompressedImage <-> numpy, validating like cv_bridge.

Colour images decode to (H, W, 3) uint8 RGB; depth images to (H, W) float32 metres with NaN where
invalid (REP 118: ``32FC1`` metres, ``16UC1`` millimetres with 0 = no reading). ``step`` row
padding and ``is_bigendian`` are honoured; anything unusable raises :class:`ConversionError`
naming the encoding, size and step.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, Tuple

import numpy as np

from align3r_ros.errors import ConversionError
from align3r_ros.messages.types import MessageTypes

#: encoding -> (channels, bytes per channel) for colour inputs.
COLOUR_ENCODINGS: Dict[str, Tuple[int, int]] = {
    'rgb8': (3, 1), 'bgr8': (3, 1), 'rgba8': (4, 1), 'bgra8': (4, 1),
    'mono8': (1, 1), 'mono16': (1, 2)}
#: encoding -> (numpy dtype char, factor to metres) for depth inputs.
DEPTH_ENCODINGS: Dict[str, Tuple[str, float]] = {
    '32FC1': ('f4', 1.0), '16UC1': ('u2', 1e-3), 'mono16': ('u2', 1e-3)}

_HOST_BIGENDIAN = sys.byteorder == 'big'


def as_uint8(data: Any) -> np.ndarray:
    """A message's ``uint8[]`` field (array.array, numpy, bytes or list) as a flat uint8 array."""
    if isinstance(data, np.ndarray):
        return data.reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8).reshape(-1)


def _rows(msg: Any, bytes_per_pixel: int) -> np.ndarray:
    """(H, W * bytes_per_pixel) uint8 view of the pixel bytes without row padding."""
    encoding, height, width, step = msg.encoding, int(msg.height), int(msg.width), int(msg.step)
    where = f'{encoding} image {width}x{height} with step {step}'
    if height <= 0 or width <= 0:
        raise ConversionError(f'{where}: empty image')
    if step < width * bytes_per_pixel:
        raise ConversionError(f'{where}: step is below width * {bytes_per_pixel} bytes')
    data = as_uint8(msg.data)
    if data.size < step * height:
        raise ConversionError(f'{where}: data holds {data.size} bytes, needs {step * height}')
    return data[:step * height].reshape(height, step)[:, :width * bytes_per_pixel]


def _pixels(msg: Any, dtype_char: str, channels: int, itemsize: int) -> np.ndarray:
    """(H, W, channels) array of the message's samples in native byte order."""
    rows = _rows(msg, channels * itemsize)
    if itemsize == 1:
        return rows.reshape(rows.shape[0], -1, channels)
    order = '>' if int(msg.is_bigendian) else '<'
    samples = np.ascontiguousarray(rows).view(order + dtype_char)
    return samples.astype(samples.dtype.newbyteorder('=')).reshape(rows.shape[0], -1, channels)


def image_msg_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/Image -> (H, W, 3) uint8 RGB (a new array).

    mono16 is reduced to 8 bits by its high byte; alpha is dropped.

    Raises:
        ConversionError: unsupported encoding, empty image, step or data too short.
    """
    encoding = msg.encoding
    if encoding not in COLOUR_ENCODINGS:
        raise ConversionError(f'unsupported image encoding {encoding!r} ({msg.width}x'
                              f'{msg.height}); use one of {", ".join(COLOUR_ENCODINGS)}')
    channels, itemsize = COLOUR_ENCODINGS[encoding]
    pixels = _pixels(msg, 'u2', channels, itemsize)
    if encoding == 'mono16':
        pixels = (pixels >> 8).astype(np.uint8)
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    if encoding.startswith('bgr'):
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.ascontiguousarray(pixels[:, :, :3])


def compressed_msg_to_rgb(msg: Any) -> np.ndarray:
    """sensor_msgs/CompressedImage (jpeg or png) -> (H, W, 3) uint8 RGB.

    Raises:
        ConversionError: compressedDepth or a payload OpenCV cannot decode.
    """
    import cv2

    fmt = str(msg.format)
    if 'compresseddepth' in fmt.lower().replace(' ', ''):
        raise ConversionError(f'unsupported compressed format {fmt!r}: compressedDepth')
    data = as_uint8(msg.data)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise ConversionError(f'cannot decode compressed image of format {fmt!r} '
                              f'({data.size} bytes)')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def depth_msg_to_metres(msg: Any) -> np.ndarray:
    """Depth Image (32FC1 metres, 16UC1 or mono16 millimetres) -> (H, W) float32 metres.

    Zero, negative and non-finite readings become NaN (REP 117/118: no valid reading).

    Raises:
        ConversionError: unsupported encoding, empty image, step or data too short.
    """
    encoding = msg.encoding
    if encoding not in DEPTH_ENCODINGS:
        raise ConversionError(f'unsupported depth encoding {encoding!r} ({msg.width}x'
                              f'{msg.height}); use 32FC1 (m) or 16UC1 (mm)')
    dtype_char, to_metres = DEPTH_ENCODINGS[encoding]
    raw = _pixels(msg, dtype_char, 1, 4 if dtype_char == 'f4' else 2)[:, :, 0]
    depth = raw.astype(np.float32)
    if to_metres != 1.0:
        depth *= np.float32(to_metres)
    with np.errstate(invalid='ignore'):
        depth[~(depth > 0) | ~np.isfinite(depth)] = np.nan
    return depth


def _image_msg(pixels: np.ndarray, encoding: str, header: Any, types: MessageTypes,
               row_padding: int, big_endian: bool) -> Any:
    height, width = pixels.shape[:2]
    row = np.ascontiguousarray(pixels).reshape(height, -1).view(np.uint8)
    if row_padding:
        row = np.concatenate([row, np.zeros((height, row_padding), np.uint8)], axis=1)
    return types.Image(header=header, height=height, width=width, encoding=encoding,
                       is_bigendian=int(big_endian), step=row.shape[1],
                       data=types.byte_array(row))


def rgb_to_image_msg(rgb: np.ndarray, header: Any, types: MessageTypes, encoding: str = 'rgb8',
                     row_padding: int = 0, big_endian: bool = False) -> Any:
    """(H, W, 3) uint8 RGB -> sensor_msgs/Image in any colour encoding image_msg_to_rgb reads.

    mono encodings take the luma (ITU-R 601); mono16 scales it by 257. ``row_padding`` bytes are
    appended to each row (exercises ``step``); ``big_endian`` only matters for mono16.
    """
    import cv2

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ConversionError(f'rgb must be (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}')
    if encoding not in COLOUR_ENCODINGS:
        raise ConversionError(f'unsupported image encoding {encoding!r}')
    if encoding in ('rgb8', 'bgr8'):
        pixels = rgb if encoding == 'rgb8' else rgb[:, :, ::-1]
    elif encoding in ('rgba8', 'bgra8'):
        colour = rgb if encoding == 'rgba8' else rgb[:, :, ::-1]
        pixels = np.concatenate([colour, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    else:
        gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
        pixels = gray if encoding == 'mono8' else gray.astype(np.uint16) * np.uint16(257)
        if encoding == 'mono16':
            pixels = pixels.astype('>u2' if big_endian else '<u2')
    big = big_endian if encoding == 'mono16' else False
    return _image_msg(pixels, encoding, header, types, row_padding, big)


def depth_to_image_msg(depth: np.ndarray, header: Any, types: MessageTypes,
                       encoding: str = '32FC1') -> Any:
    """(H, W) depth in metres (NaN invalid) -> sensor_msgs/Image.

    ``32FC1`` (default, the published depth and confidence images) keeps NaN; ``16UC1``
    writes millimetres with 0 for invalid or out-of-range depth (for tests and bags feeding
    ``prior/depth``).
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ConversionError(f'depth must be (H, W), got shape {depth.shape}')
    if encoding == '32FC1':
        pixels = depth.astype(np.float32, copy=False)
        return _image_msg(pixels, encoding, header, types, 0, _HOST_BIGENDIAN)
    if encoding == '16UC1':
        with np.errstate(invalid='ignore'):
            mm = np.where(np.isfinite(depth) & (depth > 0), np.rint(depth * 1000.0), 0.0)
        pixels = np.where(mm > 65535, 0, mm).astype(np.uint16)
        return _image_msg(pixels, encoding, header, types, 0, _HOST_BIGENDIAN)
    raise ConversionError(f'unsupported depth encoding {encoding!r}; use 32FC1 or 16UC1')


def mono8_to_image_msg(pixels: np.ndarray, header: Any, types: MessageTypes) -> Any:
    """(H, W) uint8 -> sensor_msgs/Image ``mono8`` (masks: the published dynamic mask)."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise ConversionError(f'mono8 needs (H, W) uint8, got {pixels.shape} {pixels.dtype}')
    return _image_msg(pixels, 'mono8', header, types, 0, False)


def rgb_to_compressed_msg(rgb: np.ndarray, header: Any, types: MessageTypes,
                          fmt: str = 'jpeg', quality: int = 95) -> Any:
    """(H, W, 3) uint8 RGB -> sensor_msgs/CompressedImage (``jpeg`` or ``png``)."""
    import cv2

    if fmt not in ('jpeg', 'png'):
        raise ConversionError(f'unsupported compressed format {fmt!r}; use jpeg or png')
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if fmt == 'jpeg' else []
    ok, encoded = cv2.imencode('.jpg' if fmt == 'jpeg' else '.png', bgr, params)
    if not ok:
        raise ConversionError(f'OpenCV could not encode a {rgb.shape} image as {fmt}')
    return types.CompressedImage(header=header, format=fmt,
                                 data=types.byte_array(encoded.reshape(-1)))
