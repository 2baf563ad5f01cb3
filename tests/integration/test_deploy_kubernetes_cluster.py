"""The cluster overlay (deploy/kubernetes-cluster): rendered by `kubectl kustomize`, then what a cluster of
tgpulse nodes depends on is checked on the rendered objects — three replicas mounting one ReadWriteMany
volume (no volume per pod), each node named after its pod and advertising its stable DNS name through a
headless Service, the store and Redis URLs and the store password from the Secret, a disruption budget
that keeps two nodes — and the rendered environment, its $(VAR) references expanded as kubelet does, starts
a real node on a real PostgreSQL that registers under the pod's name."""
import os
import re
import shutil
import subprocess
import tempfile

import deploy_util as du
import harness
import pg_util
from harness import check

OVERLAY = os.path.join(du.DEPLOY, "kubernetes-cluster")
_rendered = []


def rendered():
    """{kind: [objects]} of `kubectl kustomize` on OVERLAY (rendered once)."""
    if not _rendered:
        _rendered.append(du.kustomize(OVERLAY))
    return _rendered[0]


def statefulset():
    sets = rendered()["StatefulSet"]
    check(len(sets) == 1, f"{len(sets)} StatefulSets")
    return sets[0]


def env_of():
    return {e["name"]: e for e in statefulset()["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_three_nodes_share_one_read_write_many_volume():
    s = statefulset()["spec"]
    check(s["replicas"] == 3, f"replicas {s['replicas']}")
    check("volumeClaimTemplates" not in s, "each pod still gets a volume of its own")
    volumes = {v["name"]: v for v in s["template"]["spec"]["volumes"]}
    claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
    pvcs = {p["metadata"]["name"]: p for p in rendered()["PersistentVolumeClaim"]}
    check(claim in pvcs, f"the data volume names {claim}, not a rendered claim: {list(pvcs)}")
    check(pvcs[claim]["spec"]["accessModes"] == ["ReadWriteMany"], f"access modes {pvcs[claim]['spec']['accessModes']}")
    mounts = {m["name"]: m["mountPath"] for m in s["template"]["spec"]["containers"][0]["volumeMounts"]}
    args = s["template"]["spec"]["containers"][0]["args"]
    check(mounts["data"] == du.flag_value(args, "--data-dir"), f"data mounted at {mounts['data']}, not the data dir")


def test_each_node_is_named_after_its_pod_and_advertises_its_stable_name():
    env = env_of()
    check(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name", "POD_NAME")
    check(env["TGPULSE_CLUSTER_NODE_ID"]["value"] == "$(POD_NAME)", "the node id is not the pod's name")
    services = {s["metadata"]["name"]: s for s in rendered()["Service"]}
    headless = statefulset()["spec"]["serviceName"]
    check(services[headless]["spec"].get("clusterIP") == "None", f"{headless} is not headless")
    url = env["TGPULSE_CLUSTER_ADVERTISE_URL"]["value"]
    check(url.startswith(f"http://$(POD_NAME).{headless}.") and url.endswith(":8080"), f"advertise URL {url}")
    ports = {p["name"]: p["containerPort"] for p in statefulset()["spec"]["template"]["spec"]["containers"][0]["ports"]}
    check(ports["http"] == 8080, f"the API port is {ports['http']}, the advertised one 8080")


def test_the_store_and_redis_come_from_the_secret():
    env = env_of()
    for name, key in (("TGPULSE_STORE_URL", "store-url"), ("TGPULSE_STORE_PASSWORD", "store-password"),
                      ("TGPULSE_QUOTA_REDIS_URL", "redis-url")):
        ref = env[name].get("valueFrom", {}).get("secretKeyRef", {})
        check(ref.get("name") == "tgpulse-secrets" and ref.get("key") == key, f"{name}: {env[name]}")
    known = du.serve_env_vars() | {"POD_NAME", "POD_NAMESPACE"}
    for name in env:
        check(name in known, f"the container sets {name}, which tgpulse serve does not read")


def test_the_disruption_budget_keeps_two_nodes():
    pdbs = rendered()["PodDisruptionBudget"]
    check(len(pdbs) == 1 and pdbs[0]["spec"]["minAvailable"] == 2, f"PDB {pdbs}")


def expand(value, values):
    """kubelet's $(VAR) expansion."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: values.get(m.group(1), m.group(0)), value)


def test_the_rendered_environment_starts_a_node_that_registers_under_the_pods_name():
    work = tempfile.mkdtemp(prefix="tgpulse-k8s-cluster-")
    try:
        with pg_util.PostgresServer() as pg:
            port = harness.free_port()
            values = {"POD_NAME": "tgpulse-1", "POD_NAMESPACE": "default"}
            secrets = {"store-url": pg.url, "store-password": pg.password}
            env = {"TGPULSE_ADMIN_TOKEN": "admin-" + "k" * 24}
            for name, e in env_of().items():
                if "value" in e:
                    env[name] = expand(e["value"], values)
                elif "secretKeyRef" in e.get("valueFrom", {}):
                    key = e["valueFrom"]["secretKeyRef"]["key"]
                    if key in secrets:
                        env[name] = secrets[key]
            # The advertised name resolves inside the cluster only: here the node listens on loopback.
            check(env["TGPULSE_CLUSTER_ADVERTISE_URL"] == "http://tgpulse-1.tgpulse-nodes.default.svc:8080",
                  f"expanded advertise URL {env['TGPULSE_CLUSTER_ADVERTISE_URL']}")
            args = [harness.TGPULSE, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(work, "data"),
                    "--td-library", harness.TDSIM_LIB]
            with harness.Proc(args, env=env, name="tgpulse") as p:
                harness.wait_http_ok(f"http://127.0.0.1:{port}/healthz", timeout=30)
                rows = pg.psql("SELECT node_id, url FROM cluster_nodes")
                check(rows.strip() == "tgpulse-1|http://tgpulse-1.tgpulse-nodes.default.svc:8080",
                      f"registered nodes: {rows!r}")
                check(p.stop() == 0, f"SIGTERM: {p.stderr()[-1500:]}")
            check(pg.psql("SELECT count(*) FROM cluster_nodes").strip() == "0", "the node did not leave on SIGTERM")
            check(pg.password not in p.stdout() + p.stderr(), "the store password reached the output")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    harness.main([
        test_three_nodes_share_one_read_write_many_volume,
        test_each_node_is_named_after_its_pod_and_advertises_its_stable_name,
        test_the_store_and_redis_come_from_the_secret,
        test_the_disruption_budget_keeps_two_nodes,
        test_the_rendered_environment_starts_a_node_that_registers_under_the_pods_name,
    ])
