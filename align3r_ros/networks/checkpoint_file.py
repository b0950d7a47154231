"""Reading checkpoint files safely, for every network: torch ``.pth`` and safetensors.

Nothing beyond plain tensors and containers is unpickled: ``torch.load(weights_only=True)``; for
pairwise checkpoints (:func:`read_checkpoint_file`) ``argparse.Namespace`` is allow-listed
(DUSt3R / Align3R training checkpoints store their arguments in one), for the priors' weights
(:func:`load_weights_file`) nothing is. The file format is recognised from its first bytes, not
from its name, so a renamed file still reads and a non-checkpoint fails with a one-line reason.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
import struct
from typing import Dict, Mapping, Optional, Tuple, Union

import torch

from align3r_ros.errors import WeightsError

TORCH_ZIP = 'torch-zip'
TORCH_PICKLE = 'torch-pickle'
SAFETENSORS = 'safetensors'

#: Keys of a training checkpoint dict that may hold the state dict, in order of preference.
_STATE_ENTRIES = ('model', 'state_dict', 'model_state_dict')


@dataclass(frozen=True)
class CheckpointFile:
    """The tensors of one checkpoint file, as stored.

    Attributes:
        path: the file.
        file_format: 'torch-zip', 'torch-pickle' or 'safetensors'.
        shapes: {name: shape} of every tensor of the state dict.
        dtypes: {name: torch dtype} of every tensor.
        state: {name: tensor} as stored (memory-mapped where possible), or None when only the
            shapes were read.
        model_args: the official constructor string (``ckpt['args'].model``) when present, else
            ''. It is data for reporting and for reading head counts; it is never evaluated.
        metadata: the safetensors header metadata ({} for torch files).
    """

    path: Path
    file_format: str
    shapes: Mapping[str, Tuple[int, ...]]
    dtypes: Mapping[str, torch.dtype]
    state: Optional[Mapping[str, torch.Tensor]]
    model_args: str = ''
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def dtype_name(self) -> str:
        """'float32', 'float16', 'bfloat16', or 'mixed(a,b)' over the floating tensors."""
        names = sorted({str(d).replace('torch.', '') for d in self.dtypes.values()
                        if d.is_floating_point})
        if not names:
            return 'none'
        return names[0] if len(names) == 1 else f"mixed({','.join(names)})"


def sniff_format(path: Path) -> str:
    """Recognise the file format from its first bytes.

    Raises:
        WeightsError: missing, empty or not a torch / safetensors file.
    """
    if not path.exists():
        raise WeightsError(f'checkpoint not found: {path}')
    if not path.is_file():
        raise WeightsError(f'checkpoint is not a file: {path}')
    with path.open('rb') as handle:
        head = handle.read(16)
    if not head:
        raise WeightsError(f'checkpoint is empty (0 bytes): {path}')
    if head[:4] == b'PK\x03\x04':
        return TORCH_ZIP
    if head[:1] == b'\x80':
        return TORCH_PICKLE
    if len(head) >= 9 and head[8:9] == b'{':
        header_len = struct.unpack('<Q', head[:8])[0]
        if 0 < header_len < 100_000_000:
            return SAFETENSORS
    raise WeightsError(f'not a checkpoint (neither a torch .pth nor a safetensors file): {path}')


def read_checkpoint_file(path: Union[str, Path], shapes_only: bool = False) -> CheckpointFile:
    """Read a checkpoint's tensors (or only their shapes).

    Args:
        path: ``.pth`` (``{'model': state_dict, 'args': ..., ...}`` or a plain state dict) or
            ``.safetensors``.
        shapes_only: for safetensors, read the header only (torch files are memory-mapped
            anyway, so this costs nothing extra for them).

    Raises:
        WeightsError: missing, truncated or corrupt file, unsafe pickle content, or no state
            dict of tensors inside.
    """
    path = Path(path)
    file_format = sniff_format(path)
    if file_format == SAFETENSORS:
        return _read_safetensors(path, shapes_only)
    obj = _torch_load(path, mmap=file_format == TORCH_ZIP)
    state, model_args = _state_from_object(obj, path)
    return CheckpointFile(
        path=path, file_format=file_format,
        shapes={k: tuple(v.shape) for k, v in state.items()},
        dtypes={k: v.dtype for k, v in state.items()}, state=state, model_args=model_args)


def _read_safetensors(path: Path, shapes_only: bool) -> CheckpointFile:
    from safetensors import safe_open
    from safetensors.torch import load_file
    try:
        with safe_open(str(path), framework='pt') as handle:
            keys = list(handle.keys())
            metadata = dict(handle.metadata() or {})
            slices = {k: handle.get_slice(k) for k in keys}
            shapes = {k: tuple(int(n) for n in s.get_shape()) for k, s in slices.items()}
            dtypes = {k: _safetensors_dtype(s.get_dtype(), k, path) for k, s in slices.items()}
        state = None if shapes_only else load_file(str(path), device='cpu')
    except WeightsError:
        raise
    except Exception as exc:  # safetensors raises its own error types for bad files
        raise WeightsError(f'truncated or corrupt safetensors file {path}: '
                           f'{_one_line(exc)}') from exc
    if not keys:
        raise WeightsError(f'not a checkpoint: safetensors file {path} holds no tensors')
    return CheckpointFile(path=path, file_format=SAFETENSORS, shapes=shapes, dtypes=dtypes,
                          state=state, metadata=metadata)


_SAFETENSORS_DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
                       'F64': torch.float64, 'I64': torch.int64, 'I32': torch.int32,
                       'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8,
                       'BOOL': torch.bool}


def _safetensors_dtype(name: str, key: str, path: Path) -> torch.dtype:
    dtype = _SAFETENSORS_DTYPES.get(str(name).upper())
    if dtype is None:
        raise WeightsError(f'unsupported tensor dtype {name} of {key!r} in {path}')
    return dtype


def _torch_load(path: Path, mmap: bool) -> object:
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(str(path), map_location='cpu', weights_only=True, mmap=mmap)
    except Exception as exc:  # zip / pickle / weights-only errors come in many types
        raise WeightsError(torch_load_failure(exc, path)) from None


def load_weights_file(path: Union[str, Path], what: str) -> object:
    """The object stored in a prior's weights file (``.safetensors``, or a ``torch.save``-d
    file read with ``weights_only=True``, nothing allow-listed), unvalidated.

    Torch zip files are memory-mapped; legacy (non-zip) ones are read whole.

    Args:
        path: the file.
        what: how messages name it, e.g. 'Depth Pro checkpoint'.

    Raises:
        WeightsError: missing file, or unreadable / refused content (one line, nothing chained).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f'{what} not found: {path}')
    try:
        if path.suffix == '.safetensors':
            from safetensors.torch import load_file
            return load_file(str(path), device='cpu')
        try:
            return torch.load(str(path), map_location='cpu', weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) files cannot be memory-mapped
            return torch.load(str(path), map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch / safetensors raise many types
        reason = _one_line(exc) if path.suffix == '.safetensors' \
            else torch_load_failure(exc, path)
        raise WeightsError(f'cannot read {what} {path}: {reason}') from None


def torch_load_failure(exc: BaseException, path: Path) -> str:
    """Our one-line reason for a failed ``torch.load(weights_only=True)`` of ``path``.

    Torch's own text advises ``weights_only=False`` (arbitrary code execution for an untrusted
    file), so it never reaches the user: a refused pickle payload is named as such, anything
    else is a truncated or corrupt file.
    """
    text = str(exc)
    if 'Unsupported global' in text:
        return (f'refusing to unpickle {path}: it holds objects other than tensors and plain '
                f'containers ({_unsafe_globals(path)}); use the released weights or a copy '
                'saved as a plain state dict / .safetensors')
    if 'Weights only load failed' in text:
        detail = text.split('WeightsUnpickler error:', 1)[1] if 'WeightsUnpickler error:' \
            in text else ''
        detail = ' '.join(detail.strip().split('\n')[0].split())
        return f'truncated or corrupt torch checkpoint {path}' + (f' ({detail})' if detail
                                                                  else '')
    return f'truncated or corrupt torch checkpoint {path}: {_one_line(exc)}'


def _unsafe_globals(path: Path) -> str:
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # best effort, only for the message
        return 'unknown globals'
    names = [n for n in names if n != 'argparse.Namespace']
    return ', '.join(names[:5]) or 'unknown globals'


def _state_from_object(obj: object, path: Path) -> Tuple[Dict[str, torch.Tensor], str]:
    model_args = ''
    if isinstance(obj, Mapping):
        args = obj.get('args')
        if isinstance(args, argparse.Namespace) and isinstance(getattr(args, 'model', None), str):
            model_args = args.model
        for entry in _STATE_ENTRIES:
            if isinstance(obj.get(entry), Mapping):
                obj = obj[entry]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise WeightsError(f'not a checkpoint: {path} holds no state dict '
                           f'(expected a mapping of names to tensors, or one under "model")')
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f'not a checkpoint: {path} has non-tensor entries in its state dict, '
                           f'e.g. {bad[:3]}')
    return dict(obj), model_args


def _one_line(exc: BaseException) -> str:
    text = ' '.join(str(exc).split())
    return text[:200] + ('...' if len(text) > 200 else '')
