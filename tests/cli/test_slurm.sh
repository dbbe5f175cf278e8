#!/usr/bin/env bash
# test_slurm.sh: the job scripts of scripts/slurm/ on a real Slurm cluster (scripts/slurm-sim: Debian's
# Slurm 22.05, slurmctld + two slurmd nodes in network namespaces on this machine; installed
# when missing). Checks:
#   - ddp.sbatch on 2 nodes x 2 tasks (srun --mpi=pmix): the job completes, the JSON says 4
#     ranks on 2 hosts and a test accuracy >= 0.9, and the weights are bitwise those of a local
#     `mpirun -np 4` run with the same options (--deterministic);
#   - hybrid.sbatch on 2 nodes x 1 rank x 2 threads: bitwise those of `mpirun -np 2 --workers 2`;
#   - a run that fails (a bad option) is not requeued; a stopped run past MAX_RESTARTS is not
#     requeued and keeps its checkpoint;
#   - the warning signal sent to the batch shell (`scancel --signal=USR1 --batch`, what
#     `#SBATCH --signal=B:USR1@...` sends): the ranks checkpoint and exit 75, the job resubmits
#     itself (TDP_RESTART=resubmit), resumes, and ends bitwise equal to an uninterrupted run;
#   - the real time limit: a job with --time=1 (minute) and the script's --signal=B:USR1@60 gets
#     the warning from Slurm, checkpoints, requeues itself (same job id, the default) and resumes
#     from the step it stopped at, never killed by the limit; then scancel (SIGTERM) stops it
#     with a checkpoint and the script does not restart it.
# Slurm holds a requeued job for about two minutes (its begin time); the test releases it sooner
# with `scontrol update JobId=N StartTime=now+3`, as an administrator may (not at once: a batch
# job started again within the second its previous run was killed finds its credential revoked
# and fails).
# Needs root; exits 77 (skipped) without it. The simulated cluster is always torn down.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
if [[ $(id -u) != 0 ]]; then
    echo "skipped: the simulated Slurm cluster needs root (network namespaces, daemons)"
    exit 77
fi
SIM="$SRC/scripts/slurm-sim"
export TDP_SLURM_DIR=${TDP_SLURM_DIR:-/tmp/tdp-slurm}
JOBS=$TDP_SLURM_DIR/jobs # seen by every node at the same path
cleanup() {
    if ((fail > 0)) && [[ -d $TDP_SLURM_DIR/logs ]]; then
        echo "--- slurm-sim logs (tail):" >&2
        "$SIM" logs >&2 2>&1 | tail -60 >&2
    fi
    "$SIM" down >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
t0=$SECONDS
"$SIM" down >/dev/null 2>&1 # leftovers of an interrupted run
if ! timeout -k 5 400 "$SIM" up 2 --cpus 2 --share "$BIN" --share "$SRC" >"$T/up.log" 2>&1; then
    bad "slurm-sim up: $(cat "$T/up.log")"
    finish
    exit 1
fi
ok
eval "$("$SIM" env)"
sinfo -h -N -o '%N %t' | grep -c idle | grep -qx 2 && ok || bad "two idle nodes: $(sinfo -N)"

# the jobs get this environment (sbatch exports it): the checkout and the trainer, and, because
# the two simulated nodes share the machine's cores, MPI ranks that yield when they wait
unset TMPDIR
export TDP_ROOT=$SRC TDP_TRAIN=$BIN/ddp_train OMPI_MCA_mpi_yield_when_idle=1
export MODEL=$SRC/models/tiny.cfg DATA=synthetic BATCH=16
SYN=(--synthetic-train 2048 --synthetic-test 512 --deterministic)
LOCAL=(--mode ddp --model "$MODEL" --data synthetic --batch 16 --seed 42 "${SYN[@]}" --quiet)

# job_field ID FIELD: a field of `scontrol show job`
job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# release ID: a requeued job held for its begin time starts in 3 s instead of about 2 minutes
release() {
    local bt
    bt=$(date -d "$(job_field "$1" EligibleTime)" +%s 2>/dev/null) || return 0
    ((bt > $(date +%s) + 5)) && scontrol update JobId="$1" StartTime=now+3 2>/dev/null
    return 0
}

# wait_dir JOB_DIR SECONDS: wait (bounded) until no job is left that may still run (a requeued
# job passes through REQUEUED, which plain squeue does not list: ask for every state), twice in a
# row; release requeued jobs held for their begin time. On timeout: fail and cancel them all.
wait_dir() {
    local dir=$1 deadline=$((SECONDS + $2)) quiet=0 ids id state reason
    while ((SECONDS < deadline)); do
        ids=$(squeue -h -t all -o '%i %T %r' | grep -Ev ' (COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) ')
        if [[ -z $ids ]]; then
            ((++quiet >= 2)) && return 0
        else
            quiet=0
            while read -r id state reason; do
                [[ $state == PENDING && $reason == BeginTime ]] && release "$id"
            done <<<"$ids"
        fi
        sleep 0.5
    done
    bad "$(basename "$dir"): jobs still queued after $2 s: $(squeue -t all)"
    squeue -h -o %i | xargs -r scancel --full 2>/dev/null
    return 1
}

# submit NAME SBATCH-OPTIONS... -- SCRIPT ARGS...: sbatch with JOB_DIR=$JOBS/NAME, output
# $JOBS/NAME.out; prints the job id
submit() {
    local name=$1
    shift
    local opts=()
    while [[ $1 != -- ]]; do opts+=("$1"); shift; done
    shift
    rm -rf "${JOBS:?}/$name" "$JOBS/$name.out"
    JOB_DIR=$JOBS/$name sbatch --parsable --output="$JOBS/$name.out" "${opts[@]}" "$@"
}

# show_out NAME: the job's output, for a failure message
show_out() { echo; tail -n 25 "$JOBS/$1.out" 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# 1. ddp.sbatch, 2 nodes x 2 tasks, against 4 local ranks (with a progress line every 16 steps:
# 3 epochs of 32 steps)
id=$(EPOCHS=3 submit ddp -N 2 --ntasks-per-node=2 -- "$SRC/scripts/slurm/ddp.sbatch" "${SYN[@]}" --log-every 16)
[[ $id =~ ^[0-9]+$ ]] && ok || bad "sbatch ddp.sbatch: '$id'"
wait_dir "$JOBS/ddp" 120
[[ $(job_field "$id" JobState) == COMPLETED && $(job_field "$id" ExitCode) == 0:0 ]] && ok ||
    bad "ddp job $id: $(job_field "$id" JobState) exit $(job_field "$id" ExitCode)$(show_out ddp)"
J=$JOBS/ddp/summary.json
[[ $(json_field "$J" world_size) == 4 && $(json_field "$J" hosts) == 2 ]] && ok ||
    bad "ddp job: JSON world_size/hosts: $(cat "$J" 2>/dev/null)"
awk -v a="$(json_field "$J" test_accuracy)" 'BEGIN { exit !(a != "" && a >= 0.9) }' && ok ||
    bad "ddp job: test accuracy '$(json_field "$J" test_accuracy)' < 0.9"
mpirun_ -np 4 "$BIN/ddp_train" "${LOCAL[@]}" --epochs 3 --dump-weights "$T/local4.bin" || bad "local mpirun -np 4"
cmp -s "$JOBS/ddp/weights.bin" "$T/local4.bin" && ok ||
    bad "ddp job on 2 nodes x 2 tasks: weights differ from mpirun -np 4"
grep -q "^\[.*\] tinyddp $id: finished" "$JOBS/ddp.out" && ok || bad "ddp job: no 'finished' line$(show_out ddp)"
# srun: the lines of --log-every reach the job's log as plain lines (no bar, no carriage return)
L=$JOBS/ddp/train.log
[[ $(grep '^step ' "$L" | sed 's/^step \([0-9]*\)\/.*/\1/' | tr '\n' ' ') == "16 32 48 64 80 96 " ]] &&
    ! grep -q $'\r' "$L" && (($(grep '^step ' "$L" | awk '{ if (length > m) m = length } END { print m + 0 }') <= 100)) &&
    ok || bad "ddp job: --log-every 16 lines in train.log: $(grep '^step ' "$L" | cat -A)"

# 2. hybrid.sbatch, 2 nodes x 1 rank x 2 threads, against 2 local ranks x 2 threads
id=$(EPOCHS=3 submit hybrid -N 2 --ntasks-per-node=1 --cpus-per-task=2 -- "$SRC/scripts/slurm/hybrid.sbatch" "${SYN[@]}")
wait_dir "$JOBS/hybrid" 120
[[ $(job_field "$id" JobState) == COMPLETED ]] && ok || bad "hybrid job $id: $(job_field "$id" JobState)$(show_out hybrid)"
J=$JOBS/hybrid/summary.json
[[ $(json_field "$J" world_size) == 2 && $(json_field "$J" workers) == 4 && $(json_field "$J" hosts) == 2 ]] && ok ||
    bad "hybrid job: JSON world_size/workers/hosts: $(cat "$J" 2>/dev/null)"
mpirun_ -np 2 "$BIN/ddp_train" "${LOCAL[@]}" --workers 2 --epochs 3 --dump-weights "$T/local2x2.bin" || bad "local hybrid"
cmp -s "$JOBS/hybrid/weights.bin" "$T/local2x2.bin" && ok ||
    bad "hybrid job: weights differ from mpirun -np 2 --workers 2"

# 3. a failing run is not restarted
id=$(EPOCHS=3 submit badopt -N 1 --ntasks-per-node=2 -- "$SRC/scripts/slurm/ddp.sbatch" --no-such-option)
wait_dir "$JOBS/badopt" 60
[[ $(job_field "$id" JobState) == FAILED && $(job_field "$id" Restarts) == 0 ]] && ok ||
    bad "failing run: state $(job_field "$id" JobState), restarts $(job_field "$id" Restarts)$(show_out badopt)"
grep -q "failed with status 2" "$JOBS/badopt.out" && ok || bad "failing run: no message$(show_out badopt)"

# signal_when_training NAME ID: once the run has trained an epoch, the warning to the batch shell
signal_when_training() {
    local deadline=$((SECONDS + 60))
    until grep -q '^epoch' "$JOBS/$1/train.log" 2>/dev/null; do
        ((SECONDS < deadline)) || { bad "$1: no epoch line after 60 s$(show_out "$1")"; return 1; }
        sleep 0.2
    done
    scancel --signal=USR1 --batch "$2" || bad "$1: scancel --signal=USR1 --batch $2"
}

# 4. the restart bound: a stopped run with MAX_RESTARTS=0 ends with 75 and its checkpoint
id=$(EPOCHS=100 MAX_RESTARTS=0 TDP_SIGNAL_GRACE=1 submit bound -N 2 --ntasks-per-node=2 -- "$SRC/scripts/slurm/ddp.sbatch" "${SYN[@]}")
signal_when_training bound "$id"
wait_dir "$JOBS/bound" 90
[[ $(job_field "$id" JobState) == FAILED && $(job_field "$id" ExitCode) == 75:0 && $(job_field "$id" Restarts) == 0 ]] && ok ||
    bad "MAX_RESTARTS=0: state $(job_field "$id" JobState) exit $(job_field "$id" ExitCode) restarts $(job_field "$id" Restarts)$(show_out bound)"
[[ -s $JOBS/bound/checkpoint && ! -e $JOBS/bound/done ]] && grep -q "MAX_RESTARTS=0" "$JOBS/bound.out" && ok ||
    bad "MAX_RESTARTS=0: checkpoint kept and message$(show_out bound)"

# 5. the warning signal to the batch shell: checkpoint, exit 75, resubmit, resume, same weights
mpirun_ -np 4 "$BIN/ddp_train" "${LOCAL[@]}" --epochs 100 --dump-weights "$T/local100.bin" || bad "local 100 epochs"
id=$(EPOCHS=100 TDP_RESTART=resubmit TDP_SIGNAL_GRACE=1 submit resub -N 2 --ntasks-per-node=2 --time=10 -- "$SRC/scripts/slurm/ddp.sbatch" "${SYN[@]}")
signal_when_training resub "$id"
wait_dir "$JOBS/resub" 150
h=$JOBS/resub/history
grep -q "^$id signal USR1" "$h" && grep -q "^$id exit 75" "$h" && grep -q "^$id resubmit" "$h" && ok ||
    bad "resubmit: job $id history: $(cat "$h" 2>/dev/null)$(show_out resub)"
last=$(awk '$2 == "start" { j = $1 } END { print j }' "$h")
[[ -n $last && $last != "$id" && -f $JOBS/resub/done ]] && grep -q "^$last exit 0" "$h" && ok ||
    bad "resubmit: the new job did not finish: $(cat "$h" 2>/dev/null)$(show_out resub)"
grep -q "stopped by SIGUSR1 after step" "$JOBS/resub/train.log" && grep -q "^resume: from" "$JOBS/resub/train.log" && ok ||
    bad "resubmit: no stop/resume lines in train.log$(show_out resub)"
cmp -s "$JOBS/resub/weights.bin" "$T/local100.bin" && ok ||
    bad "resubmitted run: weights differ from an uninterrupted run"

# 6. the real time limit: --time=1 and the script's --signal=B:USR1@60. Slurm checks time limits
# every 30 s, so the warning comes within about 30 s of the start; the run (far too long to end
# by itself) checkpoints, the job requeues itself (same job id, the default), and the next run
# resumes from that step. Then the test cancels it: that the resumed run ends bitwise equal to
# an uninterrupted one is case 5 (the same signal to the same script, sent by scancel).
id=$(EPOCHS=100000 submit limit -N 2 --ntasks-per-node=2 --time=1 -- "$SRC/scripts/slurm/ddp.sbatch" "${SYN[@]}")
L=$JOBS/limit/train.log
deadline=$((SECONDS + 150))
until [[ $(job_field "$id" Restarts) -ge 1 ]] && grep -q '^resume: from' "$L" 2>/dev/null &&
    [[ -n $(sed -n '/^resume: from/,$p' "$L" | grep '^epoch') ]]; do
    if ((SECONDS >= deadline)); then
        bad "time limit: no warning, requeue and resumed training within 150 s: state $(job_field "$id" JobState), history: $(cat "$JOBS/limit/history" 2>/dev/null)$(show_out limit)"
        break
    fi
    [[ $(job_field "$id" JobState) == PENDING && $(job_field "$id" Reason) == BeginTime ]] &&
        release "$id"
    case $(job_field "$id" JobState) in COMPLETED | FAILED | CANCELLED | TIMEOUT)
        bad "time limit: job ended: $(job_field "$id" JobState)$(show_out limit)"
        break ;;
    esac
    sleep 0.5
done
scancel "$id"
wait_dir "$JOBS/limit" 60
h=$JOBS/limit/history
grep -q "^$id signal USR1" "$h" && grep -q "^$id exit 75" "$h" && grep -q "^$id requeue" "$h" && ok ||
    bad "time limit: history: $(cat "$h" 2>/dev/null)$(show_out limit)"
stop=$(sed -n 's/^ddp_train: stopped by SIGUSR1 after step \([0-9]*\).*/\1/p' "$L" | head -1)
from=$(sed -n 's/^resume: from .* at step \([0-9]*\).*/\1/p' "$L" | head -1)
[[ -n $stop && $stop == "$from" ]] && ok || bad "time limit: stopped after step '$stop', resumed at step '$from'"
! grep -q "DUE TO TIME LIMIT" "$JOBS/limit.out" && ok || bad "time limit: the job was killed by the limit$(show_out limit)"
# cancelled (SIGTERM): the ranks checkpoint, the script does not restart it
[[ $(job_field "$id" JobState) == CANCELLED ]] && grep -q "stopped by SIGTERM" "$JOBS/limit.out" && ok ||
    bad "time limit: after scancel: state $(job_field "$id" JobState)$(show_out limit)"
echo "time limit: warned at $(awk -v id="$id" '$1 == id && $2 == "start" { s = $3 } $1 == id && $2 == "signal" { print $4 - s; exit }' "$h") s after the start, stopped after step $stop, resumed"

# 7. down tears everything down
"$SIM" down >/dev/null 2>&1
[[ -z $(ip netns list | grep -E '^slurm-node[0-9]') ]] && ! ip link show slurmbr0 >/dev/null 2>&1 && ok ||
    bad "down left namespaces or the bridge: $(ip netns list)"
[[ ! -e $TDP_SLURM_DIR ]] && ok || bad "down left $TDP_SLURM_DIR"
pgrep -f "$TDP_SLURM_DIR/" >/dev/null && bad "down left processes: $(pgrep -af "$TDP_SLURM_DIR/")" || ok
echo "slurm tests took $((SECONDS - t0)) s"
finish
