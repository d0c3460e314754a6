"""Check `kubernetes/resources`: every resource of a Kubernetes rendering is valid, and the spec settings it
does not carry are said.

Custom resources against prometheus-operator's CRD schemas (vendored, strict: an unknown key is an error),
core objects against Kubernetes' schemas (kubernetes-validate, strict; where it is missing, a warning says
they were not checked). The configs the resources hold are proven by the other checks, on the tree
unpacked from them (promtool on each PrometheusRule's groups, amtool on the Alertmanager config Secret's
alertmanager.yaml, the lints). A warning names each spec setting that does not apply in a cluster
(`auth`, `port`, `expose` of a component: it is reached through its ClusterIP Service) and a note each
component the cluster provides instead of promstack (Grafana).
"""

from __future__ import annotations

from generator import catalog
from generator.checks import CheckContext, CheckProblem, errors, warnings
from generator.kubernetes import names, unpack, validate

RUNTIMES = (names.RUNTIME,)
NAME = "kubernetes/resources"


def _unmapped(ctx: CheckContext) -> list[str]:
    found = []
    for name, component in ctx.stack.components.items():
        entry = catalog.entry(name)
        if entry.kubernetes.run == "none":
            continue  # not rendered at all: said in a note
        section = f"{entry.spec.section}.{entry.spec.key or name}"
        settings = []
        if component.auth is not None:
            settings.append("auth")
        if component.runs and component.port != entry.port:
            settings.append("port")
        if component.expose:
            settings.append("expose")
        if settings:
            found.append(
                f"{section}: {', '.join(settings)} not rendered for Kubernetes: in the cluster it is reached through "
                f"its ClusterIP Service {name}.{names.namespace(ctx.stack)}.svc; publish it with an Ingress (and "
                "authentication there) if people outside must reach it"
            )
    return found


def run(ctx: CheckContext) -> list[CheckProblem]:
    core = validate.CoreSchemas()
    problems: list[str] = []
    for path, obj in unpack.objects(ctx.tree):
        problems.extend(f"{path}: {problem}" for problem in validate.problems(obj, core))
    notes = [
        CheckProblem(NAME, "info", f"{name} is not rendered: {catalog.entry(name).kubernetes.why}")
        for name in ctx.stack.components
        if catalog.entry(name).kubernetes.run == "none"
    ]
    missing = [f"core objects not checked against Kubernetes' schemas: {core.missing}"] if core.missing else []
    return errors(NAME, problems) + warnings(NAME, [*_unmapped(ctx), *missing]) + notes
