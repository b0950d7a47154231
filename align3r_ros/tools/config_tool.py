"""``align3r-config``: print or write the generated parameter YAML, or the README table.

    align3r-config yaml [-o config/align3r.yaml]
    align3r-config table
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from align3r_ros import config_io


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='align3r-config', description=__doc__.split('\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    yaml_cmd = commands.add_parser('yaml', help='the ROS parameter file with every default')
    yaml_cmd.add_argument('-o', '--output', help='write to this file instead of stdout')
    commands.add_parser('table', help='the README parameter table (markdown)')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == 'table':
        sys.stdout.write(config_io.markdown_table())
        return 0
    text = config_io.render_ros_yaml()
    if args.output:
        with open(args.output, 'w', encoding='utf-8') as stream:
            stream.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
