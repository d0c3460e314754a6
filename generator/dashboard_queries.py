"""The PromQL the dashboards' panels are made of (a rate, a share of a rate, a histogram quantile), over
Grafana's `$__rate_interval`; `generator.dashboards` offers them as `g.rate`, `g.ratio`, `g.quantile`."""

from __future__ import annotations


def rate(metric: str, matchers: str, by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{{{matchers}}}[$__rate_interval]))"


def ratio(metric: str, matchers: str, bad: str, by: str = "") -> str:
    """Share of `metric`'s rate matching `bad` too; 0 rather than no data before the first bad event."""
    total = rate(metric, matchers, by)
    return f"({rate(metric, f'{matchers},{bad}', by)} or {total} * 0) / {total}"


def quantile(q: float, histogram: str, matchers: str, by: str = "") -> str:
    return f"histogram_quantile({q}, {rate(histogram + '_bucket', matchers, ', '.join(filter(None, ['le', by])))})"
