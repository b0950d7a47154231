"""``align3r-export-onnx``: export the pairwise network or a depth prior to ONNX.

    align3r-export-onnx --model pairwise --weights W.safetensors -o DIR [--height 288 --width 512]
    align3r-export-onnx --model pairwise --config config.json -o DIR      (random weights)
    align3r-export-onnx --model depth_anything_v2|depth_pro --weights W -o FILE.onnx

The pairwise network becomes a folder with ``encoder.onnx``, ``decoder.onnx`` (dynamic batch, H
and W; weights > 2 GB in ``*.onnx.data`` beside them) and ``pairwise_onnx.json``; set
``pairwise.backend: onnx`` and ``pairwise.weights: DIR`` to use it. ``--height/--width`` give the
size the graphs are traced and verified at. Priors are exported by
:func:`align3r_ros.networks.prior_onnx_export.export_prior_onnx`. Prints one JSON object; exits
1 with a one-line reason on bad weights / config.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
import json
import logging
from pathlib import Path
import sys
from typing import Any, Dict, Optional, Sequence

from align3r_ros.errors import ConfigError
from align3r_ros.tools import cli

PRIOR_MODELS = ('depth_anything_v2', 'depth_anything_v2_vits', 'depth_anything_v2_vitb',
                'depth_anything_v2_vitl', 'depth_pro')
MODELS = ('pairwise',) + PRIOR_MODELS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='align3r-export-onnx', description=__doc__.split(
        '\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', choices=MODELS, default='pairwise', help='what to export')
    parser.add_argument('--weights', default='', help='checkpoint (.pth / .safetensors / .pt)')
    parser.add_argument('--config', default='',
                        help='pairwise only: a fixture-style config.json or a named network '
                             '(align3r_vitl_512_dpt, dust3r_vitl_512_dpt); without --weights the '
                             'network gets random weights, with them only its head counts are '
                             'read')
    parser.add_argument('--height', type=int, default=None,
                        help='trace / verification height in pixels (pairwise default 288)')
    parser.add_argument('--width', type=int, default=None,
                        help='trace / verification width in pixels (pairwise default 512)')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset (>= 17)')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the onnxruntime-vs-torch check')
    parser.add_argument('-o', '--output', required=True,
                        help='pairwise: output folder (written complete or not at all); prior: '
                             '.onnx file or folder; existing outputs need --force')
    cli.add_tool_arguments(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Exit status: :class:`~align3r_ros.tools.cli.ExitCode` (and ``--help``)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')

    def work() -> int:
        summary = export_pairwise(args) if args.model == 'pairwise' else export_prior(args)
        print(json.dumps(summary, default=str))
        return cli.ExitCode.OK

    return cli.run_tool('align3r-export-onnx', work, debug=args.debug, outputs=_outputs(args),
                        force=args.force)


def _prior_path(args: argparse.Namespace) -> Path:
    """The .onnx file a prior export writes (``-o`` itself, or ``-o/<model>.onnx``)."""
    out = Path(args.output)
    return out if out.suffix == '.onnx' else out / f'{args.model}.onnx'


def _outputs(args: argparse.Namespace) -> list:
    out = Path(args.output)
    if args.model == 'pairwise':
        return [cli.OutputLocation(out, cli.OutputKind.FOLDER, '-o', empty_ok=True)]
    locations = [cli.OutputLocation(_prior_path(args), cli.OutputKind.FILE, '-o')]
    if out.suffix != '.onnx':
        locations.insert(0, cli.OutputLocation(out, cli.OutputKind.FOLDER, '-o', new=False))
    return locations


def export_pairwise(args: argparse.Namespace) -> Dict[str, Any]:
    from align3r_ros.networks.pairwise.onnx_export import (check_export_settings,
                                                           export_pairwise_onnx)

    from align3r_ros.bag.writer import staged

    example_hw = check_export_settings((args.height or 288, args.width or 512), args.opset)
    net = _pairwise_net(args.weights, args.config)
    with staged(Path(args.output), overwrite=args.force) as staging:
        info = export_pairwise_onnx(net, staging, example_hw=example_hw, opset=args.opset,
                                    verify=not args.no_verify)
    files = sorted(p.name for p in Path(args.output).iterdir())
    return {'model': 'pairwise', 'output': str(args.output), 'files': files, **asdict(info)}


def _pairwise_net(weights: str, config: str):
    from align3r_ros.networks.pairwise.build import build_pairwise_net
    from align3r_ros.networks.pairwise.checkpoint import HeadCounts, load_pairwise_net

    mapping = _read_config(config) if config.endswith('.json') else None
    if weights:
        heads = None
        if mapping is not None:
            kwargs = {**mapping, **mapping.get('constructor_kwargs', {})}
            heads = HeadCounts(kwargs.get('enc_num_heads'), kwargs.get('dec_num_heads'))
        return load_pairwise_net(weights, heads=heads)
    if not config:
        raise ConfigError('pairwise export needs --weights (a checkpoint) or --config (a '
                          'config.json or network name, random weights)')
    return build_pairwise_net(mapping if mapping is not None else config)


def _read_config(path: str) -> Dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f'cannot read --config {path}: {exc}') from None
    if not isinstance(data, dict):
        raise ConfigError(f'--config {path} must hold a JSON object')
    return data


def export_prior(args: argparse.Namespace) -> Dict[str, Any]:
    from align3r_ros.networks.prior_onnx_export import export_prior_onnx

    if not args.weights:
        raise ConfigError(f'--model {args.model} needs --weights (the prior checkpoint)')
    out = _prior_path(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    example_hw = None
    if args.height or args.width:
        if not (args.height and args.width):
            raise ConfigError('give both --height and --width, or neither')
        example_hw = (args.height, args.width)
    result = export_prior_onnx(args.model, args.weights, out, example_hw=example_hw,
                               opset=args.opset, verify=not args.no_verify)
    return {'model': args.model, 'output': str(result.path),
            'example_hw': list(result.example_hw),
            'max_rel_error': result.max_relative_error}


if __name__ == '__main__':
    sys.exit(main())
