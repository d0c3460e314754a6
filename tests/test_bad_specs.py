"""The broken-spec table: each small spec with the exact problems `promstack generate` reports (exit 2).

Every row runs through the real CLI (typer's CliRunner on `generator.cli.app`), from a temporary
working directory so the file name in each message is just `stack.yaml`. A row's expected lines are
the whole of stderr, in order: that also proves that all problems are reported, sorted by position,
and that nothing else (a traceback, a secret) is printed. `generate` must write nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator import conventions
from generator.cli import app

HEAD = "version: 1\nname: t\n"
# a receiver block to put routes, tests and the like under
NOTIFY = HEAD + "notifications:\n  receivers: [{name: team, webhook: {url: {env: HOOK}}}]\n  default_receiver: team\n"
SECRET = "hunter2-Sup3rS3cret-value"  # must never be printed back
RW = HEAD + "storage:\n  remote_write:\n"  # remote_write targets follow, each "    - {...}\n"

CASES: list[tuple[str, str | bytes | None, list[str]]] = [
    # --- the file itself -------------------------------------------------------------------
    ("empty-file", "", ["1:1: $: the spec is empty"]),
    ("only-comments", "# nothing here yet\n", ["1:1: $: the spec is empty"]),
    ("too-big", "#" + "x" * 16_000_000 + "\n", ["1:1: $: the spec is larger than 16000000 bytes"]),
    ("missing-file", None, ["1:1: $: cannot read the spec: No such file or directory"]),
    ("not-utf8", b"version: 1\nname: caf\xe9\n", ["2:10: $: the spec is not UTF-8 text (byte 0xe9); save it as UTF-8"]),
    ("nul-character", "version: 1\nname: t\x00\n", ["2:8: $: invalid YAML: character 0x0000 is not allowed"]),
    (
        "two-documents",
        HEAD + "---\nname: u\n",
        ["3:1: $: invalid YAML: a spec is one document, but another one starts here (---)"],
    ),
    ("top-level-list", "- version: 1\n- name: t\n", ["1:1: $: expected a mapping (key: value), got a list"]),
    # --- YAML syntax -----------------------------------------------------------------------
    (
        "unclosed-list",
        HEAD + "services: [{name: api\n",
        ["4:1: $: invalid YAML: expected ',' or '}', but got '<stream end>'"],
    ),
    (
        "tab-indent",
        HEAD + "retention:\n\ttime: 30d\n",
        ["4:1: $: invalid YAML: found character '\\t' that cannot start any token"],
    ),
    (
        "bad-indent",
        HEAD + "retention:\n    time: 30d\n  size: 1GB\n",
        ["5:3: $: invalid YAML: expected <block end>, but found '<block mapping start>'"],
    ),
    (
        "python-tag",
        HEAD + "environment: !!python/object/apply:os.system ls\n",
        [
            "3:14: $.environment: invalid YAML value: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'"
        ],
    ),
    (
        "alias-bomb",
        HEAD
        + "x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
        + "".join(f"{b}: &{b} [{', '.join(['*' + a] * 10)}]\n" for a, b in zip("abcd", "bcde", strict=True))
        + "f: [*e, *e, *e, *e, *e, *e]\n",
        ["3:26: $.f[3][3][8][8][8][6]: the document expands to more than 500000 values (YAML aliases?)"],
    ),
    # --- keys ------------------------------------------------------------------------------
    ("duplicate-key", HEAD + "name: u\n", ["3:1: $.name: duplicate key 'name' (first given on line 2)"]),
    (
        "duplicate-nested-key",
        HEAD + "retention:\n  time: 30d\n  time: 7d\n",
        ["5:3: $.retention.time: duplicate key 'time' (first given on line 4)"],
    ),
    (
        "unknown-top-key",
        HEAD + "scrape_intervall: 15s\n",
        ["3:1: $.scrape_intervall: unknown key 'scrape_intervall'; did you mean 'scrape_interval'?"],
    ),
    (
        "unknown-nested-key",
        HEAD + "retention: {tme: 30d}\n",
        ["3:13: $.retention.tme: unknown key 'tme'; did you mean 'time'?"],
    ),
    (
        "unknown-key-no-guess",
        HEAD + "retention: {forever: true}\n",
        ["3:13: $.retention.forever: unknown key 'forever'; expected one of: size, time"],
    ),
    ("missing-required", "version: 1\n", ["1:1: $: missing required key 'name'"]),
    (
        "unknown-exporter",
        HEAD + "exporters: {elasticsearch: {}}\n",
        [
            "3:13: $.exporters.elasticsearch: unknown exporter 'elasticsearch'; promstack knows: "
            + ", ".join(sorted(conventions.EXPORTERS))  # every exporter of the catalog
        ],
    ),
    (
        "unknown-exporter-guess",
        HEAD + "exporters: {mysql: {address: 'db:3306'}}\n",
        ["3:13: $.exporters.mysql: unknown exporter 'mysql'; did you mean 'mysqld'?"],
    ),
    # --- types and formats -----------------------------------------------------------------
    (
        "version-2",
        "version: 2\nname: t\n",
        ["1:10: $.version: unsupported spec version 2; this promstack reads version 1"],
    ),
    (
        "bad-name",
        "version: 1\nname: My Shop\n",
        ["2:7: $.name: 'My Shop' is not a valid name (lower-case letters, digits, - and _, at most 40)"],
    ),
    (
        "number-for-duration",
        HEAD + "scrape_interval: 15\n",
        ["3:18: $.scrape_interval: expected a duration (e.g. 30s, 5m, 1h30m, 7d), got a whole number"],
    ),
    (
        "mapping-for-list",
        HEAD + "services: {name: api, targets: ['api:8000']}\n",
        ["3:11: $.services: expected a list, got a mapping"],
    ),
    (
        "bool-for-mapping",
        HEAD + "exporters: {node: true}\n",
        ["3:19: $.exporters.node: expected a mapping (key: value), got true/false"],
    ),
    (
        "bad-duration",
        HEAD + "scrape_interval: 5 minutes\n",
        ["3:18: $.scrape_interval: '5 minutes' is not a valid duration (e.g. 30s, 5m, 1h30m, 7d)"],
    ),
    (
        "zero-duration",
        HEAD + "evaluation_interval: 0s\n",
        ["3:22: $.evaluation_interval: evaluation_interval must be longer than 0s"],
    ),
    (
        "timeout-over-interval",
        HEAD + "scrape_interval: 10s\nscrape_timeout: 30s\n",
        ["4:17: $.scrape_timeout: scrape_timeout 30s is longer than scrape_interval 10s; Prometheus refuses that"],
    ),
    (
        "bad-size",
        HEAD + "retention: {size: 20 gigs}\n",
        ["3:19: $.retention.size: '20 gigs' is not a valid size (e.g. 512MB, 20GB)"],
    ),
    (
        "target-port-too-big",
        HEAD + "services: [{name: api, targets: ['api:99999']}]\n",
        [
            "3:34: $.services[0].targets[0]: 'api:99999' is not a valid host:port target: "
            "port 99999 is not between 1 and 65535"
        ],
    ),
    (
        "target-without-port",
        HEAD + "services: [{name: api, targets: ['api']}]\n",
        ["3:34: $.services[0].targets[0]: 'api' is not a valid host:port target: add the port, e.g. 'api:8000'"],
    ),
    (
        "target-port-not-number",
        HEAD + "exporters: {redis: {targets: ['redis:http']}}\n",
        [
            "3:31: $.exporters.redis.targets[0]: 'redis:http' is not a valid host:port target: "
            "the port 'http' is not a number"
        ],
    ),
    (
        "port-out-of-range",
        HEAD + "components: {prometheus: {port: 70000}}\n",
        ["3:33: $.components.prometheus.port: 70000 is not a valid port (1-65535)"],
    ),
    (
        "port-zero",
        HEAD + "exporters: {node: {port: 0}}\n",
        ["3:26: $.exporters.node.port: 0 is not a valid port (1-65535)"],
    ),
    (
        "bad-label-name",
        HEAD + "external_labels: {team-name: ops}\n",
        [
            "3:19: $.external_labels.team-name: "
            "'team-name' is not a valid label name (letters, digits, underscores) as a key"
        ],
    ),
    (
        "bad-enum",
        HEAD + "exporters: {blackbox: {probes: [{name: p, module: http_3xx, targets: [x]}]}}\n",
        [
            "3:51: $.exporters.blackbox.probes[0].module: 'http_3xx' is not one of: "
            "http_2xx, http_post_2xx, tcp_connect, icmp, dns"
        ],
    ),
    # --- names that must be unique or must exist -------------------------------------------
    (
        "duplicate-service",
        HEAD + "services:\n  - {name: api, targets: ['a:1']}\n  - {name: api, targets: ['b:1']}\n",
        ["5:12: $.services[1].name: duplicate service name 'api' (also $.services[0])"],
    ),
    (
        "duplicate-receiver",
        NOTIFY.replace("}}}]", "}}}, {name: team, webhook: {url: {env: HOOK2}}}]"),
        ["4:65: $.notifications.receivers[1].name: duplicate receiver name 'team' (also $.notifications.receivers[0])"],
    ),
    (
        "duplicate-probe",
        HEAD + "exporters:\n  blackbox:\n    probes: [{name: p, targets: [x]}, {name: p, targets: [y]}]\n",
        ["5:46: $.exporters.blackbox.probes[1].name: duplicate probe name 'p' (also $.exporters.blackbox.probes[0])"],
    ),
    (
        "route-unknown-receiver",
        NOTIFY + "  routes: [{match: {severity: critical}, receiver: oncal}]\n",
        ["6:52: $.notifications.routes[0].receiver: unknown receiver 'oncal'; known: team"],
    ),
    (
        "nested-route-unknown-receiver",
        NOTIFY + "  routes:\n    - receiver: team\n      routes: [{receiver: tema}]\n",
        ["8:27: $.notifications.routes[0].routes[0].receiver: unknown receiver 'tema'; did you mean 'team'?"],
    ),
    (
        "unknown-default-receiver",
        NOTIFY.replace("default_receiver: team", "default_receiver: teem"),
        ["5:21: $.notifications.default_receiver: unknown receiver 'teem'; did you mean 'team'?"],
    ),
    (
        "route-test-unknown-receiver",
        NOTIFY + "  tests: [{labels: {severity: critical}, receivers: [oncall]}]\n",
        ["6:54: $.notifications.tests[0].receivers[0]: unknown receiver 'oncall'; known: team"],
    ),
    (
        "service-named-like-component",
        HEAD + "services: [{name: prometheus, targets: ['p:1']}]\n",
        ["3:19: $.services[0].name: service name 'prometheus' is taken by a component of the stack; choose another"],
    ),
    (
        "service-named-like-exporter",
        HEAD + "exporters: {node: {}}\nservices: [{name: node-exporter, targets: ['p:1']}]\n",
        ["4:19: $.services[0].name: service name 'node-exporter' is taken by a component of the stack; choose another"],
    ),
    # --- secrets ---------------------------------------------------------------------------
    (
        "secret-as-literal",
        HEAD + f"components: {{grafana: {{admin_password: {SECRET}}}}}\n",
        [
            "3:40: $.components.grafana.admin_password: a secret must be a reference like {env: NAME} or {file: PATH}, "
            "never the value itself"
        ],
    ),
    (
        "secret-in-env-field",
        HEAD + f"exporters: {{postgres: {{dsn: {{env: 'postgres://u:{SECRET}@db/x'}}}}}}\n",
        [
            "3:35: $.exporters.postgres.dsn.env: env takes the name of an environment variable (letters, digits, _), "
            "not the secret itself"
        ],
    ),
    (
        "secret-with-two-sources",
        HEAD + "exporters: {postgres: {dsn: {env: PG_DSN, file: dsn.txt}}}\n",
        ["3:29: $.exporters.postgres.dsn: a secret reference takes exactly one of 'env' or 'file'"],
    ),
    (
        "secret-unknown-source",
        HEAD + f"exporters: {{postgres: {{dsn: {{value: {SECRET}}}}}}}\n",
        [
            "3:29: $.exporters.postgres.dsn: a secret must be a reference like {env: NAME} or {file: PATH}, never "
            "the value itself; this one has other keys (not shown: one may be the secret)"
        ],
    ),
    # --- SLOs ------------------------------------------------------------------------------
    (
        "slo-objective-100",
        HEAD + "services:\n  - {name: api, targets: ['api:80'], http: {requests: r},"
        " slos: [{name: a, objective: 100}]}\n",
        [
            "4:87: $.services[0].slos[0].objective: an SLO objective is a percentage above 0 and below 100: "
            "100 leaves no error budget to alert on (try 99.9)"
        ],
    ),
    (
        "slo-objective-0",
        HEAD + "services:\n  - {name: api, targets: ['api:80'], http: {requests: r},"
        " slos: [{name: a, objective: 0}]}\n",
        [
            "4:87: $.services[0].slos[0].objective: "
            "an SLO objective is a percentage above 0 and below 100, not 0 (try 99.9)"
        ],
    ),
    (
        "slo-objective-too-low",
        HEAD + "services:\n  - {name: api, targets: ['api:80'], http: {requests: r},"
        " slos: [{name: a, objective: 90}]}\n",
        [
            "4:87: $.services[0].slos[0].objective: an objective of 90 leaves so much error budget that the 14.4x "
            "burn-rate alert can never fire; use an objective above 93.06"
        ],
    ),
    (
        "latency-slo-without-duration",
        HEAD + "services:\n  - {name: api, targets: ['api:80'], http: {requests: r},"
        " slos: [{name: fast, objective: 99, threshold: 300ms}]}\n",
        ["4:105: $.services[0].slos[0].threshold: a latency SLO needs http.duration (a histogram metric name)"],
    ),
    (
        "demo-slo-too-low",
        HEAD + "demo: {enabled: true, slos: [{name: a, objective: 90}]}\n",
        [
            "3:51: $.demo.slos[0].objective: an objective of 90 leaves so much error budget that the 14.4x "
            "burn-rate alert can never fire; use an objective above 93.06"
        ],
    ),
    (
        "slo-without-http",
        HEAD + "services: [{name: api, targets: ['api:80'], slos: [{name: a, objective: 99}]}]\n",
        [
            "3:52: $.services[0].slos[0]: an SLO needs the service's http metrics (add http: {requests: ..., "
            "duration: ...}) or a probe that measures it (probe: <name of a blackbox probe>)"
        ],
    ),
    (
        "slo-probe-unknown",
        HEAD + "exporters: {blackbox: {probes: [{name: web, targets: ['http://a/']}]}}\n"
        "services: [{name: api, targets: ['api:80'], slos: [{name: a, objective: 99, probe: wbe}]}]\n",
        ["4:84: $.services[0].slos[0].probe: no probe is named 'wbe' (probes: web)"],
    ),
    (
        "slo-probe-without-probes",
        HEAD + "services: [{name: api, targets: ['api:80'], slos: [{name: a, objective: 99, probe: web}]}]\n",
        ["3:84: $.services[0].slos[0].probe: no probe is named 'web' (probes: none: add exporters.blackbox.probes)"],
    ),
    (
        "slo-probe-with-threshold",
        HEAD + "exporters: {blackbox: {probes: [{name: web, targets: ['http://a/']}]}}\n"
        "services: [{name: api, targets: ['api:80'], slos: [{name: a, objective: 99, probe: web, threshold: 1s}]}]\n",
        [
            "4:100: $.services[0].slos[0].threshold: an SLO measured by a probe counts failed probes; a latency "
            "threshold needs requests"
        ],
    ),
    # --- safety and wiring -----------------------------------------------------------------
    (
        "expose-without-auth",
        HEAD + "components: {prometheus: {expose: true}}\n",
        [
            "3:35: $.components.prometheus.expose: exposing prometheus beyond 127.0.0.1 needs authentication: add "
            "auth: {basic: {username: ..., password: {env: ...}}} (and tls: {cert: ..., key: ...})"
        ],
    ),
    (
        "same-port-twice",
        HEAD + "components: {prometheus: {port: 9000}, alertmanager: {port: 9000}}\n",
        ["3:61: $.components.alertmanager.port: port 9000 is already used by prometheus; choose another"],
    ),
    (
        "port-of-a-default",
        HEAD + "exporters: {node: {}}\ndemo: {enabled: true, port: 9100}\n",
        ["4:29: $.demo.port: port 9100 is already used by node-exporter (its default port); choose another"],
    ),
    (
        "email-without-smtp",
        HEAD + "notifications:\n  receivers: [{name: team, email: {to: ops@example.com}}]\n  default_receiver: team\n",
        [
            "4:35: $.notifications.receivers[0].email: an email receiver needs notifications.smtp: {smarthost: "
            "..., from: ...}"
        ],
    ),
    # --- values mean what the user wrote: one line, finite numbers, credentials a tool can take ----
    (
        "line-break-in-label-value",
        HEAD + 'environment: "prod\\n"\n',
        ["3:14: $.environment: must be a single line, but it contains a line break"],
    ),
    (
        "carriage-return-in-label-value",
        HEAD + 'external_labels: {team: "a\\rb"}\n',
        ["3:25: $.external_labels.team: must be a single line, but it contains a carriage return"],
    ),
    (
        "line-break-in-target",
        HEAD + 'services: [{name: api, targets: ["api:80\\n"]}]\n',
        ["3:34: $.services[0].targets[0]: must be a single line, but it contains a line break"],
    ),
    (
        "header-injection-in-email",
        HEAD + "notifications:\n"
        '  receivers: [{name: team, email: {to: "ops@example.com\\nBcc: x@evil.test"}}]\n'
        '  smtp: {smarthost: "smtp.example.com:587", from: "a@example.com\\r\\nBcc: x@evil.test"}\n'
        "  default_receiver: team\n",
        [
            "4:40: $.notifications.receivers[0].email.to: must be a single line, but it contains a line break",
            "5:51: $.notifications.smtp.from: must be a single line, but it contains a line break",
        ],
    ),
    (
        "nan-objective",
        HEAD
        + "services:\n  - {name: api, targets: ['api:80'], http: {requests: r}, slos: [{name: a, objective: .nan}]}\n",
        ["4:87: $.services[0].slos[0].objective: expected a finite number, got .nan"],
    ),
    (
        "infinite-ratio",
        HEAD + "demo: {enabled: true, error_ratio: .inf}\n",
        ["3:36: $.demo.error_ratio: expected a finite number, got .inf"],
    ),
    (
        "infinite-port",
        HEAD + "components: {prometheus: {port: -.inf}}\n",
        ["3:33: $.components.prometheus.port: expected a finite number, got -.inf"],
    ),
    (
        "grafana-admin-user-with-dollar",
        HEAD + "components: {grafana: {admin_user: 'ops$HOME'}}\n",
        [
            "3:36: $.components.grafana.admin_user: a Grafana admin user cannot contain '$': Grafana expands $VAR "
            "and $__env{...} in its GF_* settings, with no way to escape them"
        ],
    ),
    (
        "mysqld-user-with-colon",
        HEAD + 'exporters: {mysqld: {address: "db:3306", user: "app:ro", password: {env: P}}}\n',
        [
            "3:48: $.exporters.mysqld.user: a mysqld_exporter user cannot contain ':' or '$': the exporter joins "
            "user:password and splits it at the first colon, and from 0.15 on it expands $VAR in my.cnf values"
        ],
    ),
    (
        "cadvisor-exposed",
        HEAD + "exporters: {cadvisor: {expose: true}}\n",
        [
            "3:32: $.exporters.cadvisor.expose: cadvisor cannot enforce authentication, so promstack keeps it on "
            "127.0.0.1 and the stack's own network; remove expose (to reach it from elsewhere, put a proxy that "
            "checks credentials in front of it)"
        ],
    ),
    (
        "cadvisor-with-auth",
        HEAD + "exporters: {cadvisor: {auth: {basic: {username: a, password: {env: P}}}}}\n",
        [
            "3:30: $.exporters.cadvisor.auth: cadvisor cannot enforce authentication, so promstack keeps it on "
            "127.0.0.1 and the stack's own network; remove auth (to reach it from elsewhere, put a proxy that "
            "checks credentials in front of it)"
        ],
    ),
    # --- what only a cluster runs or scrapes (this table generates for compose) ------------
    (
        "kube-state-metrics-on-compose",
        HEAD + "exporters:\n  kube_state_metrics: {}\n",
        [
            "4:23: $.exporters.kube_state_metrics: kube-state-metrics runs only on Kubernetes (promstack generate "
            "--runtime kubernetes); on the compose runtime give it targets: [host:port] where one already runs, "
            "and it is scraped there"
        ],
    ),
    (
        "service-only-in-a-cluster",
        HEAD + "services:\n  - {name: api, kubernetes: {service: api, port: http}}\n",
        [
            "4:29: $.services[0].kubernetes: service 'api' has no targets: on the compose runtime a service is "
            "scraped at host:port targets (kubernetes: only names its Service in a cluster); add targets, or "
            "generate for Kubernetes (--runtime kubernetes)"
        ],
    ),
    (
        "service-scraped-nowhere",
        HEAD + "services:\n  - {name: api, labels: {team: a}}\n",
        [
            "4:5: $.services[0]: a service needs targets (host:port of its instances) or kubernetes (the Service in "
            "front of its pods, for --runtime kubernetes)"
        ],
    ),
    (
        "kubernetes-names",
        HEAD + "kubernetes: {namespace: Shop_1}\n"
        "services:\n  - {name: api, targets: ['a:1'], kubernetes: {service: api, port: http_metrics}}\n",
        [
            "3:25: $.kubernetes.namespace: 'Shop_1' is not a valid Kubernetes name (lower-case letters, digits and "
            "-, at most 63, starting and ending with a letter or digit)",
            "5:68: $.services[0].kubernetes.port: 'http_metrics' is not a valid Kubernetes port name (lower-case "
            "letters, digits and -, at most 15, with a letter)",
        ],
    ),
    # --- everything at once: all reported, sorted by line, schema and semantic problems mixed --
    (
        "several-problems",
        HEAD + "notifications:\n  receivers: [{name: team, webhook: {url: {env: HOOK}}}]\n"
        "  default_receiver: nobody\nservices:\n  - {name: api, targets: ['api']}\n  - {name: api, targets: ['b:1']}\n"
        "scrape_interval: fast\nretention: {tme: 1d}\n",
        [
            "5:21: $.notifications.default_receiver: unknown receiver 'nobody'; known: team",
            "7:27: $.services[0].targets[0]: 'api' is not a valid host:port target: add the port, e.g. 'api:8000'",
            "8:12: $.services[1].name: duplicate service name 'api' (also $.services[0])",
            "9:18: $.scrape_interval: 'fast' is not a valid duration (e.g. 30s, 5m, 1h30m, 7d)",
            "10:13: $.retention.tme: unknown key 'tme'; did you mean 'time'?",
        ],
    ),
    # --- paging: escalations, copies, inhibitions, route tests, time intervals, labels --------
    (
        "escalation-unknown-receiver",
        NOTIFY + "  escalations: [{name: lead, match: {severity: critical}, after: 15m, receivers: [leed]}]\n",
        ["6:83: $.notifications.escalations[0].receivers[0]: unknown receiver 'leed'; known: team"],
    ),
    (
        "escalation-no-name",
        NOTIFY + "  escalations: [{match: {severity: critical}, after: 15m, receivers: [team]}]\n",
        [
            "6:17: $.notifications.escalations[0]: missing required key 'name': it names the escalation in "
            "the `escalation` label of its copies, e.g. name: lead"
        ],
    ),
    (
        "escalation-zero-after",
        NOTIFY + "  escalations: [{name: lead, after: 0s, receivers: [team]}]\n",
        [
            "6:37: $.notifications.escalations[0].after: an escalation waits some time before it escalates: "
            "give a duration above 0s"
        ],
    ),
    (
        "escalation-bad-after",
        NOTIFY + "  escalations: [{name: lead, after: soon, receivers: [team]}]\n",
        ["6:37: $.notifications.escalations[0].after: 'soon' is not a valid duration (e.g. 30s, 5m, 1h30m, 7d)"],
    ),
    (
        "escalation-duplicate",
        NOTIFY
        + "  escalations:\n    - {name: lead, after: 5m, receivers: [team]}\n"
        + "    - {name: lead, after: 1h, receivers: [team]}\n",
        [
            "8:14: $.notifications.escalations[1].name: duplicate escalation name 'lead' (also "
            "$.notifications.escalations[0])"
        ],
    ),
    (
        "escalation-bad-regex",
        NOTIFY + "  escalations: [{name: lead, match_re: {service: 'api('}, after: 5m, receivers: [team]}]\n",
        [
            "6:50: $.notifications.escalations[0].match_re.service: 'api(' is not a valid regular "
            "expression: missing ), unterminated subpattern at position 3"
        ],
    ),
    (
        "escalation-matches-escalation",
        NOTIFY + "  escalations: [{name: lead, match: {escalation: other}, after: 5m, receivers: [team]}]\n",
        [
            "6:38: $.notifications.escalations[0].match.escalation: an escalation matches the alerts "
            "themselves, never another escalation's copies"
        ],
    ),
    (
        "escalation-receiver-twice",
        NOTIFY + "  escalations: [{name: lead, after: 5m, receivers: [team, team]}]\n",
        ["6:52: $.notifications.escalations[0].receivers: lists 'team' twice"],
    ),
    (
        "copy-to-unknown",
        NOTIFY + "  copy_to: [audit]\n",
        ["6:13: $.notifications.copy_to[0]: unknown receiver 'audit'; known: team"],
    ),
    (
        "copy-to-empty",
        NOTIFY + "  copy_to: []\n",
        ["6:12: $.notifications.copy_to: must not be empty"],
    ),
    (
        "inhibit-no-equal",
        NOTIFY + "  inhibit: [{source: {alertname: A}, target: {severity: warning}}]\n",
        [
            "6:13: $.notifications.inhibit[0]: missing required key 'equal': the labels a source and its "
            "target must share, e.g. equal: [host], or equal: [] to mute every matching alert anywhere"
        ],
    ),
    (
        "inhibit-no-target",
        NOTIFY + "  inhibit: [{source: {alertname: A}, equal: [host]}]\n",
        [
            "6:13: $.notifications.inhibit[0]: an inhibition needs `target` (or `target_re`): the alerts it "
            "mutes, e.g. target: {service: api}"
        ],
    ),
    (
        "inhibit-bad-label",
        NOTIFY + "  inhibit: [{source: {alertname: A}, target: {severity: warning}, equal: [host-name]}]\n",
        [
            "6:75: $.notifications.inhibit[0].equal[0]: 'host-name' is not a valid label name (letters, "
            "digits, underscores)"
        ],
    ),
    (
        "test-without-receivers",
        NOTIFY + "  tests: [{labels: {severity: critical}}]\n",
        [
            "6:11: $.notifications.tests[0]: a test says who gets the alert (`receivers`) or, with "
            "`firing`, whether it is `muted`"
        ],
    ),
    (
        "test-muted-without-firing",
        NOTIFY + "  tests: [{labels: {severity: critical}, muted: true}]\n",
        ["6:49: $.notifications.tests[0].muted: `muted` needs `firing`: the alerts that would mute this one"],
    ),
    (
        "test-empty-receivers",
        NOTIFY + "  tests: [{labels: {severity: critical}, receivers: []}]\n",
        [
            "6:53: $.notifications.tests[0].receivers: every alert reaches some receiver; an empty list "
            "needs `at` (a time when its routes are muted) or `firing` (alerts that mute it)"
        ],
    ),
    (
        "test-at-without-zone",
        NOTIFY + "  tests: [{labels: {severity: critical}, at: '2024-06-01T03:00:00', receivers: [team]}]\n",
        [
            "6:46: $.notifications.tests[0].at: '2024-06-01T03:00:00' is not a valid date and time with a "
            "zone, RFC 3339 (e.g. 2024-06-01T03:00:00+02:00)"
        ],
    ),
    (
        "test-at-unquoted",
        NOTIFY + "  tests: [{labels: {severity: critical}, at: 2024-06-01, receivers: [team]}]\n",
        [
            "6:46: $.notifications.tests[0].at: '2024-06-01' is not a valid date and time with a zone, RFC "
            "3339 (e.g. 2024-06-01T03:00:00+02:00)"
        ],
    ),
    (
        "time-interval-bad-weekday",
        NOTIFY + "  time_intervals: [{name: nights, weekdays: [mondy]}]\n",
        [
            "6:46: $.notifications.time_intervals[0].weekdays[0]: 'mondy' is not a weekday or a range of "
            "them (e.g. monday:friday)"
        ],
    ),
    (
        "time-interval-bad-time",
        NOTIFY + "  time_intervals: [{name: nights, times: [{start: '22:00', end: '25:00'}]}]\n",
        [
            "6:65: $.notifications.time_intervals[0].times[0].end: '25:00' is not a time of day as HH:MM "
            "(00:00 to 24:00)"
        ],
    ),
    (
        "time-interval-backwards",
        NOTIFY + "  time_intervals: [{name: nights, times: [{start: '22:00', end: '06:00'}]}]\n",
        [
            "6:43: $.notifications.time_intervals[0].times[0]: a time range must end after it starts (split "
            "one that spans midnight in two)"
        ],
    ),
    (
        "time-interval-bad-zone",
        NOTIFY + "  time_intervals: [{name: nights, location: Mars/Olympus}]\n",
        [
            "6:45: $.notifications.time_intervals[0].location: 'Mars/Olympus' is not a known time zone "
            "(e.g. Europe/Berlin, America/New_York)"
        ],
    ),
    (
        "service-label-severity",
        HEAD + "services: [{name: api, targets: ['api:80'], labels: {severity: high}}]\n",
        [
            "3:54: $.services[0].labels.severity: 'severity' is reserved: promstack sets it on alerts "
            "(every alert's severity); choose another label name"
        ],
    ),
    (
        "escalation-bad-repeat",
        NOTIFY + "  escalations: [{name: lead, after: 5m, receivers: [team], repeat_interval: often}]\n",
        [
            "6:77: $.notifications.escalations[0].repeat_interval: 'often' is not a valid duration (e.g. "
            "30s, 5m, 1h30m, 7d)"
        ],
    ),
    (
        "inhibit-bad-regex",
        NOTIFY + "  inhibit: [{source: {alertname: A}, target_re: {service: 'api['}, equal: [env]}]\n",
        [
            "6:59: $.notifications.inhibit[0].target_re.service: 'api[' is not a valid regular expression: "
            "unterminated character set at position 3"
        ],
    ),
    (
        "test-firing-empty",
        NOTIFY + "  tests: [{labels: {severity: warning}, firing: [], muted: true}]\n",
        ["6:49: $.notifications.tests[0].firing: must not be empty"],
    ),
    (
        "inhibit-unknown-key",
        NOTIFY + "  inhibit: [{source: {alertname: A}, target: {service: api}, equal: [env], match: {a: b}}]\n",
        [
            "6:76: $.notifications.inhibit[0].match: unknown key 'match'; expected one of: equal, source, "
            "source_re, target, target_re"
        ],
    ),
    # --- needs the catalog -----------------------------------------------------------------
    (
        "unknown-dashboard-excluded",
        HEAD + "dashboards: {exclude: [node-exportr]}\n",
        ["3:24: $.dashboards.exclude[0]: unknown dashboard 'node-exportr'; did you mean 'node-exporter'?"],
    ),
    (
        "msteams-on-old-alertmanager",
        HEAD
        + "components: {alertmanager: {version: v0.25.0}}\n"
        + "notifications:\n  receivers: [{name: teams, msteams: {webhook_url: {env: X}}}]\n  default_receiver: teams\n",
        [
            "5:38: $.notifications.receivers[0].msteams: msteams needs Alertmanager 0.28 or newer, but this stack "
            "runs 0.25; use the pinned version or another receiver kind"
        ],
    ),
    # --- high availability and long-term storage -------------------------------------------
    (
        "replicas-too-many",
        HEAD + "components: {prometheus: {replicas: 9}}\n",
        ["3:37: $.components.prometheus.replicas: 9 must be at most 5"],
    ),
    (
        "replicas-zero",
        HEAD + "components: {alertmanager: {replicas: 0}}\n",
        ["3:39: $.components.alertmanager.replicas: 0 must be at least 1"],
    ),
    (
        "replicas-of-grafana",
        HEAD + "components: {grafana: {replicas: 2}}\n",
        [
            "3:24: $.components.grafana.replicas: unknown key 'replicas'; expected one of: admin_password, "
            "admin_user, auth, enabled, expose, image, memory, port, url, version"
        ],
    ),
    (
        "replica-port-clash",
        HEAD + "components: {prometheus: {replicas: 2}}\nexporters: {pushgateway: {port: 9190}}\n",
        ["4:33: $.exporters.pushgateway.port: port 9190 is already used by prometheus-2; choose another"],
    ),
    (
        "gossip-port-clash",
        HEAD + "components: {alertmanager: {port: 9000, replicas: 2}}\nexporters: {node: {port: 9101}}\n",
        ["4:26: $.exporters.node.port: port 9101 is already used by alertmanager-2 (gossip); choose another"],
    ),
    (
        "replica-label-taken",
        HEAD + "external_labels: {replica: a}\ncomponents: {prometheus: {replicas: 2}}\n",
        [
            "3:19: $.external_labels.replica: with 2 Prometheus replicas, promstack sets 'replica' to each copy's "
            "name (it tells them apart, and is dropped from alerts); choose another label name"
        ],
    ),
    (
        "vm-retention-short",
        HEAD + "storage: {victoriametrics: {retention: 12h}}\n",
        ["3:40: $.storage.victoriametrics.retention: retention 12h is too short for victoriametrics: at least 1d"],
    ),
    (
        "vm-retention-not-hours",
        HEAD + "storage: {victoriametrics: {retention: 1d30m}}\n",
        ["3:40: $.storage.victoriametrics.retention: victoriametrics takes retention in whole 1h steps, not 1d30m"],
    ),
    (
        "vm-dedup-zero",
        HEAD + "storage: {victoriametrics: {dedup_interval: 0s}}\n",
        [
            "3:45: $.storage.victoriametrics.dedup_interval: dedup_interval 0s is too short for victoriametrics: at "
            "least 1ms"
        ],
    ),
    (
        "vm-unknown",
        HEAD + "storage: {victoriametrics: {retention_period: 1y}}\n",
        ["3:29: $.storage.victoriametrics.retention_period: unknown key 'retention_period'; did you mean 'retention'?"],
    ),
    (
        "storage-unknown",
        HEAD + "storage: {thanos: {}}\n",
        ["3:11: $.storage.thanos: unknown key 'thanos'; expected one of: remote_write, victoriametrics"],
    ),
    ("rw-no-url", RW + "    - {name: mimir}\n", ["5:7: $.storage.remote_write[0]: missing required key 'url'"]),
    (
        "rw-url-creds",
        RW + "    - {name: mimir, url: 'https://u:p@mimir.example.com/api/v1/push'}\n",
        [
            "5:26: $.storage.remote_write[0].url: credentials do not belong in the URL, which prometheus.yml holds "
            "as it is: give them as auth: {basic: {username, password: {env: ...}}} or auth: {bearer: {env: ...}}"
        ],
    ),
    (
        "rw-bad-url",
        RW + "    - {name: mimir, url: mimir:8080}\n",
        ["5:26: $.storage.remote_write[0].url: 'mimir:8080' is not a valid URL (http:// or https://)"],
    ),
    (
        "rw-dup-name",
        RW + "    - {name: a, url: 'http://a:1/w'}\n    - {name: a, url: 'http://b:1/w'}\n",
        ["6:14: $.storage.remote_write[1].name: duplicate remote_write name 'a' (also $.storage.remote_write[0])"],
    ),
    (
        "rw-store-name",
        HEAD + "storage:\n  victoriametrics: {}\n  remote_write: [{name: victoriametrics, url: 'http://a:1/w'}]\n",
        [
            "5:25: $.storage.remote_write[0].name: 'victoriametrics' is the remote_write name of the VictoriaMetrics "
            "the stack runs (storage.victoriametrics); choose another"
        ],
    ),
    (
        "rw-auth-header",
        RW + "    - {name: a, url: 'http://a:1/w', headers: {Authorization: Bearer x}}\n",
        [
            "5:48: $.storage.remote_write[0].headers.Authorization: credentials go in auth ({basic: ...} or {bearer: "
            "{env: ...}}), read from a file: a header value would sit in prometheus.yml"
        ],
    ),
    (
        "rw-reserved-header",
        RW + "    - {name: a, url: 'http://a:1/w', headers: {content-type: text/plain}}\n",
        [
            "5:48: $.storage.remote_write[0].headers.content-type: Prometheus sets content-type itself and refuses "
            "to send another"
        ],
    ),
    (
        "rw-bad-header",
        RW + "    - {name: a, url: 'http://a:1/w', headers: {'X Tenant': a}}\n",
        [
            "5:48: $.storage.remote_write[0].headers['X Tenant']: 'X Tenant' is not a valid HTTP header name (e.g. "
            "X-Scope-OrgID) as a key"
        ],
    ),
    (
        "rw-two-auths",
        RW
        + "    - {name: a, url: 'http://a:1/w', auth: {bearer: {env: T}, basic: {username: u, password: {env: P}}}}\n",
        [
            "5:44: $.storage.remote_write[0].auth: auth is either basic: {username, password} or bearer: {env: ...}, "
            "one of them"
        ],
    ),
    (
        "rw-literal-token",
        RW + "    - {name: a, url: 'http://a:1/w', auth: {bearer: " + SECRET + "}}\n",
        [
            "5:53: $.storage.remote_write[0].auth.bearer: a secret must be a reference like {env: NAME} or {file: "
            "PATH}, never the value itself"
        ],
    ),
    (
        "rw-relabel-needs",
        RW
        + "    - name: a\n"
        + "      url: 'http://a:1/w'\n"
        + "      write_relabel:\n"
        + "        - {action: labeldrop}\n"
        + "        - {source_labels: [job], regex: api}\n"
        + "        - {action: labelkeep, regex: 'job|env', source_labels: [job]}\n"
        + "        - {action: drop, source_labels: [__name__], regex: 'go_(.*'}\n"
        + "        - {action: keep, source_labels: [job], modulus: 2}\n",
        [
            "8:11: $.storage.remote_write[0].write_relabel[0]: a labeldrop rule needs regex",
            "9:11: $.storage.remote_write[0].write_relabel[1]: a replace rule needs target_label",
            "10:64: $.storage.remote_write[0].write_relabel[2].source_labels: a labelkeep rule takes only regex (it "
            "matches label names)",
            "11:60: $.storage.remote_write[0].write_relabel[3].regex: 'go_(.*' is not a regular expression: missing "
            "), unterminated subpattern at position 3",
            "12:57: $.storage.remote_write[0].write_relabel[4].modulus: modulus belongs to hashmod rules, not keep",
        ],
    ),
    (
        "rw-relabel-action",
        RW + "    - name: a\n      url: 'http://a:1/w'\n      write_relabel: [{action: delete, regex: x}]\n",
        [
            "7:32: $.storage.remote_write[0].write_relabel[0].action: 'delete' is not one of: replace, keep, drop, "
            "labelmap, labeldrop, labelkeep, lowercase, uppercase, hashmod"
        ],
    ),
    (
        "rw-queue",
        RW
        + "    - name: a\n"
        + "      url: 'http://a:1/w'\n"
        + "      queue: {min_shards: 10, max_shards: 2, capacity: 0, min_backoff: 5s, max_backoff: 1s}\n",
        [
            "7:27: $.storage.remote_write[0].queue.min_shards: min_shards 10 is more than max_shards 2",
            "7:56: $.storage.remote_write[0].queue.capacity: 0 must be at least 1",
            "7:72: $.storage.remote_write[0].queue.min_backoff: min_backoff 5s is more than max_backoff 1s",
        ],
    ),
    # --- runbooks -------------------------------------------------------------------------------
    (
        "runbook-base-url-not-a-url",
        HEAD + "alerts: {runbook_base_url: wiki/runbooks/}\n",
        ["3:28: $.alerts.runbook_base_url: 'wiki/runbooks/' is not a valid URL (http:// or https://)"],
    ),
    (
        "runbook-base-url-without-separator",
        HEAD + "alerts: {runbook_base_url: 'https://wiki.example.com/runbooks'}\n",
        [
            "3:28: $.alerts.runbook_base_url: must end with '/', '#' or '=': every alert's runbook_url is this URL "
            "followed by the alert name"
        ],
    ),
    # --- receivers and their adapters ----------------------------------------------------------
    (
        "dingtalk-adapter-without-dingtalk-receiver",
        NOTIFY + "components: {dingtalk: {port: 8061}}\n",
        [
            "6:24: $.components.dingtalk: no receiver uses dingtalk, so there is no dingtalk adapter to set up; "
            "remove it or add a receiver with dingtalk: {...}"
        ],
    ),
    (
        "dingtalk-adapter-port-taken",
        HEAD
        + "components: {prometheus: {port: 9100}, dingtalk: {port: 9100}}\n"
        + "notifications:\n  receivers: [{name: ding, dingtalk: {url: {env: DT}}}]\n  default_receiver: ding\n",
        ["3:57: $.components.dingtalk.port: port 9100 is already used by prometheus; choose another"],
    ),
    (
        "dingtalk-adapter-exposed",
        HEAD
        + "components: {dingtalk: {expose: true}}\n"
        + "notifications:\n  receivers: [{name: ding, dingtalk: {url: {env: DT}}}]\n  default_receiver: ding\n",
        [
            "3:33: $.components.dingtalk.expose: dingtalk cannot enforce authentication, so promstack keeps it on "
            "127.0.0.1 and the stack's own network; remove expose (to reach it from elsewhere, put a proxy that "
            "checks credentials in front of it)"
        ],
    ),
    (
        "wechat-api-url-without-slash",
        HEAD
        + "notifications:\n  receivers: [{name: wx, wechat: {corp_id: c, agent_id: '1', api_secret: {env: X}, "
        + "api_url: 'https://wx.example.com/cgi-bin'}}]\n  default_receiver: wx\n",
        [
            "4:93: $.notifications.receivers[0].wechat.api_url: must end with '/': Alertmanager appends gettoken "
            "and message/send to it (e.g. https://qyapi.weixin.qq.com/cgi-bin/)"
        ],
    ),
    (
        "opsgenie-api-url-not-a-url",
        HEAD
        + "notifications:\n  receivers: [{name: og, opsgenie: {api_key: {env: X}, api_url: api.eu.opsgenie.com}}]\n"
        + "  default_receiver: og\n",
        [
            "4:65: $.notifications.receivers[0].opsgenie.api_url: 'api.eu.opsgenie.com' is not a valid URL (http:// or https://)"
        ],
    ),
    (
        "wechat-api-url-not-a-url",
        HEAD
        + "notifications:\n  receivers: [{name: wx, wechat: {corp_id: c, agent_id: '1', api_secret: {env: X}, "
        + "api_url: wx.example.com/}}]\n  default_receiver: wx\n",
        [
            "4:93: $.notifications.receivers[0].wechat.api_url: 'wx.example.com/' is not a valid URL "
            "(http:// or https://)"
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in CASES])
def test_bad_spec(
    text: str | bytes | None, expected: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = Path("stack.yaml")
    if isinstance(text, bytes):
        spec.write_bytes(text)
    elif text is not None:
        spec.write_text(text)
    result = CliRunner().invoke(app, ["generate", str(spec), "-o", "out"])
    assert result.exit_code == 2, result.output
    summary = f"{len(expected)} problem(s) in the spec; nothing was written."
    assert result.stderr.splitlines() == [f"stack.yaml:{line}" for line in expected] + [summary]
    assert result.stdout == ""
    assert SECRET not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == (["stack.yaml"] if text is not None else [])


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert len({name for name, _, _ in CASES}) == len(CASES)


def test_check_reports_the_same_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check` and `test` read the spec through the same stages, so they fail the same way."""
    monkeypatch.chdir(tmp_path)
    Path("stack.yaml").write_text(HEAD + "scrape_interval: soon\n")
    for command in ("check", "test"):
        result = CliRunner().invoke(app, [command, "stack.yaml"])
        assert result.exit_code == 2
        assert result.stderr.splitlines()[0] == (
            "stack.yaml:3:18: $.scrape_interval: 'soon' is not a valid duration (e.g. 30s, 5m, 1h30m, 7d)"
        )


@pytest.mark.parametrize(
    "text",
    [
        HEAD + "scrape_interval: 5s\n",  # shorter than the default scrape timeout: the default adapts
        HEAD + "external_labels: {interval: 0s, period: '0s'}\n",  # label values are free text
        HEAD + "exporters: {node: {port: 9200}}\ncomponents: {prometheus: {port: 9100}}\n",  # ports swapped
        HEAD + "services: [{name: api, targets: ['[::1]:8000', 'api.internal:80']}]\n",
    ],
    ids=["short-interval", "duration-like-labels", "swapped-ports", "ipv6-and-dotted-hosts"],
)
def test_near_misses_are_accepted(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Specs close to a table row that must not be rejected: a check is only as good as its false positives."""
    monkeypatch.chdir(tmp_path)
    Path("stack.yaml").write_text(text)
    result = CliRunner().invoke(app, ["generate", "stack.yaml", "-o", "out"])
    assert result.exit_code == 0, result.output
