"""The Docker bridge's gateway address, for the tests and the bench: an address of this machine that only
the host and its containers reach (a webhook receiver listens there for a containerised Alertmanager).

Two ways it can be missing right after dockerd starts, so `bridge_gateway` waits (bounded) until it is
known: the bridge interface gets its address a moment after the engine first answers, and on a daemon's
very first start the network's IPAM config has no `Gateway` at all until the next restart
(moby/moby#26799). The interface's own IPv4 address is the gateway then.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
import time

import docker  # type: ignore[import-untyped]
import docker.errors  # type: ignore[import-untyped]

SIOCGIFADDR = 0x8915  # linux/sockios.h: an interface's IPv4 address


def interface_ipv4(name: str) -> str | None:
    """The IPv4 address of network interface `name`, or None while it has none (or does not exist)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


def gateway_now() -> str | None:
    """The default bridge's IPv4 gateway as things stand, or None if the engine does not know it yet."""
    try:
        attrs = docker.from_env(timeout=10).networks.get("bridge").attrs
    except docker.errors.DockerException:
        return None
    for config in (attrs.get("IPAM") or {}).get("Config") or ():
        gateway = str(config.get("Gateway") or "")
        if gateway and ipaddress.ip_address(gateway).version == 4:
            return gateway
    return interface_ipv4((attrs.get("Options") or {}).get("com.docker.network.bridge.name", "docker0"))


def bridge_gateway(timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while (gateway := gateway_now()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Docker bridge network has no IPv4 gateway address after {timeout:g}s")
        time.sleep(0.5)
    return gateway
