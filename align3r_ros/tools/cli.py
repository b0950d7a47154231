"""What every command-line tool shares: exit codes, one-line errors, signals, output locations.

Each tool's ``main(argv)`` parses its arguments, then hands its work to :func:`run_tool`, which

- checks every output location before any work (:func:`check_outputs`): the right kind (file
  or folder), writable, and new unless ``--force``; stale staging left beside it by a killed
  run is cleared, one line each;
- turns the package's own errors (:mod:`align3r_ros.errors`) and ``OSError`` into one line on
  stderr and exit status 1 (``--debug`` re-raises them with the traceback);
- turns Ctrl-C (SIGINT) into exit status 130 and SIGTERM (``timeout``, ``kill``) into 143, one
  line each; both unwind through the writers, which remove their staging (nothing half-written
  is left, an output replaced with ``--force`` is put back).

Argument errors stay argparse's: usage and one error line, exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Tuple

from align3r_ros.config import StrEnum
from align3r_ros.errors import Align3rError, AlignmentError, ConfigError
from align3r_ros.structures import most_frequent_status


class ExitCode(IntEnum):
    """Exit status of every tool (``--help`` lists them)."""

    OK = 0
    ERROR = 1          # an error (one line on stderr) or a run that produced nothing valid
    USAGE = 2          # a bad command line (argparse)
    INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2
    TERMINATED = 143   # SIGTERM: 128 + 15


def exit_codes_epilog(error_meaning: str = 'an error (one line on stderr; --debug shows the '
                      'traceback)') -> str:
    """The ``--help`` epilog listing the exit status values."""
    return ('exit status:\n'
            '  0    success\n'
            f'  1    {error_meaning}\n'
            '  2    bad command line\n'
            '  130  interrupted (Ctrl-C); nothing half-written is left\n'
            '  143  terminated (SIGTERM); nothing half-written is left\n')


def add_exit_codes(parser: argparse.ArgumentParser, epilog: Optional[str] = None) -> None:
    """The exit-status epilog (default :func:`exit_codes_epilog`) in ``parser``'s ``--help``."""
    parser.epilog = epilog if epilog is not None else exit_codes_epilog()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def add_tool_arguments(parser: argparse.ArgumentParser, force: bool = True,
                       epilog: Optional[str] = None) -> None:
    """``--debug`` (and ``--force`` for tools that write), plus the exit-status epilog.

    Tools with subcommands call it on each subcommand's parser (flags after the subcommand).
    """
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of an error instead of one line')
    if force:
        parser.add_argument('--force', action='store_true',
                            help='replace existing outputs (only once the new ones are '
                                 'complete)')
    add_exit_codes(parser, epilog)


def parse_number(text: str, kind: Callable[[str], float] = float, minimum: float = 0.0,
                 inclusive: bool = False) -> float:
    """The one number parser of the command lines (argparse ``type=`` helpers below).

    Args:
        text: the argument as typed.
        kind: ``float`` or ``int`` (``int`` refuses ``'1.5'``).
        minimum: the bound the value must exceed (or reach, where ``inclusive``).
        inclusive: ``minimum`` itself is allowed.

    Raises:
        argparse.ArgumentTypeError: not a ``kind``, not finite (``nan``, ``inf``) or out of
            bounds; argparse shows it as one usage line (exit status 2).
    """
    noun = 'an integer' if kind is int else 'a number'
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not {noun}') from None
    if not math.isfinite(value) or (value < minimum if inclusive else value <= minimum):
        what = 'an integer' if kind is int else 'a finite number'
        bound = f'>= {minimum:g}' if inclusive else f'> {minimum:g}'
        raise argparse.ArgumentTypeError(f'must be {what} {bound}, got {text!r}')
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (``nan``, ``inf``, 0 and negatives are refused)."""
    return parse_number(text)


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0 (e.g. a time offset in seconds)."""
    return parse_number(text, inclusive=True)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return int(parse_number(text, int, 1, inclusive=True))


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (e.g. a count where 0 means all)."""
    return int(parse_number(text, int, 0, inclusive=True))


class OutputKind(StrEnum):
    FILE = 'file'
    FOLDER = 'folder'


@dataclass(frozen=True)
class OutputLocation:
    """One place a tool will write.

    Attributes:
        path: the file or folder.
        kind: whether it is (to be) a file or a folder.
        flag: the option naming it, for messages ('-o', '--report').
        new: it must not exist unless --force (False: an existing folder is written into, e.g.
            a download folder).
        empty_ok: an existing empty folder counts as new (it holds nothing to overwrite).
    """

    path: Path
    kind: OutputKind
    flag: str
    new: bool = True
    empty_ok: bool = False


class Terminated(BaseException):
    """SIGTERM arrived; raised in the main thread like KeyboardInterrupt, so that every
    ``with`` block unwinds (writers remove their staging) and ``except Exception`` misses it."""


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path('.')


def _check_writable(folder: Path, location: OutputLocation) -> None:
    try:
        handle, name = tempfile.mkstemp(prefix='.align3r-write-test-', dir=folder)
        os.close(handle)
        os.unlink(name)
    except OSError as exc:
        raise ConfigError(f'{location.flag} {location.path}: cannot write in {folder} '
                          f'({exc.strerror or exc})') from None


def check_output(location: OutputLocation, force: bool) -> None:
    """Raise ConfigError unless ``location`` can be written (before any work is done).

    A missing path is fine when its nearest existing ancestor is a writable folder (missing
    folders are created); so is an empty folder where ``location.empty_ok``. An existing one
    must be of the right kind and needs ``force``.
    """
    from align3r_ros.bag.writer import is_empty_folder

    path, flag = Path(location.path), location.flag
    if location.empty_ok and is_empty_folder(path):
        _check_writable(path, location)  # nothing to overwrite
        return
    if path.exists() or path.is_symlink():
        if location.kind is OutputKind.FOLDER and not path.is_dir():
            raise ConfigError(f'{flag} {path} is a file; give a folder (it is created)')
        if location.kind is OutputKind.FILE and path.is_dir():
            raise ConfigError(f'{flag} {path} is a folder; give a file name')
        if location.new and not force:
            raise ConfigError(f'{flag} {path} exists already; choose another path or pass '
                              '--force to replace it')
        _check_writable(path if path.is_dir() and not location.new else path.parent, location)
        return
    ancestor = _nearest_existing(path.parent)
    if not ancestor.is_dir():
        raise ConfigError(f'{flag} {path}: {ancestor} is a file, not a folder')
    _check_writable(ancestor, location)


def check_outputs(prog: str, locations: Iterable[OutputLocation], force: bool) -> None:
    """:func:`check_output` for each location, refusing one path given twice; clears what
    killed runs left beside each (one line per action on stderr)."""
    from align3r_ros.bag.writer import remove_stale_staging

    seen = {}
    for location in locations:
        key = os.path.abspath(location.path)
        if key in seen:
            raise ConfigError(f'{location.flag} and {seen[key]} name the same path '
                              f'{location.path}')
        seen[key] = location.flag
        if Path(location.path).parent.is_dir():
            for note in remove_stale_staging(location.path):
                print(f'{prog}: {note}', file=sys.stderr)
        check_output(location, force)


def check_results(report, frames_with_depth: Optional[int] = None,
                  statuses: Sequence[Tuple[str, int]] = ()) -> None:
    """Refuse to call a run a success when it produced nothing valid (exit status 1).

    Args:
        report: the run's :class:`~align3r_ros.evaluation.report.RunReport`.
        frames_with_depth: results holding a finite depth value, where the caller counted
            them (ground truth or not); None: judged from the scored depth alone.
        statuses: (frame status, count) of the results without a valid depth, most frequent
            first: the error names the most frequent one (the cause, e.g. missing intrinsics).

    Raises:
        AlignmentError: no frame has a result, or none of the results holds a valid depth map
            (every alignment failed): counted, or seen when ground-truth depth was scored.
    """
    if report.frames == 0:
        raise AlignmentError(f'no frame of {report.source or "the input"} produced a result')
    evaluation = report.evaluation
    scored_none = evaluation is not None and evaluation.depth_frames > 0 and \
        evaluation.depth is None
    if frames_with_depth == 0 or scored_none:
        status, count = most_frequent_status(statuses)
        cause = (f'most frequent frame status ({count} of {report.frames}): {status}'
                 if status else 'every alignment failed?')
        raise AlignmentError(f'none of the {report.frames} results holds a valid depth map '
                             f'({cause}); the outputs were written but are not usable')


def describe_error(error: BaseException) -> str:
    """One line for an error (OSError: what failed, on which path)."""
    if isinstance(error, OSError) and error.strerror:
        where = f': {error.filename}' if error.filename else ''
        text = f'{error.strerror}{where}'
    else:
        text = str(error) or type(error).__name__
    return ' '.join(text.split())


def _on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup
    raise Terminated()


def run_tool(prog: str, work: Callable[[], int], debug: bool = False,
             outputs: Sequence[OutputLocation] = (), force: bool = False,
             error_code: int = ExitCode.ERROR) -> int:
    """Check ``outputs``, run ``work`` and map what ends it to an :class:`ExitCode`.

    Args:
        prog: the tool's name, the prefix of every line it prints.
        work: the tool's job; returns an exit status (0 on success).
        debug: re-raise the tool's errors (traceback) instead of printing one line.
        outputs: every place ``work`` will write.
        force: existing outputs may be replaced.
        error_code: the exit status of an error (a tool with its own documented codes).
    """
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (tests calling main() from a thread)
        pass
    try:
        check_outputs(prog, outputs, force)
        return int(work())
    except KeyboardInterrupt:
        print(f'{prog}: interrupted (Ctrl-C); nothing half-written was left', file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Terminated:
        print(f'{prog}: terminated (SIGTERM); nothing half-written was left', file=sys.stderr)
        return ExitCode.TERMINATED
    except (Align3rError, OSError) as error:
        if debug:
            raise
        print(f'{prog}: error: {describe_error(error)}', file=sys.stderr)
        return error_code
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
