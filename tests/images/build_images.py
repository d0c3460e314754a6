#!/usr/bin/env python3
"""Build small local Docker images for the promstack test-suite from Debian binaries.

No container registry is reachable in CI, so ``docker pull prom/prometheus`` and
friends cannot work.  Instead every image is assembled from the binaries that
Debian 12 packages install (``apt-get install prometheus ...``) and imported
with ``docker import``.  Each rootfs contains:

* the component binary (+ helper tools such as promtool / amtool),
* the shared libraries it links against (found with ``ldd``),
* Debian's static busybox at /bin/busybox with applet symlinks (/bin/sh,
  /bin/wget, ...) so ``wget -q -O- http://localhost:PORT/-/healthy``
  healthchecks work like in the upstream busybox-based images,
* /etc/passwd and /etc/group with root and nobody (65534), /tmp (1777),
* the data / config directories the component uses.

Image refs are ``promstack-test/<component>:debian`` and carry the label
``promstack.test=1``.  An image is rebuilt only when ``force=True`` or when
the content hash of its inputs (binaries + recipe) differs from the hash stored
in the ``promstack.test.hash`` label, so an upgraded Debian package triggers a
rebuild automatically.

Stdlib only; shells out to the ``docker`` CLI.

Usage::

    python tests/images/build_images.py [--force] [--only prometheus ...]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPOSITORY = "promstack-test"
TAG = "debian"
LABEL = "promstack.test"
# Bump when the recipe changes in a way the binary hashes would not catch.
RECIPE_VERSION = "1"

ROOT_UID = 0
NOBODY_UID = 65534
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

BUSYBOX_SRC = "/bin/busybox"
BUSYBOX_PKG = "busybox-static"


class ImageBuildError(RuntimeError):
    """Any failure while building the test images."""


class MissingBinaryError(ImageBuildError):
    """A Debian binary needed for an image is not installed."""


# --------------------------------------------------------------------------- #
# Component recipes
# --------------------------------------------------------------------------- #


@dataclass
class Component:
    name: str
    package: str  # Debian package that provides ``binary``
    binary: str  # absolute path on the host
    dest: str  # path inside the image
    entrypoint: list[str]
    cmd: list[str] = field(default_factory=list)
    user: str = "nobody"
    workdir: str = "/"
    expose: list[int] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    version_args: list[str] = field(default_factory=lambda: ["--version"])
    # (host path, image path, debian package)
    extra_binaries: list[tuple[str, str, str]] = field(default_factory=list)
    # (image path, mode, uid)
    dirs: list[tuple[str, int, int]] = field(default_factory=list)
    # (image path, content, mode, uid)
    files: list[tuple[str, str, int, int]] = field(default_factory=list)
    # (image symlink path, target)
    symlinks: list[tuple[str, str]] = field(default_factory=list)
    # hook adding extra content: fn(rootfs)
    extra: Callable[[RootFS], None] | None = None

    @property
    def ref(self) -> str:
        return f"{REPOSITORY}/{self.name}:{TAG}"


PROMETHEUS_YML = """\
# Default config of the promstack test image (mirrors the upstream image).
global:
  scrape_interval: 15s
  evaluation_interval: 15s

scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
"""

ALERTMANAGER_YML = """\
# Default config of the promstack test image (mirrors the upstream image).
route:
  group_by: ["alertname"]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  receiver: web.hook
receivers:
  - name: web.hook
    webhook_configs:
      - url: http://127.0.0.1:5001/
inhibit_rules:
  - source_match:
      severity: critical
    target_match:
      severity: warning
    equal: [alertname, dev, instance]
"""


def _add_prometheus_web(fs: RootFS) -> None:
    """Debian's prometheus serves its (classic) web UI from
    /usr/share/prometheus/web/ on disk (the React UI is not packaged).  The
    health/ready/reload endpoints do not need it, but include it so the UI
    pages render.  Static vendor dirs are symlinks into /usr/share/javascript
    (moment-timezone alone is >200 MB), so only the files the templates
    reference are copied from them."""
    web = Path("/usr/share/prometheus/web")
    if not web.is_dir():
        return
    referenced: set[str] = set()
    for tmpl in (web / "templates").glob("*.html"):
        referenced.update(re.findall(r"static/[A-Za-z0-9./_-]+", tmpl.read_text(errors="replace")))
    for dirpath, dirnames, filenames in os.walk(web):
        d = Path(dirpath)
        for dn in list(dirnames):
            if (d / dn).is_symlink():
                dirnames.remove(dn)
        for fn in filenames:
            p = d / fn
            if p.is_symlink() or not p.is_file():
                continue
            fs.add_host_file(p, str(p))
    for rel in sorted(referenced):
        p = web / rel
        if p.is_file():
            fs.add_host_file(p, str(p))


def _add_tree(src: str, dest: str | None = None) -> Callable[[RootFS], None]:
    def add(fs: RootFS) -> None:
        fs.add_host_tree(Path(src), dest or src)

    return add


def _add_python(fs: RootFS) -> None:
    """Debian's python3.11 stdlib minus tests, the 25 MB static libpython
    config dir and other tooling not needed to run a small stdlib script."""
    stdlib = Path("/usr/lib/python3.11")
    if not stdlib.is_dir():
        raise MissingBinaryError(f"{stdlib} not found: install the Debian package 'libpython3.11-stdlib'")
    skip_top = {
        "test",
        "idlelib",
        "tkinter",
        "turtledemo",
        "ensurepip",
        "lib2to3",
        "pydoc_data",
        "config-3.11-x86_64-linux-gnu",
        "site-packages",
        "dist-packages",
        "sitecustomize.py",
        "EXTERNALLY-MANAGED",
        "turtle.py",
    }
    for dirpath, dirnames, filenames in os.walk(stdlib):
        d = Path(dirpath)
        rel = d.relative_to(stdlib)
        if rel == Path("."):
            dirnames[:] = [x for x in dirnames if x not in skip_top]
            filenames = [x for x in filenames if x not in skip_top]
        dirnames[:] = [x for x in dirnames if x not in ("tests", "test", "idle_test")]
        fs.add_dir(str(d))
        for fn in filenames:
            p = d / fn
            if p.is_symlink():
                target = os.readlink(p)
                if not target.startswith("/"):
                    fs.add_symlink(str(p), target)
                continue
            fs.add_host_file(p, str(p))
    for so in sorted((stdlib / "lib-dynload").glob("*.so")):
        fs.add_libs_for(so)
    locale = Path("/usr/lib/locale/C.utf8")
    if locale.is_dir():
        fs.add_host_tree(locale, str(locale))


COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in [
        Component(
            name="prometheus",
            package="prometheus",
            binary="/usr/bin/prometheus",
            dest="/bin/prometheus",
            extra_binaries=[("/usr/bin/promtool", "/bin/promtool", "prometheus")],
            entrypoint=["/bin/prometheus"],
            cmd=[
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--web.console.libraries=/usr/share/prometheus/console_libraries",
                "--web.console.templates=/usr/share/prometheus/consoles",
            ],
            workdir="/prometheus",
            expose=[9090],
            dirs=[
                ("/prometheus", 0o755, NOBODY_UID),
                ("/etc/prometheus", 0o755, NOBODY_UID),
                ("/usr/share/prometheus/console_libraries", 0o755, ROOT_UID),
                ("/usr/share/prometheus/consoles", 0o755, ROOT_UID),
            ],
            files=[("/etc/prometheus/prometheus.yml", PROMETHEUS_YML, 0o644, NOBODY_UID)],
            extra=_add_prometheus_web,
        ),
        Component(
            name="alertmanager",
            package="prometheus-alertmanager",
            binary="/usr/bin/prometheus-alertmanager",
            dest="/bin/alertmanager",
            extra_binaries=[("/usr/bin/amtool", "/bin/amtool", "prometheus-alertmanager")],
            entrypoint=["/bin/alertmanager"],
            cmd=["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
            workdir="/alertmanager",
            expose=[9093],
            dirs=[
                ("/alertmanager", 0o755, NOBODY_UID),
                ("/etc/alertmanager", 0o755, NOBODY_UID),
            ],
            files=[("/etc/alertmanager/alertmanager.yml", ALERTMANAGER_YML, 0o644, NOBODY_UID)],
            # Debian's binary reads default.tmpl/email.tmpl and its (no-)UI from here.
            extra=_add_tree("/usr/share/prometheus/alertmanager"),
        ),
        Component(
            name="node-exporter",
            package="prometheus-node-exporter",
            binary="/usr/bin/prometheus-node-exporter",
            dest="/bin/node_exporter",
            entrypoint=["/bin/node_exporter"],
            # Debian enables the systemd collector by default (upstream does
            # not); without dbus it only logs "collector failed" errors.  Kept
            # in CMD, not ENTRYPOINT: kingpin rejects repeated flags.
            cmd=["--no-collector.systemd"],
            expose=[9100],
            # Debian default of --collector.textfile.directory
            dirs=[("/var/lib/prometheus/node-exporter", 0o755, NOBODY_UID)],
        ),
        Component(
            name="blackbox-exporter",
            package="prometheus-blackbox-exporter",
            binary="/usr/bin/prometheus-blackbox-exporter",
            dest="/bin/blackbox_exporter",
            entrypoint=["/bin/blackbox_exporter"],
            cmd=["--config.file=/etc/blackbox_exporter/config.yml"],
            expose=[9115],
            dirs=[("/etc/blackbox_exporter", 0o755, ROOT_UID)],
            extra=lambda fs: fs.add_host_file(
                Path("/etc/prometheus/blackbox.yml"), "/etc/blackbox_exporter/config.yml", required=False
            ),
        ),
        Component(
            name="redis-exporter",
            package="prometheus-redis-exporter",
            binary="/usr/bin/prometheus-redis-exporter",
            dest="/bin/redis_exporter",
            entrypoint=["/bin/redis_exporter"],
            expose=[9121],
            version_args=["-version"],
            symlinks=[("/redis_exporter", "/bin/redis_exporter")],  # upstream path
        ),
        Component(
            name="postgres-exporter",
            package="prometheus-postgres-exporter",
            binary="/usr/bin/prometheus-postgres-exporter",
            dest="/bin/postgres_exporter",
            entrypoint=["/bin/postgres_exporter"],
            expose=[9187],
        ),
        Component(
            name="mysqld-exporter",
            package="prometheus-mysqld-exporter",
            binary="/usr/bin/prometheus-mysqld-exporter",
            dest="/bin/mysqld_exporter",
            entrypoint=["/bin/mysqld_exporter"],
            expose=[9104],
        ),
        Component(
            name="pushgateway",
            package="prometheus-pushgateway",
            binary="/usr/bin/prometheus-pushgateway",
            dest="/bin/pushgateway",
            entrypoint=["/bin/pushgateway"],
            workdir="/pushgateway",
            expose=[9091],
            dirs=[
                ("/pushgateway", 0o755, NOBODY_UID),
                # Debian's default --persistence.file is /var/lib/prometheus/pushgateway.data
                ("/var/lib/prometheus", 0o755, NOBODY_UID),
            ],
            # Debian's default --web.local-assets
            extra=_add_tree("/usr/share/prometheus/pushgateway"),
        ),
        Component(
            # the upstream image runs /victoria-metrics-prod as root, its data in a volume it names itself
            name="victoriametrics",
            package="victoria-metrics",
            binary="/usr/bin/victoria-metrics",
            dest="/victoria-metrics-prod",
            entrypoint=["/victoria-metrics-prod"],
            user="root",
            expose=[8428],
            version_args=["-version"],  # Debian's build prints nothing; its package version names it
            dirs=[("/storage", 0o755, ROOT_UID)],
        ),
        Component(
            name="python",
            package="python3.11-minimal",
            binary="/usr/bin/python3.11",
            dest="/usr/bin/python3.11",
            entrypoint=["/usr/bin/python3"],
            user="root",
            env={"LANG": "C.UTF-8"},
            symlinks=[("/usr/bin/python3", "python3.11"), ("/usr/bin/python", "python3.11")],
            extra=_add_python,
        ),
    ]
}


# --------------------------------------------------------------------------- #
# rootfs tarball assembly
# --------------------------------------------------------------------------- #


@dataclass
class _Entry:
    kind: str  # "dir" | "file" | "bytes" | "symlink"
    mode: int = 0o755
    uid: int = 0
    src: Path | None = None
    data: bytes = b""
    target: str = ""


class RootFS:
    """In-memory description of a rootfs, written out as a tar archive."""

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}

    @staticmethod
    def _norm(path: str) -> str:
        p = os.path.normpath("/" + path.lstrip("/"))
        return p

    def _parents(self, path: str) -> None:
        parent = os.path.dirname(path)
        while parent not in ("/", ""):
            self.entries.setdefault(parent, _Entry("dir", 0o755, 0))
            parent = os.path.dirname(parent)

    def add_dir(self, path: str, mode: int = 0o755, uid: int = 0) -> None:
        path = self._norm(path)
        if path == "/":
            return
        self._parents(path)
        cur = self.entries.get(path)
        if cur is None or cur.kind == "dir":
            self.entries[path] = _Entry("dir", mode, uid)

    def add_bytes(self, path: str, data: bytes | str, mode: int = 0o644, uid: int = 0) -> None:
        path = self._norm(path)
        self._parents(path)
        if isinstance(data, str):
            data = data.encode()
        self.entries[path] = _Entry("bytes", mode, uid, data=data)

    def add_symlink(self, path: str, target: str) -> None:
        path = self._norm(path)
        self._parents(path)
        self.entries[path] = _Entry("symlink", 0o777, 0, target=target)

    def add_host_file(self, src: Path, dest: str, mode: int | None = None, uid: int = 0, required: bool = True) -> None:
        src = Path(src)
        if not src.exists():
            if required:
                raise ImageBuildError(f"required file {src} is missing")
            return
        real = src.resolve()
        if mode is None:
            mode = real.stat().st_mode & 0o7777
        dest = self._norm(dest)
        self._parents(dest)
        self.entries[dest] = _Entry("file", mode, uid, src=real)

    def add_host_tree(self, src: Path, dest: str) -> None:
        """Copy a directory, following symlinks (skipping dangling ones)."""
        src = Path(src)
        if not src.is_dir():
            return
        for dirpath, _dirnames, filenames in os.walk(src, followlinks=True):
            rel = Path(dirpath).relative_to(src)
            self.add_dir(str(Path(dest) / rel))
            for fn in filenames:
                p = Path(dirpath) / fn
                if p.is_file():
                    self.add_host_file(p, str(Path(dest) / rel / fn))

    def add_libs_for(self, binary: Path) -> None:
        for lib_path, real in ldd(binary):
            self.add_host_file(real, lib_path, mode=0o755)

    def add_binary(self, src: Path, dest: str) -> None:
        self.add_host_file(src, dest, mode=0o755)
        self.add_libs_for(src)

    def write_tar(self, out: Path) -> None:
        with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
            for path in sorted(self.entries):
                e = self.entries[path]
                ti = tarfile.TarInfo(path.lstrip("/"))
                ti.uid = ti.gid = e.uid
                ti.uname = ti.gname = "root" if e.uid == 0 else ("nobody" if e.uid == NOBODY_UID else "")
                ti.mode = e.mode
                ti.mtime = int(time.time())
                if e.kind == "dir":
                    ti.type = tarfile.DIRTYPE
                    tar.addfile(ti)
                elif e.kind == "symlink":
                    ti.type = tarfile.SYMTYPE
                    ti.linkname = e.target
                    tar.addfile(ti)
                elif e.kind == "bytes":
                    ti.size = len(e.data)
                    tar.addfile(ti, io.BytesIO(e.data))
                else:
                    assert e.src is not None
                    ti.size = e.src.stat().st_size
                    with open(e.src, "rb") as fh:
                        tar.addfile(ti, fh)

    def size(self) -> int:
        total = 0
        for e in self.entries.values():
            if e.kind == "file" and e.src is not None:
                total += e.src.stat().st_size
            elif e.kind == "bytes":
                total += len(e.data)
        return total


_LDD_RE = re.compile(r"^\s*(?:(\S+)\s+=>\s+)?(\S+)\s+\(0x[0-9a-f]+\)\s*$")


def ldd(binary: Path) -> list[tuple[str, Path]]:
    """Return [(path as the loader sees it, real file)] for a dynamic binary.
    Empty for static binaries."""
    proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if "not a dynamic executable" in out or "statically linked" in out:
        return []
    if proc.returncode != 0:
        raise ImageBuildError(f"ldd {binary} failed: {out.strip()}")
    libs: list[tuple[str, Path]] = []
    for line in proc.stdout.splitlines():
        if "not found" in line:
            raise ImageBuildError(f"ldd {binary}: missing shared library: {line.strip()}")
        m = _LDD_RE.match(line)
        if not m:
            continue
        path = m.group(2)
        if not path.startswith("/"):  # linux-vdso.so.1
            continue
        libs.append((path, Path(path).resolve()))
    return libs


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def _require(path: str, package: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise MissingBinaryError(
            f"{path} not found: it is provided by the Debian package '{package}' (apt-get install {package})"
        )
    return p


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _docker_bin() -> str:
    docker = os.environ.get("PROMSTACK_DOCKER") or shutil.which("docker")
    if not docker:
        raise ImageBuildError("docker CLI not found: apt-get install docker.io")
    return docker


def _docker(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([_docker_bin(), *args], capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise ImageBuildError(f"docker {' '.join(args[:3])} ... failed: {proc.stderr.strip()}")
    return proc


def ensure_docker(start: bool = True) -> None:
    """Make sure a docker daemon answers; optionally start it via start_dockerd.sh."""
    if _docker("info", check=False).returncode == 0:
        return
    script = HERE / "start_dockerd.sh"
    if start and script.exists():
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True)
        if proc.returncode == 0 and _docker("info", check=False).returncode == 0:
            return
        raise ImageBuildError(f"could not start dockerd:\n{proc.stdout}{proc.stderr}")
    raise ImageBuildError("docker daemon not reachable (run tests/images/start_dockerd.sh)")


def package_version(package: str) -> str:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def binary_version(comp: Component) -> str:
    """First line of ``<binary> --version`` (log-formatted lines are unwrapped)."""
    try:
        proc = subprocess.run([comp.binary, *comp.version_args], capture_output=True, text=True, timeout=20, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    out = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    if not out:
        return "unknown"
    line = out[0]
    m = re.search(r'msg="([^"]*)"', line)
    return re.sub(r"\s+", " ", m.group(1) if m else line).strip()


def input_hash(comp: Component) -> str:
    h = hashlib.sha256()
    h.update(f"recipe={RECIPE_VERSION}\n".encode())
    recipe = {k: v for k, v in comp.__dict__.items() if k != "extra"}
    recipe["extra"] = getattr(comp.extra, "__name__", None)
    h.update(json.dumps(recipe, sort_keys=True, default=str).encode())
    for path in [comp.binary, *(e[0] for e in comp.extra_binaries), BUSYBOX_SRC]:
        h.update(f"{path}={_sha256(Path(path))}\n".encode())
    return h.hexdigest()


def image_labels(ref: str) -> dict[str, str] | None:
    proc = _docker("image", "inspect", "-f", "{{json .Config.Labels}}", ref, check=False)
    if proc.returncode != 0:
        return None
    try:
        return json.loads(proc.stdout.strip()) or {}
    except json.JSONDecodeError:
        return {}


# --------------------------------------------------------------------------- #
# build
# --------------------------------------------------------------------------- #


def _base_rootfs(fs: RootFS, comp: Component) -> None:
    fs.add_dir("/bin")
    fs.add_dir("/etc")
    fs.add_dir("/root", 0o700)
    fs.add_dir("/tmp", 0o1777)
    fs.add_dir("/var/tmp", 0o1777)
    fs.add_dir("/usr/bin")
    for d in ("/proc", "/sys", "/dev"):
        fs.add_dir(d)
    busybox = _require(BUSYBOX_SRC, BUSYBOX_PKG)
    fs.add_host_file(busybox, "/bin/busybox", mode=0o755)
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True).stdout.split()
    own = {comp.dest, *(e[1] for e in comp.extra_binaries), *(s[0] for s in comp.symlinks)}
    for applet in {"sh", "wget", *applets}:
        if not re.fullmatch(r"[A-Za-z0-9_.\[-]+", applet) or f"/bin/{applet}" in own:
            continue
        if applet == "busybox":
            continue
        fs.add_symlink(f"/bin/{applet}", "busybox")
    fs.add_bytes("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    fs.add_bytes("/etc/group", "root:x:0:\nnobody:x:65534:\nnogroup:x:65534:\n")
    fs.add_bytes("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")
    # Docker bind-mounts these at run time; placeholders keep tools happy elsewhere.
    fs.add_bytes("/etc/hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
    fs.add_bytes("/etc/resolv.conf", "")
    certs = Path("/etc/ssl/certs/ca-certificates.crt")
    if certs.is_file():
        fs.add_host_file(certs, str(certs), mode=0o644)


def _changes(comp: Component, labels: dict[str, str]) -> list[str]:
    env = {"PATH": DEFAULT_PATH, **comp.env}
    ch = [f"ENV {k}={v}" for k, v in env.items()]
    ch.append(f"ENTRYPOINT {json.dumps(comp.entrypoint)}")
    ch.append(f"CMD {json.dumps(comp.cmd)}")
    ch.append(f"USER {comp.user}")
    ch.append(f"WORKDIR {comp.workdir}")
    for port in comp.expose:
        ch.append(f"EXPOSE {port}")
    for k, v in labels.items():
        ch.append(f"LABEL {k}={json.dumps(v)}")
    return ch


def build_image(comp: Component, force: bool = False, verbose: bool = True) -> str:
    _require(comp.binary, comp.package)
    for src, _dest, pkg in comp.extra_binaries:
        _require(src, pkg)
    digest = input_hash(comp)
    version = binary_version(comp)
    pkg_version = package_version(comp.package)
    if verbose:
        print(f"[{comp.name}] {comp.package} {pkg_version}: {version}", flush=True)

    labels = image_labels(comp.ref)
    if not force and labels is not None and labels.get(f"{LABEL}.hash") == digest:
        if verbose:
            print(f"[{comp.name}] {comp.ref} is up to date", flush=True)
        return comp.ref

    t0 = time.monotonic()
    fs = RootFS()
    _base_rootfs(fs, comp)
    fs.add_binary(Path(comp.binary), comp.dest)
    for src, dest, _pkg in comp.extra_binaries:
        fs.add_binary(Path(src), dest)
    for path, mode, uid in comp.dirs:
        fs.add_dir(path, mode, uid)
    for path, content, mode, uid in comp.files:
        fs.add_bytes(path, content, mode, uid)
    for path, target in comp.symlinks:
        fs.add_symlink(path, target)
    if comp.extra is not None:
        comp.extra(fs)
    if comp.workdir != "/" and comp.workdir not in fs.entries:
        fs.add_dir(comp.workdir, 0o755, NOBODY_UID if comp.user == "nobody" else ROOT_UID)

    new_labels = {
        LABEL: "1",
        f"{LABEL}.component": comp.name,
        f"{LABEL}.hash": digest,
        f"{LABEL}.debian-package": comp.package,
        f"{LABEL}.debian-version": pkg_version,
        f"{LABEL}.version": version,
    }
    with tempfile.TemporaryDirectory(prefix=f"promstack-img-{comp.name}-") as tmp:
        tar_path = Path(tmp) / "rootfs.tar"
        fs.write_tar(tar_path)
        args = ["import"]
        for c in _changes(comp, new_labels):
            args += ["--change", c]
        args += [
            "--message",
            f"promstack test image {comp.name} from Debian {comp.package} {pkg_version}",
            str(tar_path),
            comp.ref,
        ]
        _docker(*args)
    # Re-verify the labels landed (older daemons may ignore LABEL in --change).
    got = image_labels(comp.ref) or {}
    if got.get(f"{LABEL}.hash") != digest:
        raise ImageBuildError(f"{comp.ref}: label {LABEL}.hash not stored by docker import")
    if verbose:
        print(
            f"[{comp.name}] built {comp.ref} ({fs.size() / 1e6:.1f} MB rootfs) in {time.monotonic() - t0:.1f}s",
            flush=True,
        )
    return comp.ref


def build_all(
    force: bool = False, only: Iterable[str] | None = None, verbose: bool = True, start_daemon: bool = True
) -> dict[str, str]:
    """Build (or reuse) every test image; return {component: image_ref}."""
    names = list(only) if only else list(COMPONENTS)
    unknown = [n for n in names if n not in COMPONENTS]
    if unknown:
        raise ImageBuildError(f"unknown component(s) {unknown}; known: {sorted(COMPONENTS)}")
    # Fail early and clearly on missing packages before touching docker.
    for n in names:
        c = COMPONENTS[n]
        _require(c.binary, c.package)
        for src, _dest, pkg in c.extra_binaries:
            _require(src, pkg)
    _require(BUSYBOX_SRC, BUSYBOX_PKG)
    ensure_docker(start=start_daemon)
    return {n: build_image(COMPONENTS[n], force=force, verbose=verbose) for n in names}


def image_ref(component: str) -> str:
    return COMPONENTS[component].ref


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    ap.add_argument("--only", nargs="+", metavar="COMPONENT", choices=sorted(COMPONENTS))
    ap.add_argument("--list", action="store_true", help="print component -> image ref and exit")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.list:
        for c in COMPONENTS.values():
            print(f"{c.name}\t{c.ref}")
        return 0
    t0 = time.monotonic()
    try:
        refs = build_all(force=args.force, only=args.only, verbose=not args.quiet)
    except ImageBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(refs, indent=2))
    if not args.quiet:
        print(f"done in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
