#!/usr/bin/env bash
# One call on a lent GPU machine (JAX, no TensorFlow): a fresh teacher, then the shipped student's network
# distilled from it (and from any teachers carried in .device-data/*.keras) on the very augmented LapSRN faces it
# trains on, each inside a time budget. Run from the repository root; results land in $OUT (or ./gpu-runs).
#
# Carry (git-ignored, built on this side):
#   .whl/                      keras, namex and optree wheels for Python 3.12 (pip download; device README)
#   .device-data/faces.npz.xz  python -m training.portable pack --lapsrn ../shared/models/LapSRN_x2.pb ...
#   .device-data/*.keras       optional extra teachers (the total must stay under 64 MiB)
#
# TEACHER_SECONDS=0 skips the fresh teacher (then at least one carried teacher is needed).
set -euo pipefail

OUT=${OUT:-gpu-runs}
TEACHER_SECONDS=${TEACHER_SECONDS:-150}
STUDENT_SECONDS=${STUDENT_SECONDS:-330}
DATA=${DATA:-.device-data/faces.npz.xz}
mkdir -p "$OUT"
if [[ -d .whl ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true

teachers=()
for carried in .device-data/*.keras; do
  [[ -e $carried ]] && teachers+=(--teacher "$carried")
done
if (( TEACHER_SECONDS > 0 )); then
  python3 -m training.portable train --data "$DATA" --out "$OUT/teacher" --architecture vgg96 --width 20 \
    --epochs 400 --time-budget "$TEACHER_SECONDS" --optimizer adamw --learning-rate 2e-3 --weight-decay 1e-2 --seed 1 \
    2>&1 | tee "$OUT/teacher.log"
  teachers+=(--teacher "$OUT/teacher/model.keras")
fi
if (( ${#teachers[@]} == 0 )); then
  echo "no teacher: carry .device-data/*.keras or set TEACHER_SECONDS > 0" >&2
  exit 2
fi
python3 -m training.portable train --data "$DATA" --out "$OUT/student" --architecture pyramid --width 16 \
  --dropout 0.3 --epochs 1000 --time-budget "$STUDENT_SECONDS" --optimizer adamw --learning-rate 2e-3 \
  --weight-decay 1e-2 --seed 2 "${teachers[@]}" 2>&1 | tee "$OUT/student.log"
