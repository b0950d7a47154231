"""Round-trip grids for Image / CompressedImage conversions (cv_bridge's test style)."""

from __future__ import annotations

import numpy as np
import pytest

from align3r_ros.errors import ConversionError
from align3r_ros.messages import image
from align3r_ros.messages.header import make_header

SIZES = [(1, 1), (3, 5), (8, 7)]


def _rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', 'rgba8', 'bgra8'])
@pytest.mark.parametrize('size', SIZES)
@pytest.mark.parametrize('padding', [0, 3])
def test_colour_round_trip_is_exact(types, cdr_round_trip, encoding, size, padding):
    rgb = _rgb(*size)
    msg = image.rgb_to_image_msg(rgb, make_header(7, 'cam', types), types, encoding,
                                 row_padding=padding)
    assert msg.step == size[1] * image.COLOUR_ENCODINGS[encoding][0] + padding
    back = image.image_msg_to_rgb(cdr_round_trip(msg))
    assert back.dtype == np.uint8 and back.shape == rgb.shape
    np.testing.assert_array_equal(back, rgb)


def test_bgr_channel_order_is_swapped(types):
    msg = types.Image(header=make_header(0, 'c', types), height=1, width=1, encoding='bgr8',
                      is_bigendian=0, step=3, data=np.array([10, 20, 30], np.uint8))
    np.testing.assert_array_equal(image.image_msg_to_rgb(msg)[0, 0], [30, 20, 10])


@pytest.mark.parametrize('encoding', ['mono8', 'mono16'])
@pytest.mark.parametrize('big_endian', [False, True])
@pytest.mark.parametrize('padding', [0, 2])
def test_mono_round_trip(types, cdr_round_trip, encoding, big_endian, padding):
    gray = np.random.default_rng(1).integers(0, 256, (4, 6), dtype=np.uint8)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    msg = image.rgb_to_image_msg(rgb, make_header(0, 'c', types), types, encoding,
                                 row_padding=padding, big_endian=big_endian)
    assert msg.is_bigendian == (int(big_endian) if encoding == 'mono16' else 0)
    np.testing.assert_array_equal(image.image_msg_to_rgb(cdr_round_trip(msg)), rgb)


def test_mono16_endianness_is_honoured(types):
    # 0x1234 stored big-endian: high byte 0x12 comes first.
    msg = types.Image(header=make_header(0, 'c', types), height=1, width=1, encoding='mono16',
                      is_bigendian=1, step=2, data=np.array([0x12, 0x34], np.uint8))
    assert image.image_msg_to_rgb(msg)[0, 0, 0] == 0x12
    little = types.Image(header=make_header(0, 'c', types), height=1, width=1,
                         encoding='mono16', is_bigendian=0, step=2,
                         data=np.array([0x12, 0x34], np.uint8))
    assert image.image_msg_to_rgb(little)[0, 0, 0] == 0x34


def test_reads_array_array_and_bytes_data(types):
    import array
    header = make_header(0, 'c', types)
    for data in (array.array('B', [1, 2, 3]), bytes([1, 2, 3]), [1, 2, 3]):
        msg = types.Image(header=header, height=1, width=1, encoding='rgb8', is_bigendian=0,
                          step=3, data=data)
        np.testing.assert_array_equal(image.image_msg_to_rgb(msg)[0, 0], [1, 2, 3])


@pytest.mark.parametrize('encoding,height,width,step,nbytes,needle', [
    ('yuv422', 2, 2, 4, 8, 'yuv422'),
    ('rgb8', 2, 2, 5, 10, 'step 5'),
    ('rgb8', 2, 2, 6, 11, 'needs 12'),
    ('mono8', 0, 2, 2, 0, 'empty'),
])
def test_bad_images_raise_naming_the_problem(types, encoding, height, width, step, nbytes,
                                             needle):
    msg = types.Image(header=make_header(0, 'c', types), height=height, width=width,
                      encoding=encoding, is_bigendian=0, step=step,
                      data=np.zeros(nbytes, np.uint8))
    with pytest.raises(ConversionError, match=needle):
        image.image_msg_to_rgb(msg)


@pytest.mark.parametrize('fmt', ['png', 'jpeg'])
def test_compressed_round_trip(types, cdr_round_trip, fmt):
    yy, xx = np.mgrid[0:32, 0:48]
    rgb = np.stack([xx * 5, yy * 7, 255 - xx * 5], axis=-1).astype(np.uint8)
    msg = image.rgb_to_compressed_msg(rgb, make_header(0, 'c', types), types, fmt)
    back = image.compressed_msg_to_rgb(cdr_round_trip(msg))
    tolerance = 0 if fmt == 'png' else 12  # jpeg is lossy; smooth ramps stay within a few levels
    assert back.shape == rgb.shape
    assert np.abs(back.astype(int) - rgb).max() <= tolerance


def test_compressed_garbage_and_depth_raise(types):
    garbage = types.CompressedImage(header=make_header(0, 'c', types), format='jpeg',
                                    data=np.arange(20, dtype=np.uint8))
    with pytest.raises(ConversionError, match='jpeg'):
        image.compressed_msg_to_rgb(garbage)
    depth = types.CompressedImage(header=make_header(0, 'c', types),
                                  format='16UC1; compressedDepth', data=np.zeros(4, np.uint8))
    with pytest.raises(ConversionError, match='compressedDepth'):
        image.compressed_msg_to_rgb(depth)


@pytest.mark.parametrize('encoding,tolerance', [('32FC1', 0.0), ('16UC1', 5e-4)])
@pytest.mark.parametrize('size', SIZES)
def test_depth_round_trip_keeps_nan(types, cdr_round_trip, encoding, tolerance, size):
    depth = np.random.default_rng(2).uniform(0.3, 9.0, size).astype(np.float32)
    depth.flat[0] = np.nan
    msg = image.depth_to_image_msg(depth, make_header(0, 'c', types), types, encoding)
    back = image.depth_msg_to_metres(cdr_round_trip(msg))
    assert back.dtype == np.float32 and back.shape == depth.shape
    np.testing.assert_array_equal(np.isnan(back), np.isnan(depth))
    np.testing.assert_allclose(back, depth, atol=tolerance, equal_nan=True)


def test_depth_zero_negative_and_inf_become_nan(types):
    raw = np.array([[0.0, -1.0, np.inf, 2.5]], np.float32)
    msg = types.Image(header=make_header(0, 'c', types), height=1, width=4, encoding='32FC1',
                      is_bigendian=0, step=16, data=raw.view(np.uint8).reshape(-1))
    back = image.depth_msg_to_metres(msg)
    assert np.isnan(back[0, :3]).all() and back[0, 3] == 2.5


def test_big_endian_float_depth(types):
    raw = np.array([[1.5, 3.25]], '>f4')
    msg = types.Image(header=make_header(0, 'c', types), height=1, width=2, encoding='32FC1',
                      is_bigendian=1, step=8, data=raw.view(np.uint8).reshape(-1))
    np.testing.assert_array_equal(image.depth_msg_to_metres(msg), [[1.5, 3.25]])


def test_depth_16uc1_is_millimetres(types):
    raw = np.array([[1000, 0, 2500]], '<u2')
    msg = types.Image(header=make_header(0, 'c', types), height=1, width=3, encoding='16UC1',
                      is_bigendian=0, step=6, data=raw.view(np.uint8).reshape(-1))
    back = image.depth_msg_to_metres(msg)
    assert back[0, 0] == pytest.approx(1.0) and np.isnan(back[0, 1])
    assert back[0, 2] == pytest.approx(2.5)


def test_unsupported_depth_encoding_raises(types):
    msg = types.Image(header=make_header(0, 'c', types), height=1, width=1, encoding='rgb8',
                      is_bigendian=0, step=3, data=np.zeros(3, np.uint8))
    with pytest.raises(ConversionError, match="'rgb8'"):
        image.depth_msg_to_metres(msg)
