#!/usr/bin/env bash
# setup.sh: install what is missing from Debian's packages (quiet and quick when all is there),
# then configure and build into build/ (Release).
#   scripts/setup.sh            install + build
#   TDP_NO_TORCH=1 ...          skip python3-torch (only the PyTorch reference test needs it)
#   BUILD_DIR=dir ...           another build directory
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config libopenblas-dev libopenmpi-dev openmpi-bin zlib1g-dev iproute2
      libcurl4-openssl-dev python3 gnuplot-nox
      dataset-fashion-mnist)
[[ "${TDP_NO_TORCH:-0}" == 1 ]] || pkgs+=(python3-torch python3-numpy)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [[ $(id -u) == 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

build="${BUILD_DIR:-build}"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
    if [[ $build == build ]]; then
        cmake --preset release >/dev/null # CMakePresets.json
    else
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
fi
cmake --build "$build" -j "$(nproc)" >/dev/null
