#!/usr/bin/env bash
# test_cluster.sh: DDP across two simulated hosts (scripts/cluster-sim: network namespaces,
# ranks on one host over shared memory, across hosts over TCP): 2 hosts x 2 ranks give the
# weights of 4 ranks on one host (bitwise with --deterministic), and the JSON says hosts 2.
# Needs root; exits 77 (skipped) without it.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
if [[ $(id -u) != 0 ]]; then
    echo "skipped: network namespaces need root"
    exit 77
fi
SIM="$SRC/scripts/cluster-sim"
"$SIM" down # leftovers of an interrupted run
trap '"$SIM" down; rm -rf "$T"' EXIT

ARGS=(--model "$SRC/models/fashion-mlp.cfg" --data synthetic --synthetic-train 1024
    --synthetic-test 256 --batch 16 --max-steps 12 --quiet)
for det in "" --deterministic; do
    name=local${det:+_det}
    mpirun_ -np 4 "$BIN/ddp_train" "${ARGS[@]}" $det --dump-weights "$T/$name.bin" ||
        bad "4 local ranks $det"
    name2=hosts${det:+_det}
    timeout -k 5 180 "$SIM" run 2 -- --host tdp1:2,tdp2:2 -np 4 "$BIN/ddp_train" "${ARGS[@]}" $det \
        --dump-weights "$T/$name2.bin" --json "$T/$name2.json" >"$T/$name2.log" 2>&1 ||
        bad "2 hosts x 2 ranks $det: $(tail -5 "$T/$name2.log")"
    if [[ -n $det ]]; then
        cmp -s "$T/$name.bin" "$T/$name2.bin" && ok || bad "--deterministic: 2 hosts differ from 4 local ranks"
    else
        "$BIN/wcmp" "$T/$name2.bin" "$T/$name.bin" 1e-5 && ok || bad "2 hosts vs 4 local ranks"
    fi
    [[ $(json_field "$T/$name2.json" hosts) == 2 && $(json_field "$T/$name2.json" world_size) == 4 ]] &&
        ok || bad "JSON hosts/world_size: $(cat "$T/$name2.json")"
done
# the hosts are torn down after the run
[[ -z $("$SIM" status) ]] && ok || bad "hosts left up: $("$SIM" status)"
# and a failing job tears them down too
"$SIM" run 2 -- --host tdp1:1,tdp2:1 -np 2 "$BIN/ddp_train" --batch 0 >/dev/null 2>&1 && bad "bad job succeeded" || ok
[[ -z $("$SIM" status) ]] && ok || bad "hosts left up after a failed job"
finish
