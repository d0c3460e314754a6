"""Golden trees: the files these renderers produce (prometheus.yml, compose.yaml, .env, blackbox-exporter/)
for each case under tests/golden/<case>/, compared file by file; `pytest --update-golden` rewrites them.
A case is rendered for compose unless its folder has a `runtime` file naming another (kubernetes).

Also: every golden case and every spec in stack/ passes promtool and the compose client, and rendering
is deterministic. Only our paths are compared, so other renderers' work does not break these cases;
config-hash labels in compose.yaml digest the other renderers' files too, so they are compared masked.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from generator import pipeline
from generator.checks import compose_config
from generator.render import Target, render
from generator.spec import load_stack

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "stack.yaml").is_file())
# cases that are copies of a shipped spec: kept identical (refreshed by --update-golden)
SOURCES = {
    "example": ROOT / "stack/stack.yaml",
    "minimal": ROOT / "stack/examples/minimal.yaml",
    "large": ROOT / "stack/examples/large.yaml",
    "example-kubernetes": ROOT / "stack/stack.yaml",
    "cluster": ROOT / "stack/examples/kubernetes/cluster.yaml",
}


def runtime_of(case: str) -> str:
    marker = GOLDEN / case / "runtime"
    return marker.read_text().strip() if marker.is_file() else "compose"


# shipped specs that run on compose and local, plus golden cases for those that are not copies of one (a
# copy would only repeat the same work)
SPECS = sorted(
    [*ROOT.glob("stack/*.yaml"), *ROOT.glob("stack/examples/*.yaml")]
    + [GOLDEN / c / "stack.yaml" for c in CASES if c not in SOURCES and runtime_of(c) != "kubernetes"]
)
HASH = re.compile(r"(promstack\.config-hash: )[0-9a-f]{16}")


def golden_files(spec: Path, runtime: str = "compose") -> dict[str, str]:
    """The whole rendered tree. A secret file is shown as its declaration (template and references),
    so reviewers see where secrets go without any value being involved."""
    tree = render(load_stack(spec, runtime=runtime), Target(runtime, "/promstack"))
    files = dict(tree.files)
    for path, secret in tree.secrets.items():
        refs = "".join(
            f"# ${{{k}}} <- {v.describe()}{' (bcrypt)' if k in secret.bcrypt else ''}\n"
            for k, v in sorted(secret.values.items())
        )
        files[f"{path}.secret"] = f"# secret file, resolved at write time (mode 0600)\n{refs}{secret.template}"
    return files


def masked(text: str) -> str:
    return HASH.sub(r"\1<hash>", text)


def test_the_cases_exist() -> None:
    assert {"example", "minimal", "large", "example-kubernetes", "cluster"} <= set(CASES)
    assert runtime_of("example-kubernetes") == runtime_of("cluster") == "kubernetes"


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, update_golden: bool) -> None:
    spec = GOLDEN / case / "stack.yaml"
    source = SOURCES.get(case)
    if source is not None:
        if update_golden:
            shutil.copyfile(source, spec)
        assert spec.read_text() == source.read_text(), f"{spec} is no longer a copy of {source}"
    files = golden_files(spec, runtime_of(case))
    expected_dir = GOLDEN / case / "expected"
    if update_golden:
        shutil.rmtree(expected_dir, ignore_errors=True)
        for rel, text in files.items():
            (expected_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / rel).write_text(text)
    expected = {p.relative_to(expected_dir).as_posix(): p.read_text() for p in expected_dir.rglob("*") if p.is_file()}
    assert sorted(files) == sorted(expected), "rendered files differ from the golden ones; pytest --update-golden"
    for rel, text in files.items():
        assert masked(text) == masked(expected[rel]), f"{case}/{rel} differs; review and run pytest --update-golden"


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_promtool_accepts_the_local_rendering(spec: Path) -> None:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    assert pipeline.check_spec(spec, only=["prometheus/config"]).passed == ["prometheus/config"]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_compose_client_accepts_the_compose_rendering(spec: Path) -> None:
    if compose_config.client() is None:
        pytest.skip("docker-compose is not installed (nor the docker compose plugin)")
    assert pipeline.check_spec(spec, only=["compose/config"]).passed == ["compose/config"]


# every spec on every runtime it renders for (cluster.yaml: Kubernetes only)
RENDERINGS = [(spec, runtime) for spec in SPECS for runtime in ("compose", "local", "kubernetes")]
RENDERINGS.append((SOURCES["cluster"], "kubernetes"))


@pytest.mark.parametrize(
    ("spec", "runtime"), RENDERINGS, ids=lambda v: str(v.relative_to(ROOT)) if isinstance(v, Path) else v
)
def test_rendering_is_deterministic(spec: Path, runtime: str) -> None:
    first, second = (render(load_stack(spec, runtime=runtime), Target(runtime, "/promstack")) for _ in range(2))
    assert first.files == second.files
    assert first.secrets == second.secrets
    assert first.env == second.env
