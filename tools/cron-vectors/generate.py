#!/usr/bin/env python3
"""Generate differential test vectors for the cron dialect from croniter.

Usage:
    pip install croniter
    python3 tools/cron-vectors/generate.py > Tests/SchedulingTests/Vectors/croniter-vectors.json

Draws random expressions (seeded, so the output is reproducible for a given croniter and tzdata)
covering the dialect, random start instants and random zones, and records croniter's next five
occurrences as Unix seconds. Expressions are written in our syntax (seconds field FIRST) and in
croniter's (seconds field LAST, `L5` instead of `5L`).

Shapes whose meaning intentionally differs from croniter are not generated; each exclusion below
says why, and docs/schedules.md ("Differences from croniter") lists them.
"""

import datetime
import importlib.metadata
import json
import random
import sys
from zoneinfo import ZoneInfo

from croniter import croniter

SEED = 20260308
CASES = 4000
OCCURRENCES = 5
# Cases whose start or occurrences come within this many seconds of a UTC-offset change are
# dropped: croniter's DST handling is not the cron rule we implement (tested by hand instead).
DST_MARGIN = 3 * 3600

ZONES = [
    "UTC", "UTC", "UTC",
    "Asia/Kolkata", "Asia/Tokyo", "America/Sao_Paulo",
    "America/New_York", "Europe/Lisbon", "Europe/Berlin", "Australia/Sydney",
    "Australia/Lord_Howe", "Pacific/Auckland",
]
START_MIN = int(datetime.datetime(1995, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
START_MAX = int(datetime.datetime(2060, 1, 1, tzinfo=datetime.timezone.utc).timestamp())

MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

rng = random.Random(SEED)


def maybe_name(value, names, offset, lower_bound):
    """Spell a value as a name sometimes, in random case."""
    if names and rng.random() < 0.3:
        name = names[value - offset]
        return rng.choice([name, name.lower(), name.capitalize()])
    return str(value)


def plain_item(low, high, names=None, name_offset=0, step_max=None, allow_star_step=True):
    """One list element: value, range a-b (a < b), a/n, a-b/n, or */n."""
    step_max = step_max if step_max is not None else high
    span = step_max - low + 1
    kind = rng.choices(["value", "range", "start-step", "range-step", "star-step"],
                       [5, 3, 1, 1, 2 if allow_star_step else 0])[0]
    if kind == "value":
        return maybe_name(rng.randint(low, high), names, name_offset, low)
    if kind == "range":
        # Ranges are never a-a: croniter reads an equal range as the whole cycle.
        a = rng.randint(low, high - 1)
        b = rng.randint(a + 1, high)
        return f"{maybe_name(a, names, name_offset, low)}-{maybe_name(b, names, name_offset, low)}"
    step = rng.randint(1, max(1, span // 2))
    if kind == "start-step":
        return f"{rng.randint(low, step_max)}/{step}"
    if kind == "range-step":
        a = rng.randint(low, step_max - 1)
        b = rng.randint(a + 1, step_max)
        return f"{a}-{b}/{step}"
    return f"*/{step}"


def plain_field(low, high, names=None, name_offset=0, step_max=None, star_weight=3):
    """A whole field: `*` or a list of one to three elements."""
    if rng.random() < star_weight / 10:
        return "*"
    count = rng.choices([1, 2, 3], [6, 3, 1])[0]
    items = [plain_item(low, high, names, name_offset, step_max, allow_star_step=(count == 1))
             for _ in range(count)]
    return ",".join(items)


def day_fields():
    """Day-of-month and day-of-week together, since the OR rule couples them."""
    dom_kind = rng.choices(["star", "question", "plain", "star-step", "L", "W"], [4, 1, 4, 1, 1, 1])[0]
    dow_kind = rng.choices(["star", "question", "plain", "star-step", "last", "nth"], [5, 1, 3, 1, 1, 1])[0]
    # A field starting with `*` counts as unrestricted for the OR rule (Vixie cron); croniter
    # counts `*/n` as restricted. Only generate `*/n` when the other day field is `*` or `?`, where
    # both readings agree.
    if dom_kind == "star-step" and dow_kind not in ("star", "question"):
        dom_kind = "plain"
    if dow_kind == "star-step" and dom_kind not in ("star", "question"):
        dow_kind = "plain"
    # With W in day-of-month or wL / w#k in day-of-week, croniter intersects the two day fields even
    # when both are restricted; we apply the Vixie OR rule uniformly. Pair these specials only with
    # an unrestricted other field, where both readings agree.
    if dom_kind == "W" and dow_kind in ("plain", "last", "nth"):
        dow_kind = rng.choice(["star", "question"])
    if dow_kind in ("last", "nth") and dom_kind in ("plain", "L", "W"):
        dom_kind = rng.choice(["star", "question"])
    # `?` is croniter's `*`; using it in both fields at once is rejected by some crons, so keep one.
    if dom_kind == "question" and dow_kind == "question":
        dow_kind = "star"

    if dom_kind == "star":
        dom = "*"
    elif dom_kind == "question":
        dom = "?"
    elif dom_kind == "plain":
        dom = ",".join(plain_item(1, 31, allow_star_step=False) for _ in range(rng.choices([1, 2, 3], [6, 3, 1])[0]))
    elif dom_kind == "star-step":
        dom = f"*/{rng.randint(1, 15)}"
    elif dom_kind == "L":
        dom = "L"
    else:
        # croniter allows W only as a single value, not in a list.
        dom = f"{rng.randint(1, 31)}W"

    def weekday():
        value = rng.randint(0, 7)
        if value < 7 and rng.random() < 0.3:
            return rng.choice([DAY_NAMES[value], DAY_NAMES[value].lower()])
        return str(value)

    if dow_kind == "star":
        dow = ours = "*"
    elif dow_kind == "question":
        dow = ours = "?"
    elif dow_kind == "plain":
        items = []
        for _ in range(rng.choices([1, 2], [7, 3])[0]):
            if rng.random() < 0.5:
                items.append(weekday())
            else:
                # Ranges stay within 0-6 and never wrap: croniter wraps a-b when a > b, we reject it.
                a = rng.randint(0, 5)
                b = rng.randint(a + 1, 6)
                step = rng.choice(["", "", f"/{rng.randint(1, 3)}"])
                items.append(f"{a}-{b}{step}")
        dow = ours = ",".join(items)
    elif dow_kind == "star-step":
        dow = ours = f"*/{rng.randint(1, 3)}"
    elif dow_kind == "last":
        day = rng.randint(0, 6)
        ours = f"{day}L"
        dow = f"L{day}"
    else:
        # croniter cannot mix w#k with plain weekdays in one field, so lists hold only w#k items.
        items = [f"{rng.randint(0, 6)}#{rng.randint(1, 5)}" for _ in range(rng.choices([1, 2], [8, 2])[0])]
        dow = ours = ",".join(items)
    return dom, dow, ours


def expression():
    """(our expression, croniter's expression)."""
    with_seconds = rng.random() < 0.3
    second = plain_field(0, 59, star_weight=2) if with_seconds else None
    minute = plain_field(0, 59, star_weight=2)
    hour = plain_field(0, 23)
    dom, dow, our_dow = day_fields()
    month = plain_field(1, 12, MONTH_NAMES, 1, star_weight=6)
    ours = [minute, hour, dom, month, our_dow]
    theirs = [minute, hour, dom, month, dow]
    if with_seconds:
        ours.insert(0, second)
        theirs.append(second)
    return " ".join(ours), " ".join(theirs)


def near_transition(zone, timestamps):
    """Whether any UTC-offset change lies within DST_MARGIN of, or between, the timestamps."""
    if zone.key == "UTC":
        return False
    low, high = min(timestamps) - DST_MARGIN, max(timestamps) + DST_MARGIN
    # Offsets are sampled hourly: every transition in these zones lasts longer than that apart.
    def offset(t):
        return datetime.datetime.fromtimestamp(t, zone).utcoffset()
    first = offset(low)
    t = low
    while t < high:
        t = min(t + 3600, high)
        if offset(t) != first:
            return True
    return False


def main():
    cases = []
    skipped = {"croniter-error": 0, "dst": 0}
    attempts = 0
    while len(cases) < CASES:
        attempts += 1
        ours, theirs = expression()
        zone = ZoneInfo(rng.choice(ZONES))
        start = rng.randint(START_MIN, START_MAX)
        alignment = rng.choice([1, 1, 60, 3600, 86400])
        start -= start % alignment
        try:
            it = croniter(theirs, datetime.datetime.fromtimestamp(start, zone),
                          second_at_beginning=False)
            occurrences = [int(it.get_next(float)) for _ in range(OCCURRENCES)]
        except Exception:  # noqa: BLE001 - any croniter rejection just means "not a vector"
            skipped["croniter-error"] += 1
            continue
        if near_transition(zone, [start] + occurrences):
            skipped["dst"] += 1
            continue
        cases.append({
            "expression": ours,
            "croniter": theirs,
            "zone": zone.key,
            "start": start,
            "next": occurrences,
        })
    document = {
        "generator": "tools/cron-vectors/generate.py",
        "croniter": importlib.metadata.version("croniter"),
        "seed": SEED,
        "attempts": attempts,
        "skipped": skipped,
        "cases": cases,
    }
    json.dump(document, sys.stdout, indent=0, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
