"""Checks rendered Kubernetes manifests for what Strata's deployment promises.

Usage: check_manifests.py RENDERED.yaml   (the output of kubectl kustomize)

- every pod meets the restricted Pod Security profile (non-root, seccomp
  RuntimeDefault, no privilege escalation, every capability dropped) and
  the namespace enforces it;
- every StatefulSet names a headless Service, and every Deployment and
  StatefulSet has a PodDisruptionBudget selecting its pods;
- every Strata container has a readiness and a liveness probe, and every
  Service's target port is a port its pods name.
"""

import sys

import yaml


def pod_spec(doc):
    spec = doc.get("spec", {})
    return spec.get("template", {}).get("spec")


def selects(selector, labels):
    wanted = selector.get("matchLabels", {})
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def main(path):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    errors = []
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)

    for ns in by_kind.get("Namespace", []):
        labels = ns["metadata"].get("labels", {})
        if labels.get("pod-security.kubernetes.io/enforce") != "restricted":
            errors.append(f"Namespace {ns['metadata']['name']}: does not "
                          "enforce the restricted Pod Security profile")

    workloads = [d for d in docs
                 if d["kind"] in ("Deployment", "StatefulSet", "Job")]
    for w in workloads:
        name = f"{w['kind']} {w['metadata']['name']}"
        spec = pod_spec(w)
        pod_sc = spec.get("securityContext", {})
        if pod_sc.get("runAsNonRoot") is not True:
            errors.append(f"{name}: runAsNonRoot is not true")
        if pod_sc.get("runAsUser") == 0:
            errors.append(f"{name}: runs as root (runAsUser 0)")
        if pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            errors.append(f"{name}: seccompProfile is not RuntimeDefault")
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key):
                errors.append(f"{name}: {key}")
        for volume in spec.get("volumes", []):
            if "hostPath" in volume:
                errors.append(f"{name}: hostPath volume {volume['name']}")
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            cname = f"{name} container {c['name']}"
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{cname}: allowPrivilegeEscalation is not false")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                errors.append(f"{cname}: does not drop every capability")
            if sc.get("privileged"):
                errors.append(f"{cname}: privileged")
            if sc.get("runAsNonRoot") is False or sc.get("runAsUser") == 0:
                errors.append(f"{cname}: may run as root")
            added = set(sc.get("capabilities", {}).get("add", []))
            if added - {"NET_BIND_SERVICE"}:
                errors.append(f"{cname}: adds capabilities {sorted(added)}")
            if c.get("image", "").split("/")[-1].startswith("strata"):
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in c:
                        errors.append(f"{cname}: no {probe}")

    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    for sts in by_kind.get("StatefulSet", []):
        name = sts["metadata"]["name"]
        governing = services.get(sts["spec"].get("serviceName"))
        if governing is None or governing["spec"].get("clusterIP") != "None":
            errors.append(f"StatefulSet {name}: serviceName is not a headless "
                          "Service")

    # Several rollup instances share the work only scaled out, and read
    # each other's cells at the address each advertises.
    for sts in by_kind.get("StatefulSet", []):
        for c in pod_spec(sts)["containers"]:
            if c.get("command") != ["strata-rollup"]:
                continue
            args = c.get("args", [])
            if sts["spec"].get("replicas", 1) > 1 and \
                    "--rollup_scale_out" not in args:
                errors.append(f"StatefulSet {sts['metadata']['name']}: "
                              "several replicas without --rollup_scale_out "
                              "would each fold every partition")
            if not any(a.startswith("--advertise_address=") for a in args):
                errors.append(f"StatefulSet {sts['metadata']['name']}: no "
                              "--advertise_address for the other instances")

    pdbs = by_kind.get("PodDisruptionBudget", [])
    for w in by_kind.get("Deployment", []) + by_kind.get("StatefulSet", []):
        labels = w["spec"]["template"]["metadata"].get("labels", {})
        if not any(selects(p["spec"].get("selector", {}), labels)
                   for p in pdbs):
            errors.append(f"{w['kind']} {w['metadata']['name']}: no "
                          "PodDisruptionBudget selects its pods")

    for svc in services.values():
        pods = [w for w in by_kind.get("Deployment", []) +
                by_kind.get("StatefulSet", [])
                if all(w["spec"]["template"]["metadata"].get("labels", {})
                       .get(k) == v
                       for k, v in svc["spec"].get("selector", {}).items())]
        if not pods:
            errors.append(f"Service {svc['metadata']['name']}: selects no pods")
        named = {p.get("name") for w in pods
                 for c in pod_spec(w)["containers"]
                 for p in c.get("ports", [])}
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort")
            if isinstance(target, str) and target not in named:
                errors.append(f"Service {svc['metadata']['name']}: target "
                              f"port '{target}' is named by no container")

    for e in errors:
        print(f"check-manifests: {e}", file=sys.stderr)
    if errors:
        return 1
    print(f"check-manifests: {len(docs)} objects, "
          f"{len(workloads)} workloads: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
