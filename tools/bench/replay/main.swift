// bench-replay: replay, snapshot start-up and memory per task (see docs/benchmarks.md).
print("bench-replay: not written yet")
