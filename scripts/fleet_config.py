#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The configuration files of the fleet (docs/scaling.md) from the
templates in deploy/: one NATS node config per node, one bridge config per
bridge (each on its own node first, with a unique client id) and the
HAProxy config.  Used by scripts/fleet.sh and tests/integration/test_fleet.py.

  fleet_config.py PLAN.json OUTDIR

PLAN.json: {"host": "127.0.0.1", "run": "<dir>",
            "nodes": [{"client": p, "http": p, "cluster": p, "mqtt": p}, ...],
            "bridges": [p, ...], "bridge_nodes": [node index, ...] (optional),
            "haproxy": p,
            "jwt_secret_file": "<file>" or null, "static_dir": "<dir>" or null,
            "client_id_prefix": "statusbus-fleet", "bridge": {overrides}}
"""

import copy
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")


def fill(template, values):
    for k, v in values.items():
        template = template.replace(f"@{k}@", str(v))
    if "@" in "".join(l for l in template.splitlines() if not l.lstrip().startswith("#")):
        raise ValueError("a placeholder is left unfilled")
    return template


def nats_conf(plan, i):
    host, nodes = plan["host"], plan["nodes"]
    routes = "\n".join(f"    nats-route://{host}:{n['cluster']}"
                       for j, n in enumerate(nodes) if j != i)
    with open(os.path.join(DEPLOY, "nats", "node.conf.in")) as f:
        return fill(f.read(), {
            "NAME": f"n{i + 1}", "HOST": host, "CLIENT_PORT": nodes[i]["client"],
            "HTTP_PORT": nodes[i]["http"], "CLUSTER_PORT": nodes[i]["cluster"],
            "MQTT_PORT": nodes[i]["mqtt"], "ROUTES": routes,
            "STORE_DIR": os.path.join(plan["run"], f"n{i + 1}", "jetstream")})


def bridge_conf(plan, i):
    """Bridge i (0-based) on node plan["bridge_nodes"][i] (default i) first,
    then the others in turn."""
    with open(os.path.join(DEPLOY, "bridge", "fleet.json")) as f:
        cfg = json.load(f)
    host, nodes = plan["host"], plan["nodes"]
    first = plan.get("bridge_nodes", list(range(len(plan["bridges"]))))[i] % len(nodes)
    order = nodes[first:] + nodes[:first]
    cfg["mqtt"]["uri"] = [f"tcp://{host}:{n['mqtt']}" for n in order]
    cfg["mqtt"]["client_id"] = f"{plan.get('client_id_prefix', 'statusbus-fleet')}-b{i + 1}"
    cfg["listen"].update(host=host, port=plan["bridges"][i])
    if plan.get("static_dir"):
        cfg["listen"]["static_dir"] = plan["static_dir"]
    if plan.get("jwt_secret_file"):
        cfg["auth"]["jwt_secret_file"] = plan["jwt_secret_file"]
    else:
        cfg.pop("auth")
    cfg["schemas_dir"] = os.path.join(ROOT, "schemas")
    for k, v in copy.deepcopy(plan.get("bridge", {})).items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k].update(v)
        else:
            cfg[k] = v
    return cfg


def haproxy_cfg(plan):
    host = plan["host"]
    servers = "\n".join(f"  server b{i + 1} {host}:{p}" for i, p in enumerate(plan["bridges"]))
    with open(os.path.join(DEPLOY, "haproxy", "haproxy.cfg.in")) as f:
        return fill(f.read(), {"HOST": host, "PORT": plan["haproxy"], "SERVERS": servers})


def write_all(plan, out):
    """Writes n<i>.conf, bridge-b<i>.json and haproxy.cfg into out; returns
    their paths as {"nodes": [...], "bridges": [...], "haproxy": path}."""
    os.makedirs(out, exist_ok=True)
    paths = {"nodes": [], "bridges": []}
    for i in range(len(plan["nodes"])):
        os.makedirs(os.path.join(plan["run"], f"n{i + 1}"), exist_ok=True)
        p = os.path.join(out, f"n{i + 1}.conf")
        with open(p, "w") as f:
            f.write(nats_conf(plan, i))
        paths["nodes"].append(p)
    for i in range(len(plan["bridges"])):
        p = os.path.join(out, f"bridge-b{i + 1}.json")
        with open(p, "w") as f:
            json.dump(bridge_conf(plan, i), f, indent=2)
            f.write("\n")
        paths["bridges"].append(p)
    paths["haproxy"] = os.path.join(out, "haproxy.cfg")
    with open(paths["haproxy"], "w") as f:
        f.write(haproxy_cfg(plan))
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        print(json.dumps(write_all(json.load(f), sys.argv[2])))
