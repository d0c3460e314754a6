"""Kubernetes workloads: pods that are not running or keep restarting, deployments, stateful sets and
daemon sets short of replicas, failed jobs, nodes that are not ready, pending volume claims.

Every number is read from kube-state-metrics (its series keep the objects' own namespace, pod and
node labels); $namespace narrows the workload panels to some namespaces.
"""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

KSM = 'job="kube-state-metrics"'
NS = f'{KSM},namespace=~"$namespace"'


def _workloads() -> g.Row:
    return g.Row(
        "Workloads",
        [
            g.stat(
                "Pods running",
                g.q(f'sum(kube_pod_status_phase{{{NS},phase="Running"}})'),
                graph=False,
                description="Pods in the Running phase in the chosen namespaces.",
            ),
            g.stat(
                "Pods not running",
                g.q(f'sum(kube_pod_status_phase{{{NS},phase=~"Pending|Unknown|Failed"}}) or vector(0)'),
                graph=False,
                steps=(("green", None), ("orange", 1)),
                description="Pods pending, failed or in an unknown phase (KubePodNotReady after 15 minutes).",
            ),
            g.stat(
                "Restarts (1h)",
                g.q(f"sum(increase(kube_pod_container_status_restarts_total{{{NS}}}[1h])) or vector(0)"),
                graph=False,
                decimals=0,
                description="Container restarts in the last hour, all pods of the chosen namespaces together.",
            ),
            g.stat(
                "Failed jobs",
                g.q(f"sum(kube_job_failed{{{NS}}} > 0) or vector(0)"),
                graph=False,
                steps=(("green", None), ("orange", 1)),
                description="Jobs that ran out of retries (KubeJobFailed).",
            ),
            g.timeseries(
                "Restarts by pod",
                g.q(
                    f"sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{{{NS}}}[10m])) > 0",
                    "{{namespace}}/{{pod}}",
                ),
                quiet="no container restarted",
                description="Container restarts per pod over 10 minutes (KubePodCrashLooping watches 15).",
            ),
            g.table(
                "Pods not running",
                g.q(f'kube_pod_status_phase{{{NS},phase=~"Pending|Unknown|Failed"}} == 1', table=True),
                hidden=("Time", "Value", "__name__", "job", "instance", "host"),
                quiet="every pod runs",
                w=12,
                description="Each pod that is not running, with its phase.",
            ),
        ],
    )


# (title, wanted, available, what is missing, the alert): workloads short of what their spec asks for
SHORT = (
    ("Deployments short of replicas", "kube_deployment_spec_replicas", "kube_deployment_status_replicas_available",
     "Replicas each deployment asks for but does not have", "KubeDeploymentReplicasMismatch"),
    ("StatefulSets short of ready replicas", "kube_statefulset_replicas", "kube_statefulset_status_replicas_ready",
     "Replicas each stateful set asks for that are not ready", "KubeStatefulSetReplicasMismatch"),
    ("DaemonSets not ready everywhere", "kube_daemonset_status_desired_number_scheduled",
     "kube_daemonset_status_number_ready", "Nodes where each daemon set should run but has no ready pod",
     "KubeDaemonSetNotReady"),
)  # fmt: skip


def _replicas() -> g.Row:
    return g.Row(
        "Replicas",
        [
            g.table(
                title,
                g.q(f"{wanted}{{{NS}}} - {available}{{{NS}}} > 0", table=True),
                hidden=("Time", "__name__", "job", "instance", "host"),
                quiet="every replica is available",
                w=8,
                description=f"{what} ({alert}).",
            )
            for title, wanted, available, what, alert in SHORT
        ],
    )


def _nodes() -> g.Row:
    return g.Row(
        "Nodes and storage",
        [
            g.stat(
                "Nodes",
                g.q(f"count(kube_node_info{{{KSM}}})"),
                graph=False,
                description="Nodes of the cluster.",
            ),
            g.stat(
                "Nodes not ready",
                g.q(f'count(kube_node_status_condition{{{KSM},condition="Ready",status="true"}} == 0) or vector(0)'),
                graph=False,
                steps=(("green", None), ("red", 1)),
                description="Nodes whose Ready condition is not true (KubeNodeNotReady after 15 minutes).",
            ),
            g.stat(
                "Unschedulable nodes",
                g.q(f"sum(kube_node_spec_unschedulable{{{KSM}}}) or vector(0)"),
                graph=False,
                steps=(("green", None), ("orange", 1)),
                description="Nodes cordoned: nothing new is scheduled there.",
            ),
            g.stat(
                "Pending volume claims",
                g.q(f'sum(kube_persistentvolumeclaim_status_phase{{{NS},phase="Pending"}}) or vector(0)'),
                graph=False,
                steps=(("green", None), ("orange", 1)),
                description="Claims no volume is bound to (KubePersistentVolumeClaimPending after 15 minutes).",
            ),
        ],
    )


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("kube-state-metrics"):
        return None
    namespace = g.query_var("namespace", f"label_values(kube_namespace_status_phase{{{KSM}}}, namespace)", "Namespace")
    return g.Board(
        uid=c.DASHBOARD_UIDS["kube-state-metrics"],
        title="Kubernetes workloads",
        tags=("kubernetes",),
        description="The state of the cluster's workloads, nodes and volume claims, from kube-state-metrics.",
        rows=[_workloads(), _replicas(), _nodes()],
        variables=[namespace],
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
