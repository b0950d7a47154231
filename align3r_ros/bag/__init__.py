"""rosbag2 / ROS 1 bags through ``rosbags`` (no ROS installation), transport only: reading bags
into frames, frames -> bag, engine results -> the node's output topics, staged writing. The
replay use case (bag -> engine -> bag + report) is ``align3r_ros.tools.replay_run``."""
