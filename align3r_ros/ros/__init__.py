"""The ROS 2 layer: the only package code importing rclpy, message packages and tf2_ros.

Importing this package imports nothing from ROS; the modules below do.
"""
