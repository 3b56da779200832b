#!/usr/bin/env bash
# Installs every build, test and demo dependency of OsteoScout from Debian's archive.
# Idempotent: safe to run on every CI start; does nothing slow when all is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libdcmtk-dev dcmtk dicom3tools orthanc
  libtorch-dev python3-torch
  libuv1-dev libsqlite3-dev sqlite3 libinih-dev libcjson-dev libsystemd-dev
  libcmocka-dev libopenjp2-7-dev libcairo2-dev fonts-dejavu-core
  python3
  # osteoscout evaluate's reference test: survival, riskRegression, pROC and sklearn
  r-base-core r-cran-survival r-cran-riskregression r-cran-proc python3-sklearn python3-numpy
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
