#!/usr/bin/env bash
# Install the Debian packages the tests use when they are missing: Chromium for the
# browser test (driven by Playwright, which then needs no browser download of its own),
# and unixODBC with FreeTDS's ODBC driver, without which pyodbc (the SQL Server adapter's
# driver) cannot be imported.
set -eu
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libodbc.so.2' || missing+=(unixodbc)
odbcinst -q -d 2>/dev/null | grep -q FreeTDS || missing+=(tdsodbc)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-packages: ${missing[*]} missing and cannot be installed here (needs root and apt-get)" >&2
  exit 0
fi
echo "system-packages: installing Debian's ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
