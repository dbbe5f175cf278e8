#!/usr/bin/env bash
# test_scale_model.sh: scripts/scale-model on a saved inputs file (no MPI, no measuring; fast):
#  1. the table of predictions beside measurements, and the extension rows (16..1024 ranks on
#     10, 25 and 100 Gbit/s links, each saying what limits it);
#  2. the arithmetic of known cases is exact (round-number inputs, worked by hand below);
#  3. Open MPI's choice of algorithm by size and ranks;
#  4. one host from the DDP-shaped bench (shm_iallreduce rows), and the fallback without them;
#     simulated hosts whose link the cores limited: all the bytes at the cores' total, unhidden;
#  5. the compute of P ranks on one host from the co-running measurement (corun), s not counted
#     twice, in lockstep (E[max] of the processes' step i) within the cores, and the fallbacks of
#     older inputs (no lockstep_s: the median step; no corun: s x the serial run);
#  6. bad options exit 2 with one line naming the option, and print nothing on stdout; a
#     measurement that fails exits 1 naming it, with no traceback and nothing saved.
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
SM="$SRC/scripts/scale-model"
IN="$SRC/tests/reference/scale-inputs.json"
run() { timeout -k 5 30 "$SM" --inputs "$IN" "$@"; }
has() { grep -qF -- "$2" "$1" && ok || bad "$3: expected '$2' in:"$'\n'"$(head -c 3000 "$1")"; }
inputs_with() { # NAME PYTHON: the fixed inputs, changed by PYTHON (on d), as $T/NAME.json
    python3 -c "import json; d = json.load(open('$IN'))
$2
json.dump(d, open('$T/$1.json', 'w'))"
}

# ---------------------------------------------------------------- 1. the tables
run >"$T/out" 2>"$T/err"
check "default run exits 0" test $? = 0
check "default run writes nothing on stderr" test ! -s "$T/err"
has "$T/out" "| configuration | algorithm | compute | exposed comm | predicted samples/s | measured | error |" "checked table"
# np=2 on one host: compute 1100 us; libnbc binomial over shared memory (no duplex, nothing hidden):
# 4 buckets (3 x 262144 + 213568 B), 2 messages each: lat 8 x 1 us, bytes 2 x 1e6 / 1e10 = 200 us
# -> 208 us; 128 / 1308 us = 97,859 samples/s against 100,000 measured: -2.1%
has "$T/out" "| np=2, 1 host | binomial (libnbc) | 1100 us | 208 us | 97,859 | 100,000 | -2.1% | compute |" "np=2 row"
has "$T/out" "| np=4, 1 host | binomial (libnbc) | 2200 us | 832 us | 84,433 | 90,000 | -6.2% | compute | 4 ranks on 2 cores: compute x2 |" "np=4 row (oversubscribed)"
has "$T/out" "| np=2, 2 hosts, 1gbit |" "2-host row"
for r in 16 64 256 1024; do
    for l in 10gbit 25gbit 100gbit; do
        n=$(grep -cE "^\| $r \| $l \| (fp32|bf16|bf16\+zero) \| .*\| (compute|bandwidth|latency) \|$" "$T/out")
        check "extension rows for $r ranks on $l (got $n of 3)" test "$n" = 3
    done
done
has "$T/out" "25gbit: nominal x 0.80 efficiency and alpha of 10gbit" "unmeasured links say how they were derived"

# ---------------------------------------------------------------- 2. exact arithmetic
# ring, 4 ranks on 10 Gbit (alpha 10 us, B 1e9 B/s), 1e6 bytes, no overlap:
# latency 2(P-1) alpha = 60 us; bandwidth 2(P-1)/P n/B = 1500 us; step 1100 + 1560 = 2660 us;
# 4 x 64 / 2660 us = 96240.6 samples/s
run --predict 4:4:10gbit --algorithm ring --no-overlap --variants fp32 >"$T/p1" 2>&1
has "$T/p1" "predict ranks=4 hosts=4 link=10gbit variant=fp32 algorithm=ring: compute 1100.000 us, comm 1560.000 us (latency 60.000 us, bandwidth 1500.000 us exposed), exposed 1560.000 us, step 2660.000 us, 96240.6 samples/s, efficiency 0.4135, limited by bandwidth" "ring, 4 hosts"
# libnbc binomial, 2 hosts, overlap: buckets 3 x 262144 + 213568; a two-stage pipeline:
# comm = L (k+1) alpha + L (n + biggest) / B = 50 + 1262.144 = 1312.144 us; backward (500 us) hides
# that much: exposed 812.144 us (more than the last bucket alone, 2 (10 + 213.568) = 447.136 us)
run --predict 2:2:10gbit >"$T/p2" 2>&1
has "$T/p2" "algorithm=binomial (libnbc): compute 1100.000 us, comm 1312.144 us (latency 30.947 us, bandwidth 781.197 us exposed), exposed 812.144 us, step 1912.144 us, 66940.6 samples/s" "binomial, 2 hosts"
# bf16 + ZeRO-1, 4 hosts, libnbc as Open MPI 4.1 runs zero.c's calls: n = 5e5, L = log2(4) = 2;
# reduce-scatter = binomial reduce + linear scatter: lat (2 + 3) alpha = 50 us,
# bytes (2 + 3/4) n / B = 1375 us; linear allgather: 3 alpha = 30 us, 3/4 n / B = 375 us; nothing
# hidden: 1830 us; optimizer / 4: compute 1000 + 25 = 1025 us; 256 / 2855 us = 89667.3 samples/s
run --predict 4:4:10gbit --variants bf16+zero >"$T/p3" 2>&1
has "$T/p3" "compute 1025.000 us, comm 1830.000 us (latency 80.000 us, bandwidth 1750.000 us exposed), exposed 1830.000 us, step 2855.000 us, 89667.3 samples/s" "bf16 + ZeRO, 4 hosts"
run --predict 1:1 >"$T/p4" 2>&1
has "$T/p4" "step 1100.000 us, 58181.8 samples/s, efficiency 1.0000, limited by compute" "one rank"

# the link fit (measure.fit_link via refit, as scale-model applies it to saved bench rows):
# a 2-rank bench whose calls take 2 alpha + n / 62.5e6 s (alpha 10 us): 62.5 MB/s each way with
# both directions loaded, 125 MB/s in all. Named 1gbit (125e6 B/s one way) the total is within
# 10% of the rate: shared, B = 125e6; named 10gbit it is not: each direction on its own, B = 62.5e6
fit() {
    python3 -c "import sys; sys.path.insert(0, '$SRC/scripts/py'); from scale import measure
rows = [(n, 2e-5 + n / 62.5e6) for n in (4096, 262144, 1048576)]
for name in ('1gbit', '10gbit'):
    f = measure.refit(name, {'bench': rows})
    print(name, round(f['bandwidth_Bps']), round(f['duplex_Bps']), round(f['alpha_s'] * 1e6, 6), f['two_way'])"
}
fit >"$T/fit" 2>&1
has "$T/fit" "1gbit 125000000 62500000 10.0 shared" "fit: a shared 1gbit link"
has "$T/fit" "10gbit 62500000 62500000 10.0 duplex" "fit: a duplex link below its rate"
# a simulated link's bench is taken once a round and fitted on the per-size median: one busy round
# (its 1 MB call 3x slower) moves nothing
python3 -c "import sys; sys.path.insert(0, '$SRC/scripts/py'); from scale import measure
print(measure.median_rows([[[4096, 1.0], [1048576, 10.0]], [[1048576, 30.0], [4096, 2.0]], [[4096, 3.0], [1048576, 11.0]]]))" >"$T/med" 2>&1
has "$T/med" "[[4096, 2.0], [1048576, 11.0]]" "the link's benches: the median per size"
# the bf16 CPU cost from the one-host runs: fp32 100,000 samples/s (1280 us a step), bf16 80,000
# (1600 us); the model's comm there: fp32 208 us (above), bf16 4 buckets (3 x 131072 + 106784)
# 2 (4 x 1 us + 5e5 / 1e10 s) = 108 us, 100 us saved: 320 + 100 = 420 us a step, / 1e6 bytes
inputs_with bf "d['measured'].append({'ranks': 2, 'hosts': 1, 'link': 'shm', 'compress': True, 'zero': False, 'samples_per_s': 80000})"
timeout -k 5 30 "$SM" --inputs "$T/bf.json" >"$T/bf" 2>&1
has "$T/bf" "# bf16 CPU cost: 0.420 ns per fp32 gradient byte (420 us per step)" "bf16 cost derived"
has "$T/bf" "| np=2, 1 host bf16 | binomial (libnbc) | 1520 us | 108 us |" "bf16 row: compute + the derived cost"
has "$T/bf" "derived from this run: not a check |" "the calibrating row says so"
# a bf16 run faster than the model's comm allows (128,000 samples/s, 1000 us a step: 1000 - 1280
# + 100 = -180 us): the cost is taken as 0, the row says so and is a check again
inputs_with bfn "d['measured'].append({'ranks': 2, 'hosts': 1, 'link': 'shm', 'compress': True, 'zero': False, 'samples_per_s': 128000})"
timeout -k 5 30 "$SM" --inputs "$T/bfn.json" >"$T/bfn" 2>&1
check "a negative bf16 cost: 0 (no cost line)" sh -c "! grep -q '^# bf16 CPU cost' '$T/bfn'"
has "$T/bfn" "the bf16 CPU cost derived from this run came out -180 us a step (the model's 16-bit comm here exceeds the run's extra time): taken as 0 |" "a negative bf16 cost: said"

# ---------------------------------------------------------------- 3. Open MPI's choice (4.1 tuned)
run --predict 2:2:10gbit --algorithm tuned --no-overlap >"$T/p5" 2>&1
has "$T/p5" "algorithm=rabenseifner" "P=2, 1 MB: rabenseifner"
run --predict 64:64:10gbit --algorithm tuned --bucket-kb 4 >"$T/p6" 2>&1
has "$T/p6" "algorithm=recursive-doubling" "P=64, 4 KB buckets: the last bucket by recursive doubling"

# ---------------------------------------------------------------- 4. one host from the DDP-shaped bench
has "$T/out" "Note: one host: comm = s x 2L(k alpha + n/B) from the blocking bench's fit (these inputs have no shm_iallreduce rows: an older file)." "old inputs fall back and say so"
# rows [bytes, bucket bytes, seconds] of allreduce_bench --call iallreduce at 2 ranks:
# 1 MiB in 256 KB buckets (4 buckets, like the 1e6-byte gradient) in 419.4304 us: 400 us for
# 1e6 bytes; 5e5 B in 128 KB buckets (bf16's 4) 250 us; 1e6 B in one call (--no-overlap) 300 us
inputs_with ia "d['shm_iallreduce'] = {'ranks': 2, 'rows': [[1048576, 262144, 4.194304e-4], [500000, 131072, 2.5e-4], [1000000, 0, 3e-4]]}
d['measured'][1]['terms'] = {'step_s': 0.0015, 'compute_s': 0.0012, 'comm_s': 0.0002, 'wait_s': 0.00005}"
ia() { timeout -k 5 30 "$SM" --inputs "$T/ia.json" "$@"; }
ia >"$T/ia" 2>&1
# np=2: comm = s L t = 400 us, nothing hidden; 128 / 1500 us = 85,333 (-14.7% against 100,000);
# np=4 on 2 cores: s = 2, L = 2: 4 x 400 = 1600 us; 256 / 3800 us = 67,368 (-25.1%)
has "$T/ia" "| np=2, 1 host | binomial (libnbc) | 1100 us | 400 us | 85,333 | 100,000 | -14.7% | compute |" "np=2 from the bench"
has "$T/ia" "| np=4, 1 host | binomial (libnbc) | 2200 us | 1600 us | 67,368 | 90,000 | -25.1% |" "np=4 from the bench, x s x L"
has "$T/ia" "| np=2, 2 hosts, 10gbit | binomial (libnbc) | 1100 us | 812 us |" "2 hosts keep the fit"
has "$T/ia" "Note: one host: comm = s x L x the measured time of allreduce_bench --call iallreduce" "the note names the bench"
has "$T/ia" "# shm MPI_Iallreduce as DDP calls it (2 ranks): 1048576 B in 256 KB buckets 419.4 us" "header row"
# where the np=2 run's step went (its terms) beside the model's; the rest: 1500 - 1200 - 200 us
has "$T/ia" "| np=2, 1 host | 1500 us | 1500 us | 1100 us | 1200 us | 400 us | 200 us | 50 us | 100 us |" "measured terms"
check "the terms table has only the runs with terms" test "$(grep -c '^| np=' "$T/ia")" = 6
check "no terms table without terms" bash -c "! grep -q 'Where the measured steps went' '$T/out'"
# split as the formula's 8 us latency : 200 us bandwidth; efficiency 85,333 / (2 x 64 / 1100 us)
ia --predict 2:1 >"$T/ia1" 2>&1
has "$T/ia1" "comm 400.000 us (latency 15.385 us, bandwidth 384.615 us exposed), exposed 400.000 us, step 1500.000 us, 85333.3 samples/s, efficiency 0.7333, limited by compute, comm from the DDP-shaped bench" "np=2 terms"
ia --predict 2:1 --variants bf16 >"$T/ia2" 2>&1
has "$T/ia2" "comm 250.000 us" "bf16: the 128 KB row"
ia --predict 2:1 --no-overlap >"$T/ia3" 2>&1
has "$T/ia3" "comm 300.000 us" "--no-overlap: the one-call row"
# no row with 64 KB buckets, or another algorithm: the formula (16 buckets: 32 us + 200 us)
ia --predict 2:1 --bucket-kb 64 >"$T/ia4" 2>&1
has "$T/ia4" "comm 232.000 us (latency 32.000 us, bandwidth 200.000 us exposed)" "no matching row: the fit"
has "$T/ia4" "comm from the alpha-beta fit" "no matching row: says so"
ia --predict 2:1 --algorithm binomial >"$T/ia5" 2>&1
has "$T/ia5" "comm 208.000 us" "--algorithm binomial: the formula"

# --measure's plan (no run): 9 np=2 runs over 3 rounds, 3 a round between the others, the
# DDP-shaped bench last; 5 over 2 rounds: 3 then 2; the bench shapes of a 940,592-byte gradient
python3 -c "import sys; sys.path.insert(0, '$SRC/scripts/py'); from scale import measure as m
print([m.round_plan(['np1', 'np2', 'np4', 'bf16'], 'np2', r, 3, 9, 'B') for r in range(3)][0])
print([m.round_plan(['np1', 'np2', 'np4', 'bf16'], 'np2', r, 2, 5, 'B').count('np2') for r in range(2)])
print(m.ddp_shapes(940592, 256))" >"$T/plan" 2>&1
has "$T/plan" "['np2', 'np1', 'np2', 'np4', 'np2', 'bf16', 'B']" "np=2 spread over a round"
has "$T/plan" "[3, 2]" "np=2 repeats over uneven rounds"
has "$T/plan" "[(919, 256), (460, 128), (919, 0)]" "the bench shapes: fp32, bf16, one call"

# ---------------------------------------------------------------- 4b. simulated hosts the cores limit
# A 10 Gbit/s link whose bench the fit read 'duplex' (each direction on its own, as far as the
# cores let it), 5e8 B/s each way at once: the cores' total is 1e9 B/s. np=2 on 2 simulated hosts sharing the 2 cores, n = 1e6 B in 4 buckets: each direction
# at the nominal 1.25e9 B/s: latency 1 x 10 us x 5 = 50 us, pipeline (1e6 + 262144) / 1.25e9 =
# 1009.7 us; the cores: 2 x 1 x 1e6 / 1e9 = 2000 us, larger: comm 2050 us, nothing hidden (the
# cores move the bytes), step 1100 + 2050 = 3150 us, 128 / 3150 us = 40,634.9 samples/s.
inputs_with cb "d['links']['10gbit'].update(duplex_Bps=5e8, two_way='duplex')"
"$SM" --inputs "$T/cb.json" --predict 2:2:10gbit --shared-cores >"$T/cb1" 2>&1
has "$T/cb1" "comm 2050.000 us (latency 50.000 us, bandwidth 2000.000 us exposed), exposed 2050.000 us, step 3150.000 us, 40634.9 samples/s" "cores-bound link: all bytes at the cores' total, nothing hidden"
"$SM" --inputs "$T/cb.json" >"$T/cb2" 2>&1
has "$T/cb2" "| np=2, 2 hosts, 10gbit | binomial (libnbc) | 1100 us | 2050 us | 40,635 | 60,000 | -32.3% | bandwidth | comm: all the bytes at the cores' total rate (model.cores_bound) |" "checked row says the cores bound it"
# the cores faster (4e9 B/s in all: 500 us < 1009.7 us): the wire pipeline at the nominal rate, the
# last bucket (2 x (10 us + 213568 / 1.25e9) = 361.7 us) or the rest past backward's 500 us:
# exposed max(361.7, 1059.7 - 500) = 559.7 us, step 1659.7 us, 77,121.7 samples/s
inputs_with cb3 "d['links']['10gbit'].update(duplex_Bps=2e9, two_way='duplex')"
"$SM" --inputs "$T/cb3.json" --predict 2:2:10gbit --shared-cores >"$T/cb4" 2>&1
has "$T/cb4" "exposed 559.715 us, step 1659.715 us, 77121.7 samples/s" "cores not the limit: the nominal rate per direction, backward hides"
# one rank per core (real hosts, no --shared-cores): the fitted rate, no cores bound (1912.1 us)
"$SM" --inputs "$T/cb.json" --predict 2:2:10gbit >"$T/cb5" 2>&1
has "$T/cb5" "step 1912.144 us, 66940.6 samples/s" "real hosts: no cores bound"
# a link the tbf limited ('shared'): no cores bound either (the reference's 1 Gbit/s row, unchanged)
inputs_with cb6 "d['links']['1gbit'].update(duplex_Bps=5e7, two_way='shared')"
"$SM" --inputs "$T/cb6.json" >"$T/cb7" 2>&1
"$SM" --inputs "$IN" >"$T/cb8" 2>&1
check "a 'shared' link keeps its row" test "$(grep '^| np=2, 2 hosts, 1gbit' "$T/cb7")" = "$(grep '^| np=2, 2 hosts, 1gbit' "$T/cb8")"

# ---------------------------------------------------------------- 5. compute of ranks sharing the machine
# corun (P serial processes at once): P=2 1500 us a step (optimizer 100 us), P=4 4000 us (200 us)
inputs_with co "d['corun'] = {'2': {'step_s': 0.0015, 'optimizer_s': 0.0001}, '4': {'step_s': 0.004, 'optimizer_s': 0.0002}}"
co() { timeout -k 5 30 "$SM" --inputs "$T/co.json" "$@"; }
co >"$T/co" 2>&1
# np=2: compute 1500 us (the co-run's, not the serial 1100), comm 208 us as in 1.; 128 / 1708 us
# = 74,941 (-25.1%); np=4 on 2 cores: compute 4000 us, the time-sharing is in it (not x s = 2),
# comm still x s: 832 us; 256 / 4832 us = 52,980 (-41.1%); np=1 and 2 hosts keep the serial run's
has "$T/co" "| np=2, 1 host | binomial (libnbc) | 1500 us | 208 us | 74,941 | 100,000 | -25.1% | compute |" "np=2 co-run compute"
has "$T/co" "| np=4, 1 host | binomial (libnbc) | 4000 us | 832 us | 52,980 | 90,000 | -41.1% | compute | 4 ranks on 2 cores: compute co-run (time-sharing in it) |" "np=4 co-run, s not counted twice"
has "$T/co" "| np=1, 1 host | - | 1100 us |" "np=1 keeps the serial run"
has "$T/co" "| np=2, 2 hosts, 10gbit | binomial (libnbc) | 1100 us |" "2 hosts keep the serial run"
has "$T/co" "Note: one host, P ranks: compute = the measured step of P serial processes at once (corun: P = 2, 4;" "the note names the co-run"
has "$T/co" "no lockstep measured (an older file)." "co-run without lockstep_s: the median step, and say so"
has "$T/co" "# co-running serial processes (compute of P ranks on this machine): P=2 1500.0 us a step (1.36x serial), P=4 4000.0 us a step (3.64x serial)" "header"
has "$T/out" "Note: one host, P ranks: compute = s x the serial run's (these inputs have no corun measurement: an older file)." "old inputs: the serial run x s, and say so"
# --predict: with --shared-cores the co-run (ZeRO: 3800 + 200 / 4 = 3850 us); without, one rank per
# core: the serial run's 1100 us
co --predict 4:1 --shared-cores --variants fp32+zero >"$T/co1" 2>&1
has "$T/co1" "compute 3850.000 us" "--predict 4:1 --shared-cores: the co-run, optimizer / P"
co --predict 4:1 >"$T/co2" 2>&1
has "$T/co2" "compute 1100.000 us" "--predict 4:1: one rank per core, the serial run"
# lockstep (the slower process's step): P=2 lockstep 1800 us against the median 1500 us; P=4
# past the cores (bound false) keeps the median step (4000 us) though it has a lockstep_s
inputs_with lk "d['corun'] = {'2': {'step_s': 0.0015, 'optimizer_s': 0.0001, 'lockstep_s': 0.0018, 'bound': True}, '4': {'step_s': 0.004, 'optimizer_s': 0.0002, 'lockstep_s': 0.006, 'bound': False}}"
lk() { timeout -k 5 30 "$SM" --inputs "$T/lk.json" "$@"; }
lk >"$T/lk" 2>&1
# np=2: compute 1800 us, comm 208 us; 128 / 2008 us = 63,745 samples/s (-36.3%)
has "$T/lk" "| np=2, 1 host | binomial (libnbc) | 1800 us | 208 us | 63,745 | 100,000 | -36.3% | compute |" "np=2 lockstep compute"
has "$T/lk" "| np=4, 1 host | binomial (libnbc) | 4000 us | 832 us | 52,980 | 90,000 | -41.1% |" "np=4 past the cores: the median step"
has "$T/lk" "in lockstep (the slower process's step, mean over steps) for P = 2; the median step for P = 4." "the note names the lockstep"
has "$T/lk" "P=2 1500.0 us a step (1.36x serial, lockstep 1800.0 us)" "header shows the lockstep"
# ZeRO: 1800 - 100 + 100 / 2 = 1750 us
lk --predict 2:1 --shared-cores --variants fp32+zero >"$T/lk1" 2>&1
has "$T/lk1" "compute 1750.000 us" "--predict 2:1 --shared-cores: lockstep, optimizer / P"
# E[max]: steps (1, 3) ms and (2, 1) ms: max 2 and 3, mean 2.5 ms (the means are 2 and 1.5);
# steps paired by index up to the shorter process; the metrics clocks: step 1 and the step
# across the epoch's end left out (0.5, 0.501, 0.503 s, an epoch record, 0.7 s: 1 and 2 ms)
printf '%s\n' '{"kind": "step", "step": 1, "epoch": 1, "seconds": 0.5}' '{"kind": "step", "step": 2, "epoch": 1, "seconds": 0.501}' \
    '{"kind": "step", "step": 3, "epoch": 1, "seconds": 0.503}' '{"kind": "epoch", "step": 3, "epoch": 1, "seconds": 0.6}' \
    '{"kind": "step", "step": 4, "epoch": 2, "seconds": 0.7}' >"$T/m.jsonl"
python3 -c "import sys; sys.path.insert(0, '$SRC/scripts/py'); from scale import corun
print(round(corun.lockstep([[0.001, 0.003], [0.002, 0.001, 0.009]]) * 1e6, 3), corun.lockstep([[], [1.0]]),
      [round(x * 1e3, 3) for x in corun.step_times('$T/m.jsonl')])
s = corun.summarize([([(0.001, 1e-4), (0.003, 1e-4)], 0.01, 0.004), ([(0.002, 2e-4), (0.004, 1e-4)], 0.02, 0.005)], True)
print(round(s['lockstep_s'] * 1e6, 3), s['lockstep_runs_us'])" >"$T/lock" 2>&1
has "$T/lock" "2500.0 None [1.0, 2.0]" "lockstep = mean of the per-step max; the metrics' step times"
has "$T/lock" "4500.0 [4000.0, 5000.0]" "lockstep in the summary: median over rounds"
# the measurement's summary: median over processes and rounds (1, 3, 2, 4 ms: 2.5 ms), the longest hold
python3 -c "import sys; sys.path.insert(0, '$SRC/scripts/py'); from scale import corun
s = corun.summarize([([(0.001, 1e-4), (0.003, 1e-4)], 0.01), ([(0.002, 2e-4), (0.004, 1e-4)], 0.02)], True)
print(round(s['step_s'] * 1e6, 3), round(s['optimizer_s'] * 1e6, 3), s['held_s'], s['runs_us'])" >"$T/sum" 2>&1
has "$T/sum" "2500.0 100.0 0.02 [1000.0, 3000.0, 2000.0, 4000.0]" "co-run summary"
# the barrier: two stand-in processes (sh) that write their TDP_TEST_SETUP_WAIT file at 0 s and
# 0.3 s and each wait for its removal; both released together, the first held ~0.3 s, the last 0;
# one that exits before its file exists is an error naming it
python3 -c "import sys, subprocess, tempfile, os, time; sys.path.insert(0, '$SRC/scripts/py'); from scale import corun
d = tempfile.mkdtemp(dir='$T')
w = [os.path.join(d, f'w{i}') for i in range(2)]
sh = 'sleep \$1; echo \$\$ > \$2; n=0; while [ -e \$2 ] && [ \$n -lt 3000 ]; do sleep 0.01; n=\$((n+1)); done; date +%s.%N > \$2.out'
ps = [subprocess.Popen(['sh', '-c', sh, 'sh', s, f]) for s, f in zip(('0', '0.3'), w)]
h = corun.barrier(list(zip(ps, w)))
[p.wait(timeout=10) for p in ps]
t = [float(open(f + '.out').read()) for f in w]
print('held', 0.2 < h[0] < 2.0, h[1] == 0.0, 'released together', abs(t[0] - t[1]) < 0.1, 'files gone', not any(os.path.exists(f) for f in w))
q = subprocess.Popen(['sh', '-c', 'echo no data here; exit 2'], stdout=subprocess.PIPE)
try:
    corun.barrier([(q, os.path.join(d, 'never'))])
except RuntimeError as e:
    print('early exit:', str(e).replace(chr(10), ' | '))
q = [subprocess.Popen(['sh', '-c', 'echo \$\$ > \$0; exec sleep 30', os.path.join(d, 'h0')]),
     subprocess.Popen(['sleep', '30'])]
t0 = time.monotonic()
try:
    corun.barrier([(q[0], os.path.join(d, 'h0')), (q[1], os.path.join(d, 'h1'))], timeout=5, hold=0.3)
except RuntimeError as e:
    print('past the hold:', e, time.monotonic() - t0 < 10)
[(p.kill(), p.wait()) for p in q]" >"$T/hold" 2>&1
has "$T/hold" "held True True released together True files gone True" "the barrier holds the first until the last is set up, releases both"
has "$T/hold" "early exit: a co-running process ended (exit 2) before its set-up was done" "a process that ends early is named"
has "$T/hold" "no data here" "with its output"
has "$T/hold" "past the hold: a co-running process was set up and the others not within 0.3 s (ddp_train holds for 60 s at most) True" "one set up, the other not within the hold: an error, not a start alone"
# one real start: 2 serial processes of the tiny model at once (10 steps), through the barrier
python3 -c "import sys, types, shutil; sys.path.insert(0, '$SRC/scripts/py'); from scale import corun, measure
a = types.SimpleNamespace(root='$SRC', bin='$BIN', model_path='$SRC/models/tiny.cfg', batch=8, nice=0)
r = measure.Runner(a, print)
try:
    res = corun.start_together(r, 2, 10)
    print('procs', len(res), all(j['steps'] == 10 and j['train_seconds'] > 0 for j, _, _ in res),
          min(h for _, h, _ in res) == 0.0 and all(0.0 <= h < 60.0 for _, h, _ in res), r.tmp)
    print('steps timed', all(len(d) >= 5 and min(d) > 0 for _, _, d in res), corun.lockstep([d for _, _, d in res]) > 0)
finally:
    shutil.rmtree(r.tmp)" >"$T/once" 2>&1
# (the holds: the last to be set up 0, the other what it waited; both 0 when they were set up within
# the same millisecond's poll. A sanity bound only: the barrier's holding and releasing are checked
# on the stand-ins above, ddp_train's wait at the file in hostile_io)
has "$T/once" "procs 2 True True" "2 processes started together: the last one not held"
has "$T/once" "steps timed True True" "each process's step times from its metrics; a lockstep step"
check "the co-run round's folder removed" test ! -e "$(awk '/^procs/ {print $5}' "$T/once")"

# ---------------------------------------------------------------- 6. bad options
bad_opt() { refused "$1" "$2" "$SM" "${@:3}"; } # WHAT NEEDLE ARGS...
bad_opt "unknown option" "unrecognized arguments: --frobnicate" --inputs "$IN" --frobnicate
bad_opt "--ranks 0" "--ranks: every value must be in" --inputs "$IN" --ranks 0
bad_opt "--ranks x" "--ranks: 'x' is not" --inputs "$IN" --ranks x
bad_opt "--links" "--links: '10foo' is not a rate" --inputs "$IN" --links 10foo
bad_opt "--variants" "--variants: 'fp8' is not one of" --inputs "$IN" --variants fp8
bad_opt "--algorithm" "--algorithm: invalid choice" --inputs "$IN" --algorithm magic
bad_opt "--predict 3:2" "--predict: '3:2' is not RANKS:HOSTS" --inputs "$IN" --predict 3:2
bad_opt "--predict unmeasured link name" "--predict: '2:2:wifi' is not" --inputs "$IN" --predict 2:2:wifi
bad_opt "--save without --measure" "--save: only with --measure" --inputs "$IN" --save "$T/x.json"
bad_opt "missing inputs" "--inputs: cannot read '$T/none.json'" --inputs "$T/none.json"
echo '{"links": {}}' >"$T/partial.json"
bad_opt "inputs without compute" "no 'compute'" --inputs "$T/partial.json"
inputs_with badrow "d['shm_iallreduce'] = {'rows': [[1000, 0]]}"
bad_opt "a malformed shm_iallreduce row" "shm_iallreduce: a row is not [bytes, bucket bytes, seconds]" --inputs "$T/badrow.json"
inputs_with badco "d['corun'] = {'2': {'step_s': 1e-4, 'optimizer_s': 2e-4}}"
bad_opt "a malformed corun entry" "corun: entry '2' is not ranks -> {step_s > optimizer_s >= 0}" --inputs "$T/badco.json"
inputs_with badlk "d['corun'] = {'2': {'step_s': 1e-3, 'optimizer_s': 2e-4, 'lockstep_s': 1e-4}}"
bad_opt "a malformed lockstep_s" "corun: entry '2': lockstep_s is not a number > optimizer_s" --inputs "$T/badlk.json"
check "no file left by --save" test ! -e "$T/x.json"
# measurements that fail: exit 1, what failed and the command on stderr, no traceback, nothing on
# stdout, nothing saved
measure_fails() { # WHAT SCRIPT NEEDLE...: --measure with SCRIPT (sh) as ddp_train
    local what=$1 d
    d=$(mktemp -d "$T/bin.XXXX")
    printf '#!/bin/sh\n%s\n' "$2" >"$d/ddp_train"
    chmod +x "$d/ddp_train"
    timeout -k 5 30 "$SM" --measure --no-cluster --bin "$d" --save "$T/meas.json" >"$T/mo" 2>"$T/me"
    local st=$?
    check "$what: exit 1 (got $st)" test $st = 1
    shift 2
    for needle in "$@" "$d/ddp_train"; do has "$T/me" "$needle" "$what"; done
    check "$what: no traceback" sh -c "! grep -q Traceback '$T/me'"
    check "$what: nothing on stdout" test ! -s "$T/mo"
    check "$what: nothing saved" sh -c "! ls '$T'/meas.json* 2>/dev/null"
}
measure_fails "a ddp_train that exits 1" 'echo "ddp_train: cannot run here" >&2; exit 1' \
    "scale-model: --measure failed, nothing saved: failed (exit 1):" "ddp_train: cannot run here"
measure_fails "one that leaves a truncated JSON" \
    'while [ $# -gt 0 ]; do [ "$1" = --json ] && printf "{\\"steps\\": 1" >"$2"; shift; done' \
    "scale-model: --measure failed, nothing saved: no readable JSON (Expecting" "--mode serial"
measure_fails "one that writes no JSON" 'exit 0' \
    "scale-model: --measure failed, nothing saved: no readable JSON ([Errno 2] No such file or directory"

finish
