# Sourced by scripts/demo.sh and .ci/run: the Debian/Ubuntu packages Qt's xcb platform needs, and a check.
# Without them Qt aborts (exit 134) with a misleading "xcb-cursor0" message; say the exact fix first.
QT_DEBS="libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 fonts-dejavu-core"

# ensure_qt_debs: installs what is missing when run as root with apt-get; otherwise prints the command
# and returns 1. Returns 0 when nothing is missing or the system is not Debian-like (no dpkg).
ensure_qt_debs() {
  command -v dpkg >/dev/null 2>&1 || return 0
  local missing="" pkg
  for pkg in $QT_DEBS; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages Qt needs:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing && return 0
    echo "warning: could not install$missing" >&2
    return 1
  fi
  echo "The app needs these system libraries for Qt, not installed here:$missing" >&2
  echo "Install them with:  sudo apt-get install$missing" >&2
  return 1
}
