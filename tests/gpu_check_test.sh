#!/usr/bin/env bash
# bench/gpu-check.sh end to end with --device cpu (CI has no GPU): it must prove the device, batchify the models,
# measure each batch size with and without IoBinding and compare against the CPU, and its JSON must say so.
# Usage: gpu_check_test.sh SOURCE_DIR FACEFILL_BINARY
set -euo pipefail
src=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
FACEFILL_BIN=$2 "$src/bench/gpu-check.sh" --device cpu --images 4 --batches "1 8" --out "$out" >/dev/null
python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["device"] == "cpu" and r["runs_on_device"], r
runs = r["throughput"]
assert [(x["batch"], x["io_binding"]) for x in runs] == [(1, False), (1, True), (8, False), (8, True)], runs
for x in runs:
    assert x["images"] == 4 and x["faces"] > 0 and x["images_per_second"] > 0 and x["faces_per_second"] > 0, x
    assert 1 <= x["detect_calls"] <= 4, x
assert len({x["faces"] for x in runs}) == 1, "the batch size or IoBinding changed the faces found"
assert runs[0]["detect_calls"] == 4, "batch 1 is one image per detector call"
assert r["batchified"]["recognizer"], "the default pack's recogniser takes a batch after models batchify"
c = r["against_cpu"]
assert c["face_counts_match"] and c["max_box_px"] < 1e-3 and c["min_embedding_cosine"] > 0.9999, c
print("gpu-check on cpu:", json.dumps(runs))
PY
