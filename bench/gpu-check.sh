#!/usr/bin/env bash
# The device check a GPU host runs (in well under 5 minutes): proves facefill's models run on the requested device
# (a fall-back to the CPU fails the check), measures a backfill's images/s and faces/s at several face batch sizes,
# compares the device's boxes, scores and embeddings with the CPU's on the same photos, samples GPU memory, and
# prints one JSON object. `--device cpu` runs the same steps on the CPU, which is how the test suite knows it works.
#
#   bench/gpu-check.sh [--device cuda|cuda:N|cpu] [--images N] [--profile 3mp|12mp] [--batches "1 8 32 64"]
#                      [--detector F.onnx] [--recognizer F.onnx] [--out FILE]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
facefill=${FACEFILL_BIN:-$root/build/tools/facefill/facefill}
device=cuda
images=64
profile=3mp
batches="1 8 32 64"
out=""
model_flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --detector | --recognizer | --models) model_flags+=("$1" "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: bench/gpu-check.sh [--device D] [--images N] [--profile P] [--batches \"1 8\"] [--detector F]" \
         "[--recognizer F] [--models DIR] [--out FILE]" >&2; exit 2 ;;
  esac
done
[ -x "$facefill" ] || { echo "gpu-check: $facefill not built (scripts/build.sh)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "gpu-check: needs python3 for the comparison and the JSON" >&2; exit 2; }

work=$(mktemp -d)
sampler=""
trap '[ -n "$sampler" ] && kill "$sampler" 2>/dev/null; rm -rf "$work"' EXIT
log() { echo "gpu-check: $*" >&2; }

# GPU memory, sampled every half second while the check runs (none on a host without nvidia-smi).
if command -v nvidia-smi >/dev/null 2>&1; then
  (while nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >>"$work/gpu-memory.txt" 2>/dev/null; do
    sleep 0.5; done) &
  sampler=$!
fi

log "generating $images $profile images"
"$facefill" corpus --out "$work/corpus" --count "$images" --profile "$profile" >/dev/null
first=$(ls "$work/corpus"/*.jpg | head -n 1)

# 1. The models run where asked: the models line names the device for both the detector and the recogniser.
"$facefill" detect -v --device "$device" "${model_flags[@]}" "$first" >"$work/proof.txt" 2>&1 || {
  cat "$work/proof.txt" >&2; log "the models cannot run on $device"; exit 1; }
expect=$device
[ "$expect" = cuda ] && expect=cuda:0
on_device=$(grep -o "models: .*" "$work/proof.txt" | grep -o ", $expect)" | wc -l)
if [ "$on_device" -ne 2 ]; then
  cat "$work/proof.txt" >&2; log "the models do not both run on $expect (a fall-back?)"; exit 1
fi

# 2. Throughput per face batch size: a fresh catalog each time, one inference thread per device on a GPU.
threads=()
[ "$device" != cpu ] && threads=(--inference-threads 1 --decode-threads "$(nproc)")
for b in $batches; do
  log "backfill, $b faces per call"
  db="sqlite:$work/b$b.db"
  "$facefill" scan --db "$db" "$work/corpus" >/dev/null
  "$facefill" backfill --db "$db" --device "$device" "${model_flags[@]}" "${threads[@]}" --faces-per-call "$b" \
    --json -q >"$work/backfill-$b.json"
done

# 3. The device's outputs against the CPU's on the same photos.
sample=$(ls "$work/corpus"/*.jpg | head -n 4)
"$facefill" detect --json --embeddings --device cpu "${model_flags[@]}" $sample >"$work/cpu.jsonl"
"$facefill" detect --json --embeddings --device "$device" "${model_flags[@]}" $sample >"$work/device.jsonl"

python3 - "$work" "$device" "$batches" "$images" "$profile" >"$work/result.json" <<'EOF'
import json, math, os, sys
work, device, batches, images, profile = sys.argv[1], sys.argv[2], sys.argv[3].split(), int(sys.argv[4]), sys.argv[5]
runs = []
for b in batches:
    r = json.load(open(os.path.join(work, f"backfill-{b}.json")))
    runs.append({"faces_per_call": int(b), "images": r["processed"], "faces": r["faces"],
                 "images_per_second": r["images_per_second"], "faces_per_second": r["faces_per_second"],
                 "bottleneck": r.get("bottleneck")})
def lines(name):
    return [json.loads(l) for l in open(os.path.join(work, name)) if l.strip()]
box_diff = score_diff = landmark_diff = embedding_diff = 0.0
min_cosine = 1.0
face_counts_match = True
for c, d in zip(lines("cpu.jsonl"), lines("device.jsonl")):
    if len(c["faces"]) != len(d["faces"]):
        face_counts_match = False
        continue
    for fc, fd in zip(c["faces"], d["faces"]):
        box_diff = max(box_diff, max(abs(a - b) for a, b in zip(fc["bbox"], fd["bbox"])))
        score_diff = max(score_diff, abs(fc["score"] - fd["score"]))
        for k in fc["landmarks"]:
            landmark_diff = max(landmark_diff, max(abs(a - b) for a, b in zip(fc["landmarks"][k], fd["landmarks"][k])))
        ec, ed = fc["embedding"], fd["embedding"]
        embedding_diff = max(embedding_diff, max(abs(a - b) for a, b in zip(ec, ed)))
        dot = sum(a * b for a, b in zip(ec, ed))
        norm = math.sqrt(sum(a * a for a in ec)) * math.sqrt(sum(b * b for b in ed))
        min_cosine = min(min_cosine, dot / norm if norm else 0.0)
memory = None
path = os.path.join(work, "gpu-memory.txt")
if os.path.exists(path):
    values = [int(v) for v in open(path).read().split() if v.strip().isdigit()]
    memory = {"peak_used_mib": max(values) if values else None, "samples": len(values)}
print(json.dumps({
    "device": device, "runs_on_device": True, "corpus": {"images": images, "profile": profile},
    "throughput": runs,
    "iobinding": "not implemented: inputs are copied to the device by ONNX Runtime on each call",
    "against_cpu": {"face_counts_match": face_counts_match, "max_box_px": box_diff, "max_score": score_diff,
                    "max_landmark_px": landmark_diff, "max_embedding_value": embedding_diff,
                    "min_embedding_cosine": min_cosine},
    "gpu_memory": memory}, indent=2))
EOF
if [ -n "$out" ]; then cp "$work/result.json" "$out"; fi
cat "$work/result.json"
