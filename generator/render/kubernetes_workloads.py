"""Every component promstack runs in the cluster (catalog `kubernetes.run: workload`), as a Deployment or
DaemonSet and a Service (for render/kubernetes.py), made from the same catalog entry as its compose
service: image, command line and environment (render/args.py, for the kubernetes target), user,
read-only root, memory, health path, data folder.

Its rendered files (blackbox.yml, the demo's app.py) are a ConfigMap; a secret file it reads is a key of
the stack's Secret, projected into the same folder: the key of the secret reference (`{env: NAME}` ->
NAME), or for a file promstack assembles from several references (mysqld-exporter's my.cnf, the DingTalk
adapter's config.yml) `<component>.<file>`, which `promstack generate` for compose writes (0600) and the
README says how to load. Secret variables come from the same Secret (`secretKeyRef`). Nothing here holds
a secret value.
"""

from __future__ import annotations

from typing import Any

from generator import catalog, conventions
from generator.kubernetes import names
from generator.model import Component, SecretRef, Stack
from generator.render import SecretFile, Target, Tree
from generator.render import args as cmdline
from generator.units import kubernetes_quantity

SECRETS_MOUNT = "/run/secrets/promstack"  # Target.secret_path for a container
SINGLE = SecretFile.single(SecretRef(env="X")).template  # a file that is one secret's value, nothing else
SECRET_MODE = 0o440  # owner and group (the pod's fsGroup) may read a secret file; nobody else


def secret_items(tree: Tree, stack: Stack, name: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The keys of the stack's Secret `name` reads as files: (items in its config folder, items in the
    secrets folder), each {key, path}."""
    config: list[dict[str, str]] = []
    private: list[dict[str, str]] = []
    for path, secret in sorted(tree.secrets.items()):
        if path.startswith(f"{name}/"):
            rel = path.removeprefix(f"{name}/")
            config.append({"key": secret_key(name, path, secret), "path": names.config_key(rel)})
        elif path.startswith(f"{conventions.SECRETS_DIR}/{name}/"):
            rel = path.removeprefix(f"{conventions.SECRETS_DIR}/{name}/")
            private.append({"key": secret_key(name, path, secret), "path": rel})
    return config, private


def secret_key(name: str, path: str, secret: SecretFile) -> str:
    """The key of the stack's Secret that holds secret file `path` of component `name`: a file that is one
    secret's value is that secret's key; a file promstack assembles (my.cnf) is a key of its own."""
    if secret.template == SINGLE and list(secret.values) == ["value"] and not secret.bcrypt:
        return names.key(secret.values["value"])
    return names.file_key(name, path)


def _host_volumes(entry: catalog.Entry) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes, mounts = [], []
    for index, spec in enumerate((*entry.host_mounts, *entry.kubernetes.host_mounts)):
        host, inside, *mode = spec.split(":")
        volumes.append({"name": f"host-{index}", "hostPath": {"path": host}})
        mounts.append({"name": f"host-{index}", "mountPath": inside, "readOnly": "ro" in mode})
    return volumes, mounts


def _security(entry: catalog.Entry) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod securityContext, container securityContext) from the catalog's user and read-only root."""
    pod: dict[str, Any] = {}
    if entry.user:
        user, _, group = entry.user.partition(":")
        pod["runAsUser"] = int(user)
        if group:
            pod["runAsGroup"] = int(group)
            pod["fsGroup"] = int(group)  # the group that may read its secret files
        pod["runAsNonRoot"] = int(user) != 0
    container: dict[str, Any] = {"readOnlyRootFilesystem": entry.read_only}
    if entry.kubernetes.privileged:
        container["privileged"] = True
    else:
        container["allowPrivilegeEscalation"] = False
    return pod, container


def _sysctls(stack: Stack, component: Component) -> list[dict[str, str]]:
    """The compose `sysctls` its catalog sets (compose_when), for the pod: e.g. unprivileged ICMP."""
    context = {"stack": stack, "component": component}
    found: dict[str, str] = {}
    for when in catalog.entry(component.name).compose_when:
        if cmdline.fill(str(when["if"]), context).strip() == "True":
            found.update({str(k): str(v) for k, v in (when["set"].get("sysctls") or {}).items()})
    return [{"name": k, "value": v} for k, v in sorted(found.items())]


def _env(stack: Stack, name: str, target: Target, tree: Tree) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": var, "value": value} for var, value in cmdline.environment(stack, name, target).items()
    ]
    for var, ref in sorted(tree.env.get(name, {}).items()):
        selector = {"name": names.secret(stack), "key": names.key(ref)}
        env.append({"name": var, "valueFrom": {"secretKeyRef": selector}})
    return env


def _files(stack: Stack, name: str, tree: Tree) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, str]]:
    """(volumes, mounts, the ConfigMap's data) for the rendered files of component `name`."""
    entry = catalog.entry(name)
    data = {
        names.config_key(path.removeprefix(f"{name}/")): text
        for path, text in sorted(tree.files.items())
        if path.startswith(f"{name}/")
    }
    config_items, private_items = secret_items(tree, stack, name)
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    sources: list[dict[str, Any]] = []
    if data:
        sources.append({"configMap": {"name": f"{name}-config"}})
    if config_items:
        sources.append({"secret": {"name": names.secret(stack), "items": config_items}})
    if sources:
        projected: dict[str, Any] = {"sources": sources}
        if config_items:
            projected["defaultMode"] = SECRET_MODE
        volumes.append({"name": "config", "projected": projected})
        mounts.append({"name": "config", "mountPath": entry.kubernetes.config or entry.config, "readOnly": True})
    if private_items:
        secret = {"secretName": names.secret(stack), "items": private_items, "defaultMode": SECRET_MODE}
        volumes.append({"name": "secrets", "secret": secret})
        mounts.append({"name": "secrets", "mountPath": SECRETS_MOUNT, "readOnly": True})
    return volumes, mounts, data


def _container(stack: Stack, component: Component, target: Target, tree: Tree) -> dict[str, Any]:
    name = component.name
    entry = catalog.entry(name)
    container: dict[str, Any] = {"name": name, "image": component.image}
    if "entrypoint" in entry.compose:
        container["command"] = list(entry.compose["entrypoint"])
    args = cmdline.command(stack, name, target)
    if args:
        container["args"] = args
    env = _env(stack, name, target, tree)
    if env:
        container["env"] = env
    container["ports"] = [{"name": names.PORT_NAME, "containerPort": component.container_port}]
    if entry.health:
        container["readinessProbe"] = {"httpGet": {"path": entry.health, "port": names.PORT_NAME}, "periodSeconds": 10}
    memory = kubernetes_quantity(component.memory)
    container["resources"] = {"requests": {"memory": memory}, "limits": {"memory": memory}}
    return container


def workload(stack: Stack, component: Component, target: Target, tree: Tree) -> list[dict[str, Any]]:
    """ConfigMap (its files), PersistentVolumeClaim (its data), Deployment or DaemonSet, Service."""
    name = component.name
    entry = catalog.entry(name)
    kube = entry.kubernetes
    found: list[dict[str, Any]] = []
    volumes, mounts, data = _files(stack, name, tree)
    if data:
        found.append(names.resource("v1", "ConfigMap", f"{name}-config", stack, name, data=data))
    host_volumes, host_mounts = _host_volumes(entry)
    volumes += host_volumes
    mounts += host_mounts
    if entry.data:
        claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": conventions.DATA_VOLUME}}}
        found.append(names.resource("v1", "PersistentVolumeClaim", f"{name}-data", stack, name, claim))
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}})
        mounts.append({"name": "data", "mountPath": entry.data})
    if entry.read_only:
        volumes.append({"name": "tmp", "emptyDir": {}})
        mounts.append({"name": "tmp", "mountPath": "/tmp"})
    container = _container(stack, component, target, tree)
    pod_security, container["securityContext"] = _security(entry)
    if mounts:
        container["volumeMounts"] = mounts
    pod: dict[str, Any] = {}
    if kube.rbac:
        pod["serviceAccountName"] = name
    if kube.host_network:
        pod.update(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")
    if kube.host_pid:
        pod["hostPID"] = True
    sysctls = _sysctls(stack, component)
    if sysctls:
        pod_security["sysctls"] = sysctls
    if pod_security:
        pod["securityContext"] = pod_security
    pod["containers"] = [container]
    if volumes:
        pod["volumes"] = volumes
    match = {names.LABEL_STACK: stack.name, names.LABEL_COMPONENT: name}
    template = {"metadata": {"labels": names.labels(stack, name)}, "spec": pod}
    spec: dict[str, Any] = {"selector": {"matchLabels": match}, "template": template}
    if kube.kind == "DaemonSet":
        pod["tolerations"] = [{"operator": "Exists"}]  # a host-level collector belongs on every node
    else:
        spec = {"replicas": 1, **spec}
        if entry.data:  # one pod at a time owns the volume
            spec["strategy"] = {"type": "Recreate"}
    found.append(names.resource("apps/v1", kube.kind, name, stack, name, spec))
    service = {
        "selector": match,
        "ports": [{"name": names.PORT_NAME, "port": component.container_port, "targetPort": names.PORT_NAME}],
    }
    found.append(names.resource("v1", "Service", name, stack, name, service))
    return found


def rbac(stack: Stack, name: str) -> list[dict[str, Any]]:
    """ServiceAccount, ClusterRole and ClusterRoleBinding of a component whose catalog entry has `rbac`.
    Cluster-wide names carry the namespace: two stacks never share them."""
    rules = [dict(rule) for rule in catalog.entry(name).kubernetes.rbac]
    cluster_name = f"promstack-{names.namespace(stack)}-{name}"
    labels = names.labels(stack, name)
    account = names.resource("v1", "ServiceAccount", name, stack, name)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": cluster_name, "labels": labels},
        "rules": rules,
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": cluster_name, "labels": labels},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": names.namespace(stack)}],
    }
    return [account, role, binding]
