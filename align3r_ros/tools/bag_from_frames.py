"""``align3r-bag-from-frames``: an image folder, a video or a dataset sequence -> rosbag2.

    align3r-bag-from-frames INPUT -o OUTPUT [--force] [--dataset tum|bonn|sintel|7scenes]
        [--fps F] [--start-time S] [--intrinsics fx,fy,cx,cy | FILE] [--depth DIR
        --depth-scale 1000] [--poses TUM_FILE | --pose-dir DIR] [--frames N] [--stride K]
        [--compressed] [--storage sqlite3|mcap]

With ``--dataset`` INPUT is one sequence folder read with the dataset's official layout (its
intrinsics, ground-truth depth and poses and stamps come along). Otherwise INPUT is a folder of
images (sorted by the number in their names) or a video file; depth maps (16-bit PNG, ``value /
depth-scale`` metres) and 4x4 pose files pair with the images in sorted order, a TUM trajectory
pairs by order when it has one line per image, else by the nearest stamp.

Stamps: a video keeps its own time base (the container's frame rate); an image folder is stamped
at 30 fps; ``--fps`` overrides both. Datasets keep their recorded stamps.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import numpy as np

from align3r_ros.errors import InputError
from align3r_ros.geometry.camera import intrinsics_matrix
from align3r_ros.tools import cli

PROG = 'align3r-bag-from-frames'
FOLDER_FPS = 30.0  # stamps of an image folder without --fps
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.ppm', '.tif', '.tiff')


def _natural_key(path: Path) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r'(\d+)', path.name))


def _sorted_files(folder: Path, suffixes=IMAGE_SUFFIXES) -> List[Path]:
    if not folder.is_dir():
        raise InputError(f'{folder} is not a folder')
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in suffixes),
                   key=_natural_key)
    if not files:
        raise InputError(f'no files ({", ".join(suffixes)}) in {folder}')
    return files


def parse_intrinsics(text: Optional[str]) -> Optional[np.ndarray]:
    """'fx,fy,cx,cy' or a file holding a 3x3 matrix -> (3, 3) K, or None."""
    if not text:
        return None
    if Path(text).is_file():
        K = np.loadtxt(text, dtype=np.float64)
        if K.shape != (3, 3):
            raise InputError(f'{text}: expected a 3x3 matrix, got shape {K.shape}')
        return K
    try:
        fx, fy, cx, cy = (float(v) for v in text.split(','))
    except ValueError:
        raise InputError(f'--intrinsics {text!r}: give fx,fy,cx,cy or a 3x3 matrix file') \
            from None
    return intrinsics_matrix(fx, fy, cx, cy)


def _video_frames(path: Path) -> Iterator[np.ndarray]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise InputError(f'cannot open video {path}')
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def video_fps(path: Path) -> float:
    """The frame rate a video container states (OpenCV ``CAP_PROP_FPS``), frames per second.

    Raises:
        InputError: the video cannot be opened or states no usable rate (give ``--fps``).
    """
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(f'cannot open video {path}')
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    if not np.isfinite(fps) or not 0 < fps <= 1000:
        raise InputError(f'video {path} states no usable frame rate ({fps!r}); give --fps')
    return fps


def frame_rate(args: argparse.Namespace) -> float:
    """Frames per second for the stamps: --fps, else the video's own, else 30 for folders."""
    if args.fps is not None:
        return float(args.fps)
    source = Path(args.input)
    return FOLDER_FPS if source.is_dir() else video_fps(source)


def _video_length(path: Path) -> Optional[int]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()
    return count if count > 0 else None


def generic_frames(args: argparse.Namespace):
    """Frames of an image folder / video with the optional side inputs."""
    from align3r_ros.evaluation import dataset_files
    from align3r_ros.streams.association import NO_MATCH, associate_nearest
    from align3r_ros.structures import Frame

    source = Path(args.input)
    K = parse_intrinsics(args.intrinsics)
    images = _sorted_files(source) if source.is_dir() else None
    depth_files = _sorted_files(Path(args.depth), ('.png',)) if args.depth else None
    pose_files = _sorted_files(Path(args.pose_dir), ('.txt',)) if args.pose_dir else None
    trajectory = dataset_files.read_tum_trajectory(Path(args.poses)) if args.poses else None
    rgbs = (dataset_files.read_rgb(p) for p in images) if images else _video_frames(source)
    start_ns = int(round(args.start_time * 1e9))
    period_ns = 1e9 / frame_rate(args)
    count = len(images) if images else _video_length(source)
    for index, rgb in enumerate(rgbs):
        if index % args.stride:
            continue
        if args.frames and index // args.stride >= args.frames:
            break
        stamp = start_ns + int(round(index * period_ns))
        depth = T = None
        if depth_files is not None and index < len(depth_files):
            depth = dataset_files.read_depth_png(depth_files[index], args.depth_scale,
                                                 invalid_values=(0, 65535))
        if pose_files is not None and index < len(pose_files):
            T = np.loadtxt(pose_files[index], dtype=np.float64).reshape(4, 4)
        elif trajectory is not None:
            if count is not None and len(trajectory) == count:
                T = trajectory.T_world_cam[index]
            else:
                j = associate_nearest([stamp], trajectory.stamps_ns, int(period_ns))[0]
                T = trajectory.T_world_cam[j] if j != NO_MATCH else None
        yield Frame(stamp_ns=stamp, rgb=rgb, K=K, gt_depth=depth, gt_T_world_cam=T)


def dataset_frames(args: argparse.Namespace):
    from align3r_ros.evaluation.datasets import DatasetKind, load_sequence

    data = load_sequence(DatasetKind(args.dataset), Path(args.input), start=args.start,
                         frames=args.frames or 0, stride=args.stride)
    offset = int(round(args.start_time * 1e9))
    for frame in data.frames:
        yield frame if not offset else type(frame)(
            stamp_ns=frame.stamp_ns + offset, rgb=frame.rgb, K=frame.K,
            gt_depth=frame.gt_depth, gt_T_world_cam=frame.gt_T_world_cam)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='align3r-bag-from-frames',
                                     description='Build a rosbag2 from images or a dataset '
                                                 'sequence (+ intrinsics, depth, poses).')
    parser.add_argument('input', help='image folder, video file, or a dataset sequence folder')
    parser.add_argument('-o', '--output', required=True, help='rosbag2 directory to create '
                        '(an existing one needs --force)')
    parser.add_argument('--dataset', choices=['tum', 'bonn', 'sintel', '7scenes'],
                        help='read INPUT in this dataset\'s layout (ground truth included)')
    parser.add_argument('--start', type=int, default=0, help='first frame (dataset mode)')
    parser.add_argument('--fps', type=cli.positive_float, default=None,
                        help='frame rate of the stamps, frames per second (default: the '
                             f'video\'s own rate; {FOLDER_FPS:g} for an image folder)')
    parser.add_argument('--start-time', type=cli.non_negative_float, default=0.0,
                        help='stamp offset, seconds')
    parser.add_argument('--intrinsics', help='fx,fy,cx,cy or a 3x3 matrix file')
    parser.add_argument('--depth', help='folder of 16-bit depth PNGs (ground truth)')
    parser.add_argument('--depth-scale', type=cli.positive_float, default=1000.0,
                        help='depth PNG units per metre (7-Scenes 1000, TUM 5000)')
    poses = parser.add_mutually_exclusive_group()
    poses.add_argument('--poses', help='TUM trajectory file (camera-to-world)')
    poses.add_argument('--pose-dir', help='folder of 4x4 camera-to-world text files')
    parser.add_argument('--frames', type=cli.non_negative_int, default=0,
                        help='at most N frames (0: all)')
    parser.add_argument('--stride', type=cli.positive_int, default=1,
                        help='keep every K-th frame')
    parser.add_argument('--compressed', action='store_true', help='write CompressedImage jpeg')
    parser.add_argument('--depth-encoding', choices=['16UC1', '32FC1'], default='16UC1')
    parser.add_argument('--storage', choices=['sqlite3', 'mcap'], default='sqlite3')
    parser.add_argument('--frame-id', default='camera_optical_frame')
    parser.add_argument('--quiet', action='store_true')
    cli.add_tool_arguments(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: see :class:`align3r_ros.tools.cli.ExitCode` (and ``--help``)."""
    from align3r_ros.bag.frames_to_bag import FramesBagOptions, write_frames_bag
    from align3r_ros.bag.writer import Storage

    args = build_parser().parse_args(argv)
    options = FramesBagOptions(compressed=args.compressed, depth_encoding=args.depth_encoding,
                               storage=Storage(args.storage), frame_id=args.frame_id)
    output = cli.OutputLocation(Path(args.output), cli.OutputKind.FOLDER, '-o')

    def work() -> int:
        frames = dataset_frames(args) if args.dataset else generic_frames(args)
        count = write_frames_bag(frames, Path(args.output), options, overwrite=args.force)
        if not args.quiet:
            rate = '' if args.dataset else f' at {frame_rate(args):g} fps'
            print(f'{PROG}: wrote {count} frames to {args.output} '
                  f'({options.resolved_image_topic}{rate})')
        return cli.ExitCode.OK

    return cli.run_tool(PROG, work, debug=args.debug, outputs=[output], force=args.force)


if __name__ == '__main__':
    sys.exit(main())
