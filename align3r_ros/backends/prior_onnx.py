"""onnxruntime prior backend for any ONNX model that follows the prior ONNX contract.

The contract (version 1), defined in :mod:`align3r_ros.networks.prior_onnx_contract`:

* input ``rgb`` float32 (1, 3, h, w) = ``(pixel / 255 - mean) / std``, RGB;
* output ``prior`` float32 (1, 1, h', w') (or (1, h', w') / (h', w')) at network resolution;
  optional output ``fov_deg`` (one element, horizontal field of view in degrees);
* ``metadata_props``: ``align3r.contract`` = '1', ``align3r.prior_kind``
  (metric_depth | relative_depth | disparity), ``align3r.output_encoding`` (direct |
  canonical_inverse_depth), ``align3r.resize`` (lower_bound with ``align3r.input_size`` and
  ``align3r.multiple_of`` | fixed with ``align3r.input_hw`` 'H,W'),
  ``align3r.input_interpolation`` (cubic | linear), ``align3r.mean`` / ``align3r.std``
  (3 floats each), ``align3r.output_align_corners`` ('1' | '0'), ``align3r.model``.

The host (this module) resizes and normalises the frame, runs the graph, decodes the output and
resizes it bilinearly to the frame's (H, W). ``align3r-export-onnx`` writes both native priors
(Depth Anything V2, Depth Pro) in this form; any other model only needs the metadata added
(``onnx.helper.set_model_props``). onnxruntime is imported when a backend is built, never at
import time. Execution providers: CPU, and CUDA when onnxruntime-gpu provides it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from align3r_ros.backends.prior_frame import (
    check_finite_prior, focal_from_K, prepare_frame, resize_bilinear)
from align3r_ros.errors import BackendError, InputError, WeightsError
from align3r_ros.networks.depth_anything.preprocess import network_input_size
from align3r_ros.networks.prior_onnx_contract import (
    FOV_OUTPUT_NAME, INPUT_NAME, OUTPUT_NAME, PriorOnnxContract)
from align3r_ros.structures import PriorMap

#: Depth Pro's clamp of the inverse depth (so depth lies in [1e-4, 1e4] m).
INVERSE_DEPTH_RANGE = (1e-4, 1e4)
_CV2_INTERPOLATION = {'cubic': cv2.INTER_CUBIC, 'linear': cv2.INTER_LINEAR}


def select_providers(device: str, available: Sequence[str]) -> List[str]:
    """onnxruntime execution providers for 'auto' | 'cpu' | 'cuda'.

    Raises:
        BackendError: 'cuda' requested but the installed onnxruntime has no CUDA provider.
    """
    has_cuda = 'CUDAExecutionProvider' in available
    if device == 'cuda' and not has_cuda:
        raise BackendError('runtime.device is cuda but onnxruntime has no '
                           f'CUDAExecutionProvider (available: {list(available)}); install '
                           'onnxruntime-gpu or use device cpu')
    if device in ('cuda', 'auto') and has_cuda:
        return ['CUDAExecutionProvider', 'CPUExecutionProvider']
    if device not in ('cuda', 'auto', 'cpu'):
        raise BackendError(f'unknown device {device!r} for onnxruntime')
    return ['CPUExecutionProvider']


def preprocess_for_contract(rgb: np.ndarray, contract: PriorOnnxContract) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (1, 3, h, w) float32 as the contract declares."""
    height, width = rgb.shape[:2]
    if contract.resize == 'lower_bound':
        net_h, net_w = network_input_size(height, width, contract.input_size,
                                          contract.multiple_of)
    else:
        net_h, net_w = contract.input_hw
    image = rgb.astype(np.float64) / 255.0
    if (net_h, net_w) != (height, width):
        image = cv2.resize(image, (net_w, net_h),
                           interpolation=_CV2_INTERPOLATION[contract.input_interpolation])
    image = (image - np.asarray(contract.mean)) / np.asarray(contract.std)
    return np.ascontiguousarray(image.transpose(2, 0, 1)).astype(np.float32)[None]


def decode_output(raw: np.ndarray, fov_deg: Optional[float], frame_hw: Tuple[int, int],
                  f_px: Optional[float], contract: PriorOnnxContract
                  ) -> Tuple[np.ndarray, Optional[float]]:
    """Network output -> (prior (H, W) float32, focal in px at (H, W) or None).

    Raises:
        InputError: canonical inverse depth without a known focal or a ``fov_deg`` output.
        BackendError: an output that is not a single (h, w) map.
    """
    raw = np.asarray(raw, dtype=np.float32)
    if raw.ndim < 2 or raw.size != raw.shape[-2] * raw.shape[-1]:
        raise BackendError(f'prior output of shape {raw.shape} is not one (h, w) map')
    raw = raw.reshape(raw.shape[-2:])
    align = contract.output_align_corners
    if contract.output_encoding == 'direct':
        return resize_bilinear(raw, frame_hw, align), None
    width = frame_hw[1]
    if f_px is None:
        if fov_deg is None:
            raise InputError('this prior ONNX model has no fov_deg output: pass the camera '
                             'intrinsics K (fx) to estimate()')
        f_px = 0.5 * width / math.tan(0.5 * math.radians(float(fov_deg)))
    inverse = raw * np.float32(width / f_px)
    inverse = resize_bilinear(inverse, frame_hw, align)
    depth = 1.0 / np.clip(inverse, *INVERSE_DEPTH_RANGE)
    return depth.astype(np.float32), float(f_px)


class OnnxPriorBackend:
    """Prior from an ONNX model following the contract above.

    Args:
        path: the ``.onnx`` file (external-data files beside it).
        device: 'auto' | 'cpu' | 'cuda'.
        threads: intra-op threads (0: onnxruntime's default).
    """

    def __init__(self, path: Union[str, Path], device: str = 'auto', threads: int = 0) -> None:
        path = Path(path)
        if not path.is_file():
            raise WeightsError(f'prior ONNX model not found: {str(path)!r}')
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads > 0:
            options.intra_op_num_threads = int(threads)
        providers = select_providers(str(device), ort.get_available_providers())
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise WeightsError(f'onnxruntime cannot load {str(path)!r}: {exc}') from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        self.contract = PriorOnnxContract.from_metadata(meta, source=repr(str(path)))
        self.kind = self.contract.prior_kind
        self._check_graph(path)

    def _check_graph(self, path: Path) -> None:
        inputs = self.session.get_inputs()
        outputs = {o.name for o in self.session.get_outputs()}
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME or len(inputs[0].shape) != 4:
            raise WeightsError(f'{str(path)!r}: expected one input {INPUT_NAME!r} of rank 4, got '
                               f'{[(i.name, i.shape) for i in inputs]}')
        if OUTPUT_NAME not in outputs:
            raise WeightsError(f'{str(path)!r}: no output named {OUTPUT_NAME!r} '
                               f'(outputs: {sorted(outputs)})')
        self.has_fov = FOV_OUTPUT_NAME in outputs
        static_hw = tuple(inputs[0].shape[2:])
        if all(isinstance(d, int) for d in static_hw):
            if self.contract.resize != 'fixed' or tuple(self.contract.input_hw) != static_hw:
                raise WeightsError(f'{str(path)!r}: graph input is fixed at {static_hw} but the '
                                   f'metadata declares resize={self.contract.resize} '
                                   f'input_hw={self.contract.input_hw}')

    @property
    def providers(self) -> List[str]:
        return list(self.session.get_providers())

    def run_network(self, network_input: np.ndarray) -> Tuple[np.ndarray, Optional[float]]:
        """(1, 3, h, w) float32 -> (raw prior output, fov_deg or None)."""
        names = [OUTPUT_NAME] + ([FOV_OUTPUT_NAME] if self.has_fov else [])
        try:
            results: List[Any] = self.session.run(names, {INPUT_NAME: network_input})
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f'onnxruntime failed on input {network_input.shape}: {exc}') \
                from exc
        fov = float(np.asarray(results[1]).reshape(-1)[0]) if self.has_fov else None
        return results[0], fov

    def estimate(self, rgb: np.ndarray, K: Optional[np.ndarray] = None) -> PriorMap:
        """Prior (H, W) float32 at the frame's resolution; K's fx is used by metric models."""
        frame = prepare_frame(rgb)
        fx = focal_from_K(K)
        f_px = None if fx is None else fx * frame.scale
        raw, fov = self.run_network(preprocess_for_contract(frame.rgb, self.contract))
        values, focal = decode_output(raw, fov, frame.rgb.shape[:2], f_px, self.contract)
        values = check_finite_prior(values, f'ONNX prior {self.contract.model!r}')
        if frame.scale != 1.0:
            values = resize_bilinear(values, frame.frame_hw, align_corners=False)
            focal = None if focal is None else focal / frame.scale
        return PriorMap(values=values, kind=self.kind, focal_px=focal,
                        valid=np.ones(values.shape, dtype=bool))
