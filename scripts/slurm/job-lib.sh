# job-lib.sh: what the tinyddp job scripts share (sourced by ddp.sbatch, hybrid.sbatch,
# compare.sbatch; not a job script itself):
#   - the job directory (output, checkpoint, summary, weights, restart count);
#   - running the launcher (srun or mpirun) in the background so that the batch shell can take
#     the warning signal Slurm sends before the time limit (`#SBATCH --signal=B:USR1@SECONDS`)
#     and forward it: the launcher passes it to every rank, each rank finishes its step, rank 0
#     writes the checkpoint, and every rank exits with status 75 (EX_TEMPFAIL, "requeue me");
#   - on status 75: requeue this same job (`scontrol requeue`, same job id, same job directory)
#     or, with TDP_RESTART=resubmit, submit a new job that depends on this one; at most
#     MAX_RESTARTS times, counted in $JOB_DIR/restarts.
#
#   - SIGTERM or SIGINT (scancel, the time limit itself, preemption) are passed on too (the ranks
#     checkpoint), but the job is not restarted by the script: Slurm decides.
#
# Variables read here (environment; sbatch passes the submitting shell's environment):
#   JOB_DIR          job directory [$SLURM_SUBMIT_DIR/runs/$SLURM_JOB_NAME-$SLURM_JOB_ID]
#   MAX_RESTARTS     how many times a stopped run comes back, over the life of JOB_DIR [5]
#   TDP_RESTART      requeue | resubmit | none [requeue]
#   TDP_SIGNAL_GRACE seconds after the launch before a signal is passed on [10]
# Files in JOB_DIR: history (one line per start, signal, exit, requeue/resubmit), restarts (the
# count), done (the run finished; submitting again with this JOB_DIR does nothing).
# shellcheck shell=bash

EX_TEMPFAIL=75

tdp_log() { echo "[$(date '+%F %T')] ${SLURM_JOB_NAME:-job} ${SLURM_JOB_ID:-?}: $*"; }
tdp_die() {
    tdp_log "error: $*" >&2
    exit 2
}

# tdp_job_init: the job directory and the environment every launcher needs
tdp_job_init() {
    [[ -n ${SLURM_JOB_ID:-} ]] || tdp_die "not inside a Slurm job (submit with sbatch)"
    JOB_DIR=${JOB_DIR:-${SLURM_SUBMIT_DIR:-$PWD}/runs/${SLURM_JOB_NAME:-tinyddp}-$SLURM_JOB_ID}
    MAX_RESTARTS=${MAX_RESTARTS:-5}
    TDP_RESTART=${TDP_RESTART:-requeue}
    [[ $MAX_RESTARTS =~ ^[0-9]+$ ]] || tdp_die "MAX_RESTARTS must be a number, got '$MAX_RESTARTS'"
    case $TDP_RESTART in requeue | resubmit | none) ;; *) tdp_die "TDP_RESTART must be requeue, resubmit or none, got '$TDP_RESTART'" ;; esac
    mkdir -p "$JOB_DIR" || tdp_die "cannot create the job directory $JOB_DIR"
    JOB_DIR=$(cd "$JOB_DIR" && pwd)
    RESTARTS=$(cat "$JOB_DIR/restarts" 2>/dev/null || echo 0)
    [[ $RESTARTS =~ ^[0-9]+$ ]] || RESTARTS=0
    export JOB_DIR MAX_RESTARTS TDP_RESTART
    # one BLAS thread per rank or worker (not OMP_NUM_THREADS: nproc would say 1 core); root may
    # run MPI (test clusters, containers)
    export OPENBLAS_NUM_THREADS=1
    if [[ $(id -u) == 0 ]]; then
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi
    tdp_traps
    tdp_log "start on ${SLURM_JOB_NODELIST:-?} (${SLURM_NNODES:-?} nodes, ${SLURM_NTASKS:-?} tasks), job dir $JOB_DIR, restart $RESTARTS of at most $MAX_RESTARTS (Slurm restart count ${SLURM_RESTART_COUNT:-0})"
    echo "${SLURM_JOB_ID} start $(date +%s) restart $RESTARTS" >>"$JOB_DIR/history"
}

# tdp_resume_args CHECKPOINT: RESUME_ARGS=(--resume CHECKPOINT) when a checkpoint is there
# shellcheck disable=SC2034 # RESUME_ARGS is for the job scripts
tdp_resume_args() {
    RESUME_ARGS=()
    if [[ -s $1 ]]; then
        RESUME_ARGS=(--resume "$1")
        tdp_log "resuming from $1"
    fi
}

# Signals: the traps are set as soon as the job starts (a warning can come at any time, even
# before the ranks run: the default action of SIGUSR1 would end the job script). A signal that
# comes before the launcher has run for TDP_SIGNAL_GRACE seconds [10] is held until then, so that
# every rank has installed its handler (a rank that has not would be killed by SIGUSR1).
# TDP_FORWARD_SIGNAL: send this signal instead of the one received; TDP_KILL_GROUP=1: send it to
# the launcher's process group (a launcher started with setsid), for launchers that do not pass
# signals on themselves (compare.sbatch).
tdp_traps() {
    LAUNCHER_PID='' LAUNCHED_AT='' PENDING_SIG='' GOT_SIGNAL=''
    trap 'tdp_on_signal USR1' USR1
    trap 'tdp_on_signal USR2' USR2
    trap 'tdp_on_signal TERM' TERM
    trap 'tdp_on_signal INT' INT
}

tdp_on_signal() {
    tdp_log "got SIG$1: passing SIG${TDP_FORWARD_SIGNAL:-$1} on to the launcher${LAUNCHER_PID:+ (pid $LAUNCHER_PID)}"
    echo "${SLURM_JOB_ID} signal $1 $(date +%s)" >>"$JOB_DIR/history"
    GOT_SIGNAL=$1
    PENDING_SIG=${TDP_FORWARD_SIGNAL:-$1}
    tdp_forward_pending
    return 0
}

tdp_forward_pending() {
    [[ -n $PENDING_SIG && -n $LAUNCHER_PID ]] || return 0
    if ((SECONDS - LAUNCHED_AT < ${TDP_SIGNAL_GRACE:-10})); then
        return 0 # too early: tdp_run sends it when the grace period is over
    fi
    if [[ ${TDP_KILL_GROUP:-0} == 1 ]]; then
        kill -"$PENDING_SIG" -- -"$LAUNCHER_PID" 2>/dev/null || true
    else
        kill -"$PENDING_SIG" "$LAUNCHER_PID" 2>/dev/null || true
    fi
    PENDING_SIG=''
}

# tdp_run LOG COMMAND...: run COMMAND (the launcher) in the background, its output to the job's
# output and appended to LOG; pass signals on to it (above) until it ends; set RC
tdp_run() {
    local log=$1
    shift
    tdp_log "run: $*"
    "$@" > >(tee -a "$log") 2>&1 &
    LAUNCHER_PID=$! LAUNCHED_AT=$SECONDS
    # `wait` returns early (status > 128) when a trapped signal arrives: wait again until the
    # launcher itself has ended (a zombie still answers kill -0, so its status is not lost).
    # While a signal is held, poll instead, to send it when the grace period is over.
    RC=0
    while kill -0 "$LAUNCHER_PID" 2>/dev/null; do
        if [[ -n $PENDING_SIG ]]; then
            tdp_forward_pending
            sleep 0.5
            continue
        fi
        wait "$LAUNCHER_PID"
        RC=$?
    done
    # reap it if the polling loop saw it end (bash keeps the status of an ended child)
    wait "$LAUNCHER_PID" 2>/dev/null
    local r=$?
    [[ $r == 127 ]] || RC=$r
    LAUNCHER_PID=''
    tdp_log "launcher exit status $RC"
}

# tdp_finish RC SCRIPT [ARGS...]: done, requeue/resubmit, or give up; exits
tdp_finish() {
    local rc=$1
    shift
    trap - USR1 USR2 TERM INT
    echo "${SLURM_JOB_ID} exit $rc $(date +%s)" >>"$JOB_DIR/history"
    if [[ $rc == 0 ]]; then
        date '+%F %T' >"$JOB_DIR/done"
        tdp_log "finished; outputs in $JOB_DIR"
        exit 0
    fi
    if [[ $rc != "$EX_TEMPFAIL" ]]; then
        tdp_log "error: the run failed with status $rc (see $JOB_DIR); not restarted"
        exit "$rc"
    fi
    case $GOT_SIGNAL in
    TERM | INT)
        # scancel, the time limit itself (the warning came too late or not at all), or Slurm
        # preempting/requeueing the job: Slurm decides what comes next, not this script
        tdp_log "stopped by SIG$GOT_SIGNAL (scancel, the time limit or preemption) with a checkpoint in $JOB_DIR; not restarted by this script: resubmit with JOB_DIR=$JOB_DIR to resume"
        exit "$rc"
        ;;
    esac
    if [[ $TDP_RESTART == none ]]; then
        tdp_log "stopped (status $EX_TEMPFAIL); TDP_RESTART=none: resubmit by hand with JOB_DIR=$JOB_DIR to resume"
        exit "$rc"
    fi
    if ((RESTARTS >= MAX_RESTARTS)); then
        tdp_log "error: stopped (status $EX_TEMPFAIL), but $RESTARTS restarts were made already (MAX_RESTARTS=$MAX_RESTARTS); resubmit with JOB_DIR=$JOB_DIR to go on"
        exit "$rc"
    fi
    echo $((RESTARTS + 1)) >"$JOB_DIR/restarts"
    if [[ $TDP_RESTART == requeue ]]; then
        tdp_log "stopped (status $EX_TEMPFAIL): requeueing job $SLURM_JOB_ID (restart $((RESTARTS + 1)) of $MAX_RESTARTS)"
        echo "${SLURM_JOB_ID} requeue $(date +%s)" >>"$JOB_DIR/history"
        # Slurm ends this script now and runs the job again (same id) once its begin time, a
        # couple of minutes away, has come
        if scontrol requeue "$SLURM_JOB_ID"; then
            exit "$rc"
        fi
        tdp_log "scontrol requeue failed (is the job submitted with --requeue? is JobRequeue=0?); trying to resubmit"
    fi
    tdp_resubmit "$@"
    exit "$rc"
}

# tdp_resubmit SCRIPT [ARGS...]: a new job with this job's shape, after this one, same JOB_DIR
tdp_resubmit() {
    local script=$1
    shift
    local info tl part out
    info=$(scontrol show job "$SLURM_JOB_ID" 2>/dev/null)
    tl=$(sed -n 's/.*TimeLimit=\([^ ]*\).*/\1/p' <<<"$info" | head -1)
    part=$(sed -n 's/.*Partition=\([^ ]*\).*/\1/p' <<<"$info" | head -1)
    out=$(sed -n 's/^ *StdOut=\(.*\)$/\1/p' <<<"$info" | head -1)
    local opts=(--dependency="afterany:$SLURM_JOB_ID" --job-name="${SLURM_JOB_NAME:-tinyddp}"
        --nodes="$SLURM_JOB_NUM_NODES" --ntasks="$SLURM_NTASKS" --open-mode=append --export=ALL)
    [[ -n ${SLURM_NTASKS_PER_NODE:-} ]] && opts+=(--ntasks-per-node="$SLURM_NTASKS_PER_NODE")
    [[ -n ${SLURM_CPUS_PER_TASK:-} ]] && opts+=(--cpus-per-task="$SLURM_CPUS_PER_TASK")
    [[ -n $tl && $tl != UNLIMITED ]] && opts+=(--time="$tl")
    [[ -n $part ]] && opts+=(--partition="$part")
    [[ -n $out ]] && opts+=(--output="$out")
    tdp_log "resubmitting $script with JOB_DIR=$JOB_DIR (${opts[*]})"
    echo "${SLURM_JOB_ID} resubmit $(date +%s)" >>"$JOB_DIR/history"
    JOB_DIR=$JOB_DIR sbatch "${opts[@]}" "$script" "$@" ||
        tdp_log "error: sbatch failed; resubmit by hand with JOB_DIR=$JOB_DIR to resume"
}

# tdp_script NAME: the path of the job script as submitted (Slurm runs a copy from its spool)
tdp_script() {
    local cmd
    cmd=$(scontrol show job "$SLURM_JOB_ID" 2>/dev/null | sed -n 's/^ *Command=\([^ ]*\).*/\1/p' | head -1)
    if [[ -n $cmd && -f $cmd ]]; then echo "$cmd"; else echo "$TDP_ROOT/scripts/slurm/$1"; fi
}
