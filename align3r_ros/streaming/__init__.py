"""The engine's parts: frame preparation, the keyframe and clip stages, streaming and offline
(hierarchical / flat) alignment, metric scale, dynamic masks and result assembly.

:mod:`align3r_ros.engine` composes them; nothing here imports ROS.
"""
