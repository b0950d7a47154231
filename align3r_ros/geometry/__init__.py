"""The one geometry vocabulary: quaternions (xyzw), SE(3)/Sim(3) and Umeyama, pinhole cameras
(K construction, the default principal point, unprojection).

NumPy only, float64 unless stated. Conventions: ``T_a_b`` maps points from frame b into frame a
(4x4 homogeneous); camera axes are REP 103 optical (x right, y down, z forward); pixel centres
at integer coordinates; an unknown principal point is (W/2, H/2).
"""

from __future__ import annotations

from align3r_ros.geometry.camera import (default_intrinsics, default_principal_point,
                                         image_plane_coordinates, intrinsics_matrix, pixel_rays,
                                         unproject_depth)
from align3r_ros.geometry.quaternion import (matrix_to_quaternion, orthonormalise_rotation,
                                             quaternion_to_matrix)
from align3r_ros.geometry.se3 import (invert_transform, make_transform, relative_transform,
                                      transform_points)
from align3r_ros.geometry.sim3 import Sim3, umeyama_alignment

__all__ = [
    'Sim3', 'default_intrinsics', 'default_principal_point', 'image_plane_coordinates',
    'intrinsics_matrix', 'invert_transform', 'make_transform', 'matrix_to_quaternion',
    'orthonormalise_rotation', 'pixel_rays', 'quaternion_to_matrix', 'relative_transform',
    'transform_points', 'umeyama_alignment', 'unproject_depth',
]
