"""How the report writes numbers, the machine and a row's worker count."""


def fmt_sps(x):
    return f"{x:,.0f}"


def fmt_bytes(b):
    b = float(b)
    for scale, unit, digits in ((1e9, "GB", 2), (1e6, "MB", 1), (1e3, "kB", 1)):
        if b >= scale:
            return f"{b / scale:.{digits}f} {unit}"
    return f"{b:.0f} B"


def fmt_ratio(r):
    if r >= 10:
        return f"{r:.0f}x"
    return f"{r:.1f}x" if r >= 1.095 else f"{r:.2f}x"


def fmt_pct(f):
    p = round(100.0 * f, 1)
    if p >= 10 or p == 0:
        return f"{p:.0f}%"
    return f"{p:.1f}%"


def fmt_ms(x):
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def machine_line(meta):
    s = f"{meta['cores']} cores, {meta.get('cpu', 'unknown CPU')}"
    if meta.get("blas"):
        s += f", {meta['blas']}"
    if meta.get("load_before") and meta.get("load_after"):
        s += f"; load average {meta['load_before'][0]:.2f} before, {meta['load_after'][0]:.2f} after"
    if meta.get("commit"):
        s += f"; commit {meta['commit']}"
    return s


def cell_workers(r):
    """The worker count, marked † when there are more workers than cores."""
    return f"{r['workers']}†" if r["over_cores"] else str(r["workers"])
