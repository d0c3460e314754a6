#!/usr/bin/env bash
# Installs what promstack and its tests need on a fresh Debian machine: the Prometheus tool chain
# from Debian, a Docker engine, and a venv with promstack. Safe to run again (it skips what is there).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter
  prometheus-redis-exporter prometheus-postgres-exporter prometheus-mysqld-exporter prometheus-pushgateway
  redis-server busybox-static docker.io docker-compose
)

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
  for svc in prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter \
             prometheus-redis-exporter prometheus-postgres-exporter prometheus-mysqld-exporter \
             prometheus-pushgateway redis-server; do
    (command -v systemctl >/dev/null && systemctl disable --now "$svc" >/dev/null 2>&1) || true
  done
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> python venv in .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import generator, pytest, hypothesis" 2>/dev/null; then
  echo "==> pip install -e .[dev]"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[dev]"
fi
echo "==> promstack installed: .venv/bin/promstack"
