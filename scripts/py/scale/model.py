"""model.py: predicted step time and samples/s of a DDP configuration from measured inputs.

step = compute + exposed communication, where
  compute  = s * (forward+backward + optimizer / (P if ZeRO else 1)),
             s = max(1, ranks on the machine / its cores) (oversubscription: the simulated hosts
             all share this machine's cores; 1 for the extension, one rank per host)
             from the serial run; but P ranks on one host sharing the inputs' cores (cores given)
             take the co-running measurement when the inputs have one for P (corun: P serial
             processes at once, corun.py):
  compute  = fb_P + optimizer_P / (P if ZeRO else 1)   (no s: past the cores the measured
             processes were time-shared too, so the oversubscription is in fb_P already; s still
             multiplies the one-host comm below)
  fb_P     = lock_P - optimizer_P,  lock_P = mean over steps i of max over the P processes of
             d_p,i (d_p,i: process p's step i, from its --metrics clock; corun.lockstep): DDP's
             ranks end every step in a collective, so a step costs the slower rank's compute
             (E[max]), not the mean. Within the cores only; past them (time-shared, steps cannot
             be paired) and in older inputs (no lockstep_s) fb_P = the co-run's median step less
             optimizer_P, and the note says so.
             An older inputs file (no corun for P) falls back to s x the serial run's, and says so.
  comm     = the allreduce of n bytes (n halved by 16-bit compression) by the chosen algorithm;
             ZeRO-1: a reduce-scatter + an allgather of n (ring)
             across simulated hosts whose link the cores limited (cores_bound: the 10 Gbit/s
             link here): each direction at the nominal rate, and comm at least all the bytes
             (2(P-1) n) at the cores' total rate, the bench's 2 x duplex_Bps
  exposed  = comm - the backward time it can hide behind, never less than its last bucket
             (overlap across hosts: the NIC moves the bytes while the cores compute); on one host
             the shared-memory copies are the busy cores' own work, so nothing hides, and neither
             does it where the cores bound the comm across simulated hosts (the TCP copies and
             the kernel's network work are the busy cores' work too)
samples/s = P * batch / step.

One host, tinyddp's own call (--algorithm auto, no ZeRO): when the inputs have a row of
allreduce_bench run as DDP calls it (shm_iallreduce: 2 ranks, in-place MPI_Iallreduce per bucket,
all started, then MPI_Waitall) for the same bucket size and number of buckets,
  comm = s * L * t_bench * n / n_bench,   L = ceil(log2 P)
(libnbc's binomial tree: L rounds up and L down, one each at P = 2, where t_bench was measured).
Otherwise (an older inputs file, another bucket size, or another algorithm) the alpha-beta formula
of the blocking bench's fit: comm = s * 2L(k alpha + n/B) for k buckets.
"""
import math
import re

from . import corun, costs

LINK_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([mg])bit$")


def link_bps(name):
    """nominal bits/s of a link name like 10gbit or 100mbit (None for shm)"""
    m = LINK_RE.match(name)
    if not m:
        return None
    return float(m.group(1)) * (1e9 if m.group(2) == "g" else 1e6)


def link_params(inp, name):
    """(alpha s, bandwidth bytes/s, how they were obtained) of a link: measured if the inputs have
    it, otherwise the nominal rate times the efficiency of the fastest measured network link, with
    that link's latency"""
    links = inp["links"]
    if name in links:
        lk = links[name]
        return lk["alpha_s"], lk["bandwidth_Bps"], "measured"
    bps = link_bps(name)
    if bps is None:
        raise ValueError(f"no link '{name}' in the inputs, and it is not a rate like 10gbit")
    nets = [(link_bps(k), v) for k, v in links.items() if link_bps(k)]
    if not nets:
        return 25e-6, bps / 8, "nominal rate, assumed alpha 25 us"
    fast_bps, fast = max(nets, key=lambda t: t[0])
    eff = min(1.0, fast["bandwidth_Bps"] * 8 / fast_bps)
    return fast["alpha_s"], bps / 8 * eff, f"nominal x {eff:.2f} efficiency and alpha of {fmt_rate(fast_bps)}"


def fmt_rate(bps):
    return f"{bps / 1e9:g}gbit" if bps >= 1e9 else f"{bps / 1e6:g}mbit"


def buckets(n, bucket_bytes):
    """sizes of the buckets, cut from the end of the arena (the remainder is the last to be ready)"""
    if bucket_bytes <= 0 or bucket_bytes >= n:
        return [n]
    k, rem = divmod(n, bucket_bytes)
    return [bucket_bytes] * k + ([rem] if rem else [])


def shm_measured(inp, n, bucket_bytes):
    """(seconds at 2 ranks for n bytes, the row) from the inputs' DDP-shaped bench rows
    (shm_iallreduce: [bytes, bucket bytes, seconds]) with the same bucket size and number of
    buckets as n bytes in buckets of bucket_bytes (0: one call), scaled to n; None if none"""
    def shape(nb, b):
        b = 0 if b <= 0 or b >= nb else b
        return b, (math.ceil(nb / b) if b else 1)
    want = shape(n, bucket_bytes)
    rows = [r for r in (inp.get("shm_iallreduce") or {}).get("rows", []) if shape(r[0], r[1]) == want]
    if not rows or n <= 0:
        return None
    r = min(rows, key=lambda r: abs(math.log(r[0] / n)))
    return r[2] * n / r[0], r


def cores_bound(inp, name, n, ranks):
    """seconds the shared cores need to move libnbc's binomial allreduce of n bytes across
    simulated hosts (P ranks: 2(P-1) messages of n), or None where they are not the limit.

    cluster-sim's hosts share this machine's cores: the kernel's veth, bridge and tbf work and the
    ranks' TCP copies run on the cores that also compute. A link whose bench's total was not
    within 10% of its rate (fit_link's two_way 'duplex': above it, as the Xeon's 10 Gbit/s link,
    or below it, as one AMD file's 0.87 GB/s on the same link) was limited by the cores, not by
    its tbf: the bench's total, 2 x duplex_Bps (both directions at once), is what the cores move,
    whichever way the bytes go. Such a link's each direction then runs at its nominal rate, and
    the allreduce takes at least all its bytes at the cores' total. A link the tbf limited
    ('shared', the 1 Gbit/s link) has no such bound. Applied to tinyddp's own call only
    (--algorithm auto without --zero); the ring, tuned and ZeRO rows keep the fitted link."""
    lk = inp["links"].get(name) or {}
    if lk.get("two_way") != "duplex" or not lk.get("duplex_Bps") or not link_bps(name):
        return None
    return 2 * (ranks - 1) * n / (2 * lk["duplex_Bps"])


def shm_source(inp):
    """what the one-host comm of tinyddp's call is taken from, for the tables' note"""
    if (inp.get("shm_iallreduce") or {}).get("rows"):
        return ("one host: comm = s x L x the measured time of allreduce_bench --call iallreduce with "
                "the run's buckets (2 ranks), scaled to n bytes")
    return ("one host: comm = s x 2L(k alpha + n/B) from the blocking bench's fit (these inputs have no "
            "shm_iallreduce rows: an older file)")


def compute_source(inp):
    """what the one-host compute of several ranks is taken from, for the tables' note"""
    co = inp.get("corun")
    if co:
        lock = sorted((k for k, v in co.items() if corun.lockstep_used(v)), key=int)
        mean = sorted((k for k in co if k not in lock), key=int)
        return ("one host, P ranks: compute = the measured step of P serial processes at once (corun: P = "
                + ", ".join(sorted(co, key=int)) + "; past the cores the time-sharing is in it, not s); "
                + (("in lockstep (the slower process's step, mean over steps) for P = " + ", ".join(lock))
                   if lock else "no lockstep measured (an older file)")
                + ("; the median step for P = " + ", ".join(mean) if lock and mean else ""))
    return ("one host, P ranks: compute = s x the serial run's (these inputs have no corun "
            "measurement: an older file)")


def predict(inp, ranks, hosts, link, compress=False, zero=False, algorithm="auto", overlap=True,
            bucket_kb=None, cores=None):
    """a dict of the terms (seconds) and samples/s; cores: the machine's cores shared by every rank
    (None: one rank per core, as on real hosts)"""
    c = inp["compute"]
    if ranks < 1 or hosts < 1 or ranks % hosts:
        raise ValueError(f"ranks {ranks} must be a multiple of hosts {hosts}")
    if hosts > 1 and ranks != hosts:
        raise ValueError("several ranks per host across hosts is not modelled (use 1 rank per host)")
    s = max(1.0, ranks / cores) if cores else 1.0
    fb = c["step_s"] - c["optimizer_s"]
    bwd = fb * c["backward_fraction"]
    opt = c["optimizer_s"] / (ranks if zero else 1)
    n = inp["grad_bytes"] / (2 if compress else 1)
    conv = c.get("compress_s_per_byte", 0.0) * inp["grad_bytes"] if compress else 0.0
    co = corun.compute(inp, ranks) if (cores and hosts == 1 and ranks > 1) else None
    if co:  # measured co-running: the oversubscription s is in it already
        compute, cs = co[0] + co[1] / (ranks if zero else 1) + conv, co[0] / fb
        csrc = "co-run lockstep" if co[2] else "co-run"
    else:
        compute, cs, csrc = s * (fb + opt + conv), s, "serial"
    out = dict(ranks=ranks, hosts=hosts, link=link if ranks > 1 else "-", oversub=s, compute_s=compute,
               backward_s=cs * bwd, comm_s=0.0, lat_s=0.0, bw_s=0.0, exposed_s=0.0, algorithm="-",
               bytes=n, link_note="", comm_source="formula", compute_source=csrc)
    if ranks > 1:
        lname = "shm" if hosts == 1 else link
        a, B, note = link_params(inp, lname)
        out["link_note"] = note
        bb = (inp["bucket_kb"] if bucket_kb is None else bucket_kb) * 1024
        sizes = buckets(int(round(n)), int(bb / (2 if compress else 1))) if overlap else [n]
        duplex = hosts > 1
        if zero:
            # tinyddp's ZeRO-1 (zero.c): MPI_Ireduce_scatter then MPI_Iallgatherv after backward,
            # nothing hidden; libnbc (4.1): binomial reduce + linear scatter, linear allgather
            if algorithm == "auto":
                rs, ag = costs.reduce_scatter_libnbc(n, ranks, a, B), costs.allgather_linear(n, ranks, a, B)
                alg = "binomial+scatter RS, linear AG (libnbc)"
            elif algorithm == "ring":
                rs, ag = costs.reduce_scatter(n, ranks, a, B), costs.allgather(n, ranks, a, B)
                alg = "ring RS+AG"
            else:
                rs, ag = costs.reduce_scatter_halving(n, ranks, a, B), costs.allgather_doubling(n, ranks, a, B)
                alg = "halving RS+doubling AG"
            cost = costs.add(rs, ag)
            hideable = tail = costs.total(cost)
        elif algorithm == "auto":
            # tinyddp's MPI_Iallreduce(MPI_IN_PLACE, ...): libnbc always takes its binomial tree
            alg = "binomial (libnbc)"
            cost = costs.binomial_buckets(sizes, ranks, a, B, duplex)
            tail = costs.total(costs.binomial(sizes[-1], ranks, a, B))
            hideable = costs.total(cost)
            cpu = cores_bound(inp, lname, n, ranks) if (duplex and cores) else None
            if cpu:
                # simulated hosts on this machine's cores, a link the cores limited (cores_bound):
                # each direction at the link's nominal rate, and all the bytes at the cores' rate
                Bw = link_bps(lname) / 8
                cost = costs.binomial_buckets(sizes, ranks, a, Bw, duplex)
                tail = costs.total(costs.binomial(sizes[-1], ranks, a, Bw))
                if cpu > cost.bw:
                    cost = costs.Cost(cost.lat, cpu)
                    out["comm_source"] = "cores"
                hideable = costs.total(cost)
            meas = None if duplex else shm_measured(inp, n, int(bb / (2 if compress else 1)) if overlap else 0)
            if meas:
                # the DDP-shaped bench's time, split into latency and bandwidth as the formula's
                t = costs.log2c(ranks) * meas[0]
                f = t / (costs.total(cost) or 1.0)
                cost = costs.Cost(cost.lat * f, cost.bw * f) if costs.total(cost) else costs.Cost(0.0, t)
                hideable = t
                out["comm_source"] = "measured"
        else:
            parts = [costs.allreduce(algorithm, b, ranks, a, B) for b in sizes]
            alg = parts[-1][0]
            cost = costs.add(*[p[1] for p in parts])
            tail = costs.total(parts[-1][1])
            hideable = costs.total(cost)
        comm = s * costs.total(cost) if not duplex else costs.total(cost)
        # nothing hides where the cores move the bytes (shared memory, or cores_bound)
        window = s * bwd if (overlap and duplex and not zero and out["comm_source"] != "cores") else 0.0
        if duplex:
            exposed = max(min(tail, comm), hideable - window) + (comm - hideable)
        else:
            exposed = comm
        exposed = max(0.0, exposed)
        tot = costs.total(cost) or 1.0
        out.update(comm_s=comm, exposed_s=exposed, lat_s=exposed * cost.lat / tot,
                   bw_s=exposed * cost.bw / tot, algorithm=alg)
    step = out["compute_s"] + out["exposed_s"]
    out["step_s"] = step
    out["samples_per_s"] = ranks * inp["batch"] / step
    out["efficiency"] = out["samples_per_s"] / (ranks * inp["batch"] / (fb + c["optimizer_s"]))
    out["limit"] = limit(out)
    return out


def find_run(inp, ranks, hosts, compress):
    for m in inp.get("measured", []):
        if (m["ranks"], m["hosts"], bool(m.get("compress")), bool(m.get("zero"))) == (ranks, hosts, compress, False):
            return m
    return None


def derive_compress_cost(inp):
    """the CPU time of 16-bit gradients (the conversions and the user-defined reduction), in
    seconds per fp32 gradient byte, from the np=2 one-host runs: the bf16 run's extra step time
    over the fp32 run, less the communication time the model says bf16 saves there (on one host
    nothing hides, so the difference is conversion cost minus saved comm). Returns (s/byte, the run
    it came from or None, the seconds a step before the clamp at 0: negative where the model's
    16-bit comm alone exceeds the run's extra time); an inputs file with a non-zero
    compress_s_per_byte keeps it."""
    given = inp["compute"].get("compress_s_per_byte", 0.0)
    fp, bf = find_run(inp, 2, 1, False), find_run(inp, 2, 1, True)
    if given or not fp or not bf:
        return given, None, None
    step = {k: inp["batch"] * 2 / m["samples_per_s"] for k, m in (("fp", fp), ("bf", bf))}
    plain = dict(inp, compute=dict(inp["compute"], compress_s_per_byte=0.0))
    saved = predict(plain, 2, 1, "shm", False, cores=2)["exposed_s"] - predict(plain, 2, 1, "shm", True, cores=2)["exposed_s"]
    raw = step["bf"] - step["fp"] + saved
    return max(0.0, raw) / inp["grad_bytes"], bf, raw


def limit(p):
    """the largest term of the step: compute, bandwidth or latency"""
    terms = {"compute": p["compute_s"], "bandwidth": p["bw_s"], "latency": p["lat_s"]}
    return max(terms, key=terms.get)
