"""onnxruntime sessions for an exported pairwise network (encoder + decoder graphs); no torch.

The graph contract is documented in :mod:`align3r_ros.networks.pairwise.onnx_export` (the
exporter) and recorded per export folder in ``pairwise_onnx.json`` (:class:`PairwiseOnnxInfo`).
onnxruntime is imported when a session is opened, not at module import; neither is torch (the
package ``networks.pairwise`` imports nothing at import).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import json
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from align3r_ros.errors import BackendError, InputError, WeightsError

ENCODER_FILE = 'encoder.onnx'
DECODER_FILE = 'decoder.onnx'
INFO_FILE = 'pairwise_onnx.json'
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PairwiseOnnxInfo:
    """What an exported encoder/decoder pair expects (``pairwise_onnx.json``).

    Attributes:
        architecture: 'align3r' (graphs take point maps / injections) or 'dust3r'.
        patch_size: pixels per token side (16); H and W must be multiples of it.
        enc_embed_dim: C_enc of ``tokens``.
        dec_embed_dim: C_dec of ``injections``.
        num_injections: K of ``injections`` (0 for DUSt3R).
        example_hw: (H, W) the graphs were traced and verified at.
        dynamic_size: True when H and W are dynamic axes (always, for this exporter).
        opset: ONNX opset.
        max_rel_error: max |onnx - torch| / max |torch| over the outputs at export time
            (None when not verified).
        format_version: version of this contract.
    """

    architecture: str
    patch_size: int
    enc_embed_dim: int
    dec_embed_dim: int
    num_injections: int
    example_hw: Tuple[int, int]
    dynamic_size: bool
    opset: int
    max_rel_error: Optional[float] = None
    format_version: int = FORMAT_VERSION

    @property
    def needs_pointmap(self) -> bool:
        return self.num_injections > 0

    def write(self, folder: Union[str, Path]) -> Path:
        path = Path(folder) / INFO_FILE
        path.write_text(json.dumps(asdict(self), indent=1) + '\n')
        return path

    @staticmethod
    def read(folder: Union[str, Path]) -> 'PairwiseOnnxInfo':
        """Read ``pairwise_onnx.json`` of an export folder.

        Raises:
            WeightsError: ``folder`` is a file (e.g. a lone ``.onnx``), a missing or malformed
                file, or an unknown format version.
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise WeightsError(f'{folder} is a file; the onnx backend takes the export folder '
                               f'that align3r-export-onnx writes ({ENCODER_FILE}, '
                               f'{DECODER_FILE}, {INFO_FILE}): give that folder as the '
                               f'pairwise weights')
        path = folder / INFO_FILE
        try:
            data = json.loads(path.read_text())
            info = PairwiseOnnxInfo(**{**data, 'example_hw': tuple(data['example_hw'])})
        except FileNotFoundError:
            raise WeightsError(f'{path} not found: not a pairwise ONNX export folder '
                               f'(make one with align3r-export-onnx)') from None
        except (ValueError, TypeError, KeyError) as exc:
            raise WeightsError(f'{path} is malformed: {exc}') from None
        if info.format_version != FORMAT_VERSION:
            raise WeightsError(f'{path}: format_version {info.format_version}, expected '
                               f'{FORMAT_VERSION}')
        return info


def encoder_io_names(needs_pointmap: bool) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(input names, output names) of ``encoder.onnx``."""
    if needs_pointmap:
        return ('image', 'pointmap'), ('tokens', 'injections')
    return ('image',), ('tokens',)


def decoder_io_names(needs_pointmap: bool) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    """(input names, output names) of ``decoder.onnx``."""
    outputs = ('pts3d', 'conf', 'pts3d_in_other_view', 'conf_in_other_view')
    if needs_pointmap:
        return ('tokens1', 'injections1', 'tokens2', 'injections2'), outputs
    return ('tokens1', 'tokens2'), outputs


#: Execution providers by device name.
PROVIDERS = {'cpu': ('CPUExecutionProvider',),
             'cuda': ('CUDAExecutionProvider', 'CPUExecutionProvider')}


class PairwiseOnnxSession:
    """The two graphs of one export folder, opened in onnxruntime.

    Args:
        folder: export folder (``encoder.onnx``, ``decoder.onnx``, ``pairwise_onnx.json``).
        device: 'cpu' or 'cuda' (CUDAExecutionProvider, CPU fallback for unsupported nodes).
        threads: intra-op threads (0: onnxruntime's default).

    Raises:
        WeightsError: missing or unreadable graphs / metadata.
        BackendError: onnxruntime missing, or CUDA requested but its provider unavailable.
    """

    def __init__(self, folder: Union[str, Path], device: str = 'cpu', threads: int = 0) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendError(f'the onnx backend needs onnxruntime ({exc})') from None
        folder = Path(folder)
        self.info = PairwiseOnnxInfo.read(folder)
        if device not in PROVIDERS:
            raise BackendError(f'onnx backend device must be cpu or cuda, got {device!r}')
        available = ort.get_available_providers()
        if PROVIDERS[device][0] not in available:
            raise BackendError(f'{PROVIDERS[device][0]} is not available in this onnxruntime '
                               f'(available: {available}); install onnxruntime-gpu for cuda')
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.device = device
        self._encoder = _open(ort, folder / ENCODER_FILE, options, PROVIDERS[device])
        self._decoder = _open(ort, folder / DECODER_FILE, options, PROVIDERS[device])
        self._enc_in, self._enc_out = encoder_io_names(self.info.needs_pointmap)
        self._dec_in, _ = decoder_io_names(self.info.needs_pointmap)

    @property
    def needs_pointmap(self) -> bool:
        return self.info.needs_pointmap

    @property
    def providers(self) -> Tuple[str, ...]:
        """Execution providers onnxruntime actually uses, in priority order."""
        return tuple(self._encoder.get_providers())

    def encode(self, images: np.ndarray, pointmaps: Optional[np.ndarray] = None
               ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Encode B frames.

        Args:
            images: (B, 3, H, W) float32 in [-1, 1]; H, W multiples of the patch size.
            pointmaps: (B, H, W, 3) float32 normalised point maps (Align3R only).

        Returns:
            tokens (B, gh, gw, C_enc) and injections (B, K, gh, gw, C_dec) or None (DUSt3R).
        """
        images = np.ascontiguousarray(images, dtype=np.float32)
        patch = self.info.patch_size
        if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] % patch \
                or images.shape[3] % patch or images.shape[2] < 2 * patch \
                or images.shape[3] < 2 * patch:
            raise InputError(f'images must be (B, 3, H, W) with H, W multiples of {patch} '
                             f'(>= {2 * patch}), got {images.shape}')
        feeds = {'image': images}
        if self.needs_pointmap:
            expected = (images.shape[0], images.shape[2], images.shape[3], 3)
            if pointmaps is None or pointmaps.shape != expected:
                got = None if pointmaps is None else pointmaps.shape
                raise InputError(f'Align3R needs point maps of shape {expected}, got {got}')
            feeds['pointmap'] = np.ascontiguousarray(pointmaps, dtype=np.float32)
        outputs = self._encoder.run(list(self._enc_out), feeds)
        return outputs[0], (outputs[1] if self.needs_pointmap else None)

    def decode(self, tokens1: np.ndarray, injections1: Optional[np.ndarray],
               tokens2: np.ndarray, injections2: Optional[np.ndarray]) -> Sequence[np.ndarray]:
        """Decode B pairs of encodings (shapes as returned by :meth:`encode`).

        Returns:
            [pts3d (B, H, W, 3), conf (B, H, W), pts3d_in_other_view (B, H, W, 3),
            conf_in_other_view (B, H, W)], float32, both point maps in view 1's camera frame.
        """
        if tokens1.shape != tokens2.shape:
            raise InputError(f'pair encodings differ in shape: {tokens1.shape} vs '
                             f'{tokens2.shape}')
        values = (tokens1, injections1, tokens2, injections2) if self.needs_pointmap \
            else (tokens1, tokens2)
        feeds = {name: np.ascontiguousarray(v, dtype=np.float32)
                 for name, v in zip(self._dec_in, values)}
        return self._decoder.run(None, feeds)


def _open(ort, path: Path, options, providers):
    if not path.is_file():
        raise WeightsError(f'{path} not found: not a complete pairwise ONNX export')
    try:
        return ort.InferenceSession(str(path), options, providers=list(providers))
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise WeightsError(f'cannot load {path}: {str(exc).splitlines()[0]}') from None
