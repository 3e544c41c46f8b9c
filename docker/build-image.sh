#!/usr/bin/env bash
# Builds sealq's image and the example client's image of docker/compose.yaml
# on a machine without a container registry: the binaries are compiled here,
# static (glibc with crt-static), and the runtime stages of the top-level
# Dockerfile are built on them, with its builder stage replaced by a stage
# holding these binaries. Needs cargo, a C compiler and a Docker engine; no
# base image.
#
#   docker/build-image.sh [TAG]     TAG defaults to sealq:dev; the client's
#                                   image is sealq-compose-client:<TAG's tag>
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-sealq:dev}
case $tag in
  *:*) version_tag=${tag##*:} ;;
  *) version_tag=latest ;;
esac
client_tag="sealq-compose-client:$version_tag"

triple="$(uname -m)-unknown-linux-gnu"
echo "build-image: compiling static binaries for $triple (profile container)"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --profile container \
  --target "$triple" --bin sealq --example compose-client
out="target/$triple/container"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/out/data"
cp "$out/sealq" "$ctx/out/sealq"
cp "$out/examples/compose-client" "$ctx/out/compose-client"

# The same runtime stages as `docker build .`, on a builder stage that is
# just the binaries compiled above.
marker='^# ---- runtime stages'
grep -q "$marker" Dockerfile || { echo "build-image: no runtime stages marker in Dockerfile" >&2; exit 1; }
{
  echo "FROM scratch AS builder"
  echo "LABEL org.sealq.build-stage=binaries"
  echo "COPY out/ /out/"
  sed -n "/$marker/,\$p" Dockerfile
} > "$ctx/Dockerfile"

version=$("$out/sealq" --version | awk '{print $2}')
source=$(git remote get-url origin 2>/dev/null || true)
args=(--build-arg "SEALQ_VERSION=$version")
[ -n "$source" ] && args+=(--build-arg "SEALQ_SOURCE=$source")

docker build --quiet "${args[@]}" --target sealq -t "$tag" "$ctx" >/dev/null
docker build --quiet --target client -t "$client_tag" "$ctx" >/dev/null
# The binaries stage is left behind untagged by each build; drop those.
docker image prune --force --filter label=org.sealq.build-stage=binaries >/dev/null
echo "build-image: built $tag ($(docker image inspect -f '{{.Size}}' "$tag") bytes) and $client_tag"
