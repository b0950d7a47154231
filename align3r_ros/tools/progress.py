"""Progress bars of the command-line tools (tqdm lives here only; the library takes callbacks).

One :class:`Progress` per run: ``frames`` drives a per-frame bar (streaming replay, reading a bag
in offline mode, the frames of an eval sequence), ``stage`` a bar per offline stage ('prepare'
per frame, 'align' per solved keyframe/clip stage), ``sequences`` the outer bar of
``align3r-eval``. While a :class:`Progress` is entered, log records and :meth:`Progress.write`
go through ``tqdm.write`` so that warnings never break a bar. ``quiet`` silences every bar.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Dict

from align3r_ros.engine.feed import OfflineStage

_STAGE_UNITS = {'prepare': 'frame', 'align': 'stage'}


class Progress:
    """Bars on stderr for one run (see module docstring).

    Args:
        prog: the tool's name (bar prefixes).
        quiet: no bar at all (messages still go to stderr through :meth:`write`).
    """

    def __init__(self, prog: str, quiet: bool = False) -> None:
        self.prog = prog
        self.quiet = quiet
        self._bars: Dict[str, object] = {}
        self._stack = ExitStack()

    def __enter__(self) -> 'Progress':
        if not self.quiet:
            from tqdm.contrib.logging import logging_redirect_tqdm
            self._stack.enter_context(logging_redirect_tqdm())
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
        self._stack.close()

    def _bar(self, key: str, total: int, desc: str, unit: str, position: int = 0):
        bar = self._bars.get(key)
        if bar is None or bar.total != total:
            if bar is not None:
                bar.close()
            from tqdm import tqdm
            bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=True,
                       position=position, file=sys.stderr)
            self._bars[key] = bar
        return bar

    def frames(self, done: int, total: int, desc: str = 'frames') -> None:
        """Per-frame progress: ``done`` of ``total`` frames."""
        if self.quiet:
            return
        bar = self._bar('frames:' + desc, total, desc, 'frame',
                        position=1 if 'sequences' in self._bars else 0)
        bar.update(done - bar.n)

    def note(self, text: str) -> None:
        """Show ``text`` beside the open bars (e.g. 'aligning held frames' during a flush)."""
        for bar in self._bars.values():
            bar.set_postfix_str(text)

    def stage(self, stage: OfflineStage) -> None:
        """Offline alignment progress (prepare per frame, then align per stage)."""
        if self.quiet:
            return
        bar = self._bar('stage:' + stage.name, stage.total, f'offline {stage.name}',
                        _STAGE_UNITS.get(stage.name, 'step'))
        bar.update(stage.done - bar.n)

    def sequences(self, done: int, total: int) -> None:
        """``align3r-eval``: ``done`` of ``total`` sequences finished."""
        if self.quiet:
            return
        bar = self._bar('sequences', total, 'sequences', 'seq')
        bar.update(done - bar.n)

    def end_sequence(self) -> None:
        """Close the per-sequence bars (frames and stages) before the next sequence."""
        for key in [k for k in self._bars if k != 'sequences']:
            self._bars.pop(key).close()

    def write(self, message: str, stdout: bool = False) -> None:
        """A line (on stderr, or stdout for results) that does not break the bars."""
        stream = sys.stdout if stdout else sys.stderr
        if self._bars:
            from tqdm import tqdm
            tqdm.write(message, file=stream)
        else:
            print(message, file=stream)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
