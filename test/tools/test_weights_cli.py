"""align3r-weights: inspect / convert / download, exit codes and one-line errors."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types

import pytest

torch = pytest.importorskip('torch')
from safetensors.torch import load_file  # noqa: E402

from align3r_ros.networks.pairwise.checkpoint import load_pairwise_net  # noqa: E402
from align3r_ros.tools.weights import main  # noqa: E402

TINY_ARGS = 'AsymmetricCroCo3DStereo(enc_embed_dim=64, enc_num_heads=2, dec_num_heads=2)'


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert 'Traceback' not in err
    return code, out, err


@pytest.fixture()
def align3r_pth(shared, tmp_path):
    """An authors'-style training checkpoint (.pth with model/args/optimizer/epoch)."""
    folder = shared / 'fixtures' / 'align3r_tiny'
    config = json.loads((folder / 'config.json').read_text())
    state = load_file(str(folder / 'weights.safetensors'))
    for alias, target in config['weights']['alias_of'].items():
        state[alias] = state[target]
    path = tmp_path / 'align3r_tiny.pth'
    torch.save({'model': {k: v.half() for k, v in state.items()},
                'args': argparse.Namespace(model=TINY_ARGS), 'epoch': 1,
                'optimizer': {'state': {}}}, path)
    return path


def test_inspect_json_for_each_pairwise_fixture(shared, capsys):
    for name, arch, num in (('align3r_tiny', 'align3r', 772_984), ('dust3r_tiny', 'dust3r', None)):
        code, out, _ = run(capsys, 'inspect', str(shared / 'fixtures' / name /
                                                  'weights.safetensors'), '--json')
        report = json.loads(out)
        assert code == 0
        assert report['architecture'] == arch and report['loads_strict'] is True
        assert report['dtype'] == 'float32' and report['format'] == 'safetensors'
        if num is not None:
            assert report['num_params'] == num  # the fixture README's value count


def test_inspect_text_for_a_training_pth(align3r_pth, capsys):
    code, out, _ = run(capsys, 'inspect', str(align3r_pth))
    assert code == 0
    assert 'architecture: align3r' in out and 'dtype: float16' in out
    assert 'loads_strict: True' in out and 'format: torch-zip' in out


@pytest.mark.parametrize('content, match', [
    (None, 'checkpoint not found'),
    (b'', 'empty'),
    (b'just text\n', 'not a checkpoint'),
    ('truncated', 'truncated or corrupt'),
    ('unknown', 'unknown architecture'),
])
def test_inspect_bad_files_one_line_nonzero(shared, tmp_path, capsys, content, match):
    path = tmp_path / 'bad.pth'
    if content == 'truncated':
        data = (shared / 'fixtures' / 'dust3r_tiny' / 'weights.safetensors').read_bytes()
        path = tmp_path / 'bad.safetensors'
        path.write_bytes(data[:len(data) // 3])
    elif content == 'unknown':
        torch.save({'model': {'conv.weight': torch.zeros(4, 3, 3, 3)}}, path)
    elif content is not None:
        path.write_bytes(content)
    code, out, err = run(capsys, 'inspect', str(path), '--json')
    assert code != 0 and out == ''
    assert len(err.strip().splitlines()) == 1 and match in err


def test_inspect_not_strict_is_nonzero(shared, tmp_path, capsys):
    state = load_file(str(shared / 'fixtures' / 'align3r_tiny' / 'weights.safetensors'))
    del state['zero_convs.4.0.bias']
    path = tmp_path / 'partial.pth'
    torch.save({'model': state, 'args': argparse.Namespace(model=TINY_ARGS)}, path)
    code, out, err = run(capsys, 'inspect', str(path), '--json')
    report = json.loads(out)
    assert code == 1 and report['loads_strict'] is False
    assert 'zero_convs.4.0.bias' in report['reason'] and 'zero_convs.4.0.bias' in err


def test_convert_writes_safe_copy_that_loads_identically(align3r_pth, tmp_path, capsys):
    out_path = tmp_path / 'converted' / 'model.safetensors'
    out_path.parent.mkdir()
    code, out, _ = run(capsys, 'convert', str(align3r_pth), str(out_path))
    assert code == 0 and 'loads_strict: True' in out
    converted = load_file(str(out_path))
    assert not any('.dpt.scratch.layer_rn.' in k for k in converted)  # HF layout: aliases gone
    assert converted['decoder_embed.weight'].dtype == torch.float16    # stored dtype kept
    original, copy = load_pairwise_net(align3r_pth), load_pairwise_net(out_path)
    for (name, p1), (_, p2) in zip(original.state_dict().items(), copy.state_dict().items()):
        assert torch.equal(p1, p2), name
    code, _, err = run(capsys, 'convert', str(align3r_pth), str(tmp_path / 'x.bin'))
    assert code != 0 and '.safetensors' in err
    out_path.write_bytes(b'earlier result')  # an existing output needs --force
    code, _, err = run(capsys, 'convert', str(align3r_pth), str(out_path))
    assert code == 2 and 'exists already' in err and out_path.read_bytes() == b'earlier result'
    code, out, _ = run(capsys, 'convert', str(align3r_pth), str(out_path), '--force')
    assert code == 0 and 'loads_strict: True' in out and load_file(str(out_path)).keys() == \
        converted.keys()
    assert sorted(p.name for p in out_path.parent.iterdir()) == ['model.safetensors']


def test_download_delegates_to_weights_catalog(monkeypatch, tmp_path, capsys):
    calls = []
    fake = types.ModuleType('align3r_ros.weights_catalog')
    fake.download = lambda name, dest: calls.append((name, dest)) or tmp_path / f'{name}.pth'
    monkeypatch.setitem(sys.modules, 'align3r_ros.weights_catalog', fake)
    code, out, _ = run(capsys, 'download', 'align3r_depthpro', '--dest', str(tmp_path))
    assert code == 0 and calls == [('align3r_depthpro', str(tmp_path))]
    assert out.strip() == str(tmp_path / 'align3r_depthpro.pth')
    monkeypatch.setitem(sys.modules, 'align3r_ros.weights_catalog', None)  # import fails
    code, _, err = run(capsys, 'download', 'align3r_depthpro')
    assert code != 0 and 'weights_catalog' in err


def test_console_entry_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, '-m', 'align3r_ros.tools.weights', 'inspect',
                             str(tmp_path / 'nothing.pth')], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == \
        f"align3r-weights: error: checkpoint not found: {tmp_path / 'nothing.pth'}"
