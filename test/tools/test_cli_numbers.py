"""The one number parser of the command lines: what each argparse type accepts and refuses."""

from __future__ import annotations

import argparse

import pytest

from align3r_ros.tools import cli
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
