#!/usr/bin/python3
"""notebook_kernels.py: the notebook's own CPU-bound Python code (/work/shared/seed-notebook.txt,
the cells In[44]-In[52] and In[6]-In[33]), run on this machine, for scripts/seed-table.sh's
CPython column. The functions are the notebook's, unchanged but for the sizes, which are
parameters here (the notebook: primes below 10^7, count(10^8) twice), the result lines, and twin
functions merged into one (the thread and process starters, the two `with` pools).

    notebook_kernels.py primes [--limit N] [--variants serial,process-pool]
    notebook_kernels.py sum [--n N] [--variants serial,threads,thread-pool,thread-pool-with,
                                                processes,process-pool]

Output, one line per variant (after the notebook's own prints, on stderr here):
    nb_result kernel=K variant=V seconds=S result=R
result: the primes found, or res1 of the sum (None where the notebook's processes left it unset).
"""
import argparse
import contextlib
import functools
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


# ---- In[44], In[49]: prime counting ----
def is_prime(n):
    if n <= 1:
        return False
    for i in range(2, int(n ** 0.5) + 1):
        if n % i == 0:
            return False
    return True


def count_primes(limit):
    count = 0
    for num in range(2, limit):
        if is_prime(num):
            count += 1
    return count


def count_primes_in_range(start, end):
    count = 0
    for num in range(start, end):
        if is_prime(num):
            count += 1
    return count


def count_primes_parallel(limit):
    pool = multiprocessing.Pool()
    num_processes = multiprocessing.cpu_count()
    ranges = []
    step = limit // num_processes
    for i in range(num_processes):
        start = i * step
        end = limit if i == num_processes - 1 else (i + 1) * step
        ranges.append((start, end))
    results = pool.starmap(count_primes_in_range, ranges)
    return sum(results)


# ---- In[6]: the summing loop ----
def count(n):
    process_id = os.getpid()
    thread_id = threading.get_ident()
    res = 0
    print(f"Process: {process_id} Thread: {thread_id} start")
    while n > 0:
        res += n
        n -= 1
    print(f"Process: {process_id} Thread: {thread_id} end")
    return res


NUM1 = NUM2 = 100000000  # In[5]; main() sets them from --n


def start_join(kind, func1, func2):
    """The notebook's t1, t2 = kind(target=func1, args=(NUM1,)), kind(...func2, NUM2): start
    both, join both (In[13] with threading.Thread, In[29] with multiprocessing.Process)."""
    t1 = kind(target=func1, args=(NUM1,))
    t2 = kind(target=func2, args=(NUM2,))
    t1.start()
    t2.start()
    t1.join()
    t2.join()


# ---- In[9], In[13], In[15], In[18]: one thread, two threads, the pools; each returns res1 ----
def single_thread():
    res1 = count(NUM1)
    count(NUM2)
    return res1


def multi_thread():
    res1 = None
    res2 = None

    def thread_func1(num):
        nonlocal res1
        res1 = count(num)

    def thread_func2(num):
        nonlocal res2
        res2 = count(num)

    start_join(threading.Thread, thread_func1, thread_func2)
    return res1


def multi_thread_2():
    executor = ThreadPoolExecutor(max_workers=2)
    res1 = executor.submit(count, n=NUM1)
    res2 = executor.submit(count, n=NUM2)
    result1 = res1.result()
    res2.result()
    return result1


def multi_pool(executor_class):
    """In[18]'s multi_thread_3 (ThreadPoolExecutor) and In[32]'s multi_process_2
    (ProcessPoolExecutor): both submitted in a `with` block, which waits for them."""
    with executor_class(max_workers=2) as executor:
        res1 = executor.submit(count, n=NUM1)
        executor.submit(count, n=NUM2)
    return res1.result()


# ---- In[29], In[32]: processes (their globals stay unset here, as in the notebook) ----
res1 = None
res2 = None


def process_func(name, num):
    """The notebook's process_func1 and process_func2 (`global res1; res1 = count(num)`, and
    res2): the global is set in the child process only."""
    globals()[name] = count(num)


def multi_process():
    start_join(multiprocessing.Process, functools.partial(process_func, "res1"),
               functools.partial(process_func, "res2"))
    return res1



SUM = {"serial": single_thread, "threads": multi_thread, "thread-pool": multi_thread_2,
       "thread-pool-with": lambda: multi_pool(ThreadPoolExecutor), "processes": multi_process,
       "process-pool": lambda: multi_pool(ProcessPoolExecutor)}


def main():
    global NUM1, NUM2
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kernel", choices=["primes", "sum"])
    ap.add_argument("--limit", type=int, default=10000000, help="primes: count below N [10^7]")
    ap.add_argument("--n", type=int, default=100000000, help="sum: count(N) twice [10^8]")
    ap.add_argument("--variants", help="comma-separated (default: all of the kernel's)")
    a = ap.parse_args()
    NUM1 = NUM2 = a.n
    table = SUM if a.kernel == "sum" else {"serial": lambda: count_primes(a.limit),
                                           "process-pool": lambda: count_primes_parallel(a.limit)}
    names = a.variants.split(",") if a.variants else list(table)
    for v in names:
        if v not in table:
            ap.error(f"--variants: {v!r} is not one of {', '.join(table)}")
    for v in names:
        with contextlib.redirect_stdout(sys.stderr):  # the notebook's own prints
            t0 = time.time()
            r = table[v]()
            s = time.time() - t0
        print(f"nb_result kernel={a.kernel} variant={v} seconds={s:.3f} result={r}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
