# shellcheck shell=bash
# `ros2 launch` and the ros2 CLI on top of .ci/ros2_env.sh's venv; sourced by it (not alone).
#
# What it does, idempotently (its own stamp, beside the base venv's, which it never rebuilds):
#   1. installs into the SAME venv the launch / CLI subset from
#      ../shared/ros2/ros2-launch-cli-subset.tar.gz (or $ALIGN3R_LAUNCH_TARBALL): the pinned
#      PyPI dependencies below, the pure-Python folders with `pip --no-deps`, and
#      composition_interfaces built with cmake into the venv prefix like tf2_msgs;
#   2. builds this package with `VENV/bin/python -m colcon build --symlink-install` into a
#      scratch workspace ($ALIGN3R_ROS2_WS, default ~/.cache/align3r_ros/ws-<hash of the
#      project path>, whose src/ holds a symlink to the project): the venv's Python, so the
#      installed align3r_node's shebang imports rclpy; symlinks, so edits apply without a
#      rebuild (rebuilt only when setup.py, setup.cfg, package.xml or the launch/config file
#      list change);
#   3. exports what `ros2 launch align3r_ros ...` needs, nothing sourced: AMENT_PREFIX_PATH
#      (workspace install, then the venv), PYTHONPATH (the entries colcon's own setup would add)
#      and PATH (the venv's bin first, for `ros2`).
# Needs the variables _align3r_ros2_setup has set (ALIGN3R_ROS2_VENV).

_align3r_ros2_launch_setup() {
  local root="$1" venv="$2" tarball stamp pins want ws inputs
  tarball="${ALIGN3R_LAUNCH_TARBALL:-$root/../shared/ros2/ros2-launch-cli-subset.tar.gz}"
  # The subset's two missing dependencies, what its packages import at run time, and wheel
  # (the folders are built without build isolation: ~10 s less per folder).
  pins="osrf-pycommon==2.0.2 lark==1.3.1 psutil==7.2.2 argcomplete==3.7.2 packaging==26.2
    wheel==0.48.0"
  stamp="$venv/.align3r_ros2_launch_stamp"
  want="$(printf '%s %s' "$pins" "$(basename "$tarball")" | tr -s ' \n' ' ')"

  # -- 1. the launch / CLI subset ----------------------------------------------------------------
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x "$venv/bin/ros2" ]; then
    [ -f "$tarball" ] || { echo "ros2_env: launch/CLI tarball not found: $tarball" >&2; return 1; }
    echo "ros2_env: adding ros2 launch and the ros2 CLI to $venv ($(basename "$tarball"))" >&2
    _align3r_ros2_install_launch "$venv" "$tarball" "$pins" || return 1
    printf '%s' "$want" > "$stamp"
  fi

  # -- 2. the package, built with the venv's Python into a scratch workspace ---------------------
  ws="${ALIGN3R_ROS2_WS:-$HOME/.cache/align3r_ros/ws-$(printf '%s' "$root" | sha1sum | cut -c1-10)}"
  inputs="$(cd "$root" && cat setup.py setup.cfg package.xml && ls launch config resource)"
  inputs="$(printf '%s' "$inputs" | sha1sum | cut -d' ' -f1)"
  mkdir -p "$ws/src" || return 1
  (
    # one build at a time per workspace (several shells may source this at once)
    flock 9 || exit 1
    if [ "$(cat "$ws/.align3r_build_stamp" 2>/dev/null)" = "$inputs" ] &&
       [ -x "$ws/install/align3r_ros/lib/align3r_ros/align3r_node" ]; then
      exit 0
    fi
    ln -sfn "$root" "$ws/src/align3r_ros"
    cd "$ws" &&
    env -u PYTHONPATH AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" \
      "$venv/bin/python" -m colcon --log-base "$ws/log" build --symlink-install \
        --base-paths "$ws/src" --build-base "$ws/build" --install-base "$ws/install" \
        --event-handlers console_cohesion- summary- status- >"$ws/colcon.out" 2>&1 || {
      echo "ros2_env: colcon build failed (see $ws/colcon.out)" >&2; exit 1; }
    printf '%s' "$inputs" > "$ws/.align3r_build_stamp"
  ) 9>"$ws/.lock" || return 1

  # -- 3. what `ros2 launch` needs (the values colcon's setup scripts would set) -----------------
  export ALIGN3R_ROS2_WS="$ws"
  export AMENT_PREFIX_PATH="$ws/install/align3r_ros:$venv"
  export ALIGN3R_ROS2_AMENT_PREFIX_PATH="$AMENT_PREFIX_PATH"
  local site="$ws/install/align3r_ros/lib/python3.11/site-packages"
  case ":${PYTHONPATH:-}:" in
    *":$ws/build/align3r_ros:"*) ;;
    *) export PYTHONPATH="$ws/build/align3r_ros:$site${PYTHONPATH:+:$PYTHONPATH}" ;;
  esac
  case ":$PATH:" in
    *":$venv/bin:"*) ;;
    *) export PATH="$venv/bin:$PATH" ;;
  esac
}

# The subset into $1: pinned PyPI dependencies ($3), the pure-Python folders, then
# composition_interfaces with cmake (the wheels' CMake files were fixed up by the tf2 build).
_align3r_ros2_install_launch() {
  local venv="$1" tarball="$2" pins="$3" work folders build
  work="$(mktemp -d)"
  tar -xzf "$tarball" -C "$work" || return 1
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q --disable-pip-version-check $pins || return 1
  folders="./rosidl_runtime_py_repo
    ./launch_repo/launch ./launch_repo/launch_xml ./launch_repo/launch_yaml
    ./launch_repo/launch_testing ./launch_repo/launch_pytest
    ./launch_ros_repo/launch_ros ./launch_ros_repo/ros2launch ./launch_ros_repo/launch_testing_ros
    ./ros2cli_repo/ros2cli ./ros2cli_repo/ros2pkg ./ros2cli_repo/ros2node ./ros2cli_repo/ros2topic
    ./ros2cli_repo/ros2service ./ros2cli_repo/ros2param ./ros2cli_repo/ros2lifecycle
    ./ros2cli_repo/ros2run ./ros2cli_repo/ros2interface"
  # shellcheck disable=SC2086
  (cd "$work" && "$venv/bin/pip" install -q --disable-pip-version-check --no-deps \
    --no-build-isolation $folders) ||
    { echo "ros2_env: installing the launch/CLI subset failed" >&2; return 1; }
  build="$work/build/composition_interfaces"
  mkdir -p "$build"
  (
    cd "$build" &&
    AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" \
      cmake "$work/rcl_interfaces_repo/composition_interfaces" -DCMAKE_INSTALL_PREFIX="$venv" \
        -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DPython3_EXECUTABLE="$venv/bin/python3" >/dev/null &&
    AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" make -j2 >/dev/null &&
    make install >/dev/null
  ) || { echo "ros2_env: building composition_interfaces failed (see $build)" >&2; return 1; }
  "$venv/bin/python" -c 'import composition_interfaces.srv, launch_ros, ros2cli' || return 1
  rm -rf "$work"
}
