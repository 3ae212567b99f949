#!/usr/bin/env bash
# Training on a GPU machine that has JAX but no TensorFlow: a fresh teacher, then the shipped student's network
# distilled from it (and from any teachers copied to .gpu-data/*.keras) on the very augmented LapSRN faces it
# trains on, each inside a time budget. Run from the repository root; results land in $OUT (or ./gpu-runs).
#
# Copy beside the checkout (git-ignored, built on a machine with TensorFlow):
#   .whl/                   keras, namex and optree wheels for Python 3.12 (pip download), when the GPU machine
#                           has no network
#   .gpu-data/faces.npz.xz  python -m training pack --lapsrn ../shared/models/LapSRN_x2.pb ...
#   .gpu-data/*.keras       optional extra teachers
#
# TEACHER_SECONDS=0 skips the fresh teacher (then at least one copied teacher is needed). STUDENTS lists the
# students, separated by ";": each a run name, then the options it adds to or overrides in the common ones below
# (argparse keeps an option's last value), e.g. STUDENTS="kd0.5 --distill-weight 0.5; kd1.0 --distill-weight 1.0".
# They train side by side on the one GPU, which one small network leaves mostly idle. $OUT ends with one log and
# one NAME.tar per run (its folder: model.keras, run.json once it finished, checkpoint.npz if it stopped before its
# last epoch, which the same training command resumes), so that few files come back: 7 runs at most, the fresh
# teacher included. Unpack with `tar -xf NAME.tar -C RUNS`.
set -euo pipefail

OUT=${OUT:-gpu-runs}
TEACHER_SECONDS=${TEACHER_SECONDS:-150}
STUDENT_SECONDS=${STUDENT_SECONDS:-330}
STUDENTS=${STUDENTS:-student}
DATA=${DATA:-.gpu-data/faces.npz.xz}
mkdir -p "$OUT"
if [[ -d .whl ]]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
fi
export KERAS_BACKEND=${KERAS_BACKEND:-jax}
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true

teachers=()
for carried in .gpu-data/*.keras; do
  [[ -e $carried ]] && teachers+=(--teacher "$carried")
done
IFS=';' read -ra students <<<"$STUDENTS"
runs=$(( ${#students[@]} + (TEACHER_SECONDS > 0) ))
if (( runs > 7 )); then
  echo "STUDENTS names ${#students[@]} students: with the teacher that is $runs runs; $OUT keeps" \
    "one log and at most 7 runs" >&2
  exit 2
fi
if (( TEACHER_SECONDS > 0 )); then
  python3 -m training.portable train --data "$DATA" --out "$OUT/teacher" --architecture vgg96 --width 20 \
    --epochs 400 --time-budget "$TEACHER_SECONDS" --optimizer adamw --learning-rate 2e-3 --weight-decay 1e-2 --seed 1 \
    2>&1 | tee "$OUT/runs.log"
  teachers+=(--teacher "$OUT/teacher/model.keras")
fi
if (( ${#teachers[@]} == 0 )); then
  echo "no teacher: copy teachers to .gpu-data/*.keras or set TEACHER_SECONDS > 0" >&2
  exit 2
fi
# JAX takes 75% of the GPU's memory by default: each student gets an equal share instead.
export XLA_PYTHON_CLIENT_MEM_FRACTION
XLA_PYTHON_CLIENT_MEM_FRACTION=$(python3 -c "print(round(0.9 / ${#students[@]}, 2))")
names=()
for student in "${students[@]}"; do
  read -ra words <<<"$student"
  name=${words[0]}
  names+=("$name")
  python3 -m training.portable train --data "$DATA" --out "$OUT/$name" --architecture pyramid --width 16 \
    --dropout 0.3 --epochs 1000 --time-budget "$STUDENT_SECONDS" --optimizer adamw --learning-rate 2e-3 \
    --weight-decay 1e-2 --seed 2 "${teachers[@]}" "${words[@]:1}" >"$OUT/$name.log" 2>&1 &
done
status=0
for _ in "${names[@]}"; do wait -n || status=1; done
for name in "${names[@]}"; do cat "$OUT/$name.log" >>"$OUT/runs.log"; rm "$OUT/$name.log"; done
for run in "$OUT"/*/; do
  run=$(basename "$run")
  tar -cf "$OUT/$run.tar" -C "$OUT" "$run" && rm -r "${OUT:?}/$run"
done
tail -n 3 "$OUT/runs.log"
exit "$status"
