#!/usr/bin/env bash
# The WebGPU benchmark on a bare x86-64 Linux GPU machine with no network.
#
#   here:        scripts/device-webgpu.sh pack      builds .device/ (about 30 MB, git-ignored by its own .gitignore)
#   GPU machine: scripts/device-webgpu.sh [bench flags, e.g. --quick or --json]
#
# .device/ holds everything the run needs, nothing from a registry:
#   node.xz                          this machine's node binary, xz-compressed
#   bench-webgpu.mjs                 bench/webgpu.ts and the engine, bundled by esbuild (no tsx, no node_modules)
#   wasm/engine.{relaxed,simd}.wasm  the WebAssembly engine the GPU is compared with
#   node_modules/webgpu/             the optional `webgpu` package (Dawn) for linux-x64 only, dawn.node xz-compressed
#   lib/libvulkan.so.1               a Vulkan loader (Chromium's), used only when the machine has none
# and .gl/*.deb: Debian's libglvnd + Vulkan loader packages, unpacked onto / there (NVIDIA's Vulkan driver needs them).
# Carry both: run(carry: [".device", ".gl"]).
# The run unpacks into $RF_DEVICE_RUN (default /tmp/rf-device), prints the host, driver and Vulkan facts, then the adapter and the rows.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
D="$ROOT/.device"

unxz_to() { # unxz_to SRC DST: xz if present, else Python's lzma
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" > "$2"
  elif command -v python3 >/dev/null 2>&1; then python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' "$1" "$2"
  else echo "device-webgpu: need xz or python3 to unpack $1" >&2; exit 1; fi
}

if [[ "${1:-}" == "pack" ]]; then
  cd "$ROOT"
  [[ -f build/engine.simd.wasm ]] || npm run build:wasm
  [[ -f node_modules/webgpu/dist/linux-x64/dawn.node ]] || { echo "pack: node_modules/webgpu is missing (npm install)" >&2; exit 1; }
  rm -rf "$D" && mkdir -p "$D/wasm" "$D/lib" "$D/node_modules/webgpu/dist/linux-x64"
  echo '*' > "$D/.gitignore"
  cat > "$D/entry.ts" <<'EOF'
import { main } from '../bench/webgpu.ts';
import { formatRow, parseBenchArgs } from '../bench/util.ts';
import type { BenchRow } from '../bench/util.ts';
const args = parseBenchArgs(process.argv.slice(2));
const rows: BenchRow[] = [];
await main(args, (r) => { rows.push(r); if (!args.json) console.log(formatRow(r)); });
if (args.json) console.log(JSON.stringify(rows, null, 2));
process.exit(0);
EOF
  node_modules/.bin/esbuild "$D/entry.ts" --bundle --platform=node --format=esm --target=node20 \
    --external:webgpu --outfile="$D/bench-webgpu.mjs" --log-level=warning \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
  rm "$D/entry.ts"
  cp build/engine.relaxed.wasm build/engine.simd.wasm "$D/wasm/"
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$D/node_modules/webgpu/"
  xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$D/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
  [[ -f /usr/lib/chromium/libvulkan.so.1 ]] && cp /usr/lib/chromium/libvulkan.so.1 "$D/lib/"
  xz -T2 -6 -c "$(command -v node)" > "$D/node.xz"
  # NVIDIA's Vulkan driver (libGLX_nvidia.so.0) needs libglvnd's libraries, which a bare CUDA image lacks:
  # carry Debian's packages and unpack them there (see the run part below).
  mkdir -p "$ROOT/.gl" /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq && (cd "$ROOT/.gl" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  du -sh "$D"; ls -la "$D"
  exit 0
fi

[[ -f "$D/node.xz" && -f "$D/bench-webgpu.mjs" ]] || { echo "device-webgpu: $D is missing or incomplete; run 'scripts/device-webgpu.sh pack' on the build machine and carry .device" >&2; exit 1; }
# Unpack outside .device so the carried folder stays small (node alone is ~100 MB unpacked).
R="${RF_DEVICE_RUN:-${TMPDIR:-/tmp}/rf-device}"
if compgen -G "$ROOT/.gl/*.deb" >/dev/null; then
  for f in "$ROOT"/.gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  echo "== unpacked $(ls "$ROOT"/.gl/*.deb | wc -l) carried GL/Vulkan packages (libglvnd for NVIDIA's Vulkan driver)"
fi
mkdir -p "$R/node_modules/webgpu/dist/linux-x64"
[[ -x "$R/node" ]] || { unxz_to "$D/node.xz" "$R/node.tmp" && chmod +x "$R/node.tmp" && mv "$R/node.tmp" "$R/node"; }
cp "$D/bench-webgpu.mjs" "$R/"
cp "$D/node_modules/webgpu/index.js" "$D/node_modules/webgpu/package.json" "$R/node_modules/webgpu/"
DAWN="$R/node_modules/webgpu/dist/linux-x64/dawn.node"
[[ -f "$DAWN" ]] || unxz_to "$D/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$DAWN"

ldc() { { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null || true; }
echo "== host: $(uname -srm), $(nproc) cores, node $("$R/node" --version)"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "== no nvidia-smi"
# Dawn reaches the GPU through Vulkan: a loader (libvulkan.so.1) and the driver's ICD manifest.
if ldc | grep -q 'libvulkan\.so\.1'; then echo "== Vulkan loader: system"
elif [[ -f "$D/lib/libvulkan.so.1" ]]; then export LD_LIBRARY_PATH="$D/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; echo "== Vulkan loader: carried ($D/lib)"
else echo "== Vulkan loader: none found (Dawn will find no adapter)"; fi
ICDS=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null || true)
echo "== Vulkan ICD manifests: ${ICDS:-none}"
if [[ -z "${VK_ICD_FILENAMES:-}" ]] && ! grep -qs nvidia <<<"$ICDS"; then
  # The NVIDIA driver's Vulkan entry point is libGLX_nvidia.so.0; containers often ship it without the manifest.
  GLX=$(ldc | awk '/libGLX_nvidia\.so\.0/{print $NF; exit}')
  [[ -z "$GLX" ]] && GLX=$(ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/lib64/libGLX_nvidia.so.0 2>/dev/null | head -1 || true)
  if [[ -n "$GLX" ]]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$GLX" > "$R/nvidia_icd.json"
    export VK_ICD_FILENAMES="$R/nvidia_icd.json"
    echo "== wrote an NVIDIA ICD manifest for $GLX"
  else
    echo "== no NVIDIA Vulkan driver library (libGLX_nvidia.so.0) found: the container may lack the 'graphics' driver capability"
  fi
fi
cd "$R"
RF_WASM_DIR="$D/wasm" exec "$R/node" "$R/bench-webgpu.mjs" "$@"
