"""Numbers for people in text output: thousands separators, KB/MB/GB, durations.

Text output only; JSON and CSV keep exact numbers.
"""

from __future__ import annotations

SIZE_UNITS = ("bytes", "KB", "MB", "GB", "TB", "PB")
BYTE_METRICS = ("data_volume", "total_volume", "volume", "bytes", "size")


def count(value: int | float) -> str:
    """``12,345``; an integral float (``8485716.0``) as an integer."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def size(value: int | float) -> str:
    """Decimal units, as InvenioRDM shows file sizes: ``10,511,399`` -> ``10.5 MB``."""
    number = float(value)
    for unit in SIZE_UNITS:
        if abs(number) < 1000 or unit == SIZE_UNITS[-1]:
            return f"{int(number):,} bytes" if unit == "bytes" else f"{number:,.1f} {unit}"
        number /= 1000
    raise AssertionError("unreachable")


def is_bytes(metric: str) -> bool:
    """Whether a dotted metric name (``total_files.data_volume``) counts bytes."""
    return metric.rsplit(".", 1)[-1] in BYTE_METRICS


def metric_value(metric: str, value: int | float) -> str:
    """A metric's value for a table: sizes in KB/MB/GB, the rest as counts."""
    return size(value) if is_bytes(metric) else count(value)


def signed(metric: str, value: int | float) -> str:
    """A change with its sign (``+1,204``, ``-3.2 MB``, ``0``)."""
    text = metric_value(metric, abs(value))
    return text if value == 0 else ("+" if value > 0 else "-") + text


def duration(seconds: float) -> str:
    """``45s``, ``3m 20s``, ``2h 05m``."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
