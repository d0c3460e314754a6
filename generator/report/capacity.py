"""Capacity: the filesystems and the memory that `predict_linear` says will run out within HORIZON,
from the node exporter's metrics (an empty section, said plainly, where none are scraped).

The trend is fitted over the report's span, like the node rule pack's fill-up alert over its 6h; the
days left are what is available now divided by the rate it shrinks at (`deriv`) over the same span.
"""

from __future__ import annotations

from typing import Any

from generator.report.prom import Prometheus

HORIZON_DAYS = 30
# the node rule pack's filesystem filter: pseudo and overlay filesystems never fill up for real
FILESYSTEMS = 'node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|squashfs|nsfs|overlay|fuse.lxcfs|devtmpfs"}'
MEMORY = "node_memory_MemAvailable_bytes"
SIZES = {FILESYSTEMS: "node_filesystem_size_bytes", MEMORY: "node_memory_MemTotal_bytes"}


def forecast(prom: Prometheus, now: float, window: str) -> dict[str, Any]:
    horizon = HORIZON_DAYS * 86400
    scraped = bool(prom.vector(f"count({MEMORY}) or count({FILESYSTEMS})", now))
    found: dict[str, Any] = {"horizon_days": HORIZON_DAYS, "node_metrics": scraped, "disks": [], "memory": []}
    if not scraped:
        return found
    for kind, avail in (("disks", FILESYSTEMS), ("memory", MEMORY)):
        predicted = {_key(s): v for s, v in prom.vector(f"predict_linear({avail}[{window}], {horizon})", now)}
        current = {_key(s): (s, v) for s, v in prom.vector(avail, now)}
        size = {_key(s): v for s, v in prom.vector(SIZES[avail], now)}
        slope = {_key(s): v for s, v in prom.vector(f"deriv({avail}[{window}])", now)}
        for key, value in sorted(predicted.items()):
            if value >= 0 or key not in current:
                continue
            labels, available = current[key]
            shrink = -slope.get(key, 0.0)
            found[kind].append(
                {
                    "instance": labels.get("instance", ""),
                    "mountpoint": labels.get("mountpoint", ""),
                    "device": labels.get("device", ""),
                    "available_bytes": available,
                    "size_bytes": size.get(key),
                    "predicted_bytes": value,
                    "days_left": available / shrink / 86400 if shrink > 0 else None,
                }
            )
    return found


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))
