"""align3r-bench as a user runs it: a benchmark's error is one line and exit status 1, an
unknown benchmark a usage error (2), ``--debug`` shows the traceback."""

from __future__ import annotations

from cli_process import run_tool

BAD_ENCODING = ['messages', '--repeats', '1', '--input-encoding', 'yuv422']


def test_benchmark_error_is_one_line_and_exit_1():
    done = run_tool('bench', BAD_ENCODING)
    assert done.code == 1 and 'Traceback' not in done.err
    assert done.err_lines == ["align3r-bench messages: error: unsupported image encoding "
                              "'yuv422'"]
    assert done.out == ''  # no JSON for a run that failed


def test_debug_shows_the_traceback():
    done = run_tool('bench', ['--debug', *BAD_ENCODING])
    assert done.code == 1 and 'Traceback' in done.err and 'ConversionError' in done.err


def test_unknown_benchmark_is_a_usage_error():
    done = run_tool('bench', ['nope'])
    assert done.code == 2 and len(done.err_lines) == 1
    assert "unknown benchmark 'nope'" in done.err and 'network' in done.err
