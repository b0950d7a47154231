"""Output locations, checked by the real entry points (``main(argv)``, in this process) before
any work: the right kind, writable, never overwritten without --force, and with --force replaced
only once the new output is complete."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from align3r_ros.bag.reader import BagReader
from support.tool_process import hidden_entries, run_main


@pytest.fixture
def images(tmp_path) -> Path:
    folder = tmp_path / 'images'
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f'{i}.png'), np.full((24, 32, 3), 50 * i, np.uint8))
    return folder


def _message_count(bag: Path) -> int:
    with BagReader(bag) as reader:
        return sum(t.count for t in reader.topics)


def test_bag_from_frames_refuses_then_replaces_with_force(tmp_path, images):
    bag = tmp_path / 'bag'
    assert run_main('bag_from_frames', [images, '-o', bag, '--frames', '1']).code == 0
    done = run_main('bag_from_frames', [images, '-o', bag])
    assert done.code == 1 and len(done.err_lines) == 1
    assert 'exists already' in done.err and '--force' in done.err
    assert _message_count(bag) == 1  # untouched
    done = run_main('bag_from_frames', [images, '-o', bag, '--force', '--quiet'])
    assert done.code == 0, done.err
    assert _message_count(bag) == 3 and hidden_entries(tmp_path) == []


def test_bag_from_frames_force_keeps_the_old_bag_when_the_new_run_fails(tmp_path, images):
    bag = tmp_path / 'bag'
    assert run_main('bag_from_frames', [images, '-o', bag, '--frames', '1']).code == 0
    (images / '1.png').write_bytes(b'not a png')  # the new run fails on its second frame
    done = run_main('bag_from_frames', [images, '-o', bag, '--force'])
    assert done.code == 1 and len(done.err_lines) == 1 and 'Traceback' not in done.err
    assert _message_count(bag) == 1 and hidden_entries(tmp_path) == []


@pytest.mark.parametrize('case', ['output is a file', 'parent is a file', 'read-only'])
def test_bag_from_frames_bad_output_location_before_any_work(tmp_path, images, case):
    (tmp_path / 'afile').write_text('keep')
    output = {'output is a file': tmp_path / 'afile',
              'parent is a file': tmp_path / 'afile' / 'bag',
              'read-only': Path('/proc/align3r_bag')}[case]
    (images / '0.png').write_bytes(b'')  # any work at all would fail on this frame instead
    done = run_main('bag_from_frames', [images, '-o', output])
    assert done.code == 1 and len(done.err_lines) == 1 and 'Traceback' not in done.err
    assert done.err.startswith('align3r-bag-from-frames: error: -o ')
    assert (tmp_path / 'afile').read_text() == 'keep'


def test_config_yaml_refuses_then_replaces_with_force(tmp_path):
    out = tmp_path / 'align3r.yaml'
    out.write_text('mine\n')
    done = run_main('config_tool', ['yaml', '-o', out])
    assert done.code == 1 and 'exists already' in done.err and out.read_text() == 'mine\n'
    done = run_main('config_tool', ['yaml', '-o', out, '--force'])
    assert done.code == 0 and out.read_text().startswith('# Generated')
    done = run_main('config_tool', ['yaml', '-o', tmp_path])
    assert done.code == 1 and 'is a folder; give a file name' in done.err


def test_weights_convert_refuses_an_existing_output(tmp_path):
    out = tmp_path / 'model.safetensors'
    out.write_bytes(b'earlier result')
    done = run_main('weights', ['convert', tmp_path / 'missing.pth', out])
    assert done.code == 2 and len(done.err_lines) == 1 and 'exists already' in done.err
    assert out.read_bytes() == b'earlier result'
    done = run_main('weights', ['convert', tmp_path / 'missing.pth', out, '--force'])
    assert done.code == 2 and 'not found' in done.err  # past the output check, fails on input
    assert out.read_bytes() == b'earlier result' and hidden_entries(tmp_path) == []


def test_weights_download_dest_must_be_a_folder(tmp_path):
    (tmp_path / 'afile').write_text('x')
    done = run_main('weights', ['download', 'align3r_depthpro', '--dest', tmp_path / 'afile'])
    assert done.code == 2 and len(done.err_lines) == 1 and 'is a file' in done.err


def test_set_aside_restores_on_failure_and_drops_on_success(tmp_path):
    from align3r_ros.bag.writer import set_aside

    out = tmp_path / 'out'
    out.mkdir()
    (out / 'old').write_text('old')
    with pytest.raises(KeyboardInterrupt):
        with set_aside(out):
            assert not out.exists()  # out of the way of a writer that refuses existing paths
            out.mkdir()
            (out / 'half').write_text('new, unfinished')
            raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ['old'] and hidden_entries(tmp_path) == []
    with set_aside(out):
        out.mkdir()
        (out / 'new').write_text('new')
    assert sorted(p.name for p in out.iterdir()) == ['new'] and hidden_entries(tmp_path) == []
