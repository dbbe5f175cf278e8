"""costs.py: the standard alpha-beta costs of the collectives, and the algorithm Open MPI picks.

Every cost is a Cost(lat, bw): lat the sum of the per-message latencies (alpha terms), bw the
bytes over the bandwidth (n / B terms), both in seconds. n is the bytes of the whole vector on
every rank, p the ranks, a the latency of one message (s), B the bandwidth of one link in one
direction (bytes/s); links are full duplex.
"""
import math
from collections import namedtuple

Cost = namedtuple("Cost", "lat bw")


def total(c):
    return c.lat + c.bw


def add(*cs):
    return Cost(sum(c.lat for c in cs), sum(c.bw for c in cs))


def log2c(p):
    """rounds of a binomial tree or of recursive doubling over p ranks"""
    return math.ceil(math.log2(p)) if p > 1 else 0


def pow2(p):
    return p > 0 and p & (p - 1) == 0


def ring(n, p, a, B):
    """reduce-scatter then allgather around a ring: 2(P-1) steps of n/P"""
    if p < 2:
        return Cost(0.0, 0.0)
    return Cost(2 * (p - 1) * a, 2 * (p - 1) / p * n / B)


def reduce_scatter(n, p, a, B):
    """ring reduce-scatter: P-1 steps of n/P (half of the ring allreduce)"""
    if p < 2:
        return Cost(0.0, 0.0)
    return Cost((p - 1) * a, (p - 1) / p * n / B)


allgather = reduce_scatter  # ring allgather: the same steps and bytes


def reduce_scatter_halving(n, p, a, B):
    """recursive-halving reduce-scatter: log2(P) messages, (P-1)/P n bytes (the first half of
    Rabenseifner's allreduce); the allgather by recursive doubling costs the same"""
    c = rabenseifner(n, p, a, B)
    return Cost(c.lat / 2, c.bw / 2)


allgather_doubling = reduce_scatter_halving


def reduce_scatter_libnbc(n, p, a, B):
    """libnbc's MPI_Ireduce_scatter (Open MPI 4.1): a binomial reduce to rank 0, then rank 0 sends
    each rank its slice (P-1 messages of n/P)"""
    L = log2c(p)
    if L == 0:
        return Cost(0.0, 0.0)
    return Cost((L + p - 1) * a, (L + (p - 1) / p) * n / B)


def allgather_linear(n, p, a, B):
    """libnbc's MPI_Iallgatherv: every rank sends its slice to every other (P-1 messages of n/P)"""
    if p < 2:
        return Cost(0.0, 0.0)
    return Cost((p - 1) * a, (p - 1) / p * n / B)


def recursive_doubling(n, p, a, B):
    """log2(P) exchanges of the whole vector; a non-power-of-two P folds the extra ranks in and out
    (two more messages of n)"""
    if p < 2:
        return Cost(0.0, 0.0)
    q = 1 << int(math.log2(p))
    extra = 0 if q == p else 2
    r = int(math.log2(q)) + extra
    return Cost(r * a, r * n / B)


def rabenseifner(n, p, a, B):
    """recursive-halving reduce-scatter then recursive-doubling allgather: 2 log2(P) messages, the
    ring's bytes; a non-power-of-two P folds the extra ranks first (two more messages of n)"""
    if p < 2:
        return Cost(0.0, 0.0)
    q = 1 << int(math.log2(p))
    c = Cost(2 * int(math.log2(q)) * a, 2 * (q - 1) / q * n / B)
    return c if q == p else add(c, Cost(2 * a, 2 * n / B))


def binomial(n, p, a, B):
    """libnbc's in-place MPI_Iallreduce: a binomial-tree reduce to rank 0, then a binomial-tree
    broadcast: 2 ceil(log2 P) messages of the whole vector, one after the other"""
    L = log2c(p)
    return Cost(2 * L * a, 2 * L * n / B)


def binomial_buckets(sizes, p, a, B, duplex=True):
    """k buckets of libnbc's binomial allreduce in flight together: each bucket's reduce runs up
    the tree and its broadcast down it, so on full-duplex links bucket i's broadcast overlaps bucket
    i+1's reduce (a two-stage pipeline: sum of one stage per bucket, plus the longest stage once).
    Without duplex (shared memory: the copies are the cores' work) the stages add up."""
    L = log2c(p)
    if L == 0 or not sizes:
        return Cost(0.0, 0.0)
    if not duplex:
        return Cost(2 * L * a * len(sizes), 2 * L * sum(sizes) / B)
    big = max(sizes)
    return Cost(L * a * (len(sizes) + 1), L * (sum(sizes) + big) / B)


ALGORITHMS = {
    "ring": ring,
    "segmented-ring": ring,
    "rabenseifner": rabenseifner,
    "recursive-doubling": recursive_doubling,
    "binomial": binomial,
}

# Open MPI 4.1's coll/tuned fixed decision for a commutative MPI_Allreduce (from
# ompi_coll_tuned_allreduce_intra_dec_fixed, coll_tuned_decision_fixed.c): rows of
# (ranks below, [(bytes below, algorithm), ...]); 4 ring, 5 segmented ring, 6 rabenseifner,
# 3 recursive doubling, 2 nonoverlapping (reduce + bcast: modelled as binomial).
_ALG = {2: "binomial", 3: "recursive-doubling", 4: "ring", 5: "segmented-ring", 6: "rabenseifner"}
_TUNED = [
    (4, [(8, 4), (4096, 3), (8192, 4), (16384, 3), (65536, 4), (262144, 5), (None, 6)]),
    (8, [(16, 4), (8192, 3), (None, 6)]),
    (16, [(8192, 3), (None, 6)]),
    (32, [(64, 5), (4096, 3), (None, 6)]),
    (64, [(128, 5), (None, 6)]),
    (128, [(262144, 3), (None, 6)]),
    (256, [(131072, 2), (262144, 3), (None, 6)]),
    (512, [(4096, 2), (None, 6)]),
    (2048, [(2048, 2), (16384, 3), (None, 6)]),
    (4096, [(2048, 2), (4096, 5), (16384, 3), (None, 6)]),
    (None, [(2048, 2), (16384, 5), (32768, 3), (None, 6)]),
]


def tuned_choice(n, p):
    """the algorithm Open MPI 4.1's tuned component picks for a blocking float sum of n bytes"""
    for plim, rows in _TUNED:
        if plim is None or p < plim:
            for nlim, alg in rows:
                if nlim is None or n < nlim:
                    return _ALG[alg]
    raise AssertionError("unreachable")


def allreduce(name, n, p, a, B):
    """(algorithm, Cost) of one allreduce of n bytes; name 'tuned' picks as Open MPI does"""
    alg = tuned_choice(n, p) if name == "tuned" else name
    return alg, ALGORITHMS[alg](n, p, a, B)
