#!/usr/bin/env bash
# Takes a snapshot of a live Almanac data directory into a dated directory, and prunes old
# ones. Meant for cron or a systemd timer; safe while the server runs.
#
#   tools/snapshot.sh DATA_DIR SNAPSHOT_ROOT [KEEP]
#
#   DATA_DIR       the server's --data-dir
#   SNAPSHOT_ROOT  where snapshots go: SNAPSHOT_ROOT/almanac-<UTC instant, to the millisecond>
#   KEEP           how many snapshots to keep (default 7; older ones are deleted)
#
# Environment: ALMANAC (the almanac binary; default: almanac on PATH, else
# .build/release/almanac next to this script's repository).
# Exit status: 0 on success; non-zero, with the reason on standard error, otherwise.
#
# Example crontab line (hourly, keep a day):
#   0 * * * *  /opt/almanac/tools/snapshot.sh /var/lib/almanac /var/backups/almanac 24
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 64; }
[ $# -ge 2 ] && [ $# -le 3 ] || usage
data="$1"; root="$2"; keep="${3:-7}"
[[ "$keep" =~ ^[0-9]+$ ]] && [ "$keep" -ge 1 ] || { echo "snapshot.sh: KEEP must be a whole number ≥ 1" >&2; exit 64; }

almanac="${ALMANAC:-}"
if [ -z "$almanac" ]; then
  if command -v almanac >/dev/null; then almanac="$(command -v almanac)"
  else almanac="$(cd "$(dirname "$0")/.." && pwd)/.build/release/almanac"; fi
fi
[ -x "$almanac" ] || { echo "snapshot.sh: no almanac binary at $almanac (set ALMANAC)" >&2; exit 1; }

mkdir -p "$root"
out="$root/almanac-$(date -u +%Y%m%dT%H%M%S.%3NZ)"
"$almanac" snapshot --data-dir "$data" "$out"

# Prune: keep the newest KEEP snapshots (names sort by time).
mapfile -t all < <(find "$root" -maxdepth 1 -mindepth 1 -type d -name 'almanac-*' | sort)
excess=$(( ${#all[@]} - keep ))
for (( i = 0; i < excess; i++ )); do
  rm -rf -- "${all[$i]}"
  echo "snapshot.sh: pruned ${all[$i]}"
done
