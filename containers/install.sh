#!/bin/sh
# The contents of the calmodel image, on any Debian bookworm root file system (a
# debootstrap minbase, debian:bookworm-slim, ...). Used unchanged by BOTH recipes:
#   containers/calmodel.def   (Apptainer, %post)      containers/Containerfile (OCI, RUN)
# Run as root inside the image, with the repository's sources at $1:
#   sh containers/install.sh /opt/calmodel/src
# It installs the system libraries CASA needs, a venv at /opt/calmodel/venv with exactly
# requirements.txt, calmodel itself, the offline CASA site config at /opt/casa, then runs
# `calmodel env --no-nextflow` as the image's test and records its output in the image.
# Behind a TLS-intercepting proxy, pass the proxy's CA bundle in PIP_CERT (a build-time
# mount); nothing of it stays in the image.
set -eu

SRC=${1:-/opt/calmodel/src}
PREFIX=/opt/calmodel
VENV=$PREFIX/venv
CASA_SITE_DIR=/opt/casa
# The module that writes CASA's offline site config (python -m <module>): one line to re-point.
CASA_SITE_MODULE=calmodel.core.casa

export DEBIAN_FRONTEND=noninteractive
[ -n "${PIP_CERT:-}" ] || unset PIP_CERT
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || echo "install.sh: warning: made for Debian bookworm (python3.11), found ${PRETTY_NAME:-unknown}" >&2

# System: CPython 3.11 (the CASA 6.7 wheels are cp311), CA certificates for pip, and the
# shared libraries casatools/PyBDSF/matplotlib load at run time; procps gives Nextflow's
# task wrapper `ps` for its trace metrics.
apt-get update
apt-get install -y --no-install-recommends \
    python3.11 python3.11-venv ca-certificates \
    libgomp1 libgfortran5 libfontconfig1 libxrender1 libxext6 procps
apt-get clean
rm -rf /var/lib/apt/lists/*

# Python: exactly the pinned list, then calmodel itself (no second list of versions here).
python3.11 -m venv "$VENV"
"$VENV/bin/pip" install --no-cache-dir --disable-pip-version-check -r "$SRC/requirements.txt"
"$VENV/bin/pip" install --no-cache-dir --disable-pip-version-check --no-deps "$SRC"

# Offline CASA: measures from casadata, auto-updates off; casaconfig reads /opt/casa first.
mkdir -p "$CASA_SITE_DIR"
CALMODEL_SITE_DIR="$CASA_SITE_DIR" "$VENV/bin/python" -m "$CASA_SITE_MODULE"

# The environment of every engine: Apptainer's %environment and the OCI ENV say the same;
# Charliecloud's ch-run reads /ch/environment (with --set-env).
mkdir -p /ch
cat > /ch/environment <<ENV
PATH=$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
MPLBACKEND=Agg
ENV

# The image's test, and its record of exact versions (read by `calmodel env` users and
# by the build script, which copies it into the image's labels).
export HOME=${HOME:-/root}
"$VENV/bin/calmodel" env --no-nextflow --json "$PREFIX/calmodel-env.json" | tee "$PREFIX/calmodel-env.txt"
"$VENV/bin/pip" freeze --all > "$PREFIX/pip-freeze.txt"
dpkg-query -W -f '${Package}=${Version}\n' > "$PREFIX/dpkg.txt"
rm -rf /root/.cache
