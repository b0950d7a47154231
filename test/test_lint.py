"""The lint step: ``python3 -m ruff check`` passes on the whole project (ruff.toml: pycodestyle
E/W and pyflakes F, lines up to 99 columns).

ruff is pinned in requirements.txt (README setup installs it); without it the tests skip with
one line. The config is shown to catch each kind of violation on a small file, so a config that
ruff ignores or that selects nothing cannot pass.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / 'ruff.toml'

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec('ruff') is None,
    reason='ruff is not installed (python3 -m pip install -r requirements.txt)')


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'ruff', 'check', '--no-cache', '--config',
                           str(CONFIG), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_project_passes_the_lint():
    result = _ruff('--output-format', 'concise', str(ROOT))
    assert result.returncode == 0, (
        f'{result.stdout}{result.stderr}\nfix these (python3 -m ruff check --fix does the '
        f'safe ones)')


def test_the_lint_catches_each_kind_of_violation(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text('import os\n'                                  # F401 unused import
                   'def f():\n'                                   # E302 one blank line
                   f'    return "{"x" * 100}"\n'                  # E501 over 99 columns
                   'def g():\n    return undefined_name \n'       # E302, F821, W291
                   '\n\n')                                        # W391
    result = _ruff('--output-format', 'json', str(bad))
    assert result.returncode == 1, result.stderr
    found = {violation['code'] for violation in json.loads(result.stdout)}
    assert found == {'F401', 'E302', 'E501', 'F821', 'W291', 'W391'}, result.stdout
    # a line of exactly 99 columns is within the limit
    ok = tmp_path / 'ok.py'
    ok.write_text(f'X = "{"x" * 93}"\n')
    assert len(ok.read_text().splitlines()[0]) == 99
    assert _ruff(str(ok)).returncode == 0
