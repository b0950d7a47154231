"""rosbag2 / ROS 1 bags through ``rosbags`` (no ROS installation): reading, rectification,
frames -> bag, engine results -> the node's output topics, and the replay runner."""
