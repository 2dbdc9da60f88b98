#!/usr/bin/env python3
"""Check the deployment files parse and carry what an Indexed Job of cxrshard workers needs."""
import glob
import os

import yaml

from checks import check, finish

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def load(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return yaml.safe_load(f)


for path in sorted(glob.glob(os.path.join(ROOT, "deploy/kubernetes/*.yaml"))):
    with open(path) as f:
        docs = list(yaml.safe_load_all(f))
    check(all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs), f"{path}: not Kubernetes objects")

w = load("deploy/kubernetes/workers-job.yaml")
spec = w["spec"]
pod = spec["template"]["spec"]
c = pod["containers"][0]
check(w["kind"] == "Job" and w["apiVersion"] == "batch/v1", "workers: a batch/v1 Job")
check(spec.get("completionMode") == "Indexed", "workers: completionMode Indexed")
check(spec["completions"] == spec["parallelism"], "workers: completions == parallelism")
args = c["args"]
check(args[0] == "run" and "--partitions" in args, "workers: cxrshard run --partitions")
check(int(args[args.index("--partitions") + 1]) == spec["completions"], "workers: --partitions N equals completions")
check("--resume" in args, "workers: --resume so a retried index keeps its committed shards")
check(pod["restartPolicy"] == "Never", "workers: restartPolicy Never (retries per index)")
check(any("secretRef" in e for e in c.get("envFrom", [])), "workers: credentials from a Secret")
check(pod["securityContext"]["runAsNonRoot"] is True, "workers: non-root")
m = load("deploy/kubernetes/merge-job.yaml")
mc = m["spec"]["template"]["spec"]["containers"][0]
check(mc["args"][0] == "merge" and mc["args"][1] == args[args.index("--output") + 1], "merge: same output as the workers")
s = load("deploy/kubernetes/secret.example.yaml")
check(s["kind"] == "Secret" and set(s["stringData"]) >= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}, "secret keys")
finish("deploy files")
