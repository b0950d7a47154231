"""Weights catalogue and downloader; the network is always simulated (never touched)."""

from __future__ import annotations

import hashlib
import io
import urllib.request
from urllib.error import URLError

import pytest

from align3r_ros import weights_catalog
from align3r_ros.backends.checkpoint_prior_pairing import checkpoint_prior_from_name
from align3r_ros.config import CheckpointPrior
from align3r_ros.errors import WeightsError
from align3r_ros.weights_catalog import CATALOG, CatalogEntry, RemoteFile, download


def test_catalog_entries_are_complete():
    assert {'align3r_depthpro', 'align3r_depthanything', 'dust3r_512_dpt', 'depth_pro',
            'depth_anything_v2_vits', 'depth_anything_v2_vitb',
            'depth_anything_v2_vitl'} <= set(CATALOG)
    filenames = [f.filename for e in CATALOG.values() for f in e.files]
    assert len(filenames) == len(set(filenames))  # both Align3R repos ship model.safetensors
    for entry in CATALOG.values():
        assert entry.licence and entry.files[0].min_bytes > 0
        assert all(f.url.startswith('https://') for f in entry.files)
    assert CATALOG['depth_anything_v2_vits'].licence == 'Apache-2.0'
    assert CATALOG['depth_anything_v2_vitl'].licence == 'CC-BY-NC-4.0'
    assert CATALOG['align3r_depthpro'].licence == 'CC BY-NC-SA 4.0'
    assert CATALOG['depth_pro'].files[0].url == \
        'https://ml-site.cdn-apple.com/models/depth-pro/depth_pro.pt'


def test_downloaded_align3r_names_pair_automatically():
    # pairwise.checkpoint_prior: auto recognises the downloaded files by name.
    assert checkpoint_prior_from_name(CATALOG['align3r_depthpro'].files[0].filename) == \
        CheckpointPrior.DEPTH_PRO
    assert checkpoint_prior_from_name(CATALOG['align3r_depthanything'].files[0].filename) == \
        CheckpointPrior.DEPTH_ANYTHING_V2
    assert checkpoint_prior_from_name(CATALOG['dust3r_512_dpt'].files[0].filename) == \
        CheckpointPrior.NONE


class _FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes, length=None):
        super().__init__(payload)
        self.headers = {'Content-Length': str(len(payload) if length is None else length)}


@pytest.fixture
def fake_entry(monkeypatch):
    payload = b'x' * 3000
    entry = CatalogEntry('fake', 'depth_pro', 'test', 'none', (
        RemoteFile('https://example.invalid/w.pt', 'w.pt', 1000,
                   hashlib.sha256(payload).hexdigest()),))
    monkeypatch.setitem(CATALOG, 'fake', entry)
    return entry, payload


def test_download_is_atomic_and_verified(fake_entry, monkeypatch, tmp_path):
    entry, payload = fake_entry
    calls = []

    def fake_urlopen(request, timeout):
        calls.append(request.full_url)
        return _FakeResponse(payload)

    monkeypatch.setattr(weights_catalog, 'urlopen', fake_urlopen)
    path = download('fake', tmp_path, progress=False)
    assert path == tmp_path / 'w.pt' and path.read_bytes() == payload
    assert (tmp_path / 'w.pt.sha256').read_text().split()[0] == entry.files[0].sha256
    assert not list(tmp_path.glob('*.part'))
    assert download('fake', tmp_path, progress=False) == path  # present: no second fetch
    assert calls == ['https://example.invalid/w.pt']


@pytest.mark.parametrize('length, payload, match', [
    (5000, b'x' * 3000, 'received 3000 of 5000'),      # connection dropped
    (None, b'<html>error</html>', 'below the 1000'),   # an error page
    (None, b'y' * 3000, 'sha256'),                     # wrong content
])
def test_bad_downloads_leave_nothing(fake_entry, monkeypatch, tmp_path, length, payload, match):
    monkeypatch.setattr(weights_catalog, 'urlopen',
                        lambda request, timeout: _FakeResponse(payload, length))
    with pytest.raises(WeightsError, match=match):
        download('fake', tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_offline_is_a_clear_error(fake_entry, monkeypatch, tmp_path):
    def offline(request, timeout):
        raise URLError('[Errno -3] Temporary failure in name resolution')

    monkeypatch.setattr(weights_catalog, 'urlopen', offline)
    with pytest.raises(WeightsError, match='offline'):
        download('fake', tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_is_a_clear_error(monkeypatch, tmp_path):
    # Port 9 on the loopback interface: refused at once, no traffic leaves the machine
    # (proxies disabled so that no proxy from the environment is contacted instead).
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    monkeypatch.setattr(weights_catalog, 'urlopen', opener.open)
    monkeypatch.setitem(CATALOG, 'closed', CatalogEntry('closed', 'x', 'x', 'x', (
        RemoteFile('http://127.0.0.1:9/w.pt', 'w.pt', 10),)))
    with pytest.raises(WeightsError, match='cannot reach http://127.0.0.1:9/w.pt'):
        download('closed', tmp_path, progress=False)


def test_unknown_name_lists_the_catalogue(tmp_path):
    with pytest.raises(WeightsError, match='depth_pro'):
        download('nope', tmp_path)


def test_default_directory_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv('ALIGN3R_WEIGHTS_DIR', str(tmp_path))
    assert weights_catalog.default_weights_dir() == tmp_path
