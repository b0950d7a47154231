"""align3r-replay and align3r-eval as a user runs them: output locations checked before any
work, --force, signals, and a non-zero exit status when nothing valid came out (as processes
where a process is the point, else through ``main(argv)`` in this process)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from align3r_ros.bag.reader import BagReader
from support.tool_inputs import GT_FLAGS, write_bag, write_tum_sequence
from support.tool_process import (SIGNALS, hidden_entries, run_main, run_tool, signal_when,
                                  staging_appeared)

ORACLE = ['--pairwise-backend', 'oracle', '--preprocess-long-side', '64']


@pytest.fixture(scope='module')
def bag(tmp_path_factory) -> Path:
    return write_bag(tmp_path_factory.mktemp('input') / 'synthetic', 40)


def _image_count(path: Path) -> int:
    with BagReader(path) as reader:
        return sum(t.count for t in reader.topics if t.name.endswith('depth/image'))


@pytest.mark.parametrize('case', ['report is a file', 'report in a read-only place',
                                  'report exists', 'output is a file'])
def test_replay_bad_output_location_fails_before_any_work(bag, tmp_path, case):
    (tmp_path / 'afile').write_text('keep')
    (tmp_path / 'old_report').mkdir()
    (tmp_path / 'old_report' / 'report.json').write_text('{}')  # an earlier run's report
    out, report = tmp_path / 'out', {
        'report is a file': tmp_path / 'afile', 'report exists': tmp_path / 'old_report',
        'report in a read-only place': Path('/proc/align3r_report'),
        'output is a file': tmp_path / 'report'}[case]
    if case == 'output is a file':
        out = tmp_path / 'afile'
    done = run_main('replay', [bag, '-o', out, '--report', report, *ORACLE, *GT_FLAGS])
    assert done.code == 1 and len(done.err_lines) == 1 and 'Traceback' not in done.err
    assert ('exists already' in done.err) == (case == 'report exists')
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'report').exists()
    assert (tmp_path / 'afile').read_text() == 'keep' and hidden_entries(tmp_path) == []


def test_replay_config_pointing_at_a_folder(bag, tmp_path):
    done = run_main('replay', [bag, '-o', tmp_path / 'out', '--config', tmp_path])
    assert done.code == 1 and len(done.err_lines) == 1 and 'is a folder' in done.err


def test_replay_force_replaces_bag_and_report(tmp_path):
    small = write_bag(tmp_path / 'small', 6)
    out, report = tmp_path / 'out', tmp_path / 'report'
    out.mkdir()
    (out / 'old').write_text('old bag')
    report.mkdir()
    (report / 'old').write_text('old report')
    args = [small, '-o', out, '--report', report, '--quiet', *ORACLE, *GT_FLAGS]
    done = run_tool('replay', args)
    assert done.code == 1 and 'exists already' in done.err and (out / 'old').is_file()
    done = run_tool('replay', [*args, '--force'])
    assert done.code == 0, done.err
    assert not (out / 'old').exists() and _image_count(out) == 6
    assert sorted(p.name for p in report.glob('report.*')) == ['report.json', 'report.md']
    assert not (report / 'old').exists() and hidden_entries(tmp_path) == []


@pytest.mark.parametrize('signum, code, word', SIGNALS)
def test_replay_signal_leaves_nothing(bag, tmp_path, signum, code, word):
    done = signal_when('replay', [bag, '-o', tmp_path / 'out', '--report', tmp_path / 'report',
                                  *ORACLE, *GT_FLAGS],
                       staging_appeared(tmp_path, 'out'), signum)
    assert done.code == code, done.err
    assert word in done.err and 'Traceback' not in done.err
    assert [line for line in done.err_lines if line.startswith('align3r-replay')] == \
        done.err_lines[-1:]  # tqdm's bar may precede the one line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('signum, code, word', SIGNALS)
def test_eval_signal_leaves_nothing(tmp_path, signum, code, word):
    root = tmp_path / 'tum'
    write_tum_sequence(root / 'rgbd_dataset_freiburg3_a', 6, fifo_image=True)
    done = signal_when('eval', ['--dataset', 'tum', root, '--output', tmp_path / 'results',
                                '--quiet', *ORACLE],
                       staging_appeared(tmp_path, 'results'), signum)
    assert done.code == code, done.err
    assert len(done.err_lines) == 1 and word in done.err and 'Traceback' not in done.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['tum']


def test_eval_output_refused_before_work_and_replaced_with_force(tmp_path):
    root = tmp_path / 'tum'
    write_tum_sequence(root / 'rgbd_dataset_freiburg3_a', 4, fifo_image=True)  # work blocks
    results = tmp_path / 'results'
    results.mkdir()
    (results / 'eval.json').write_text('{"earlier": 1}')
    done = run_tool('eval', ['--dataset', 'tum', root, '--output', results, *ORACLE])
    assert done.code == 1 and 'exists already' in done.err
    assert json.loads((results / 'eval.json').read_text()) == {'earlier': 1}
    done = run_tool('eval', ['--dataset', 'tum', root, '--output', results / 'eval.json',
                             *ORACLE])
    assert done.code == 1 and 'is a file' in done.err


def _nan_results(frames, *args, **kwargs):
    """What an engine whose every alignment failed returns: results without a valid depth."""
    from align3r_ros.structures import FrameResult

    return [FrameResult(stamp_ns=f.stamp_ns, depth=np.full(f.shape, np.nan, np.float32),
                        confidence=np.zeros(f.shape, np.float32), K=f.K,
                        T_world_cam=np.eye(4), is_metric=False,
                        dynamic_mask=np.zeros(f.shape, bool), status='alignment failed',
                        tag=f.tag) for f in frames]


def test_eval_exits_non_zero_when_every_alignment_failed(tmp_path, monkeypatch, capsys):
    from align3r_ros.tools import eval as eval_tool

    root = tmp_path / 'tum'
    write_tum_sequence(root / 'rgbd_dataset_freiburg3_a', 4)
    monkeypatch.setattr(eval_tool, 'run_engine', _nan_results)
    code = eval_tool.main(['--dataset', 'tum', str(root), '--frames', '4', '--start', '0',
                           '--output', str(tmp_path / 'results'), '--quiet'])
    err = capsys.readouterr().err
    assert code == 1 and 'no sequence produced a valid result' in err
    assert 'rgbd_dataset_freiburg3_a: none of the 4 results holds a valid depth' in err
    assert (tmp_path / 'results' / 'eval.json').is_file()  # written, for inspection


class _FailingEngine:
    """Every alignment fails: results arrive, none with a valid depth map."""

    def __init__(self) -> None:
        from align3r_ros.structures import EngineStats
        self.stats = EngineStats()
        self.held = []

    @property
    def held_frames(self) -> int:
        return len(self.held)

    def push(self, frame):
        self.held.append(frame)
        return []

    def flush(self):
        held, self.held = self.held, []
        return [dataclasses.replace(r, K=np.eye(3)) for r in _nan_results(held)]


def test_replay_exits_non_zero_when_every_alignment_failed(tmp_path, monkeypatch, capsys):
    from align3r_ros.tools import replay, replay_run

    small = write_bag(tmp_path / 'small', 4)
    monkeypatch.setattr(replay_run, 'default_engine_factory',
                        lambda mode, on_stage=None: lambda config: _FailingEngine())
    code = replay.main([str(small), '-o', str(tmp_path / 'out'), '--quiet', *GT_FLAGS])
    err = capsys.readouterr().err
    assert code == 1 and 'none of the 4 results holds a valid depth map' in err


def test_replay_without_ground_truth_exits_non_zero_when_every_alignment_failed(
        tmp_path, monkeypatch, capsys):
    """No ground truth to score: the results themselves are counted (none has a depth)."""
    from align3r_ros.tools import replay, replay_run

    small = write_bag(tmp_path / 'small', 4)
    monkeypatch.setattr(replay_run, 'default_engine_factory',
                        lambda mode, on_stage=None: lambda config: _FailingEngine())
    code = replay.main([str(small), '-o', str(tmp_path / 'out'), '--quiet'])
    err = capsys.readouterr().err
    assert code == 1 and 'none of the 4 results holds a valid depth map' in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert (tmp_path / 'out').is_dir()  # written, for inspection


def test_oracle_without_ground_truth_flags_is_refused_before_any_work(tmp_path):
    small = write_bag(tmp_path / 'small', 4)
    done = run_main('replay', [small, '-o', tmp_path / 'out', '--report', tmp_path / 'report',
                               '--quiet', *ORACLE, '--gt-depth-topic',
                               '/camera/depth/image_raw'])
    assert done.code == 1 and len(done.err_lines) == 1 and 'Traceback' not in done.err
    assert 'the oracle backend needs --gt-depth-topic and --gt-pose-topic (or ' \
        '--gt-tf-frame)' in done.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['small']


@pytest.mark.slow
@pytest.mark.parametrize('ground_truth', [GT_FLAGS, []], ids=['with-gt', 'without-gt'])
def test_replay_with_random_tiny_weights_exits_non_zero(shared, tmp_path, ground_truth):
    """The issue's case: the tiny random-weight Align3R fails every alignment (with ground
    truth the scored depth shows it, without it the results are counted)."""
    small = write_bag(tmp_path / 'small', 4)
    done = run_tool('replay', [small, '-o', tmp_path / 'out', '--quiet', '--pairwise-weights',
                               shared / 'fixtures' / 'align3r_tiny' / 'weights.safetensors',
                               '--prior-topic', '/camera/depth/image_raw', '--prior-backend',
                               'external', '--prior-kind', 'metric_depth',
                               '--preprocess-long-side', '64', *ground_truth])
    assert done.code == 1 and 'holds a valid depth map' in done.err and \
        len(done.err_lines) == 1


@pytest.mark.slow
@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_replay_full_disk_mid_run_is_one_line_and_no_staging(tmp_path, storage):
    import resource

    (tmp_path / 'input').mkdir()
    bag = write_bag(tmp_path / 'input' / 'small', 6)

    def limit_file_size() -> None:  # in the child: writes past 40 kB fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))

    done = run_tool('replay', [bag, '-o', tmp_path / 'out', '--storage', storage, '--quiet',
                               *ORACLE, *GT_FLAGS], preexec_fn=limit_file_size)
    assert done.code == 1, done.err
    assert len(done.err_lines) == 1 and 'Traceback' not in done.err
    assert done.err.startswith('align3r-replay: error: cannot ')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['input']
