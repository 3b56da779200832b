#!/usr/bin/env bash
# Regenerates the README's pictures of what the radiologist sees (docs/img/sc-*.png): a
# synthetic CT with an L1 wedge fracture and low L1 density, analysed offline exactly as the
# node would (`osteoscout analyze --dicom`, the shipped configuration), and each Secondary
# Capture page the node would send to PACS rendered from its DICOM file with DCMTK's dcmj2pnm.
# Pages are scaled to 768 pixels wide and, with netpbm, reduced to 256 colours so each PNG
# stays small enough to commit.
#
# usage: scripts/render-readme-images.sh [BIN_DIR]   (default: $OS_BIN_DIR, else build/bin)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-${OS_BIN_DIR:-$ROOT/build/bin}}
OUT="$ROOT/docs/img"
WIDTH=768
MAX_BYTES=300000

[ -x "$BIN/osteoscout" ] || { echo "render-readme-images: no $BIN/osteoscout: build first (cmake -S . -B build && cmake --build build) or pass the bin folder" >&2; exit 2; }
command -v dcmj2pnm >/dev/null || { echo "render-readme-images: dcmj2pnm missing (apt-get install dcmtk)" >&2; exit 2; }
quantize=0
if command -v pnmquant >/dev/null && command -v pnmtopng >/dev/null; then quantize=1
else echo "render-readme-images: netpbm not installed (apt-get install netpbm): writing full-colour PNGs, which are larger" >&2; fi

WORK=$(mktemp -d /tmp/osteoscout-readme.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# A typical abdominal CT (0.75 mm pixels, 2 mm slices) with a moderate-to-severe L1 wedge
# fracture and L1 trabecular bone at 95 HU; a fixed seed so the pictures only change when the
# code does.
"$BIN/osteoscout" phantom --out "$WORK/ct" --seed 3 --fracture L1:wedge:0.45 --trab-hu L1:95 >/dev/null
"$BIN/osteoscout" --config "$ROOT/conf/osteoscout.conf" analyze "$WORK/ct" --out "$WORK/out" --dicom
study_dir=$(find "$WORK/out" -mindepth 1 -maxdepth 1 -type d | head -n 1)

mkdir -p "$OUT"
names=(sc-1-sagittal-spine sc-2-axial-l3 sc-3-summary)
for i in 1 2 3; do
  src="$study_dir/sc-$i.dcm"
  [ -f "$src" ] || { echo "render-readme-images: the analysis wrote no page $i ($src)" >&2; exit 1; }
  dst="$OUT/${names[$((i - 1))]}.png"
  if [ $quantize = 1 ]; then
    dcmj2pnm +Sxv "$WIDTH" "$src" "$WORK/page.ppm"
    pnmquant 256 "$WORK/page.ppm" 2>/dev/null | pnmtopng -compression 9 > "$dst" 2>/dev/null
  else
    dcmj2pnm --write-png +Sxv "$WIDTH" "$src" "$dst"
  fi
  bytes=$(stat -c %s "$dst")
  echo "wrote $dst ($bytes bytes)"
  [ "$bytes" -le "$MAX_BYTES" ] || echo "render-readme-images: warning: $dst is over $MAX_BYTES bytes" >&2
done
