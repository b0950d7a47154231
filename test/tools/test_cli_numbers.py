"""The one number parser of the command lines: what each argparse type accepts and refuses, and
the tools' bad number flags as one usage line (exit 2) from their real ``main(argv)``, in this
process (test_cli_*.py run the tools as processes for what needs one: signals, exit codes)."""

from __future__ import annotations

import argparse

import pytest

from align3r_ros.tools import bag_from_frames, cli, eval as eval_tool, replay
from align3r_ros.tools.bag_from_frames import build_parser

GOOD = [(cli.positive_float, '0.5', 0.5), (cli.positive_float, '1e3', 1000.0),
        (cli.non_negative_float, '0', 0.0), (cli.non_negative_float, '2.5', 2.5),
        (cli.positive_int, '1', 1), (cli.positive_int, '12', 12),
        (cli.non_negative_int, '0', 0), (cli.non_negative_int, '7', 7)]
BAD = [(cli.positive_float, '0', 'must be a finite number > 0'),
       (cli.positive_float, 'nan', 'must be a finite number > 0'),
       (cli.positive_float, 'fast', "'fast' is not a number"),
       (cli.non_negative_float, '-1', 'must be a finite number >= 0'),
       (cli.non_negative_float, 'inf', 'must be a finite number >= 0'),
       (cli.positive_int, '0', 'must be an integer >= 1'),
       (cli.positive_int, '1.5', "'1.5' is not an integer"),
       (cli.non_negative_int, '-1', 'must be an integer >= 0'),
       (cli.non_negative_int, 'all', "'all' is not an integer")]


@pytest.mark.parametrize('parse, text, value', GOOD)
def test_accepted(parse, text, value):
    parsed = parse(text)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize('parse, text, message', BAD)
def test_refused_with_the_bound(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse(text)


@pytest.mark.parametrize('flag, text', [('--start-time', 'nan'), ('--start-time', '-1'),
                                        ('--frames', '-1'), ('--frames', '2.5'),
                                        ('--stride', '0')])
def test_bag_from_frames_refuses_bad_numbers(flag, text, capsys):
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(['images', '-o', 'bag', flag, text])
    assert caught.value.code == 2 and f'argument {flag}' in capsys.readouterr().err


def test_bag_from_frames_takes_zero_frames_and_start_time():
    args = build_parser().parse_args(['images', '-o', 'bag', '--frames', '0',
                                      '--start-time', '0'])
    assert args.frames == 0 and args.start_time == 0.0


def _usage_error(main, argv, capsys) -> str:
    """The last stderr line of ``main(argv)``, which must exit 2 (argparse's usage error)."""
    with pytest.raises(SystemExit) as caught:
        main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and 'Traceback' not in err
    return err.splitlines()[-1]


@pytest.mark.parametrize('fps', ['nan', 'inf', '0', '-1', 'fast'])
def test_bag_from_frames_refuses_a_bad_fps(tmp_path, fps, capsys):
    (tmp_path / 'images').mkdir()
    line = _usage_error(bag_from_frames.main,
                        [tmp_path / 'images', '-o', tmp_path / 'bag', '--fps', fps], capsys)
    assert line.startswith('align3r-bag-from-frames: error: argument --fps')
    assert not (tmp_path / 'bag').exists()


@pytest.mark.parametrize('value', ['-1', 'nan', '0'])
def test_replay_and_eval_refuse_a_bad_depth_max(tmp_path, value, capsys):
    line = _usage_error(replay.main, [tmp_path / 'bag', '-o', tmp_path / 'out', '--depth-max',
                                      value], capsys)
    assert line.startswith('align3r-replay: error: argument --depth-max')
    line = _usage_error(eval_tool.main, ['--dataset', 'tum', tmp_path, '--depth-max', value],
                        capsys)
    assert line.startswith('align3r-eval: error: argument --depth-max')
    assert not (tmp_path / 'out').exists()
