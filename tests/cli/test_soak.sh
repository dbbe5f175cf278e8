#!/usr/bin/env bash
# test_soak.sh: many epochs of the tiny model in every mode (and DDP with many buckets), sampling the process every 50 ms:
# resident memory stays flat (the second half of the run grows by less than 4 MB over the first
# quarter's level), and file descriptors and threads do not leak (their counts at the end are
# those of the steady state). Prints the figures.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

EPOCHS=${TDP_SOAK_EPOCHS:-60}
D=(--model "$SRC/models/tiny.cfg" --data synthetic --synthetic-train 8192 --synthetic-test 256
    --batch 32 --quiet)

# soak NAME LAUNCH... -- ARGS: sample the (first) ddp_train process of the run
soak() {
    local name=$1
    shift
    # TDP_SOAK_ONLY="NAME..." runs only those cases (when working on one)
    [[ -n ${TDP_SOAK_ONLY:-} && " $TDP_SOAK_ONLY " != *" $name "* ]] && return
    local launch=()
    while [[ $1 != -- ]]; do launch+=("$1"); shift; done
    shift
    local marker="$T/$name.json"
    "${launch[@]}" "$BIN/ddp_train" "${D[@]}" "$@" --json "$marker" >/dev/null 2>"$T/$name.err" &
    local job=$!
    local pid="" i
    for ((i = 0; i < 200; i++)); do
        pid=$(pgrep -f "^[^ ]*ddp_train .*$marker" | head -1)
        [[ -n $pid ]] && break
        sleep 0.02
    done
    : >"$T/$name.samples"
    # sample until the run has written its JSON (at the end of training): what follows is the
    # exit path (and, in the AddressSanitizer build, LeakSanitizer's check, which allocates)
    while [[ -n $pid && -r /proc/$pid/status && ! -e $marker ]]; do
        local rss thr fds
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        thr=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
        fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
        [[ -n $rss && -n $thr ]] && echo "$rss $thr $fds" >>"$T/$name.samples"
        sleep 0.05
    done
    wait $job || { bad "$name: run failed: $(cat "$T/$name.err")"; return; }
    local n
    n=$(wc -l <"$T/$name.samples")
    if ((n < 12)); then
        bad "$name: only $n samples (the run was too short to judge)"
        return
    fi
    # steady state from the first quarter on; the last samples may be the writing of the JSON or the
    # checkpoint. Memory: the highest level must not rise. Threads and descriptors: a leak raises
    # the lowest count (a checkpoint being written holds two descriptors for a moment, a DP step
    # its threads). Memory is not judged for the runs named in TDP_SOAK_RSS_UNJUDGED (the
    # AddressSanitizer build names dp: its runtime grows with every thread ever started, and DP
    # without --dp-pool starts two per step; a create/join loop of 10 lines grows the same).
    local judge_rss=1
    [[ " ${TDP_SOAK_RSS_UNJUDGED:-} " == *" $name "* ]] && judge_rss=0
    awk -v name="$name" -v n="$n" -v judge_rss="$judge_rss" '
        NR > n / 4 && NR <= n / 2 { if ($1 > q1) q1 = $1; if (t1 == "" || $2 < t1) t1 = $2; if (f1 == "" || $3 < f1) f1 = $3 }
        NR > n / 2 && NR <= n - 2 { if ($1 > q2) q2 = $1; if (t2 == "" || $2 < t2) t2 = $2; if (f2 == "" || $3 < f2) f2 = $3 }
        END {
            printf "%s: %d samples, RSS %.1f MB -> %.1f MB (highest, first quarter vs second half%s), threads %d -> %d, fds %d -> %d (lowest)\n",
                name, n, q1 / 1024, q2 / 1024, judge_rss ? "" : ", not judged here", t1, t2, f1, f2
            exit !((!judge_rss || q2 <= q1 + 4096) && t2 <= t1 && f2 <= f1)
        }' "$T/$name.samples" && ok || bad "$name: memory, threads or descriptors grew"
}
# the fast modes get more epochs, so that every run is sampled often enough to judge
soak serial env -- --mode serial --epochs $((4 * EPOCHS))
soak dp env -- --mode dp --workers 2 --epochs $((2 * EPOCHS))
soak dp_pool_cache env -- --mode dp --workers 2 --dp-pool --dp-cache --gil --epochs $((4 * EPOCHS))
soak ddp mpirun_ -np 2 -- --checkpoint "$T/soak.ckpt" --checkpoint-every 50 --epochs $((3 * EPOCHS))
soak hybrid mpirun_ -np 1 -- --workers 2 --epochs $((3 * EPOCHS))
# DDP with many buckets (1 KB: about 100 over the tiny model's arena), overlapped with backward:
# every bucket's request must be completed every step (ddp.c fails the step when one is not; with
# that check off, a wait on the last bucket only grew this run's memory by 7 MB in 30 epochs)
soak ddp_buckets mpirun_ -np 2 -- --bucket-kb 1 --epochs $((EPOCHS / 2))
finish
