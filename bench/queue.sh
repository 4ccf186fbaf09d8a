#!/usr/bin/env bash
# The long benchmarks of the open issues, one after another (two cores: never two at once).
# Every script resumes where it stopped and returns quickly when its result is complete, so
# after a restart (a session ends, a process is killed) start the queue again:
#     nohup bench/queue.sh > bench/out/queue.log 2>&1 &
# A failed benchmark is logged and the next one starts. Finished ones are left out (adapt_bench).
set -u
cd "$(dirname "$0")/.."
PY=.venv/bin/python
step() {
    echo "$(date +%T) start: $*  (load $(cut -d' ' -f1-3 /proc/loadavg))"
    "$PY" "$@"
    local rc=$?  # before any $(...) below resets it
    if [ $rc -eq 0 ]; then echo "$(date +%T) done: $*"; else echo "$(date +%T) FAILED ($rc): $*"; fi
}
step bench/sft_dose.py                                   # 15: SFT dose-response
step bench/ar_experiment.py --model qwen2.5-coder-0.5b   # 15: AR at scale
step bench/lrsql_qwen.py                                 # 16: LR-SQL on Qwen
step bench/synth_qwen.py                                 # 16: synthesis with Qwen
step bench/ar_experiment.py --model qwen2.5-coder-0.5b   # 15: the synthetic set's pairs
# (bench/selfplay_qwen.py --smoke, the plumbing run, passed: bench/out/selfplay_smoke.log)
step bench/selfplay_qwen.py                              # 16: self-play from one start
