"""Kubernetes manifests (deploy/kubernetes): rendered by `kubectl kustomize` (Debian's kubernetes-client,
installed by scripts/install-deps.sh), then every property the deployment depends on checked on the
rendered objects — one replica, the data volume, probes and scrape annotations on the admin listener,
secrets, the security context, the termination grace against the drain — and the container's command line
and configuration run by the real service."""
import os
import shutil
import subprocess
import tempfile

import deploy_util as du
import harness
from harness import check

KUSTOMIZE_DIR = os.path.join(du.DEPLOY, "kubernetes")
DEPLOYMENT_DOC = os.path.join(du.DOCS, "deployment.md")
_rendered = []


def rendered():
    """{kind: [objects]} of `kubectl kustomize` on KUSTOMIZE_DIR (rendered once)."""
    if not _rendered:
        _rendered.append(du.kustomize(KUSTOMIZE_DIR))
    return _rendered[0]


def one(kind):
    objs = rendered().get(kind, [])
    check(len(objs) == 1, f"{len(objs)} {kind} objects rendered, expected 1")
    return objs[0]


def pod():
    return one("StatefulSet")["spec"]["template"]


def container():
    containers = pod()["spec"]["containers"]
    check(len(containers) == 1, f"containers: {[c['name'] for c in containers]}")
    return containers[0]


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def container_port(name):
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    check(name in ports, f"no container port named {name}: {ports}")
    return ports[name]


def probe_port(probe):
    port = probe["httpGet"]["port"]
    return container_port(port) if isinstance(port, str) else port


def config_map():
    """The generated ConfigMap the pod mounts, and the path its configuration file has in the pod."""
    spec = pod()["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    config_path = du.flag_value(container()["args"], "--config")
    check(config_path, f"the container passes no --config: {container()['args']}")
    for mount in container()["volumeMounts"]:
        if os.path.dirname(config_path) == mount["mountPath"].rstrip("/"):
            volume = volumes[mount["name"]]
            check("configMap" in volume, f"{config_path} is mounted from {volume}, not a ConfigMap")
            cm = one("ConfigMap")
            check(volume["configMap"]["name"] == cm["metadata"]["name"],
                  f"the pod mounts ConfigMap {volume['configMap']['name']}, kustomize generated {cm['metadata']['name']}")
            key = os.path.basename(config_path)
            check(key in cm["data"], f"ConfigMap {cm['metadata']['name']} has no {key}: {sorted(cm['data'])}")
            return cm, config_path
    raise AssertionError(f"no volume is mounted at the directory of {config_path}")


def configuration():
    cm, path = config_map()
    return du.load_yaml_documents(cm["data"][os.path.basename(path)])[0] or {}


def test_kustomize_renders_the_four_objects():
    kinds = sorted(rendered())
    check(kinds == ["ConfigMap", "PodDisruptionBudget", "Service", "StatefulSet"], f"rendered kinds: {kinds}")
    check(one("PodDisruptionBudget")["apiVersion"] == "policy/v1", one("PodDisruptionBudget")["apiVersion"])
    check(one("StatefulSet")["apiVersion"] == "apps/v1", one("StatefulSet")["apiVersion"])


def test_one_replica_on_its_own_volume_and_the_docs_say_why():
    sts = one("StatefulSet")
    check(sts["spec"]["replicas"] == 1, f"replicas: {sts['spec']['replicas']}")
    templates = sts["spec"].get("volumeClaimTemplates", [])
    check(len(templates) == 1, f"volumeClaimTemplates: {templates}")
    claim = templates[0]
    check(claim["spec"]["accessModes"] in (["ReadWriteOnce"], ["ReadWriteOncePod"]), claim["spec"]["accessModes"])
    check("storage" in claim["spec"]["resources"]["requests"], claim["spec"])
    data_dir = du.flag_value(container()["args"], "--data-dir")
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    check(mounts.get(data_dir) == claim["metadata"]["name"],
          f"--data-dir {data_dir} is not the claim {claim['metadata']['name']}'s mount: {mounts}")
    with open(os.path.join(KUSTOMIZE_DIR, "statefulset.yaml")) as f:
        manifest = f.read()
    check("replicas must stay 1" in manifest and "AUTH_KEY_DUPLICATED" in manifest,
          "statefulset.yaml does not say why it has one replica")
    with open(DEPLOYMENT_DOC) as f:
        doc = f.read()
    check("AUTH_KEY_DUPLICATED" in doc and "one replica" in doc.lower(), "docs/deployment.md does not say why one replica")


def test_container_args_and_env_are_real_flags_and_variables_of_tgpulse_serve():
    args = container()["args"]
    check(args[0] == "serve", f"the container does not run `tgpulse serve`: {args}")
    flags = du.serve_help()
    for flag in du.flags_in(args):
        check(flag in flags, f"{flag} is not a flag of tgpulse serve (serve --help: {sorted(flags)})")
    known = du.serve_env_vars()
    for env in container().get("env", []):
        check(env["name"] in known, f"the container sets {env['name']}, which tgpulse serve does not read")
    image = container()["image"]
    check(image.startswith("tgpulse"), f"image {image}")


def test_secrets_come_from_secret_references():
    env = {e["name"]: e for e in container()["env"]}
    for name, key, optional in (("TGPULSE_ADMIN_TOKEN", "admin-token", False),
                                ("TGPULSE_MASTER_KEY", "master-key", False),
                                ("TGPULSE_TD_API_HASH", "td-api-hash", True)):
        check(name in env, f"{name} is not set")
        ref = env[name].get("valueFrom", {}).get("secretKeyRef")
        check(ref and ref["name"] == "tgpulse-secrets" and ref["key"] == key,
              f"{name} is not read from Secret tgpulse-secrets key {key}: {env[name]}")
        check(bool(ref.get("optional", False)) == optional, f"{name}: optional {ref.get('optional')}")
        check("value" not in env[name], f"{name} has a literal value")
    check("Secret" not in rendered(), "a Secret is rendered: secrets must not live in the repository")
    text = "\n".join(str(configuration()).split())
    check("admin_token" not in text and "api_hash" not in text and "master_key" not in text,
          "the ConfigMap holds a secret")


def test_probes_and_scrape_annotations_point_at_the_admin_listener():
    c = container()
    admin = du.flag_value(c["args"], "--admin-listen") or configuration().get("server", {}).get("admin_listen")
    check(admin, "the admin listener is off (server.admin_listen / --admin-listen)")
    admin_port = port_of(admin)
    check(container_port("admin") == admin_port, f"container port admin {container_port('admin')} != {admin}")
    check(admin.startswith("0.0.0.0:") or admin.startswith("[::]:"), f"the kubelet cannot reach {admin}")
    for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")):
        probe = c.get(kind)
        check(probe, f"no {kind}")
        check(probe["httpGet"]["path"] == path, f"{kind} path {probe['httpGet']['path']} != {path}")
        check(probe_port(probe) == admin_port, f"{kind} port {probe['httpGet']['port']} is not the admin listener")
    annotations = pod()["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/scrape") == "true", f"annotations: {annotations}")
    check(annotations.get("prometheus.io/port") == str(admin_port), f"annotations: {annotations}")
    check(annotations.get("prometheus.io/path") == "/metrics", f"annotations: {annotations}")


def test_service_exposes_the_api_port_only():
    svc = one("Service")
    listen = du.flag_value(container()["args"], "--listen") or configuration().get("server", {}).get("listen")
    check(listen, "no --listen / server.listen: the API would listen on 127.0.0.1 only")
    ports = svc["spec"]["ports"]
    check(len(ports) == 1, f"Service ports: {ports}")
    target = ports[0]["targetPort"]
    target = container_port(target) if isinstance(target, str) else target
    check(target == port_of(listen), f"the Service targets {target}, the API listens on {listen}")
    labels = pod()["metadata"]["labels"]
    check(svc["spec"]["selector"].items() <= labels.items(), f"selector {svc['spec']['selector']} vs {labels}")
    check(one("StatefulSet")["spec"]["serviceName"] == svc["metadata"]["name"], "serviceName")


def test_pod_disruption_budget_selects_the_pod():
    pdb = one("PodDisruptionBudget")
    labels = pod()["metadata"]["labels"]
    selector = pdb["spec"]["selector"]["matchLabels"]
    check(selector.items() <= labels.items(), f"PDB selector {selector} does not select {labels}")
    check(pdb["spec"].get("minAvailable") == 1 or pdb["spec"].get("maxUnavailable") == 0, pdb["spec"])


def test_security_context_and_resources():
    spec = pod()["spec"]
    psc = spec["securityContext"]
    check(psc.get("runAsNonRoot") is True, f"pod securityContext: {psc}")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"pod securityContext: {psc}")
    uid = du.dockerfile_uid()
    check(psc.get("runAsUser") == uid and psc.get("fsGroup") == uid,
          f"runAsUser/fsGroup {psc.get('runAsUser')}/{psc.get('fsGroup')} != the image's user {uid}")
    check(spec.get("automountServiceAccountToken") is False, "the pod mounts a service account token")
    csc = container()["securityContext"]
    check(csc.get("readOnlyRootFilesystem") is True, f"container securityContext: {csc}")
    check(csc.get("allowPrivilegeEscalation") is False, f"container securityContext: {csc}")
    check(csc.get("capabilities", {}).get("drop") == ["ALL"], f"container securityContext: {csc}")
    check(not csc.get("capabilities", {}).get("add"), f"capabilities added: {csc}")
    res = container()["resources"]
    for part in ("requests", "limits"):
        check({"cpu", "memory"} <= set(res.get(part, {})), f"resources.{part}: {res.get(part)}")


def test_termination_grace_is_longer_than_the_drain():
    grace = pod()["spec"]["terminationGracePeriodSeconds"]
    config = configuration()
    bound = du.drain_bound(config)
    # The store pool's last calls and the log flush come after the bounded parts: 20 s for them.
    check(grace >= bound + 20, f"terminationGracePeriodSeconds {grace} < drain bound {bound} s + 20 s")
    flag = du.flag_value(container()["args"], "--shutdown-grace")
    check(flag is None, "--shutdown-grace on the command line: the bound above read the ConfigMap")


def test_the_rendered_command_line_and_configuration_run():
    """tgpulse serve with the container's arguments and ConfigMap, the paths moved to a temporary
    directory, the addresses to loopback ports and TDLib to the simulator: the probes' and the scrape's
    paths answer 200 on the admin port, and SIGTERM ends it with 0."""
    work = tempfile.mkdtemp(prefix="tgpulse-k8s-")
    try:
        cm, config_path = config_map()
        local_config = os.path.join(work, os.path.basename(config_path))
        with open(local_config, "w") as f:
            f.write(cm["data"][os.path.basename(config_path)])
        data_dir = os.path.join(work, "data")
        os.mkdir(data_dir)
        key_file = os.path.join(work, "master.key")
        subprocess.run([harness.TGPULSE, "keys", "generate", "--out", key_file], check=True, capture_output=True)
        with open(key_file) as f:
            key = f.read()  # as kubelet passes a Secret made with --from-file: the trailing newline kept
        port, admin_port = harness.free_port(), harness.free_port()
        replace = {"--config": local_config, "--data-dir": data_dir, "--listen": f"127.0.0.1:{port}",
                   "--admin-listen": f"127.0.0.1:{admin_port}"}
        args = list(container()["args"])
        for i, a in enumerate(args[:-1]):
            if a in replace:
                args[i + 1] = replace[a]
        env = {"TGPULSE_MASTER_KEY": key, "TGPULSE_ADMIN_TOKEN": "admin-" + "k" * 24}
        with harness.Proc([harness.TGPULSE, *args, "--td-library", harness.TDSIM_LIB], env=env, name="tgpulse") as p:
            admin = f"http://127.0.0.1:{admin_port}"
            harness.wait_http_ok(admin + "/healthz", timeout=30)
            harness.wait_until(lambda: harness.http("GET", admin + "/readyz")[0] == 200, timeout=30,
                               what="/readyz 200 on the admin listener")
            probes = [probe["httpGet"]["path"] for probe in
                      (container()["livenessProbe"], container()["readinessProbe"], container()["startupProbe"])]
            for path in probes + [pod()["metadata"]["annotations"]["prometheus.io/path"]]:
                status = harness.http("GET", admin + path)[0]
                check(status == 200, f"{path} on the admin listener: {status}")
            status, _, doc = harness.http_json("POST", f"http://127.0.0.1:{port}/v1/tenants", {"tenant_id": "k8s"},
                                               {"Authorization": "Bearer " + env["TGPULSE_ADMIN_TOKEN"]})
            check(status == 201, f"the admin token from the Secret's variable: {status} {doc}")
            code = p.stop()
            check(code == 0, f"exit {code} after SIGTERM:\n{p.stderr()[-2000:]}")
            check("session keys encrypted at rest" in p.stdout(), "the master key from the environment was not used")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    harness.main([
        test_kustomize_renders_the_four_objects,
        test_one_replica_on_its_own_volume_and_the_docs_say_why,
        test_container_args_and_env_are_real_flags_and_variables_of_tgpulse_serve,
        test_secrets_come_from_secret_references,
        test_probes_and_scrape_annotations_point_at_the_admin_listener,
        test_service_exposes_the_api_port_only,
        test_pod_disruption_budget_selects_the_pod,
        test_security_context_and_resources,
        test_termination_grace_is_longer_than_the_drain,
        test_the_rendered_command_line_and_configuration_run,
    ])
