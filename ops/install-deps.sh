#!/usr/bin/env bash
# Installs encore's build and test dependencies from Debian's packages.
# Idempotent: packages already present are left alone, and apt is only asked
# when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev librocksdb-dev libabsl-dev
  libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libcivetweb-dev libgtest-dev libgmock-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libbenchmark-dev
  openjdk-17-jdk-headless maven
  libssl-dev libxxhash-dev libcurl4-openssl-dev libexpat1-dev libjemalloc-dev
  kcat python3 python3-venv curl prometheus
  time
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# A machine with a JDK or Maven installed outside Debian's packages counts too.
if command -v java >/dev/null && java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])'; then
  missing=("${missing[@]/openjdk-17-jdk-headless/}")
fi
if command -v mvn >/dev/null; then
  missing=("${missing[@]/maven/}")
fi
read -r -a missing <<<"${missing[*]:-}"

if ((${#missing[@]} == 0)); then
  echo "install-deps: everything present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
