#!/usr/bin/env bash
# Install Debian's Chromium for the browser test when it is missing (the test drives it
# with Playwright, which then needs no browser download of its own).
set -eu
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "browser: chromium is missing and cannot be installed here (needs root and apt-get)" >&2
  exit 0
fi
echo "browser: installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
chromium --version
