"""``align3r-bench``: run one benchmark script, which prints JSON.

    align3r-bench network|align|prior|messages|stream|gpu [args...]

Each name maps to ``align3r_ros.benchmarks.<name>.main(argv)``; ``--help`` after the name shows
that benchmark's own options.
"""

from __future__ import annotations

import importlib
import sys
from typing import Optional, Sequence

BENCHMARKS = ('network', 'align', 'prior', 'messages', 'stream', 'gpu')


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help') or argv[0] not in BENCHMARKS:
        usage = f'usage: align3r-bench {{{",".join(BENCHMARKS)}}} [args...]'
        if argv and argv[0] not in ('-h', '--help'):
            print(f'align3r-bench: unknown benchmark {argv[0]!r}\n{usage}', file=sys.stderr)
            return 2
        print(usage)
        return 0 if argv else 2
    module = importlib.import_module(f'align3r_ros.benchmarks.{argv[0]}')
    result = module.main(argv[1:])
    return int(result or 0)


if __name__ == '__main__':
    sys.exit(main())
