"""What several renderers (and the checks) derive from one stack, computed once per stack.

A `Stack` is frozen: nothing derived from it changes while it lives. The rules renderer, the rule tests
renderer, the escalations and the checks all need the resolved rule files, and the scrape jobs' timings
come from the rendered Prometheus config; at a thousand services deriving them again cost as much as
rendering them. `per_stack` remembers a function's result per stack object (by identity: hashing a large
stack would cost more than the work) and per its other arguments, for the few stacks used last. A
mapping argument is remembered by its items. A list or dict result is copied for each caller, so a caller
that changes it changes nobody else's. The checks run in threads: the memory is locked (not the work).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
_KEEP = 32  # results remembered per function: a few stacks (a render, its check, environments) and arguments


def _key(value: Any) -> Any:
    return tuple(value.items()) if isinstance(value, Mapping) else value


def per_stack(function: Callable[P, R]) -> Callable[P, R]:
    """Remember `function(stack, *args)` per stack object and arguments (see the module docstring)."""
    remembered: OrderedDict[tuple[Any, ...], tuple[Any, R]] = OrderedDict()
    lock = threading.Lock()

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        stack = args[0]
        key = (id(stack), *map(_key, args[1:]), *((k, _key(v)) for k, v in sorted(kwargs.items())))
        with lock:
            found = remembered.get(key)
        if found is None or found[0] is not stack:
            found = (stack, function(*args, **kwargs))
            with lock:
                remembered[key] = found
                while len(remembered) > _KEEP:
                    remembered.popitem(last=False)
        result = found[1]
        if isinstance(result, list):
            return list(result)  # type: ignore[return-value]
        return dict(result) if isinstance(result, dict) else result  # type: ignore[return-value]

    return wrapper
