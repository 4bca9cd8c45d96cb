#!/usr/bin/env bash
# Installs Debian's redis-server when missing: the tests of what civicdesk shares through Redis (rate limits,
# WeChat access tokens) start their own throwaway server from it.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  echo "ensure-redis: installing Debian's redis-server" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
