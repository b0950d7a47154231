"""Generic geometry: quaternions (xyzw), SE(3)/Sim(3) helpers, pinhole cameras.

NumPy only, float64 unless stated. Conventions: ``T_a_b`` maps points from frame b into frame a
(4x4 homogeneous); camera axes are REP 103 optical (x right, y down, z forward); pixel centres
at integer coordinates.
"""

from __future__ import annotations

from align3r_ros.geometry.camera import (default_intrinsics, default_principal_point,
                                         intrinsics_matrix, pixel_grid, scale_intrinsics,
                                         unproject_depth)
from align3r_ros.geometry.quaternion import quaternion_to_matrix, matrix_to_quaternion
from align3r_ros.geometry.se3 import (compose, invert_transform, make_transform,
                                      transform_points)
from align3r_ros.geometry.sim3 import Sim3, umeyama_alignment

__all__ = [
    'Sim3', 'compose', 'default_intrinsics', 'default_principal_point', 'intrinsics_matrix', 'invert_transform', 'make_transform',
    'matrix_to_quaternion', 'pixel_grid', 'quaternion_to_matrix', 'scale_intrinsics',
    'transform_points', 'umeyama_alignment', 'unproject_depth',
]
