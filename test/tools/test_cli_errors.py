"""User errors in the real entry points: one line on stderr, a documented exit status, never a
traceback; errors that name their fix; ``--help`` that says what every flag takes."""

from __future__ import annotations

import argparse
import dataclasses
import resource
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from align3r_ros import config_io
from align3r_ros.errors import WeightsError
from support.tool_process import hidden_entries, run_main, run_tool


def _images(folder: Path, count: int, size=(80, 60)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):  # noise: PNG cannot compress it, the bag grows by ~14 kB a frame
        cv2.imwrite(str(folder / f'{i:03d}.png'),
                    rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    return folder


def _file_size_limit(limit_bytes: int):
    def apply() -> None:  # in the child: writes past the limit fail with EFBIG, like ENOSPC
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return apply


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_full_disk_mid_run_is_one_line_and_no_staging(tmp_path, storage):
    images = _images(tmp_path / 'images', 30)
    out_dir = tmp_path / 'out'
    out_dir.mkdir()
    done = run_tool('bag_from_frames', [images, '-o', out_dir / 'bag', '--storage', storage],
                    preexec_fn=_file_size_limit(100_000))
    assert done.code == 1, done.err
    assert len(done.err_lines) == 1 and 'Traceback' not in done.err
    assert 'cannot' in done.err and str(out_dir / 'bag') in done.err
    assert list(out_dir.iterdir()) == []


def test_config_yaml_into_a_file_path_or_read_only_place(tmp_path):
    (tmp_path / 'afile').write_text('x')
    done = run_tool('config_tool', ['yaml', '-o', tmp_path / 'afile' / 'align3r.yaml'])
    assert done.code == 1 and len(done.err_lines) == 1 and 'is a file, not a folder' in done.err
    done = run_tool('config_tool', ['yaml', '-o', '/proc/align3r.yaml'])  # read-only for root too
    assert done.code == 1 and len(done.err_lines) == 1 and 'cannot write in /proc' in done.err
    assert 'Traceback' not in done.err


def test_help_names_the_type_of_every_config_flag():
    parser = argparse.ArgumentParser()
    config_io.add_config_arguments(parser)
    text = ' '.join(parser.format_help().split())
    for spec in config_io.param_specs():
        flag = '--' + spec.name.replace('.', '-').replace('_', '-')
        if spec.choices:
            expected = '{' + ','.join(spec.choices) + '}'
        else:
            expected = {bool: 'true|false', int: 'INT', float: 'FLOAT', str: 'TEXT'}[spec.type]
        assert f'{flag} {expected}' in text, flag
    assert 'VALUE' not in text


@pytest.mark.parametrize('loader', ['depth_pro', 'depth_anything'])
def test_refused_prior_pickle_never_suggests_weights_only_false(tmp_path, loader):
    path = tmp_path / 'pickled.pth'
    torch.save({'x': Path('.')}, path)  # unpickling it would need an arbitrary class
    if loader == 'depth_pro':
        from align3r_ros.networks.depth_pro.checkpoint import read_state_dict
    else:
        from align3r_ros.networks.depth_anything.checkpoint import read_state_dict
    with pytest.raises(WeightsError) as caught:
        read_state_dict(path)
    message = str(caught.value)
    assert 'refusing to unpickle' in message and 'PosixPath' in message
    assert 'weights_only' not in message and '\n' not in message
    assert caught.value.__cause__ is None  # torch's advice is not chained in either


def test_convert_into_unwritable_place_fails_before_reading(tmp_path):
    src = tmp_path / 'never_read.pth'  # does not exist: the output is checked first
    done = run_main('weights', ['convert', src, '/proc/none/model.safetensors'])
    assert done.code == 2 and len(done.err_lines) == 1 and 'cannot write in /proc' in done.err
    assert hidden_entries(tmp_path) == []


def test_oracle_without_ground_truth_names_the_flags():
    from align3r_ros.backends.base import NetworkView, ViewTruth
    from align3r_ros.backends.oracle import OracleBackend
    from align3r_ros.config import OracleConfig
    from align3r_ros.errors import InputError

    K = np.array([[40.0, 0, 24], [0, 40.0, 16], [0, 0, 1]])
    good = NetworkView(key=1, image=np.zeros((3, 32, 48), np.float32), K=K,
                       truth=ViewTruth(np.ones((32, 48), np.float32), np.eye(4)))
    bare = NetworkView(key=1700000000000000000, image=np.zeros((3, 32, 48), np.float32), K=K)
    with pytest.raises(InputError) as caught:
        OracleBackend(OracleConfig()).predict([good, bare], np.array([[0, 1]]))
    message = str(caught.value)
    assert 'no ground-truth depth and no ground-truth pose' in message
    assert '--gt-depth-topic and --gt-pose-topic (or --gt-tf-frame)' in message


def test_config_pointing_at_a_folder_is_a_config_error(tmp_path):
    from align3r_ros.errors import ConfigError

    with pytest.raises(ConfigError, match='is a folder; give the parameter YAML file'):
        config_io.config_from_yaml_file(tmp_path)


def test_onnx_weights_given_as_a_file_is_one_line(tmp_path):
    from support.tool_inputs import GT_FLAGS, write_bag

    bag = write_bag(tmp_path / 'bag', 3)
    (tmp_path / 'model.onnx').write_bytes(b'an onnx file, not the export folder')
    done = run_main('replay', [bag, '-o', tmp_path / 'out', '--pairwise-backend', 'onnx',
                               '--pairwise-weights', tmp_path / 'model.onnx', *GT_FLAGS])
    assert done.code == 1 and len(done.err_lines) == 1 and 'Traceback' not in done.err
    assert f'{tmp_path / "model.onnx"} is a file; the onnx backend takes the export folder ' \
        'that align3r-export-onnx writes (encoder.onnx, decoder.onnx, pairwise_onnx.json)' \
        in done.err and not (tmp_path / 'out').exists()


def test_frames_under_8_px_are_rejected(tmp_path):
    from align3r_ros.bag.frames_to_bag import FramesBagOptions, write_frames_bag
    from support.tool_inputs import GT_FLAGS, synthetic_frames

    tiny = [dataclasses.replace(f, rgb=np.ascontiguousarray(f.rgb[:4, :4]), K=f.K,
                                gt_depth=f.gt_depth[:4, :4]) for f in synthetic_frames(4)]
    write_frames_bag(tiny, tmp_path / 'bag', FramesBagOptions())
    done = run_main('replay', [tmp_path / 'bag', '-o', tmp_path / 'out', '--pairwise-backend',
                               'oracle', *GT_FLAGS])
    assert done.code == 1 and 'Traceback' not in done.err
    assert 'too small; sides must be at least 8 px' in done.err_lines[-1]
    assert not (tmp_path / 'out').exists()
