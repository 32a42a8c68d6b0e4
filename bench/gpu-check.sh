#!/usr/bin/env bash
# The device check a GPU host runs (in well under 5 minutes): proves facefill's models run on the requested device
# (a fall-back to the CPU fails the check), makes batch-capable copies of the models (`models batchify`), measures a
# backfill's images/s and faces/s at several batch sizes with and without IoBinding, compares the device's boxes, scores and embeddings with the CPU's on the same photos, samples GPU memory, and
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

# 2. Batch-capable copies of the pack's models (`models batchify`, verified on photos), so that a batch size is one
#    model call; a model it cannot rewrite (the default pack's Ultra-Light detector) keeps one image per call.
"$facefill" models show --json "${model_flags[@]}" >"$work/pack.json"
mkdir -p "$work/models"
declare -A batchified=()
for role in detector recognizer; do
  file=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/pack.json" "$role")
  if "$facefill" models batchify "$file" "$work/models/$role.onnx" --images "$work/corpus" >"$work/batchify-$role.txt" 2>&1
  then batchified[$role]=$work/models/$role.onnx; echo true >"$work/batched-$role"
  else log "$role $(basename "$file") keeps its fixed batch: $(tail -n 1 "$work/batchify-$role.txt")"
       echo false >"$work/batched-$role"; fi
done
# The user's model flags, with the batch-capable copies in place of the files they replace.
batched_flags=()
for ((i = 0; i < ${#model_flags[@]}; i += 2)); do
  [ -n "${batchified[${model_flags[i]#--}]:-}" ] || batched_flags+=("${model_flags[i]}" "${model_flags[i + 1]}")
done
for role in "${!batchified[@]}"; do batched_flags+=("--$role" "${batchified[$role]}"); done

# 3. Throughput per batch size (faces per embedder call and images per detector call), with and without IoBinding:
#    a fresh catalog each time, one inference thread per device on a GPU.
threads=()
[ "$device" != cpu ] && threads=(--inference-threads 1 --decode-threads "$(nproc)")
for b in $batches; do
  for io in plain io-binding; do
    log "backfill, batch $b, $io"
    db="sqlite:$work/b$b-$io.db"
    io_flag=()
    [ "$io" = io-binding ] && io_flag=(--io-binding)
    "$facefill" scan --db "$db" "$work/corpus" >/dev/null
    "$facefill" backfill --db "$db" --device "$device" "${batched_flags[@]}" "${threads[@]}" "${io_flag[@]}" \
      --faces-per-call "$b" --images-per-detect-call "$b" --json -q >"$work/backfill-$b-$io.json"
  done
done

# 4. The device's outputs against the CPU's on the same photos.
sample=$(ls "$work/corpus"/*.jpg | head -n 4)
"$facefill" detect --json --embeddings --device cpu "${model_flags[@]}" $sample >"$work/cpu.jsonl"
"$facefill" detect --json --embeddings --device "$device" "${model_flags[@]}" $sample >"$work/device.jsonl"

python3 - "$work" "$device" "$batches" "$images" "$profile" >"$work/result.json" <<'EOF'
import json, math, os, sys
work, device, batches, images, profile = sys.argv[1], sys.argv[2], sys.argv[3].split(), int(sys.argv[4]), sys.argv[5]
runs = []
for b in batches:
    for io in ("plain", "io-binding"):
        r = json.load(open(os.path.join(work, f"backfill-{b}-{io}.json")))
        runs.append({"batch": int(b), "io_binding": io == "io-binding", "images": r["processed"], "faces": r["faces"],
                     "detect_calls": r["detect_calls"], "images_per_second": r["images_per_second"],
                     "faces_per_second": r["faces_per_second"], "bottleneck": r.get("bottleneck")})
batchified = {role: open(os.path.join(work, f"batched-{role}")).read().strip() == "true"
              for role in ("detector", "recognizer")}
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
    "batchified": batchified, "throughput": runs,
    "against_cpu": {"face_counts_match": face_counts_match, "max_box_px": box_diff, "max_score": score_diff,
                    "max_landmark_px": landmark_diff, "max_embedding_value": embedding_diff,
                    "min_embedding_cosine": min_cosine},
    "gpu_memory": memory}, indent=2))
EOF
if [ -n "$out" ]; then cp "$work/result.json" "$out"; fi
cat "$work/result.json"
