#!/usr/bin/env bash
# Packs what the GPU machine lacks (Node.js + npm + headers, and this checkout's
# node_modules) into .device/ at the checkout root, which git ignores, to be sent
# along to the GPU machine. Run from anywhere inside the checkout.
# Usage: scripts/gpu/pack.sh [--no-modules]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git rev-parse --show-toplevel)
cd "$root"
grep -qxF '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
mkdir -p .device
cp "$here/prelude.sh" .device/prelude.sh

if [ ! -f .device/node-pack.tar.xz ]; then
  node_bin=$(readlink -f "$(command -v node)")
  prefix=$(dirname "$(dirname "$node_bin")")
  stage=$(mktemp -d)
  mkdir -p "$stage/bin" "$stage/include" "$stage/lib/node_modules"
  cp "$node_bin" "$stage/bin/node"
  cp -r "$prefix/include/node" "$stage/include/"
  npm_dir=$(npm root -g)/npm
  cp -r "$npm_dir" "$stage/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/bin/npx"
  tar -C "$stage" -cf - bin include lib | xz -T0 -6 > .device/node-pack.tar.xz
  rm -rf "$stage"
fi

if [ "${1:-}" != "--no-modules" ] && [ -d node_modules ]; then
  if [ ! -f .device/node_modules.tar.xz ] || [ package-lock.json -nt .device/node_modules.tar.xz ]; then
    tar -cf - node_modules | xz -T0 -6 > .device/node_modules.tar.xz
  fi
fi
du -sh .device/* | sed 's/^/packed: /'
echo "send .device along and start each GPU-machine command with: source .device/prelude.sh;"
