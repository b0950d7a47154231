"""align3r_ros: temporally consistent monocular depth, point clouds and poses (Align3R, CVPR 2025).

Import-light on purpose: importing the package pulls in neither torch nor rclpy.
"""

__version__ = '0.1.0'
