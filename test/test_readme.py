"""README states the commands CI runs; docs/node.md holds the generated parameter table."""

from __future__ import annotations

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
