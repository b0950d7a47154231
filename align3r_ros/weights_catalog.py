"""Catalogue of the official checkpoints and an explicit, verified downloader.

Nothing here runs at import time and nothing downloads implicitly: only :func:`download` (called
by ``align3r-weights download NAME``) touches the network.

Integrity: a download must deliver exactly the ``Content-Length`` the server announced and at
least ``min_bytes`` (the tensor payload implied by the architecture's parameter count, from the
state-dict manifests: a truncated file or an HTML error page fails); when a sha256 is recorded
it must match. No upstream checksums are recorded (none could be verified from here), so the
sha256 of every download is computed, logged and written beside the file as
``<file>.sha256`` (``sha256sum`` format) for later checks.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple, Union
from urllib.error import URLError
from urllib.request import Request, urlopen

from align3r_ros.errors import WeightsError

LOG = logging.getLogger(__name__)

#: Environment variable naming the default download directory (also read by weights tests).
WEIGHTS_DIR_ENV = 'ALIGN3R_WEIGHTS_DIR'
_CHUNK = 1 << 20
_TIMEOUT_S = 30.0
_HF = 'https://huggingface.co'

CC_BY_NC_SA = 'CC BY-NC-SA 4.0'
CC_BY_NC = 'CC-BY-NC-4.0'
APACHE = 'Apache-2.0'
APPLE = 'Apple sample code licence (apple/ml-depth-pro LICENSE)'


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch.

    Attributes:
        url: where to fetch it (followed through redirects).
        filename: local file name inside the destination directory.
        min_bytes: smallest plausible size (parameter count x bytes per value); 0 = no bound.
        sha256: expected hex digest, or '' when none is recorded.
    """

    url: str
    filename: str
    min_bytes: int = 0
    sha256: str = ''


@dataclass(frozen=True)
class CatalogEntry:
    """An official release.

    Attributes:
        name: catalogue key (``align3r-weights download NAME``).
        architecture: what ``align3r-weights inspect`` reports for the main file.
        description: one line.
        licence: licence of the weights (not of this package).
        files: the main checkpoint first, then companions (e.g. a Hugging Face config.json).
    """

    name: str
    architecture: str
    description: str
    licence: str
    files: Tuple[RemoteFile, ...]


def _hf(repo: str, path: str, filename: str, min_bytes: int = 0) -> RemoteFile:
    return RemoteFile(f'{_HF}/{repo}/resolve/main/{path}', filename, min_bytes)


def _align3r(name: str, repo_name: str, description: str) -> CatalogEntry:
    repo = f'cyun9286/{repo_name}'
    # 1061 fp32 tensors, 603,066,248 values (spec §3.1, aliases dropped by the HF export).
    return CatalogEntry(name, 'align3r', description, CC_BY_NC_SA, (
        _hf(repo, 'model.safetensors', f'{repo_name}.safetensors', 603_066_248 * 4),
        _hf(repo, 'config.json', f'{repo_name}.config.json'),
    ))


CATALOG: Dict[str, CatalogEntry] = {entry.name: entry for entry in (
    _align3r('align3r_depthpro', 'Align3R_DepthPro_ViTLarge_BaseDecoder_512_dpt',
             'Align3R trained with Depth Pro metric depth (pair with prior.backend depth_pro)'),
    _align3r('align3r_depthanything', 'Align3R_DepthAnythingV2_ViTLarge_BaseDecoder_512_dpt',
             'Align3R trained with Depth Anything V2 disparity (pair with '
             'prior.backend depth_anything_v2)'),
    CatalogEntry(
        'dust3r_512_dpt', 'dust3r', 'DUSt3R ViT-L/BaseDecoder 512 DPT (naver), no prior',
        CC_BY_NC_SA, (
            # 571,171,208 fp32 values (spec §3.1).
            _hf('naver/DUSt3R_ViTLarge_BaseDecoder_512_dpt', 'model.safetensors',
                'DUSt3R_ViTLarge_BaseDecoder_512_dpt.safetensors', 571_171_208 * 4),
            _hf('naver/DUSt3R_ViTLarge_BaseDecoder_512_dpt', 'config.json',
                'DUSt3R_ViTLarge_BaseDecoder_512_dpt.config.json'),
        )),
    # Depth Anything V2 releases are fp32 state dicts; values from the fixture manifests.
    CatalogEntry(
        'depth_anything_v2_vits', 'depth_anything_v2_vits', 'Depth Anything V2 Small (24.8M)',
        APACHE, (_hf('depth-anything/Depth-Anything-V2-Small', 'depth_anything_v2_vits.pth',
                     'depth_anything_v2_vits.pth', 24_785_089 * 4),)),
    CatalogEntry(
        'depth_anything_v2_vitb', 'depth_anything_v2_vitb', 'Depth Anything V2 Base (97.5M)',
        CC_BY_NC, (_hf('depth-anything/Depth-Anything-V2-Base', 'depth_anything_v2_vitb.pth',
                       'depth_anything_v2_vitb.pth', 97_470_785 * 4),)),
    CatalogEntry(
        'depth_anything_v2_vitl', 'depth_anything_v2_vitl', 'Depth Anything V2 Large (335.3M)',
        CC_BY_NC, (_hf('depth-anything/Depth-Anything-V2-Large', 'depth_anything_v2_vitl.pth',
                       'depth_anything_v2_vitl.pth', 335_315_649 * 4),)),
    CatalogEntry(
        'depth_pro', 'depth_pro', 'Apple Depth Pro (952M), metric depth + focal', APPLE, (
            # 951,991,330 values; the release may store half precision, so 2 bytes/value.
            RemoteFile('https://ml-site.cdn-apple.com/models/depth-pro/depth_pro.pt',
                       'depth_pro.pt', 951_991_330 * 2),)),
)}


def default_weights_dir() -> Path:
    """``$ALIGN3R_WEIGHTS_DIR`` when set, else ``~/.cache/align3r_ros``."""
    env = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / '.cache' / 'align3r_ros'


def get_entry(name: str) -> CatalogEntry:
    """Raises WeightsError naming the known entries for an unknown ``name``."""
    try:
        return CATALOG[name]
    except KeyError:
        raise WeightsError(f'unknown checkpoint {name!r}; known: {sorted(CATALOG)}') from None


def _fetch(remote: RemoteFile, target: Path, progress: bool) -> str:
    """Stream ``remote`` into ``target`` atomically; return its sha256."""
    partial = target.with_name(target.name + '.part')
    try:
        response = urlopen(Request(remote.url, headers={'User-Agent': 'align3r_ros'}),
                           timeout=_TIMEOUT_S)
    except (URLError, OSError, ValueError) as exc:
        reason = getattr(exc, 'reason', exc)
        raise WeightsError(f'cannot reach {remote.url} ({reason}); are you offline? Download '
                           f'it manually to {target}') from exc
    digest = hashlib.sha256()
    received = 0
    try:
        with response:
            announced = int(response.headers.get('Content-Length') or 0)
            bar = _progress_bar(announced, target.name, progress)
            with open(partial, 'wb') as out:
                for chunk in iter(lambda: response.read(_CHUNK), b''):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            bar.close()
        _check_download(remote, received, announced, digest.hexdigest())
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, WeightsError):
            raise
        if isinstance(exc, (OSError, ValueError)):
            raise WeightsError(f'download of {remote.url} failed after {received} bytes: '
                               f'{exc}') from exc
        raise
    os.replace(partial, target)
    return digest.hexdigest()


def _check_download(remote: RemoteFile, received: int, announced: int, sha256: str) -> None:
    if announced and received != announced:
        raise WeightsError(f'{remote.url}: received {received} of {announced} bytes '
                           '(connection dropped?)')
    if received < remote.min_bytes:
        raise WeightsError(f'{remote.url}: {received} bytes is below the {remote.min_bytes} '
                           'the checkpoint must hold (an error page?)')
    if remote.sha256 and sha256 != remote.sha256.lower():
        raise WeightsError(f'{remote.url}: sha256 {sha256} != expected {remote.sha256}')


def _progress_bar(total: int, label: str, enabled: bool):  # noqa: ANN202 - tqdm or a stub
    if enabled:
        try:
            from tqdm import tqdm

            return tqdm(total=total or None, unit='B', unit_scale=True, unit_divisor=1024,
                        desc=label)
        except ImportError:
            pass
    return _NoBar()


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def download(name: str, dest: Optional[Union[str, Path]] = None,
             progress: bool = True) -> Path:
    """Fetch an official checkpoint (and its companion files) unless already present.

    Args:
        name: a :data:`CATALOG` key, e.g. 'depth_pro', 'align3r_depthpro'.
        dest: target directory; default :func:`default_weights_dir`.
        progress: show a tqdm progress bar on stderr.

    Returns:
        Path of the main checkpoint file.

    Raises:
        WeightsError: unknown name, offline / unreachable server, truncated or too small
            file, checksum mismatch. No partial file is left behind.
    """
    entry = get_entry(name)
    directory = Path(dest).expanduser() if dest is not None else default_weights_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for remote in entry.files:
        target = directory / remote.filename
        if target.is_file() and target.stat().st_size >= max(remote.min_bytes, 1):
            LOG.info('%s already present (%d bytes)', target, target.stat().st_size)
            continue
        LOG.info('downloading %s (%s licence) to %s', remote.url, entry.licence, target)
        sha256 = _fetch(remote, target, progress)
        target.with_name(target.name + '.sha256').write_text(f'{sha256}  {remote.filename}\n')
        LOG.info('%s sha256 %s', target.name, sha256)
    return directory / entry.files[0].filename
