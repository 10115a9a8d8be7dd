#!/usr/bin/env bash
# Install the Azurite blob emulator from the npm registry under .aiflow-test/azurite
# (ignored by git). The blob tests find it there; CI runs this before pytest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
prefix="$root/.aiflow-test/azurite"
if [ -x "$prefix/node_modules/.bin/azurite-blob" ]; then
    echo "azurite already installed in $prefix"
    exit 0
fi
mkdir -p "$prefix"
npm install --no-audit --no-fund --loglevel=error --prefix "$prefix" azurite@3
echo "azurite installed in $prefix"
