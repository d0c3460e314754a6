"""Check `prometheus/config`: promtool accepts prometheus.yml (and the rule files it names), the config
of every other Prometheus copy (`replicas`), and every exporter-toolkit web.config.file of the rendering.

Runs on the local rendering, whose absolute paths promtool can open. Certificates there are placeholders,
so a web config is checked without its `tls_server_config` (promtool would try to load the key pair).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from generator import conventions, yamlload
from generator.checks import CheckContext, CheckProblem, errors, run_tool, tool
from generator.render.args import WEB_CONFIG
from generator.render.prometheus import config_file

RUNTIMES = ("compose", "local")  # a Kubernetes tree has neither prometheus.yml nor compose.yaml
NAME = "prometheus/config"


def _message(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.startswith("Checking ")]
    return " ".join(lines).rstrip(".") or "no output"


def _failures(ctx: CheckContext) -> list[str]:
    promtool = tool("promtool")
    failures: list[str] = []
    if not (ctx.root / conventions.PROMETHEUS_CONFIG).is_file():
        return [f"{conventions.PROMETHEUS_CONFIG} was not rendered, so Prometheus has no configuration."]
    for instance in ctx.stack.components["prometheus"].instances:
        config = config_file(instance.name)
        result = run_tool([promtool, "check", "config", str(ctx.root / config)], cwd=ctx.root)
        if result.returncode != 0:
            failures.append(f"promtool check config rejected {config}: {_message(result.stderr + result.stdout)}.")
    for path in sorted(ctx.root.glob(f"{conventions.SECRETS_DIR}/*/{WEB_CONFIG}")):
        rel = path.relative_to(ctx.root)
        data = yamlload.safe_load(path.read_text()) or {}
        data.pop("tls_server_config", None)
        with tempfile.TemporaryDirectory(prefix="promstack-web-") as tmp:
            copy = Path(tmp) / WEB_CONFIG
            copy.write_text(yaml.safe_dump(data))
            result = run_tool([promtool, "check", "web-config", str(copy)], cwd=Path(tmp))
        if result.returncode != 0:
            message = _message(result.stderr + result.stdout).replace(str(copy), str(rel))
            failures.append(f"promtool check web-config rejected {rel}: {message}.")
    return failures


def run(ctx: CheckContext) -> list[CheckProblem]:
    return errors(NAME, _failures(ctx))
