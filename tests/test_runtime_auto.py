"""`--runtime auto`: compose only where the engine answers AND the stack's images can be had."""

from __future__ import annotations

import pytest

from generator.runtimes.choose import compose_or_local
from generator.spec import stack_from_text

pytestmark = [pytest.mark.docker, pytest.mark.xdist_group("runtime-compose")]


def _engine_or_skip() -> None:
    from generator.runtimes import compose

    if not compose.engine_answers():
        pytest.skip("dockerd is not running (tests/images/start_dockerd.sh starts it)")


SPEC = """
version: 1
name: autopick
exporters: {{node: {{image: "{image}"}}}}
components:
  prometheus: {{image: "{prometheus}"}}
  alertmanager: {{image: "{alertmanager}"}}
  grafana: {{enabled: false}}
"""


def test_auto_falls_back_to_processes_when_an_image_cannot_be_had() -> None:
    _engine_or_skip()
    from test_runtime_compose import docker_images_or_skip

    images = docker_images_or_skip()
    said: list[str] = []
    missing = SPEC.format(
        image="promstack-test/no-such-image:none", prometheus=images["prometheus"], alertmanager=images["alertmanager"]
    )
    assert compose_or_local(stack_from_text(missing), said.append) == "local"
    assert any("cannot be had" in line and "promstack-test/no-such-image:none" in line for line in said)
    present = SPEC.format(
        image=images["node-exporter"], prometheus=images["prometheus"], alertmanager=images["alertmanager"]
    )
    assert compose_or_local(stack_from_text(present), said.append) == "compose"
