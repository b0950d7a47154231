"""The ONNX I/O contract of monocular depth priors (version 1). Standard library only.

A prior ONNX model that follows it runs in :mod:`align3r_ros.backends.prior_onnx` without code:

Graph
    * one input ``rgb``: float32 (1, 3, h, w), RGB, ``(pixel / 255 - mean) / std``; h and w
      either dynamic or fixed in the graph.
    * output ``prior``: float32 with h' * w' elements, shaped (1, 1, h', w'), (1, h', w') or
      (h', w'), at the network resolution (h' x w' need not equal h x w).
    * optional output ``fov_deg``: float32, one element, the predicted horizontal field of view
      in degrees (required by the ``canonical_inverse_depth`` encoding when the camera focal
      is unknown).

Metadata (``metadata_props``, all strings)
    ``align3r.contract``        '1'
    ``align3r.prior_kind``      'metric_depth' | 'relative_depth' | 'disparity' (what the
                                host returns after decoding)
    ``align3r.output_encoding`` 'direct': ``prior`` holds the prior itself;
                                'canonical_inverse_depth': Depth Pro's f_px / W-scaled
                                inverse depth: host computes f = fx (known) or
                                0.5 W / tan(fov / 2), inverse = prior * W / f, resizes it to
                                (H, W) and returns depth = 1 / clamp(inverse, 1e-4, 1e4) m.
    ``align3r.resize``          'lower_bound': keep aspect, both sides >= input_size, rounded to
                                multiples of ``multiple_of`` (Depth Anything V2's rule);
                                'fixed': stretch to ``input_hw``.
    ``align3r.input_size``      int, for 'lower_bound'.
    ``align3r.multiple_of``     int, for 'lower_bound' (default 1).
    ``align3r.input_hw``        'H,W', for 'fixed'.
    ``align3r.input_interpolation``  'cubic' (OpenCV INTER_CUBIC) | 'linear' (INTER_LINEAR,
                                half-pixel; = torch bilinear, align_corners=False).
    ``align3r.mean``, ``align3r.std``  three comma-separated floats.
    ``align3r.output_align_corners``  '1' | '0': bilinear upsampling of the output to (H, W)
                                with align_corners True (Depth Anything V2) or False (Depth Pro).
    ``align3r.model``           free text (logs only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Tuple

from align3r_ros.config import PriorKind
from align3r_ros.errors import WeightsError

CONTRACT_VERSION = '1'
PREFIX = 'align3r.'
INPUT_NAME = 'rgb'
OUTPUT_NAME = 'prior'
FOV_OUTPUT_NAME = 'fov_deg'
ENCODINGS = ('direct', 'canonical_inverse_depth')
RESIZES = ('lower_bound', 'fixed')
INTERPOLATIONS = ('cubic', 'linear')


@dataclass(frozen=True)
class PriorOnnxContract:
    """Decoded ``align3r.*`` metadata of a prior ONNX model (see the module docstring)."""

    prior_kind: PriorKind
    output_encoding: str = 'direct'
    resize: str = 'lower_bound'
    input_size: int = 518
    multiple_of: int = 1
    input_hw: Tuple[int, int] = (0, 0)
    input_interpolation: str = 'cubic'
    mean: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: Tuple[float, float, float] = (1.0, 1.0, 1.0)
    output_align_corners: bool = False
    model: str = ''

    def __post_init__(self) -> None:
        problems = []
        if self.output_encoding not in ENCODINGS:
            problems.append(f'output_encoding {self.output_encoding!r} not in {ENCODINGS}')
        if self.resize not in RESIZES:
            problems.append(f'resize {self.resize!r} not in {RESIZES}')
        if self.input_interpolation not in INTERPOLATIONS:
            problems.append(f'input_interpolation {self.input_interpolation!r} not in '
                            f'{INTERPOLATIONS}')
        if self.resize == 'lower_bound' and (self.input_size < 1 or self.multiple_of < 1):
            problems.append(f'input_size {self.input_size} / multiple_of {self.multiple_of} '
                            'must be >= 1')
        if self.resize == 'fixed' and min(self.input_hw) < 1:
            problems.append(f'input_hw {self.input_hw} must be two positive ints')
        if len(self.mean) != 3 or len(self.std) != 3 or any(s == 0 for s in self.std):
            problems.append(f'mean {self.mean} / std {self.std} must be 3 floats, std != 0')
        if (self.output_encoding == 'canonical_inverse_depth'
                and self.prior_kind != PriorKind.METRIC_DEPTH):
            problems.append('canonical_inverse_depth decodes to metric_depth, not '
                            f'{self.prior_kind}')
        if problems:
            raise WeightsError('invalid prior ONNX contract: ' + '; '.join(problems))

    def to_metadata(self) -> Dict[str, str]:
        """The ``metadata_props`` an exporter writes."""
        return {
            PREFIX + 'contract': CONTRACT_VERSION,
            PREFIX + 'prior_kind': str(self.prior_kind),
            PREFIX + 'output_encoding': self.output_encoding,
            PREFIX + 'resize': self.resize,
            PREFIX + 'input_size': str(self.input_size),
            PREFIX + 'multiple_of': str(self.multiple_of),
            PREFIX + 'input_hw': f'{self.input_hw[0]},{self.input_hw[1]}',
            PREFIX + 'input_interpolation': self.input_interpolation,
            PREFIX + 'mean': ','.join(repr(float(v)) for v in self.mean),
            PREFIX + 'std': ','.join(repr(float(v)) for v in self.std),
            PREFIX + 'output_align_corners': '1' if self.output_align_corners else '0',
            PREFIX + 'model': self.model,
        }

    @classmethod
    def from_metadata(cls, props: Mapping[str, str], source: str = 'ONNX model'
                      ) -> 'PriorOnnxContract':
        """Parse ``metadata_props``.

        Raises:
            WeightsError: no contract, another version, or malformed values (naming them).
        """
        version = props.get(PREFIX + 'contract')
        if version is None:
            raise WeightsError(f'{source} has no align3r.contract metadata; export it with '
                               'align3r-export-onnx or add the metadata of the prior ONNX '
                               'contract (README)')
        if version != CONTRACT_VERSION:
            raise WeightsError(f'{source} follows prior ONNX contract {version!r}; this '
                               f'version reads {CONTRACT_VERSION!r}')
        try:
            def get(key: str, default: str) -> str:
                return props.get(PREFIX + key, default)

            def floats(key: str, default: str) -> Tuple[float, ...]:
                return tuple(float(v) for v in get(key, default).split(','))

            hw = tuple(int(v) for v in get('input_hw', '0,0').split(','))
            return cls(
                prior_kind=PriorKind(get('prior_kind', '')),
                output_encoding=get('output_encoding', 'direct'),
                resize=get('resize', 'lower_bound'),
                input_size=int(get('input_size', '518')),
                multiple_of=int(get('multiple_of', '1')),
                input_hw=(hw[0], hw[1]),
                input_interpolation=get('input_interpolation', 'cubic'),
                mean=floats('mean', '0,0,0'),
                std=floats('std', '1,1,1'),
                output_align_corners=get('output_align_corners', '0') == '1',
                model=get('model', ''),
            )
        except (ValueError, IndexError) as exc:
            raise WeightsError(f'{source}: malformed align3r.* metadata ({exc})') from exc
