"""Stage `render`: Stack -> {relative path: text}. Pure: no disk, environment, clock or network.

Every module in this package that defines `render(stack, target) -> Tree` is a renderer (one module
per artifact kind). Their trees are merged; two renderers writing the same path is a bug. A module
that must see what the others rendered (compose mounts folders and hashes configs) defines
`render_after(stack, target, tree) -> Tree` instead; it runs once the first phase is merged. An
assembler that packages the whole rendering for its runtime (kubernetes: every config inside a
resource) returns a Tree with `packages` set: its files are the output, the first phase's files, secret
files and variables are not (its provenance stays, for the checks). The kubernetes runtime renders the
stack as it runs in a cluster (`kubernetes.names.in_cluster`).
Secrets are never rendered as values: a renderer declares a `SecretFile` (how to build the file from
secret references) and the writer resolves it at write time into an owner-only file.
"""

from __future__ import annotations

import importlib
import pkgutil
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from generator import catalog, conventions, dashboards
from generator.kubernetes import names as kubernetes_names
from generator.model import SecretRef, Stack
from generator.units import Duration, Size


@dataclass(frozen=True)
class Target:
    """Where the tree will run: container paths (compose) or absolute host paths under `root` (local)."""

    runtime: str = "compose"  # compose | local | kubernetes
    root: str = "/promstack"  # absolute directory the tree is written to (local paths derive from it)
    # (major, minor) of the binaries that will run, by component, where the deployer found out (the local
    # runtime asks its binaries); the others run the version their image tag names
    versions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # uid -> title of every dashboard the stack's Grafana will serve, which alerts and dashboards link to.
    # `render` asks `dashboards.rendered` once (it runs every dashboard definition) and hands it on here
    dashboards: Mapping[str, str] | None = None

    @property
    def container(self) -> bool:
        """Whether components run in containers (compose, kubernetes) rather than as host processes."""
        return self.runtime != "local"

    def address(self, stack: Stack, name: str) -> str:
        """host:port at which Prometheus (and peers) reach component `name`: its compose service, its
        Kubernetes Service (by its cluster name: Grafana runs in another namespace), or loopback."""
        component = stack.components[name]
        if self.runtime == "kubernetes":
            return f"{name}.{stack.kubernetes.namespace}.svc:{component.container_port}"
        if self.runtime == "compose":
            return f"{name}:{component.container_port}"
        return f"127.0.0.1:{component.port}"

    def config_path(self, name: str, rel: str) -> str:
        """Path at which component `name` sees rendered file `<name>/<rel>`; on Kubernetes every file of a
        component is one key of a ConfigMap or Secret, all in one folder (kubernetes.names.config_key)."""
        if self.runtime == "kubernetes":
            entry = catalog.entry(name)
            return f"{entry.kubernetes.config or entry.config}/{kubernetes_names.config_key(rel)}"
        if self.runtime == "compose":
            return f"{catalog.entry(name).config}/{rel}"
        return f"{self.root}/{name}/{rel}"

    def version(self, stack: Stack, name: str) -> tuple[int, int] | None:
        """(major, minor) of component `name` as it will run, or None when nothing says (a digest, `latest`)."""
        if name in self.versions:
            return self.versions[name]
        return catalog.tag_version(catalog.image_tag(stack.components[name].image))

    def secret_path(self, name: str, secret: str) -> str:
        """Path at which component `name` reads secret file `secrets/<name>/<secret>`."""
        if self.container:
            return f"/run/secrets/promstack/{secret}"
        return f"{self.root}/{conventions.SECRETS_DIR}/{name}/{secret}"

    def secret_file(self, stack: Stack, name: str, secret: str, ref: SecretRef) -> str:
        """Path at which component `name` reads the value of `ref`, rendered as secret file
        `secrets/<name>/<secret>`: on Kubernetes, a component the operator runs reads the key of `ref`
        in the stack's Secret, which the operator mounts whole (catalog `kubernetes.secrets`)."""
        mount = catalog.entry(name).kubernetes.secrets
        if self.runtime == "kubernetes" and mount:
            return f"{mount}/{kubernetes_names.secret(stack)}/{kubernetes_names.key(ref)}"
        return self.secret_path(name, secret)


@dataclass(frozen=True)
class SecretFile:
    """A file made from secrets at write time: `template` with ${placeholders} filled from `values`.

    Placeholders listed in `bcrypt` are replaced by a bcrypt hash of the secret instead of the secret;
    a value holding one of the characters `refuse` lists for its placeholder is refused at write time.
    """

    template: str
    values: Mapping[str, SecretRef]
    bcrypt: frozenset[str] = frozenset()
    # characters a value may not hold, with why (the tool reading the file would change the value)
    refuse: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # placeholders whose reader trims whitespace around the value: one with any is refused at write time
    trimmed: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # every `$` of a value from the spec is doubled where a template is made (secret_yaml, args.dollar):
        # a template naming any other placeholder than its values would fill one with another's secret
        template = string.Template(self.template)
        if not template.is_valid() or set(template.get_identifiers()) != set(self.values):
            raise RuntimeError(f"secret template placeholders {template.get_identifiers()} != {sorted(self.values)}")

    @staticmethod
    def single(ref: SecretRef, refuse: tuple[str, str] | None = None) -> SecretFile:
        """A file holding one password, token or URL, read through a `*_file` setting: every such reader
        (Prometheus' and the exporters' HTTP clients, Alertmanager, Grafana's $__file{}) trims the whitespace
        around it, so a value with any would not be the one the other side checks. `refuse`: characters
        the reader changes, with why."""
        return SecretFile("${value}", {"value": ref}, refuse={"value": refuse} if refuse else {}, trimmed=_VALUE)

    @staticmethod
    def pem(ref: SecretRef) -> SecretFile:
        """A certificate or key: PEM, which whitespace around it does not change."""
        return SecretFile("${value}", {"value": ref})


_VALUE = frozenset({"value"})


@dataclass(frozen=True)
class Placeholder:
    """Where a secret goes in the data of a YAML SecretFile (see `secret_yaml`): written as `"${key}"`."""

    key: str


def secret_yaml(data: Any, values: Mapping[str, SecretRef], stack: Stack | None = None, note: str = "") -> SecretFile:
    """A YAML SecretFile from `data`, which holds a `Placeholder` wherever a secret of `values` goes.

    Every `$` of every string in `data` (keys too) is doubled first, string.Template's escape: no value
    from the spec, whatever it spells, can become a placeholder; only a Placeholder object can. `note`:
    comment lines put under the generated header.
    """
    top = f"# {header(stack)}\n" if stack else ""  # the spec's file name may hold a `$` too
    text = _dollars(top) + note + dump_yaml(_dollars(data))
    return SecretFile(text, dict(values))  # (which checks its placeholders)


def _dollars(data: Any) -> Any:
    if isinstance(data, str):
        return data.replace("$", "$$")
    if isinstance(data, dict):
        return {_dollars(key): _dollars(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_dollars(item) for item in data]
    return data


@dataclass
class Tree:
    """Rendered output: plain files, secret files (under secrets/), and per-component env secrets.

    It also carries the provenance the checks read, never written: the rule and test files as they were
    built (each rule knows the pack line or spec line that made it) and the dashboards served.
    """

    files: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, SecretFile] = field(default_factory=dict)  # path relative to DIR, under secrets/
    env: dict[str, dict[str, SecretRef]] = field(default_factory=dict)  # component -> VAR -> ref
    rules: list[RuleFile] = field(default_factory=list)  # prometheus/rules/*.yml as data
    rule_tests: list[TestFile] = field(default_factory=list)  # prometheus/tests/*.yml as data
    dashboards: dict[str, str] = field(default_factory=dict)  # uid -> title (Target.dashboards)
    packages: bool = False  # made by an assembler that packages the whole rendering (see the module doc)

    def merge(self, other: Tree, origin: str) -> None:
        clash = (set(self.files) & set(other.files)) | (set(self.secrets) & set(other.secrets))
        if clash:
            raise RuntimeError(f"renderer {origin} writes {sorted(clash)} again")
        self.files.update(other.files)
        self.secrets.update(other.secrets)
        self.rules.extend(other.rules)
        self.rule_tests.extend(other.rule_tests)
        for component, variables in other.env.items():
            self.env.setdefault(component, {}).update(variables)


def header(stack: Stack) -> str:
    return conventions.GENERATED_HEADER.format(source=stack.source.rsplit("/", 1)[-1])


def dump_yaml(data: Any, stack: Stack | None = None) -> str:
    """Serialize structured data as YAML: stable key order as built, block style, a generated header."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return (f"# {header(stack)}\n" if stack else "") + text


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)
# a SafeDumper looks representers up by exact type: durations and sizes are written as the text they hold
_Dumper.add_representer(Duration, _str_presenter)
_Dumper.add_representer(Size, _str_presenter)
# double quotes: the writer JSON-escapes a value it puts between them, so no value breaks out of its string
_Dumper.add_representer(
    Placeholder, lambda dumper, p: dumper.represent_scalar("tag:yaml.org,2002:str", f"${{{p.key}}}", style='"')
)

# the provenance types the Tree carries, public for the checks (built by the alerting renderers)
from generator.render._alerting import Group as Group  # noqa: E402
from generator.render._alerting import Rule as Rule  # noqa: E402
from generator.render._alerting import RuleFile as RuleFile  # noqa: E402
from generator.render._alerting import TestFile as TestFile  # noqa: E402

Renderer = Callable[[Stack, Target], Tree]
Assembler = Callable[[Stack, Target, Tree], Tree]


def _modules() -> list[Any]:
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
        if not info.name.startswith("_")
    ]


def renderers() -> list[tuple[str, Renderer]]:
    return [(m.__name__.rsplit(".", 1)[-1], m.render) for m in _modules() if hasattr(m, "render")]


def assemblers() -> list[tuple[str, Assembler]]:
    return [(m.__name__.rsplit(".", 1)[-1], m.render_after) for m in _modules() if hasattr(m, "render_after")]


def served(stack: Stack, target: Target) -> Mapping[str, str]:
    """The dashboards the stack's Grafana serves (uid -> title): `target`'s, as `render` computed them
    once; a renderer called on its own (tests) computes them."""
    return target.dashboards if target.dashboards is not None else dashboards.rendered(stack)


def render(stack: Stack, target: Target | None = None) -> Tree:
    """Render the whole output tree for `stack`."""
    target = target or Target()
    if target.runtime == kubernetes_names.RUNTIME:
        stack = kubernetes_names.in_cluster(stack)
    if target.dashboards is None:
        target = replace(target, dashboards=dashboards.rendered(stack))
    tree = Tree(dashboards=dict(served(stack, target)))
    for name, renderer in renderers():
        tree.merge(renderer(stack, target), name)
    # second phase: each assembler sees the first phase only, so assemblers stay independent
    first = Tree(dict(tree.files), dict(tree.secrets), {k: dict(v) for k, v in tree.env.items()})
    for name, assembler in assemblers():
        made = assembler(stack, target, first)
        if made.packages:
            tree.files, tree.secrets, tree.env = {}, {}, {}
        tree.merge(made, name)
    tree.files = dict(sorted(tree.files.items()))
    tree.secrets = dict(sorted(tree.secrets.items()))
    return tree
