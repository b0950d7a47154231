"""``align3r-bench``: run one benchmark script, which prints JSON.

    align3r-bench [--debug] network|align|prior|messages|stream|gpu|odometry [args...]

Each name maps to ``align3r_ros.benchmarks.<name>.main(argv)``; ``--help`` after the name shows
that benchmark's own options. The benchmark runs under :func:`~align3r_ros.tools.cli.run_tool`:
its errors are one line on stderr and exit status 1 (``--debug`` before the name shows the
traceback), Ctrl-C exits 130 and SIGTERM 143 (see :class:`~align3r_ros.tools.cli.ExitCode`).
"""

from __future__ import annotations

import importlib
import sys
from typing import Optional, Sequence

from align3r_ros.tools import cli

PROG = 'align3r-bench'
BENCHMARKS = ('network', 'align', 'prior', 'messages', 'stream', 'gpu', 'odometry')


def _usage() -> str:
    return (f'usage: {PROG} [--debug] {{{",".join(BENCHMARKS)}}} [args...]\n\n'
            f'  --debug  show the traceback of an error instead of one line\n\n'
            f'{cli.exit_codes_epilog()}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Exit status: the benchmark's own, else :class:`~align3r_ros.tools.cli.ExitCode`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(argv) and argv[0] == '--debug'
    if debug:
        argv = argv[1:]
    if not argv or argv[0] in ('-h', '--help'):
        print(_usage(), file=sys.stdout if argv else sys.stderr)
        return cli.ExitCode.OK if argv else cli.ExitCode.USAGE
    name, args = argv[0], argv[1:]
    if name not in BENCHMARKS:
        print(f'{PROG}: error: unknown benchmark {name!r} (choose from '
              f'{", ".join(BENCHMARKS)})', file=sys.stderr)
        return cli.ExitCode.USAGE

    def work() -> int:
        module = importlib.import_module(f'align3r_ros.benchmarks.{name}')
        return int(module.main(args) or 0)

    return cli.run_tool(f'{PROG} {name}', work, debug=debug)


if __name__ == '__main__':
    sys.exit(main())
