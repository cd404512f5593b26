#!/usr/bin/env bash
# Installs Prometheus from Debian's `prometheus` package when it is not on PATH,
# for the dashboards test and for local use without Docker. Needs root (or sudo)
# and a Debian/Ubuntu apt. Prints the binary's path on stdout.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1; then
  command -v prometheus
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "prometheus is not installed and apt-get is not available: install Prometheus 2.x yourself and put it on PATH (https://prometheus.io/download/)" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "installing prometheus needs root: run 'apt-get install -y prometheus' as root, or put a prometheus binary on PATH" >&2
    exit 1
  fi
fi

# the package lists are refreshed only when they do not offer the package yet
if ! apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  echo "prometheus: refreshing the apt package lists" >&2
  $SUDO apt-get update >&2
fi
echo "prometheus: installing Debian's prometheus package" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >&2
command -v prometheus
