"""Number formatting shared by the benchmark scripts."""


def fmt_s(x):
    """Seconds as µs, ms or s; None as '-'."""
    if x is None:
        return "-"
    if x < 1e-3:
        return f"{x * 1e6:.1f} µs"
    if x < 1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s"


def fmt_b(n):
    """Bytes as B, KiB, MiB or GiB; None as '-'."""
    if n is None:
        return "-"
    for unit in ["B", "KiB", "MiB", "GiB"]:
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
