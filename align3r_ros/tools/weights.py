"""``align3r-weights``: inspect, convert and download network checkpoints.

    align3r-weights inspect PATH [--json]
    align3r-weights convert IN OUT.safetensors [--force]
    align3r-weights download NAME [--dest DIR]

``inspect`` reports the architecture (from tensor names and shapes), the parameter count, the
stored dtype and whether the file loads strictly; it exits 0 when the checkpoint is loadable and
1 otherwise, printing one line (no traceback) for missing, truncated, corrupt, non-checkpoint or
unknown files. ``convert`` writes the model tensors as safetensors (no pickle), dropping the
aliased DPT keys exactly like the Hugging Face release and recording the head counts in the
header; an existing OUT needs ``--force``. ``download`` delegates to
:mod:`align3r_ros.weights_catalog`. Output locations are checked before any work.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import asdict, dataclass, field
import json
from pathlib import Path
import sys
from typing import Any, Dict, Optional, Sequence

from align3r_ros.errors import Align3rError, WeightsError
from align3r_ros.tools import cli

PROG = 'align3r-weights'
PAIRWISE = ('align3r', 'dust3r')
EXIT_OK, EXIT_NOT_LOADABLE, EXIT_ERROR = 0, 1, 2
EPILOG = ('exit status:\n'
          '  0    success (inspect, convert: the checkpoint loads strictly)\n'
          '  1    the checkpoint does not load strictly (one line says why)\n'
          '  2    an error (one line on stderr; --debug shows the traceback) or a bad command '
          'line\n'
          '  130  interrupted (Ctrl-C); nothing half-written is left\n'
          '  143  terminated (SIGTERM); nothing half-written is left\n')


@dataclass(frozen=True)
class WeightsReport:
    """What ``inspect`` prints (``--json``: this object)."""

    path: str
    format: str
    architecture: str
    num_params: int
    dtype: str
    loads_strict: bool
    num_tensors: int
    reason: str = ''
    spec: Dict[str, Any] = field(default_factory=dict)


def inspect_checkpoint(path: str) -> WeightsReport:
    """Inspect one file (shapes only for pairwise checkpoints: no weight memory).

    Raises:
        WeightsError: missing, truncated, corrupt, not a checkpoint, unknown architecture.
    """
    from align3r_ros.networks.detect import detect_checkpoint
    from align3r_ros.networks.checkpoint_file import read_checkpoint_file

    ckpt = read_checkpoint_file(path, shapes_only=True)
    architecture = detect_checkpoint(ckpt.shapes)
    common = dict(path=str(ckpt.path), format=ckpt.file_format, architecture=architecture,
                  dtype=ckpt.dtype_name, num_tensors=len(ckpt.shapes))
    if architecture in PAIRWISE:
        import torch

        from align3r_ros.networks.pairwise.checkpoint import spec_and_check
        from align3r_ros.networks.pairwise.model import PairwisePointMapNet
        try:
            spec = spec_and_check(ckpt)
        except WeightsError as exc:
            return WeightsReport(num_params=_count(ckpt.shapes), loads_strict=False,
                                 reason=str(exc), **common)
        with torch.device('meta'):
            num_params = sum(p.numel() for p in PairwisePointMapNet(spec).parameters())
        return WeightsReport(num_params=int(num_params), loads_strict=True,
                             spec=_jsonable(asdict(spec)), **common)
    ok, reason = _try_load_prior(architecture, ckpt.path)
    return WeightsReport(num_params=_count(ckpt.shapes), loads_strict=ok, reason=reason,
                         **common)


def convert_checkpoint(src: str, dst: str, overwrite: bool = False) -> WeightsReport:
    """Write the model tensors of ``src`` to ``dst`` (.safetensors) and inspect the result.

    ``dst`` appears only once complete; an existing one is replaced only with ``overwrite``.
    """
    from safetensors.torch import save_file

    from align3r_ros.bag.writer import staged
    from align3r_ros.networks.detect import detect_checkpoint
    from align3r_ros.networks.pairwise.checkpoint import spec_and_check, strip_module_prefix
    from align3r_ros.networks.checkpoint_file import read_checkpoint_file

    dst_path = Path(dst)
    if dst_path.suffix != '.safetensors':
        raise WeightsError(f'output must end with .safetensors, got {dst}')
    if dst_path.exists() and dst_path.resolve() == Path(src).resolve():
        raise WeightsError(f'refusing to overwrite the input {src}')
    ckpt = read_checkpoint_file(src)
    architecture = detect_checkpoint(ckpt.shapes)
    state = strip_module_prefix(ckpt.state)
    metadata = {'format': 'pt', 'architecture': architecture, 'source': Path(src).name}
    if architecture in PAIRWISE:
        spec = spec_and_check(ckpt)
        metadata.update(enc_num_heads=str(spec.enc_num_heads),
                        dec_num_heads=str(spec.dec_num_heads))
        state = {k: v for k, v in state.items() if '.dpt.scratch.layer_rn.' not in k}
    # safetensors stores no shared or strided storage: give every tensor its own copy.
    tensors = {k: v.detach().contiguous().clone() for k, v in state.items()}
    with staged(dst_path, overwrite=overwrite) as staging:
        save_file(tensors, str(staging), metadata=metadata)
    return inspect_checkpoint(str(dst_path))


def _try_load_prior(architecture: str, path: Path) -> tuple:
    """(loads, reason) for a depth-prior checkpoint, via its own package's strict loader."""
    try:
        if architecture.startswith('depth_anything'):
            from align3r_ros.networks.depth_anything.checkpoint import load_depth_anything_v2
            load_depth_anything_v2(path)
        elif architecture.startswith('depth_pro'):
            from align3r_ros.networks.depth_pro.checkpoint import load_depth_pro
            config_path = path.with_name('config.json')
            config = json.loads(config_path.read_text()) if config_path.is_file() else None
            load_depth_pro(path, config, device='meta')
        else:
            return False, f'no loader for architecture {architecture!r}'
    except ImportError as exc:
        return False, f'the {architecture} loader is not available ({exc})'
    except (Align3rError, ValueError) as exc:
        return False, str(exc)
    return True, ''


def _count(shapes) -> int:
    total = 0
    for shape in shapes.values():
        size = 1
        for dim in shape:
            size *= int(dim)
        total += size
    return total


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _print_report(report: WeightsReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(asdict(report), sort_keys=True))
        return
    for name in ('path', 'format', 'architecture', 'num_params', 'dtype', 'loads_strict',
                 'num_tensors'):
        print(f'{name}: {getattr(report, name)}')
    if report.spec:
        print('spec: ' + ', '.join(f'{k}={v}' for k, v in report.spec.items()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG,
                                     description='Inspect, convert and download checkpoints.')
    cli.add_exit_codes(parser, EPILOG)
    commands = parser.add_subparsers(dest='command', required=True)
    inspect_cmd = commands.add_parser('inspect', help='architecture, size, dtype, strict load')
    inspect_cmd.add_argument('path')
    inspect_cmd.add_argument('--json', action='store_true', help='print one JSON object')
    cli.add_tool_arguments(inspect_cmd, force=False, epilog=EPILOG)
    convert_cmd = commands.add_parser('convert', help='write a safetensors copy')
    convert_cmd.add_argument('input')
    convert_cmd.add_argument('output', help='OUT.safetensors (an existing one needs --force)')
    cli.add_tool_arguments(convert_cmd, epilog=EPILOG)
    download_cmd = commands.add_parser('download', help='fetch a released checkpoint')
    download_cmd.add_argument('name')
    download_cmd.add_argument('--dest', default=None, help='target directory (default '
                              '$ALIGN3R_WEIGHTS_DIR, else ~/.cache/align3r_ros)')
    cli.add_tool_arguments(download_cmd, force=False, epilog=EPILOG)
    return parser


def _outputs(args: argparse.Namespace) -> list:
    if args.command == 'convert':
        return [cli.OutputLocation(Path(args.output), cli.OutputKind.FILE, 'OUT')]
    if args.command == 'download' and args.dest is not None:
        return [cli.OutputLocation(Path(args.dest).expanduser(), cli.OutputKind.FOLDER,
                                   '--dest', new=False)]
    return []


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Exit status: :data:`EPILOG` (0 loadable, 1 not loadable, 2 error)."""
    args = build_parser().parse_args(argv)

    def work() -> int:
        if args.command == 'inspect':
            report = inspect_checkpoint(args.path)
        elif args.command == 'convert':
            report = convert_checkpoint(args.input, args.output, overwrite=args.force)
        else:
            return _download(args.name, args.dest)
        _print_report(report, args.json if args.command == 'inspect' else False)
        if not report.loads_strict:
            print(f'{PROG}: not loadable: {_one_line(report.reason)}', file=sys.stderr)
            return EXIT_NOT_LOADABLE
        return EXIT_OK

    return cli.run_tool(PROG, work, debug=args.debug, outputs=_outputs(args),
                        force=getattr(args, 'force', False), error_code=EXIT_ERROR)


def _download(name: str, dest: Optional[str]) -> int:
    try:  # import_module honours a module in sys.modules (tests inject a fake catalog)
        weights_catalog = importlib.import_module('align3r_ros.weights_catalog')
    except ImportError:
        print('align3r-weights: error: downloading is not available in this installation '
              '(align3r_ros.weights_catalog is missing)', file=sys.stderr)
        return EXIT_ERROR
    path = weights_catalog.download(name, dest)  # errors: one line via cli.run_tool
    print(path)
    return EXIT_OK


def _one_line(exc: Any) -> str:
    return ' '.join(str(exc).split())


if __name__ == '__main__':
    sys.exit(main())
