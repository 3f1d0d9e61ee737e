#!/usr/bin/env bash
# Install the Debian 12 packages dmn needs, only those missing (fast the
# second time).  Works as root or as a user with sudo.
set -euo pipefail
PKGS=(build-essential cmake pkg-config git libopenmpi-dev openmpi-bin petsc-dev libhdf5-openmpi-dev libyaml-dev zlib1g-dev libmujoco-dev "$@")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "dmn: installing missing packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
