#!/usr/bin/env bash
# Restores an Almanac data directory from a snapshot, after verifying it (size, CRC32C, and
# a full audit of a staged copy). The server must be stopped; the previous directory is kept
# as DATA_DIR.before-restore-<UTC instant>.
#
#   tools/restore.sh SNAPSHOT DATA_DIR
#   tools/restore.sh --latest SNAPSHOT_ROOT DATA_DIR     the newest almanac-* in SNAPSHOT_ROOT
#
# Environment: ALMANAC (the almanac binary; default: almanac on PATH, else
# .build/release/almanac next to this script's repository).
# Exit status: 0 when restored; non-zero otherwise, with the data directory untouched.
#
# With systemd:  systemctl stop almanac && tools/restore.sh SNAPSHOT /var/lib/almanac && systemctl start almanac
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 64; }
if [ "${1:-}" = "--latest" ]; then
  [ $# -eq 3 ] || usage
  [ -d "$2" ] || { echo "restore.sh: $2 is not a directory of snapshots" >&2; exit 1; }
  snapshot="$(find "$2" -maxdepth 1 -mindepth 1 -type d -name 'almanac-*' | sort | tail -n 1)"
  [ -n "$snapshot" ] || { echo "restore.sh: no snapshot in $2" >&2; exit 1; }
  data="$3"
else
  [ $# -eq 2 ] || usage
  snapshot="$1"; data="$2"
fi

almanac="${ALMANAC:-}"
if [ -z "$almanac" ]; then
  if command -v almanac >/dev/null; then almanac="$(command -v almanac)"
  else almanac="$(cd "$(dirname "$0")/.." && pwd)/.build/release/almanac"; fi
fi
[ -x "$almanac" ] || { echo "restore.sh: no almanac binary at $almanac (set ALMANAC)" >&2; exit 1; }

echo "restore.sh: restoring $data from $snapshot"
"$almanac" restore "$snapshot" --data-dir "$data"
