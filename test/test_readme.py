"""README states the commands CI runs; docs/node.md holds the generated parameter table; README
and docs/ link only what exists, name only installed commands, and put the demo on the first
screen."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from align3r_ros import config_io

ROOT = Path(__file__).resolve().parents[1]


def test_node_doc_parameter_table_is_generated_from_the_config():
    """The parameter table lives in docs/node.md (the node's page; README links it)."""
    page = (ROOT / 'docs' / 'node.md').read_text(encoding='utf-8')
    begin, end = '<!-- BEGIN PARAMETER TABLE -->\n', '<!-- END PARAMETER TABLE -->'
    assert begin in page and end in page
    table = page.split(begin, 1)[1].split(end, 1)[0]
    assert table == config_io.markdown_table(), 'run `align3r-config table` and paste it'


def test_ci_runs_the_readme_setup_and_test_commands_verbatim():
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    ci = (ROOT / '.ci' / 'run').read_text(encoding='utf-8')
    setup = readme.split('## Setup', 1)[1].split('```bash\n', 1)[1].split('\n```', 1)[0]
    test = readme.split('## Test', 1)[1].split('```bash\n', 1)[1].split('\n```', 1)[0]
    assert len(setup.splitlines()) == 1 and len(test.splitlines()) == 1
    assert setup in ci.splitlines() and test in ci.splitlines()


DOCS = ROOT / 'docs'
_LINK = re.compile(r'\]\(([^)#\s]+)(#[^)\s]*)?\)')
_COMMAND = re.compile(r'(?<![\w/-])(align3r[-_][a-z][a-z-]*)')


def _pages():
    return [ROOT / 'README.md'] + sorted(DOCS.glob('*.md'))


def _console_scripts():
    """Entry points of setup.py (parsed, not imported: setup() must not run)."""
    tree = ast.parse((ROOT / 'setup.py').read_text(encoding='utf-8'))
    scripts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                re.fullmatch(r'[\w-]+ = [\w.]+:\w+', node.value):
            name, target = node.value.split(' = ')
            scripts[name] = target
    return scripts


def test_every_relative_link_of_readme_and_docs_resolves():
    pages = _pages()
    assert len(pages) >= 6, 'README and the docs pages it links'
    for page in pages:
        for target, _ in _LINK.findall(page.read_text(encoding='utf-8')):
            if '://' in target:
                continue
            assert (page.parent / target).exists(), f'{page.name} links {target}, not found'


def test_readme_links_every_docs_page():
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    linked = {target for target, _ in _LINK.findall(readme)}
    assert {f'docs/{p.name}' for p in DOCS.glob('*.md')} <= linked


def test_first_screen_has_setup_test_and_the_demo_in_that_order():
    """What it is, the two commands CI runs, then the fresh-clone demo, all in 50 lines."""
    lines = (ROOT / 'README.md').read_text(encoding='utf-8').splitlines()
    first = '\n'.join(lines[:50])
    positions = [first.find(text) for text in (
        'python3 -m pip install -r requirements.txt', 'python3 -m pytest', '\nalign3r-demo\n')]
    assert -1 not in positions and positions == sorted(positions), positions


def test_every_command_the_pages_name_is_installed_by_setup_py():
    scripts = _console_scripts()
    assert scripts['align3r-demo'] == 'align3r_ros.tools.demo:main'
    for page in _pages():
        for command in set(_COMMAND.findall(page.read_text(encoding='utf-8'))):
            if command in ('align3r_ros', 'align3r_world', 'align3r_demo', 'align3r_node') or \
                    command.startswith('align3r_'):
                continue  # the package, a frame name, the demo's folder, the node's executable
            assert command in scripts, f'{page.name} names {command}, which setup.py lacks'


def test_the_shared_folder_override_the_readme_names_is_the_one_conftest_reads():
    # by path: several test folders have a conftest.py, and whichever pytest imported first
    # owns the module name 'conftest'
    spec = importlib.util.spec_from_file_location('_root_conftest', ROOT / 'test' / 'conftest.py')
    root_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root_conftest)
    SHARED_DIR_ENV = root_conftest.SHARED_DIR_ENV

    assert f'${SHARED_DIR_ENV}' in (ROOT / 'README.md').read_text(encoding='utf-8')
