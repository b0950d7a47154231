"""``align3r-config``: print or write the generated parameter YAML, or the README table.

    align3r-config yaml [-o config/align3r.yaml [--force]]
    align3r-config table
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from align3r_ros import config_io
from align3r_ros.tools import cli

PROG = 'align3r-config'


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split('\n')[0])
    cli.add_exit_codes(parser)
    commands = parser.add_subparsers(dest='command', required=True)
    yaml_cmd = commands.add_parser('yaml', help='the ROS parameter file with every default')
    yaml_cmd.add_argument('-o', '--output', help='write to this file instead of stdout (an '
                          'existing file needs --force)')
    cli.add_tool_arguments(yaml_cmd)
    table_cmd = commands.add_parser('table', help='the README parameter table (markdown)')
    cli.add_tool_arguments(table_cmd, force=False)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Exit status: see :class:`align3r_ros.tools.cli.ExitCode` (and ``--help``)."""
    from align3r_ros.bag.writer import staged

    args = build_parser().parse_args(argv)
    output = getattr(args, 'output', None)

    def work() -> int:
        if args.command == 'table':
            sys.stdout.write(config_io.markdown_table())
            return cli.ExitCode.OK
        text = config_io.render_ros_yaml()
        if output:
            with staged(Path(output), overwrite=args.force) as staging:
                staging.write_text(text, encoding='utf-8')
        else:
            sys.stdout.write(text)
        return cli.ExitCode.OK

    outputs = [cli.OutputLocation(Path(output), cli.OutputKind.FILE, '-o')] if output else []
    return cli.run_tool(PROG, work, debug=args.debug, outputs=outputs,
                        force=getattr(args, 'force', False))


if __name__ == '__main__':
    sys.exit(main())
