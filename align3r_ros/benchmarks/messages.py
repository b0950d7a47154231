"""Per-frame message cost: convert a 640x480 input, build 512x288 depth + cloud messages.

Prints JSON: median / p90 milliseconds per stage and per frame, for the rosbags classes and for
the same classes with rclpy's ``array.array('B')`` byte adapter (what the node pays).

    align3r-bench messages [--repeats 50] [--stride 2] [--input-encoding bgr8] [--out FILE]
"""

from __future__ import annotations

import argparse
import array
import dataclasses
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from align3r_ros.benchmarks.report import emit_report
from align3r_ros.messages import MessageTypes
from align3r_ros.messages.camera_info import intrinsics_to_camera_info
from align3r_ros.messages.header import make_header
from align3r_ros.messages.image import (
    compressed_msg_to_rgb,
    depth_to_image_msg,
    image_msg_to_rgb,
    rgb_to_compressed_msg,
    rgb_to_image_msg,
)
from align3r_ros.messages.point_cloud import depth_to_cloud_msg
from align3r_ros.messages.transforms import matrix_to_transform_stamped


def _array_bytes(values: np.ndarray) -> array.array:
    """rclpy's fast path for uint8[] fields."""
    out = array.array('B')
    out.frombytes(np.ascontiguousarray(values).reshape(-1).view(np.uint8))
    return out


def _time_ms(fn: Callable[[], object], repeats: int) -> List[float]:
    fn()  # warm-up (imports, allocator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def _summary(times: List[float]) -> Dict[str, float]:
    return {'median_ms': round(float(np.median(times)), 3),
            'p90_ms': round(float(np.percentile(times, 90)), 3)}


def run(types: MessageTypes, repeats: int, stride: int, encoding: str) -> Dict[str, object]:
    rng = np.random.default_rng(0)
    rgb_in = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    header = make_header(1_700_000_000_000_000_000, 'camera_optical_frame', types)
    image_msg = rgb_to_image_msg(rgb_in, header, types, encoding)
    jpeg_msg = rgb_to_compressed_msg(rgb_in, header, types, 'jpeg', 90)
    depth = rng.uniform(0.5, 8.0, (288, 512)).astype(np.float32)
    conf = rng.uniform(1.0, 10.0, (288, 512)).astype(np.float32)
    rgb_out = rng.integers(0, 256, (288, 512, 3), dtype=np.uint8)
    K = np.array([[400.0, 0, 255.5], [0, 400.0, 143.5], [0, 0, 1]])
    T_world_cam = np.eye(4)
    stages = {
        'input_raw': lambda: image_msg_to_rgb(image_msg),
        'input_jpeg': lambda: compressed_msg_to_rgb(jpeg_msg),
        'depth_image': lambda: depth_to_image_msg(depth, header, types),
        'camera_info': lambda: intrinsics_to_camera_info(K, 512, 288, header, types),
        'cloud': lambda: depth_to_cloud_msg(depth, K, header, types, rgb=rgb_out,
                                            confidence=conf, conf_threshold=3.0, stride=stride),
        'cloud_stride1': lambda: depth_to_cloud_msg(depth, K, header, types, rgb=rgb_out,
                                                    confidence=conf, conf_threshold=3.0),
        'tf': lambda: matrix_to_transform_stamped(T_world_cam, 1, 'align3r_world',
                                                  'camera_optical_frame', types),
    }

    def frame() -> None:
        image_msg_to_rgb(image_msg)
        depth_to_image_msg(depth, header, types)
        intrinsics_to_camera_info(K, 512, 288, header, types)
        depth_to_cloud_msg(depth, K, header, types, rgb=rgb_out, confidence=conf,
                           conf_threshold=3.0, stride=stride)
        matrix_to_transform_stamped(T_world_cam, 1, 'align3r_world', 'camera_optical_frame',
                                    types)

    result: Dict[str, object] = {name: _summary(_time_ms(fn, repeats))
                                 for name, fn in stages.items()}
    result['frame_raw_input'] = _summary(_time_ms(frame, repeats))
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog='align3r-bench messages', description=__doc__)
    parser.add_argument('--repeats', type=int, default=50)
    parser.add_argument('--stride', type=int, default=2, help='cloud point stride')
    parser.add_argument('--input-encoding', default='bgr8')
    parser.add_argument('--out', help='also write the JSON here')
    args = parser.parse_args(argv)
    rosbags_types = MessageTypes.from_rosbags()
    array_types = dataclasses.replace(rosbags_types, byte_array=_array_bytes)
    report = {
        'benchmark': 'messages', 'input': f'640x480 {args.input_encoding}',
        'output': '512x288 depth 32FC1 + CameraInfo + PointCloud2 + TF',
        'cloud_stride': args.stride, 'repeats': args.repeats,
        'rosbags_numpy_bytes': run(rosbags_types, args.repeats, args.stride,
                                   args.input_encoding),
        'array_array_bytes': run(array_types, args.repeats, args.stride, args.input_encoding),
    }
    emit_report(report, args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
