#!/usr/bin/env bash
# Build the calmodel OCI image here, without any container registry:
#   1. debootstrap a Debian bookworm minbase root file system from the configured apt mirror
#   2. import it into podman as the base image
#   3. podman build containers/Containerfile on that base (it runs containers/install.sh)
#   4. add labels with the exact versions the image's own `calmodel env` printed
#   5. optionally (--charliecloud DIR) unpack the image into a Charliecloud directory image
# Root; podman configured by scripts/podman-setup.sh. Idempotent: steps 1-2 are skipped
# when the base image exists, and podman's layer cache makes an unchanged rebuild quick.
#
#   scripts/build-image.sh [--charliecloud DIR]
# Environment: CALMODEL_IMAGE (default localhost/calmodel:0.1.0), CALMODEL_BUILD_DIR
# (default build/image), DEBIAN_MIRROR (default: the host's apt source for bookworm).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
IMAGE=${CALMODEL_IMAGE:-localhost/calmodel:0.1.0}
BASE=${CALMODEL_BASE_IMAGE:-localhost/calmodel-base:bookworm}
BUILD=${CALMODEL_BUILD_DIR:-$REPO/build/image}
CH_DIR=
[ "${1:-}" = --charliecloud ] && CH_DIR=${2:?--charliecloud needs a directory}

die() { echo "build-image: $*" >&2; exit 1; }
step() { echo "build-image: $* ($(date +%T))"; }
command -v podman >/dev/null || die "podman not found: apt-get install -y podman runc"

host_mirror() {  # the first non-security Debian source the host's apt uses
    local uri
    uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n 1)
    [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        | awk '$3 ~ /^bookworm$/ {print $2}' | head -n 1)
    echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${DEBIAN_MIRROR:-$(host_mirror)}

if ! podman image exists "$BASE"; then
    command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install -y debootstrap"
    rootfs="$BUILD/rootfs"
    step "debootstrap bookworm minbase from $MIRROR"
    rm -rf "$rootfs" && mkdir -p "$BUILD"
    debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$BUILD/debootstrap.log" 2>&1 \
        || { tail -n 20 "$BUILD/debootstrap.log" >&2; die "debootstrap failed (log: $BUILD/debootstrap.log)"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    step "import into podman as $BASE"
    tar -C "$rootfs" --numeric-owner -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
    rm -rf "$rootfs"
fi

# The build context holds only what the install script needs (as .dockerignore says).
ctx="$BUILD/context"
rm -rf "$ctx" && mkdir -p "$ctx/containers"
cp "$REPO"/{requirements.txt,pyproject.toml,README.md} "$ctx/"
cp -r "$REPO/src" "$ctx/src"
find "$ctx/src" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
cp "$REPO/containers/install.sh" "$REPO/containers/Containerfile" "$ctx/containers/"

# Behind a TLS-intercepting proxy pip needs the host's CA bundle: mounted for the build only.
ca_args=()
ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca" ] && ca_args=(-v "$ca:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt)
revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] || revision="$revision-dirty"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/pyproject.toml")

step "podman build $IMAGE from $BASE"
podman build --network host --build-arg BASE="$BASE" --build-arg VERSION="$version" \
    --build-arg REVISION="$revision" "${ca_args[@]}" \
    -f "$ctx/containers/Containerfile" -t "$IMAGE.unlabelled" "$ctx"

# Exact versions, as the image itself reports them, become labels of the final image.
env_json=$(podman run --rm --network none "$IMAGE.unlabelled" cat /opt/calmodel/calmodel-env.json)
labels=$(podman run --rm --network none "$IMAGE.unlabelled" \
    python -c 'import json,sys; r=json.load(open("/opt/calmodel/calmodel-env.json"));
print(" ".join(f"io.calmodel.version.{k.lower()}={v}" for k,v in sorted(r["versions"].items()) if " " not in str(v)))')
label_args=()
for kv in $labels; do label_args+=(--label "$kv"); done
printf 'FROM %s\n' "$IMAGE.unlabelled" | podman build --network none "${label_args[@]}" \
    --label "io.calmodel.requirements.sha256=$(sha256sum "$REPO/requirements.txt" | cut -d' ' -f1)" \
    -t "$IMAGE" -f - "$ctx" >/dev/null
podman rmi "$IMAGE.unlabelled" >/dev/null 2>&1 || true
echo "$env_json" > "$BUILD/calmodel-env.json"
podman image inspect "$IMAGE" --format '{{.Id}}' > "$BUILD/image-id"
step "built $IMAGE ($(cut -c1-12 "$BUILD/image-id")); versions in $BUILD/calmodel-env.json and the image's labels"

if [ -n "$CH_DIR" ]; then
    step "unpack into the Charliecloud directory image $CH_DIR"
    rm -rf "$CH_DIR" && mkdir -p "$CH_DIR"
    cid=$(podman create "$IMAGE")
    podman export "$cid" | tar -C "$CH_DIR" -x
    podman rm "$cid" >/dev/null
fi
