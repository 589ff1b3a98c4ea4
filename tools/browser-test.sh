#!/usr/bin/env bash
# Runs the web UI's browser test (Tests/Browser/ui_test.py): real headless Chromium driven by
# Selenium against the built `almanac serve` and a local webhook receiver. Installs Debian's
# chromium and chromium-driver and a pinned selenium (in .build/browser-venv) when missing.
# Part of `make test`. Screenshots of every page: .build/browser-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

selenium_version="4.51.0"
venv="$PWD/.build/browser-venv"
run=(); [ "$(id -u)" -eq 0 ] || run=(sudo)

missing=()
for package in chromium chromium-driver python3-venv; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "browser-test: installing ${missing[*]}" >&2
  "${run[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${run[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! "$venv/bin/python" -c "import selenium, sys; sys.exit(selenium.__version__ != '$selenium_version')" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "selenium==$selenium_version"
fi

swift build --product almanac >/dev/null
rm -rf .build/browser-screenshots
timeout 600 "$venv/bin/python" Tests/Browser/ui_test.py
