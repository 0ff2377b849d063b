#!/usr/bin/env python3
"""Offline verification of the Helm chart (issue 6), without a cluster or a helm binary.

Run through .ci/helm-check.sh, which installs the pinned tools (.ci/requirements-helm.txt,
.ci/requirements-checkov.txt) into venvs under a cache directory.

For the chart's defaults and every helm/meeting-service/ci/*-values.yaml scenario:
  1. parse the values file with Helm's own YAML reader;
  2. `helm lint --strict` (helm-python-sdk bundles Helm's Go library) against the oldest and
     newest supported Kubernetes versions: warnings count as errors (informational messages,
     such as "icon is recommended", do not);
  3. render like `helm template` (values.schema.json is enforced) and validate every rendered
     manifest with kubernetes-validate, strict (unknown fields are errors), against the oldest
     and newest supported Kubernetes versions; kinds without a bundled schema (CRDs such as
     ServiceMonitor) are reported as warnings;
  4. check the chart's own promises on the rendered objects (hardened securityContext, gRPC
     probes, grace periods, checksum annotations, the config file, selectors, the test hook);
  5. with --binary, start the real service with the rendered config.toml and environment;
  6. run checkov on the rendered manifests, one run per scenario; every check that is skipped
     or allowed to fail is listed below with its justification.
The chart's files are checked too: every value has a description in values.schema.json and a
comment in values.yaml, the chart's blocks are closed (additionalProperties: false), yamllint,
and (with --docs) the docs' values table lists every value.
Then negative tests prove that a template error, a schema violation, an invalid values file,
a manifest the Kubernetes schema rejects and a policy violation each make the check fail.

Prints one line per check and ends with "helm-check: N passed, M failed"; exits 1 on failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import tomllib  # Python >= 3.11
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

import helm_python
import kubernetes_validate
import yaml
from yamllint import linter as yamllint_linter
from yamllint.config import YamlLintConfig

# Oldest and newest supported Kubernetes versions (keep in step with Chart.yaml kubeVersion):
# 1.27 is the first release with GA gRPC probes, 1.37 the newest schema kubernetes-validate
# 1.37 bundles.
KUBE_VERSIONS = ("1.27.0", "1.37.0")

RELEASE = "prod"
NAMESPACE = "meetings"

# --- checkov: checks skipped for every rendered workload, each with its justification -------
CHECKOV_SKIP_ALL = {
    # Issue 6 item 3: no resources by default. Sizing depends on each deployment's load; the
    # defaults are documented (values.yaml, docs/helm.md) and the hpa-pdb scenario sets them.
    "CKV_K8S_10": "CPU requests: none by default (issue 6), documented starting point",
    "CKV_K8S_12": "memory requests: none by default (issue 6), documented starting point",
    "CKV_K8S_13": "memory limits: none by default (issue 6), documented starting point",
    # A CPU limit throttles (CFS quota) a latency-sensitive gRPC server under bursts; the chart
    # recommends requests plus a memory limit instead.
    "CKV_K8S_11": "CPU limits: deliberately not recommended (CFS throttling adds tail latency)",
    # The chart cannot know the digest of the operator's build; image.digest pins it and the
    # existing-secret scenario renders it. Tags from this repository are never moved.
    "CKV_K8S_43": "image digest: supported (image.digest) but only the operator knows it",
    # With immutable tags or a digest, IfNotPresent is correct, and Always would make every pod
    # start depend on the registry being reachable.
    "CKV_K8S_15": "pull policy Always: IfNotPresent is right for immutable tags/digests",
}
# Checks allowed to fail only for one kind of rendered object, in some scenarios:
# (resource kind, check id, when (merged values -> bool), justification).
CHECKOV_ALLOW: list[tuple[str, str, Callable[[dict[str, Any]], bool], str]] = [
    (
        "Pod",
        "CKV_K8S_8",
        lambda v: True,
        "helm test hook pod: runs one health check and exits; a liveness probe has no meaning",
    ),
    (
        "Pod",
        "CKV_K8S_9",
        lambda v: True,
        "helm test hook pod: runs one health check and exits; a readiness probe has no meaning",
    ),
    (
        "Pod",
        "CKV2_K8S_6",
        lambda v: True,
        "helm test hook pod: short-lived client of the Service; the chart's NetworkPolicy protects "
        "the server pods and admits this pod",
    ),
    (
        "Deployment",
        "CKV_K8S_35",
        lambda v: bool(v["otlp"]["enabled"] and v["otlp"]["headersSecret"]["name"]),
        "OTEL_EXPORTER_OTLP_HEADERS: OpenTelemetry SDKs read exporter headers only from the "
        "environment (no file variant); the value comes from a Secret via secretKeyRef",
    ),
]

YAMLLINT_CONFIG = """
extends: default
rules:
  line-length: {max: 120}
  document-start: disable
  comments: {min-spaces-from-content: 1}
  truthy: {check-keys: false}
"""


class Report:
    """Counts checks and prints one line per check."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.failures: list[str] = []

    def ok(self, name: str, detail: str = "") -> None:
        self.passed += 1
        print(f"  ok    {name}{(': ' + detail) if detail else ''}", flush=True)

    def fail(self, name: str, detail: str) -> None:
        self.failed += 1
        self.failures.append(name)
        print(f"  FAIL  {name}: {detail}", flush=True)

    def check(self, name: str, errors: list[str], detail: str = "") -> None:
        if errors:
            self.fail(name, "\n        ".join(errors))
        else:
            self.ok(name, detail)


def short(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- one scenario: lint, render, validate ----------------------------------------------------


class Outcome:
    """What checking one set of values produced."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.values: dict[str, Any] = {}
        self.docs: list[dict[str, Any]] = []
        self.notes = ""


def load_values(text: str | None, out: Outcome) -> dict[str, Any] | None:
    """Parses a values file with Helm's own reader (what `helm -f` does)."""
    if text is None:
        return {}
    try:
        values = helm_python.values_from_yaml(text)
    except helm_python.HelmError as e:
        out.errors.append(f"values file: {short(e)}")
        return None
    if not isinstance(values, dict):
        out.errors.append(f"values file: top level is {type(values).__name__}, not a mapping")
        return None
    return values


def check_chart(chart_dir: Path, values_text: str | None) -> Outcome:
    """Lints and renders the chart with the values and validates every manifest."""
    out = Outcome()
    values = load_values(values_text, out)
    if values is None:
        return out
    out.values = values

    for kube in KUBE_VERSIONS:
        try:
            report = helm_python.lint(chart_dir, values, strict=True, kube_version=f"v{kube}")
        except helm_python.HelmError as e:
            out.errors.append(f"lint (k8s {kube}): {short(e)}")
            continue
        for message in report.get("messages") or []:
            text = f"lint (k8s {kube}) {message.get('path')}: {short(message.get('error'))}"
            # 1 = info; 2 = warning and 3 = error both fail under --strict.
            if (message.get("severity") or 0) >= 2:
                out.errors.append(text)
        for error in report.get("errors") or []:
            out.errors.append(f"lint (k8s {kube}): {short(error)}")

    try:
        chart = helm_python.Chart.load(chart_dir)
        try:
            rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
        finally:
            chart.close()
    except helm_python.HelmError as e:
        out.errors.append(f"render: {type(e).__name__}: {short(e)}")
        return out

    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            out.notes = text
            continue
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as e:
            out.errors.append(f"{template}: rendered output is not YAML: {short(e)}")
            continue
        for doc in docs:
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                out.errors.append(f"{template}: a document without kind/apiVersion")
                continue
            doc.setdefault("metadata", {})
            out.docs.append(doc)
            name = f"{doc['kind']}/{doc['metadata'].get('name')}"
            for kube in KUBE_VERSIONS:
                try:
                    kubernetes_validate.validate(doc, kube, strict=True)
                except kubernetes_validate.SchemaNotFoundError:
                    out.warnings.append(
                        f"{name}: no Kubernetes {kube} schema for {doc['apiVersion']} (CRD), not validated"
                    )
                except kubernetes_validate.ValidationError as e:
                    path = "/".join(str(p) for p in e.absolute_path)
                    out.errors.append(f"{name} (k8s {kube}) at {path or '/'}: {short(e.message)}")
    return out


# --- the chart's own promises, checked on the rendered objects ------------------------------


class QuietStderr:
    """Sends file descriptor 2 to /dev/null: Helm's Go code logs each template `fail` there."""

    def __enter__(self) -> QuietStderr:
        sys.stderr.flush()
        self.saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)


def humantime_seconds(text: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h)", str(text))
    if not match:
        raise ValueError(f"unsupported duration {text!r}")
    n, unit = int(match.group(1)), match.group(2)
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def merged_values(chart_dir: Path, values: dict[str, Any]) -> dict[str, Any]:
    chart = helm_python.Chart.load(chart_dir)
    try:
        return chart.merge_values(values)
    finally:
        chart.close()


def one(docs: list[dict[str, Any]], kind: str, errors: list[str]) -> dict[str, Any]:
    found = [
        d
        for d in docs
        if d["kind"] == kind and "helm.sh/hook" not in (d["metadata"].get("annotations") or {})
    ]
    if len(found) != 1:
        errors.append(f"expected one {kind}, found {len(found)}")
        return {}
    return found[0]


def promises(chart_dir: Path, out: Outcome) -> list[str]:
    """Issue 6's promises about the rendered objects; returns what is broken."""
    errors: list[str] = []
    v = merged_values(chart_dir, out.values)
    docs = out.docs
    dep = one(docs, "Deployment", errors)
    svc = [d for d in docs if d["kind"] == "Service" and not d["metadata"]["name"].endswith("-headless")]
    cm = one(docs, "ConfigMap", errors)
    if not dep or not cm:
        return errors
    pod = dep["spec"]["template"]
    spec = pod["spec"]
    container = spec["containers"][0]
    psc = spec.get("securityContext") or {}

    def hardened(c: dict[str, Any], where: str) -> None:
        sc = c.get("securityContext") or {}
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            errors.append(f"{where}: runAsNonRoot is not set")
        if sc.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{where}: readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{where}: allowPrivilegeEscalation is not false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            errors.append(f"{where}: capabilities do not drop ALL")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp != "RuntimeDefault":
            errors.append(f"{where}: seccompProfile is {seccomp!r}, not RuntimeDefault")

    hardened(container, "Deployment container")
    if spec.get("automountServiceAccountToken") is not False:
        errors.append("Deployment: automountServiceAccountToken is not false")

    port = v["containerPort"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        grpc = (container.get(probe) or {}).get("grpc")
        if not grpc or grpc.get("port") != port:
            errors.append(f"{probe}: not a gRPC probe on port {port}: {container.get(probe)}")

    grace = humantime_seconds(v["config"]["server"]["shutdownGracePeriod"])
    sleep = (((container.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds", 0)
    tgps = spec.get("terminationGracePeriodSeconds")
    if not isinstance(tgps, int) or tgps <= grace + sleep:
        errors.append(
            f"terminationGracePeriodSeconds {tgps} does not exceed shutdown grace {grace}s + preStop {sleep}s"
        )

    annotations = pod["metadata"].get("annotations") or {}
    has_checksums = "checksum/config" in annotations and "checksum/credentials" in annotations
    if has_checksums == bool(v.get("hotReload")):
        errors.append(f"checksum annotations present={has_checksums} with hotReload={v.get('hotReload')}")

    if "resources" in container and not v.get("resources"):
        errors.append("the container has resources although values.resources is empty")

    labels = pod["metadata"].get("labels") or {}
    wi = v["workloadIdentity"]["enabled"]
    if (labels.get("azure.workload.identity/use") == "true") != wi:
        errors.append(f"pod label azure.workload.identity/use does not follow workloadIdentity.enabled={wi}")
    if wi:
        sa = [d for d in docs if d["kind"] == "ServiceAccount"]
        if (
            not sa
            or (sa[0]["metadata"].get("annotations") or {}).get("azure.workload.identity/client-id")
            != v["workloadIdentity"]["clientId"]
        ):
            errors.append("ServiceAccount lacks the azure.workload.identity/client-id annotation")

    if len(svc) != 1:
        errors.append(f"expected one Service (besides -headless), found {len(svc)}")
    else:
        grpc_ports = [p for p in svc[0]["spec"]["ports"] if p.get("name") == "grpc"]
        if not grpc_ports or grpc_ports[0].get("appProtocol") != "grpc":
            errors.append("Service: no port named grpc with appProtocol grpc")

    # The config file parses as TOML and says what the values say.
    try:
        config = tomllib.loads(cm["data"]["config.toml"])
    except (KeyError, tomllib.TOMLDecodeError) as e:
        errors.append(f"ConfigMap config.toml is not TOML: {e}")
        return errors
    if config.get("server", {}).get("listen") != f"{v['config']['server']['host']}:{port}":
        errors.append(f"config server.listen is {config.get('server', {}).get('listen')!r}")
    mounted: set[str] = set()
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts") or []}
    for vol in spec.get("volumes") or []:
        for source in (vol.get("projected") or {}).get("sources") or []:
            for item in (source.get("secret") or {}).get("items") or []:
                mounted.add(f"{mounts.get(vol['name'])}/{item['path']}")
    config_path = container["args"][container["args"].index("--config") + 1]
    if f"{mounts.get('config')}/config.toml" != config_path:
        errors.append(f"--config {config_path} is not where the ConfigMap is mounted")
    tenants = config.get("tenants", [])
    if len(tenants) != len(v.get("tenants") or []):
        errors.append(f"config has {len(tenants)} tenants, values {len(v.get('tenants') or [])}")
    for tenant in tenants:
        kinds = [
            k
            for k in ("client_secret_file", "client_secret_env", "certificate_file", "workload_identity")
            if k in tenant
        ]
        if len(kinds) != 1:
            errors.append(f"tenant {tenant.get('tenant_id')}: credentials {kinds}, want exactly one")
            continue
        if kinds[0].endswith("_file") and tenant[kinds[0]] not in mounted:
            errors.append(f"tenant {tenant['tenant_id']}: {tenant[kinds[0]]} is not a mounted file")
    secret_text = json.dumps([d for d in docs if d["kind"] != "Secret"])
    for tenant in v.get("tenants") or []:
        value = (tenant.get("credential") or {}).get("value")
        if value and value in secret_text:
            errors.append(f"tenant {tenant['tenantId']}: the credential appears outside the Secret")

    # The helm test hook: same image, `meeting-service health` against the Service.
    tests = [d for d in docs if (d["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"]
    if len(tests) != 1:
        errors.append(f"expected one helm test hook, found {len(tests)}")
    else:
        for c in tests[0]["spec"]["containers"]:
            if c["image"] != container["image"]:
                errors.append(f"test container {c['name']} uses {c['image']}, not the service's image")
            if c.get("args", [None])[0] != "health" or "--addr" not in c.get("args", []):
                errors.append(f"test container {c['name']} does not run `meeting-service health --addr`")
            hardened(c, f"test container {c['name']}")

    # Selectors: the Service, the PDB and the NetworkPolicy select the Deployment's pods and
    # nothing else (never the helm test pod); the NetworkPolicy admits the test pod.
    pod_labels = pod["metadata"].get("labels") or {}

    def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
        return all(labels.get(k) == val for k, val in selector.items())

    selectors = [
        (f"Service/{d['metadata']['name']}", d["spec"].get("selector") or {})
        for d in docs
        if d["kind"] == "Service"
    ]
    selectors += [
        (
            f"{d['kind']}/{d['metadata']['name']}",
            (d["spec"].get("selector") or d["spec"].get("podSelector") or {}).get("matchLabels") or {},
        )
        for d in docs
        if d["kind"] in ("PodDisruptionBudget", "NetworkPolicy")
    ]
    if dep["spec"]["selector"]["matchLabels"] and not selects(
        dep["spec"]["selector"]["matchLabels"], pod_labels
    ):
        errors.append("the Deployment's selector does not match its own pod template")
    for name, selector in selectors:
        if not selector or not selects(selector, pod_labels):
            errors.append(f"{name} does not select the Deployment's pods")
        for t in tests:
            if selects(selector, t["metadata"].get("labels") or {}):
                errors.append(f"{name} selects the helm test pod")
    for d in docs:
        if d["kind"] == "NetworkPolicy" and tests:
            peers = [p for rule in d["spec"].get("ingress") or [] for p in rule.get("from") or []]
            if not any(
                selects((p.get("podSelector") or {}).get("matchLabels") or {}, tests[0]["metadata"]["labels"])
                and "namespaceSelector" not in p
                for p in peers
            ):
                errors.append("the NetworkPolicy does not admit the helm test pod")

    if "grpcurl" not in out.notes:
        errors.append("NOTES.txt has no grpcurl example")
    return errors


# --- the service itself reads the rendered config --------------------------------------------

CREDENTIALS_DIR = "/etc/meeting-service/credentials/"


def service_accepts(binary: Path, out: Outcome, workdir: Path) -> tuple[list[str], list[str]]:
    """Starts the real binary with the scenario's rendered config.toml and environment.

    Credential files are created under workdir (the config's paths are rewritten to point
    there) and workload identity gets the variables its webhook would inject. The service must
    start serving (on a free loopback port); exit code 64 means it rejected the config, which
    names the key. Returns (errors, warnings).
    """
    cm = next(d for d in out.docs if d["kind"] == "ConfigMap")
    dep = next(d for d in out.docs if d["kind"] == "Deployment")
    container = dep["spec"]["template"]["spec"]["containers"][0]
    creds = workdir / "credentials"
    creds.mkdir(parents=True, exist_ok=True)
    text = cm["data"]["config.toml"].replace(CREDENTIALS_DIR, f"{creds}/")
    tenants = tomllib.loads(text).get("tenants", [])
    if any("certificate_file" in t for t in tenants) and not shutil.which("openssl"):
        return [], ["openssl is not installed: no test certificate, the service was not started"]
    for tenant in tenants:
        for key in ("client_secret_file", "certificate_file"):
            if key in tenant:
                Path(tenant[key]).write_text(
                    test_pem(workdir) if key == "certificate_file" else "test-secret\n"
                )
    config = workdir / "config.toml"
    config.write_text(text)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
    env.update({e["name"]: e["value"] for e in container.get("env") or [] if "value" in e})
    if dep["spec"]["template"]["metadata"]["labels"].get("azure.workload.identity/use") == "true":
        token = workdir / "azure-identity-token"
        token.write_text("header.payload.signature\n")
        env.update(
            AZURE_FEDERATED_TOKEN_FILE=str(token),
            AZURE_CLIENT_ID="0b9d3f2e-7a6c-4e5b-8d1f-3c2a1b0e9f87",
            AZURE_TENANT_ID="6e2c4b1a-0f5d-4c1e-9a3b-2d8f7e6a5c41",
            AZURE_AUTHORITY_HOST="https://login.microsoftonline.com/",
        )
    cmd = [str(binary), "--config", str(config), "--listen", "127.0.0.1:0"]
    log = workdir / "service.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:
            if "serving gRPC" in log.read_text():
                break
            time.sleep(0.1)
        running = proc.poll() is None
        if running:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    output = log.read_text()
    if running and "serving gRPC" in output:
        if proc.returncode != 0:
            return [f"served, but exited {proc.returncode} after SIGTERM: {short(output, 600)}"], []
        return [], []
    if running:
        return [f"did not report serving within 15 s: {short(output, 600)}"], []
    if "not supported yet" in output:
        return [], [f"this build of the service refuses it: {short(output, 300)}"]
    return [f"exited {proc.returncode}: {short(output, 600)}"], []


def test_pem(workdir: Path) -> str:
    """A throwaway self-signed certificate and its unencrypted PKCS#8 key, made with openssl."""
    key, crt = workdir / "test.key", workdir / "test.crt"
    if not key.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=meeting-service-helm-check", "-keyout", str(key), "-out", str(crt)],
            check=True, capture_output=True, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    return key.read_text() + crt.read_text()


# --- static checks of the chart's files ------------------------------------------------------


def schema_problems(schema: dict[str, Any]) -> list[str]:
    """Every value has a description; every chart-owned block is closed."""
    problems: list[str] = []

    def walk(node: dict[str, Any], path: str) -> None:
        for key, sub in (node.get("properties") or {}).items():
            where = f"{path}.{key}" if path else key
            if not sub.get("description"):
                problems.append(f"{where}: no description")
            # Chart-owned blocks are closed. A Kubernetes-typed value that the schema partly
            # describes (the probes) says so with an explicit additionalProperties: true.
            if sub.get("properties") and "additionalProperties" not in sub:
                problems.append(f"{where}: additionalProperties is not set (false for the chart's blocks)")
            walk(sub, where)
            if isinstance(sub.get("items"), dict):
                walk(sub["items"], f"{where}[]")

    if schema.get("additionalProperties") is not False:
        problems.append("top level: additionalProperties is not false")
    walk(schema, "")
    return problems


def values_comment_problems(values_file: Path, schema: dict[str, Any]) -> list[str]:
    """Every chart-owned leaf value in values.yaml has a comment on the line above it.

    Blocks (image:, config:, ...) are checked through their leaves; the contents of
    Kubernetes-typed values (securityContext, probes, peers, ...) are data, not chart keys.
    """
    problems = []
    lines = values_file.read_text().splitlines()
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing keys
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        match = re.match(r"^ *(- )?([A-Za-z][\w./-]*):", line)
        if not match:
            continue
        if match.group(1):  # a list item: what is inside is data
            stack.append((indent, "[]"))
            continue
        key = match.group(2)
        stack.append((indent, key))
        node: dict[str, Any] | None = schema
        for _, k in stack:
            node = (node.get("properties") or {}).get(k) if node else None
        if node is None or node.get("properties"):
            continue  # not a chart key, or a block
        if not lines[i - 1].lstrip().startswith("#"):
            problems.append(f"values.yaml:{i + 1}: {'.'.join(k for _, k in stack)} has no comment above it")
    return problems


def documented_paths(schema: dict[str, Any]) -> list[str]:
    """The value paths the docs' values table must list: leaves and Kubernetes-typed blocks."""
    paths: list[str] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, sub in (node.get("properties") or {}).items():
            path = f"{prefix}{key}"
            if sub.get("properties") and sub.get("additionalProperties") is False:
                walk(sub, path + ".")
                continue
            paths.append(path)
            if isinstance(sub.get("items"), dict) and sub["items"].get("properties"):
                walk(sub["items"], path + "[].")

    walk(schema, "")
    return paths


def docs_problems(docs: Path, schema: dict[str, Any]) -> list[str]:
    if not docs.is_file():
        return [f"{docs} does not exist"]
    text = docs.read_text()
    return [f"{docs.name} does not list `{p}`" for p in documented_paths(schema) if f"| `{p}` |" not in text]


def yamllint_problems(files: list[Path]) -> list[str]:
    config = YamlLintConfig(YAMLLINT_CONFIG)
    problems = []
    for f in files:
        for p in yamllint_linter.run(f.read_text(), config, str(f)):
            if p.level == "error" or p.level == "warning":
                problems.append(f"{f.name}:{p.line}:{p.column}: {p.message} ({p.rule})")
    return problems


# --- checkov ---------------------------------------------------------------------------------


def run_checkov(checkov: str, directory: Path) -> list[dict[str, Any]]:
    """Runs checkov on the manifests of one scenario; returns its failed checks.

    One run per scenario: checkov's graph checks (CKV2_*) connect every resource they are
    given, so scenarios scanned together would vouch for each other.
    """
    cmd = [
        checkov,
        "--directory",
        str(directory),
        "--framework",
        "kubernetes",
        "--skip-download",
        "--output",
        "json",
        "--quiet",
        "--compact",
        "--skip-check",
        ",".join(sorted(CHECKOV_SKIP_ALL)),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"checkov exited {proc.returncode}: {short(proc.stderr, 2000)}")
    data = json.loads(proc.stdout)
    reports = [r for r in (data if isinstance(data, list) else [data]) if r.get("check_type") == "kubernetes"]
    if not reports or not (reports[0].get("summary") or {}).get("resource_count"):
        raise RuntimeError(f"checkov scanned no resources in {directory}")
    failed = []
    for report in reports:
        if (report.get("summary") or {}).get("parsing_errors"):
            raise RuntimeError(f"checkov could not parse files in {directory}")
        failed += (report.get("results") or {}).get("failed_checks") or []
    return failed


def checkov_verdict(failed: list[dict[str, Any]], values: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Splits a scenario's failed checks into errors and justified exceptions."""
    errors, allowed = [], []
    for f in failed:
        kind = f["resource"].split(".")[0]
        allow = any(k == kind and cid == f["check_id"] and when(values) for k, cid, when, _ in CHECKOV_ALLOW)
        line = f"{f['check_id']} {f['check_name']} ({f['resource']})"
        (allowed if allow else errors).append(line)
    return errors, allowed


def write_manifests(docs: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", type=Path, required=True)
    parser.add_argument("--checkov", required=True, help="path of the checkov executable")
    parser.add_argument("--out", type=Path, required=True, help="directory for rendered manifests")
    parser.add_argument("--docs", type=Path, help="Markdown file whose values table must list every value")
    parser.add_argument(
        "--binary", type=Path, help="meeting-service binary: check that it accepts each rendered config"
    )
    args = parser.parse_args()
    chart_dir: Path = args.chart.resolve()
    out_dir: Path = args.out.resolve()
    started = time.monotonic()
    report = Report()
    helm_python.enable_logging(logging.WARNING)

    print(
        f"helm-check: chart {chart_dir}, Kubernetes {' and '.join(KUBE_VERSIONS)}, "
        f"Helm SDK {helm_python.helm_sdk_version()}",
        flush=True,
    )

    print("chart files", flush=True)
    schema = json.loads((chart_dir / "values.schema.json").read_text())
    report.check("values.schema.json: descriptions, additionalProperties false", schema_problems(schema))
    report.check(
        "values.yaml: every key commented", values_comment_problems(chart_dir / "values.yaml", schema)
    )
    if args.docs:
        report.check(f"{args.docs}: the values table lists every value", docs_problems(args.docs, schema))
    yaml_files = [
        chart_dir / "Chart.yaml",
        chart_dir / "values.yaml",
        *sorted((chart_dir / "ci").glob("*.yaml")),
    ]
    report.check(f"yamllint ({len(yaml_files)} files)", yamllint_problems(yaml_files))

    scenarios: list[tuple[str, Path | None]] = [("default", None)]
    scenarios += [
        (p.name.removesuffix("-values.yaml"), p) for p in sorted((chart_dir / "ci").glob("*-values.yaml"))
    ]
    manifests = out_dir / "manifests"
    scenario_values: dict[str, dict[str, Any]] = {}
    for name, path in scenarios:
        print(
            f"scenario {name}" + (f" ({path.relative_to(chart_dir)})" if path else " (chart defaults)"),
            flush=True,
        )
        out = check_chart(chart_dir, path.read_text() if path else None)
        kinds = sorted({d["kind"] for d in out.docs})
        report.check(
            f"{name}: lint --strict, render, kubernetes-validate --strict",
            out.errors,
            f"{len(out.docs)} manifests ({', '.join(kinds)})",
        )
        for w in out.warnings:
            print(f"        warning: {w}")
        if out.errors:
            continue
        report.check(
            f"{name}: chart promises (security, probes, grace, checksums, config, test hook)",
            promises(chart_dir, out),
        )
        write_manifests(out.docs, manifests / name / "manifests.yaml")
        scenario_values[name] = out.values
        if args.binary:
            errors, warnings = service_accepts(args.binary.resolve(), out, out_dir / "service" / name)
            report.check(
                f"{name}: {args.binary.name} starts with the rendered config and env",
                errors,
                "not fully checked, see the warning" if warnings else "",
            )
            for w in warnings:
                print(f"        warning: {w}")

    # Negative tests: each must make the check fail, for the stated reason.
    print("negative tests (each must fail)", flush=True)
    base = (chart_dir / "ci" / "client-secret-values.yaml").read_text()
    with tempfile.TemporaryDirectory(prefix="helm-check-") as tmp:
        broken = Path(tmp) / chart_dir.name

        def expect_failure(name: str, outcome: Outcome, pattern: str) -> None:
            joined = "\n".join(outcome.errors)
            if not outcome.errors:
                report.fail(name, "the check passed, but it must fail")
            elif not re.search(pattern, joined, re.S):
                report.fail(name, f"failed, but not with /{pattern}/: {short(joined)}")
            else:
                first = next(e for e in outcome.errors if re.search(pattern, e, re.S))
                report.ok(name, f"failed as expected: {short(first, 220)}")

        def with_template(name: str, template: str, text: str, pattern: str) -> None:
            shutil.rmtree(broken, ignore_errors=True)
            shutil.copytree(chart_dir, broken)
            (broken / "templates" / template).write_text(text)
            expect_failure(name, check_chart(broken, base), pattern)

        with_template(
            "template error: unknown function",
            "broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
            "data:\n  a: {{ .Values.image.repository | nosuchfunction }}\n",
            r'function "nosuchfunction" not defined',
        )
        with_template(
            "template error: unclosed action",
            "broken.yaml",
            "{{- if .Values.replicaCount }}\napiVersion: v1\nkind: ConfigMap\n",
            r"unexpected EOF|unclosed action|parse error",
        )
        with_template(
            "template error: nil pointer at render time",
            "broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
            "data:\n  a: {{ .Values.nosuch.field | quote }}\n",
            r"nil pointer",
        )
        with_template(
            "template error: output that is not a manifest",
            "broken.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: [unbalanced\n",
            r"YAML|yaml|parse",
        )

        def with_values(name: str, values_text: str, pattern: str) -> None:
            with QuietStderr():
                outcome = check_chart(chart_dir, values_text)
            expect_failure(name, outcome, pattern)

        with_values(
            "schema violation: wrong type (replicaCount: two)", base + "replicaCount: two\n", r"replicaCount"
        )
        with_values("schema violation: unknown key (replicas: 3)", base + "replicas: 3\n", r"replicas")
        with_values(
            "schema violation: unknown key inside a block (image.name)",
            base + "image:\n  name: other\n",
            r"image",
        )
        with_values(
            "schema violation: tenantId is not a GUID",
            "tenants:\n  - tenantId: contoso\n    clientId: 0b9d3f2e-7a6c-4e5b-8d1f-3c2a1b0e9f87\n"
            "    credential: {type: clientSecret, value: x}\n",
            r"tenantId|pattern",
        )
        with_values(
            "schema violation: both value and existingSecret",
            "tenants:\n  - tenantId: 6e2c4b1a-0f5d-4c1e-9a3b-2d8f7e6a5c41\n"
            "    clientId: 0b9d3f2e-7a6c-4e5b-8d1f-3c2a1b0e9f87\n"
            "    credential: {type: clientSecret, value: x, existingSecret: {name: s}}\n",
            r"tenants|oneOf|valid",
        )
        with_values(
            "schema violation: unknown national cloud", "config:\n  graph:\n    cloud: moon\n", r"cloud"
        )
        with_values(
            "invalid values file: broken YAML",
            "tenants:\n  - tenantId: [6e2c4b1a\n replicaCount: 2\n",
            r"values file",
        )
        with_values("invalid values file: not a mapping", "- replicaCount\n- 2\n", r"values file|mapping")
        with_values(
            "chart rule: workloadIdentity tenant without workloadIdentity.enabled",
            "tenants:\n  - tenantId: 6e2c4b1a-0f5d-4c1e-9a3b-2d8f7e6a5c41\n"
            "    credential: {type: workloadIdentity}\n",
            r"workloadIdentity\.enabled",
        )
        with_values(
            "chart rule: terminationGracePeriodSeconds not above the shutdown grace",
            base + "terminationGracePeriodSeconds: 20\n",
            r"terminationGracePeriodSeconds",
        )
        with_values(
            "Kubernetes schema: unknown field in an extra volume",
            base + "extraVolumes:\n  - name: scratch\n    emptyDir: {}\n    bogus: 1\n",
            r"Deployment/.*'bogus' was unexpected",
        )
        with_values(
            "Kubernetes schema: preStop sleep is unknown to the oldest version (1.27)",
            base + "lifecycle:\n  preStop:\n    sleep:\n      seconds: 5\n",
            r"k8s 1\.27\.0.*'sleep' was unexpected",
        )

        if args.binary:
            rejected = check_chart(chart_dir, base + 'config:\n  extraToml: "[bogus]\\nkey = 1"\n')
            errors, _ = service_accepts(args.binary.resolve(), rejected, Path(tmp) / "service-negative")
            if errors and "bogus" in errors[0]:
                report.ok("the service rejects a rendered config with an unknown key", short(errors[0], 200))
            else:
                report.fail("the service rejects a rendered config with an unknown key", f"got {errors}")

    # checkov: one run per scenario, plus one that must fail.
    print("checkov (rendered manifests of each scenario)", flush=True)
    for check_id, why in sorted(CHECKOV_SKIP_ALL.items()):
        print(f"        skipped everywhere {check_id}: {why}")
    for kind, check_id, _, why in CHECKOV_ALLOW:
        print(f"        allowed on {kind} {check_id}: {why}")
    negative_values = (
        base + "securityContext:\n  privileged: true\n  allowPrivilegeEscalation: true\n"
        "  readOnlyRootFilesystem: false\n  runAsUser: 0\n  runAsNonRoot: false\n"
    )
    negative = check_chart(chart_dir, negative_values)
    write_manifests(negative.docs, manifests / "negative-privileged" / "manifests.yaml")
    scenario_values["negative-privileged"] = negative.values
    for name, _ in scenarios + [("negative-privileged", None)]:
        if not (manifests / name).exists():
            continue  # failed earlier
        label = (
            "negative: privileged, writable, escalating container fails checkov"
            if name == "negative-privileged"
            else f"{name}: checkov"
        )
        try:
            failed = run_checkov(args.checkov, manifests / name)
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
            report.fail(label, short(e, 2000))
            continue
        errors, allowed = checkov_verdict(failed, merged_values(chart_dir, scenario_values[name]))
        if name == "negative-privileged":
            ids = sorted({e.split()[0] for e in errors})
            if {"CKV_K8S_16", "CKV_K8S_20", "CKV_K8S_22"} <= set(ids):
                report.ok(label, f"failed as expected: {', '.join(ids)}")
            else:
                report.fail(label, f"expected CKV_K8S_16/20/22 among {ids}")
            continue
        detail = ", ".join(sorted({a.split()[0] + " on " + a.split("(")[1].split(".")[0] for a in allowed}))
        report.check(label, errors, f"allowed {detail}" if detail else "")

    elapsed = time.monotonic() - started
    if report.failures:
        print("failed: " + "; ".join(report.failures))
    print(f"({elapsed:.1f} s)")
    print(f"helm-check: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # an unexpected crash is a failure, with its trace
        traceback.print_exc()
        print("helm-check: 0 passed, 1 failed")
        sys.exit(1)
