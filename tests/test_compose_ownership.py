"""A compose project name is not proof of ownership (issue 11, class 1, on the Docker engine).

`docker compose -p NAME` labels whatever it creates with the project name, and nothing stops a user's own
application from carrying the name a stack deploys as (the example stack is `shop`). promstack used to
treat the whole project as its own: `up` removed the user's containers ("remove db: no longer in the
spec", and `--remove-orphans`) and `down --volumes` deleted their volumes and networks. Now it stops,
removes and deletes only its own, and `up` refuses a project that holds anything else's containers.

The user's application here is a real compose project (the `docker compose` client) with a container, a
named volume holding data and a network of its own.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from test_runtime_compose import compose_spec, containers, docker_images_or_skip
from test_runtime_local import Deployment, deployment_factory, free_ports, need_binaries

pytestmark = [pytest.mark.live, pytest.mark.docker, pytest.mark.xdist_group("runtime-compose")]

USER_APP = """\
services:
  db:
    image: {image}
    entrypoint: ["python3", "-c", "open('/data/rows', 'w').write('precious'); import time; time.sleep(10**6)"]
    volumes:
      - dbdata:/data
volumes:
  dbdata: {{}}
"""


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


class UserApp:
    """The user's own compose application, under the project name the stack is about to use."""

    def __init__(self, folder: Path, project: str, image: str) -> None:
        folder.mkdir()
        (folder / "compose.yaml").write_text(USER_APP.format(image=image))
        self.folder, self.project = folder, project

    def compose(self, *args: str) -> None:
        done = subprocess.run(
            ["docker", "compose", "-p", self.project, *args],
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    def intact(self, running: bool = True) -> None:
        client = docker.from_env()
        names = {c.name for c in client.containers.list(all=not running, filters={"label": self._label})}
        assert names == {f"{self.project}-db-1"}, names
        volumes = {v.name for v in client.volumes.list(filters={"label": self._label})}
        assert f"{self.project}_dbdata" in volumes, volumes
        if running:
            rows = client.containers.get(f"{self.project}-db-1").exec_run(
                ["python3", "-c", "print(open('/data/rows').read())"]
            )
            assert rows.output.strip() == b"precious"

    @property
    def _label(self) -> str:
        return f"com.docker.compose.project={self.project}"

    def remove(self) -> None:
        subprocess.run(["docker", "compose", "-p", self.project, "down", "--volumes"], cwd=self.folder, timeout=120)


def test_a_compose_project_of_another_application_is_never_touched(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Deployment],
    tmp_path: Path,
) -> None:
    need_binaries()  # up runs promtool and amtool
    docker_images = docker_images_or_skip()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(compose_spec(ports, "theirs", docker_images)), "compose", ports)
    app = UserApp(tmp_path / "app", stack.project, docker_images["python"])
    app.compose("up", "--detach")
    try:
        # 1. their containers in the project: refused before anything starts
        refused = stack.up(expect=1)
        assert f"compose project {stack.project!r} already has containers promstack did not create" in refused.stderr
        assert f"{stack.project}-db-1" in refused.stderr and "nothing was started" in refused.stderr
        assert not containers(stack.project).keys() - {"db"}
        diff = stack.run("diff", str(stack.spec))
        assert "remove" not in diff.stdout, diff.stdout  # their service is no promstack component to remove
        app.intact()

        # 2. their project down (their volume kept): the stack deploys beside what is left of it
        app.compose("down")
        stack.up()
        # 3. their app comes back into the same project: the next `up` refuses, `down --volumes` leaves it
        app.compose("up", "--detach")
        assert "already has containers promstack did not create" in stack.up(expect=1).stderr
        assert set(containers(stack.project)) == {"db", "prometheus", "alertmanager", "node-exporter"}
        down = stack.run("down", str(stack.spec), "--runtime", "compose", "--volumes")
        assert down.returncode == 0, down.stderr
        assert f"left alone: {stack.project}-db-1" in down.stderr
        assert set(containers(stack.project)) == {"db"}
        client = docker.from_env()
        left = {v.name for v in client.volumes.list(filters={"label": f"com.docker.compose.project={stack.project}"})}
        assert left == {f"{stack.project}_dbdata"}, left  # promstack's data volumes gone, theirs kept
        app.intact()
    finally:
        app.remove()
