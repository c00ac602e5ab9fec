#!/usr/bin/env bash
# Install the Debian 12 packages ichseg builds against, only those missing (idempotent). Sourced by the
# README's commands and by CI. Uses sudo when not root.
set -euo pipefail
ICHSEG_DEBIAN_PACKAGES=(
    build-essential cmake pkg-config
    libeigen3-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
    catch2 libbenchmark-dev
    libdcmtk-dev dcmtk libniftiio-dev libnifti2-dev libznz-dev zlib1g-dev libopenjp2-7-dev
    clang libclang-rt-14-dev
    python3
)
missing=()
for p in "${ICHSEG_DEBIAN_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "ichseg: installing missing Debian packages: ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
