"""Alertmanager's semantics, in one place: how matchers match, how an alert walks the route tree (and
which time intervals mute a route at a given moment), how inhibition mutes, and how long a failing
target takes to reach its receiver. The renderers build alertmanager.yml and the rules from it, the
checks prove the rendered files with it, and the benchmarks print its bounds; nothing re-derives it.

- `matchers`: one matcher (`severity="critical"`) evaluated the way Alertmanager does;
- `timeintervals`: whether a `time_intervals` entry contains a moment;
- `routing`: the route walk over a rendered route tree (receivers, timers, muted or not);
- `inhibition`: the inhibit rules of a rendered config, and which rule mutes an alert;
- `delay`: the window that confirms a failing target, and the worst case from failure to notification.
"""
