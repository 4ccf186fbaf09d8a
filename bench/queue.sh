#!/usr/bin/env bash
# The long benchmarks of the open issues, one after another (two cores: never two at once).
# Every script resumes where it stopped and returns quickly when its result is complete, so
# after a restart (a session ends, a process is killed) start the queue again:
#     nohup bench/queue.sh > bench/out/queue.log 2>&1 &
# A failed benchmark is logged and the next one starts. Finished ones are left out (adapt_bench,
# sft_dose, the AR pairs, LR-SQL on Qwen; the self-play smoke run passed:
# bench/out/selfplay_smoke.log). A fresh checkout has no bench/out: the models the later steps
# start from are trained again (sft_dose.py --train), the results already committed are kept.
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python
step() {
    echo "$(date +%T) start: $*  (load $(cut -d' ' -f1-3 /proc/loadavg))"
    "$PY" "$@"
    local rc=$?  # before any $(...) below resets it
    if [ $rc -eq 0 ]; then echo "$(date +%T) done: $*"; else echo "$(date +%T) FAILED ($rc): $*"; fi
}
step bench/sft_dose.py --train 500     # 16: the synthesis writer and control
step bench/synth_qwen.py               # 16: synthesis with Qwen
step bench/sft_dose.py --train 0       # 16: self-play's start (all of spider:train)
step bench/geo_schema_probe.py --model dose_all=bench/out/sft_dose/runs/dose_all/merged  # GeoQuery's spelling, tuned
step bench/selfplay_qwen.py            # 16: self-play from one start
step bench/selfplay_lr.py              # 16: is SPFT's result its learning rate's?
