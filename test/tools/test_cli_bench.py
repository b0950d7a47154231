"""align3r-bench: a benchmark's error is one line and exit status 1 (as a process, as a user runs
it), an unknown benchmark a usage error (2), ``--debug`` lets the error through (a traceback);
the last two through ``main(argv)`` in this process."""

from __future__ import annotations

import pytest

from align3r_ros.errors import ConversionError
from align3r_ros.tools import bench
from support.tool_process import run_tool

BAD_ENCODING = ['messages', '--repeats', '1', '--input-encoding', 'yuv422']


def test_benchmark_error_is_one_line_and_exit_1():
    done = run_tool('bench', BAD_ENCODING)
    assert done.code == 1 and 'Traceback' not in done.err
    assert done.err_lines == ["align3r-bench messages: error: unsupported image encoding "
                              "'yuv422'"]
    assert done.out == ''  # no JSON for a run that failed


def test_debug_lets_the_error_through(capsys):
    with pytest.raises(ConversionError, match="unsupported image encoding 'yuv422'"):
        bench.main(['--debug', *BAD_ENCODING])
    assert capsys.readouterr().err == ''  # not turned into the one line


def test_unknown_benchmark_is_a_usage_error(capsys):
    assert bench.main(['nope']) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "unknown benchmark 'nope'" in err and 'network' in err
