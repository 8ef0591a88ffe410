# SPDX-License-Identifier: MIT
"""The systems bench/compare.py measures and what it reads from /proc.

A system is one server setup started on free loopback ports in a temporary
directory and stopped by PID: statusbus-bridge with its own mosquitto
(statusbus.v1 or Pusher clients), Mosquitto's own WebSocket listener, and
nginx with the nchan module.  Each one says which processes are "the
server" (their CPU and RSS are what is measured), how sb-loadgen subscribes
to it and how the publisher reaches it; the load client and the publisher
are the same binary for all of them.

The bridge and its broker are started with the integration harness
(tests/integration/sbharness.py, loaded by path), so the bench runs the
shipped examples/bridge.json exactly as the tests do.
"""

import contextlib
import glob
import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def load_module(name, *rel):
    path = os.path.join(SOURCE_DIR, *rel)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sb = load_module("sbharness", "tests", "integration", "sbharness.py")
# the fleet's configs from deploy/ (NATS nodes, bridges, HAProxy)
fleet_config = load_module("fleet_config", "scripts", "fleet_config.py")


# ---- /proc ------------------------------------------------------------------------

def proc_ticks(pid):
    """utime + stime of every thread of pid, in clock ticks (0 once gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError):
        return 0


def proc_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_sched(pid):
    """(ns on a CPU, ns waiting on a run queue) summed over pid's threads."""
    run = wait = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                r, w, _ = f.read().split()
            run += int(r)
            wait += int(w)
        except (OSError, ValueError):
            pass
    return run, wait


def proc_children(pid):
    out = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def cpu_busy_ticks():
    """{cpu index: busy ticks (user+system+irq+softirq+steal)} from /proc/stat.
    Niced work (the `nice` column: background jobs such as fuzzers at nice
    19) is left out: it yields the core to the benchmark's processes."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                v = line.split()
                user, _nice, system, _idle, _iow, irq, softirq, steal = map(int, v[1:9])
                out[int(v[0][3:])] = user + system + irq + softirq + steal
    return out


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def pin_pid(pid, cpus):
    """Moves every thread of pid (and of its children) onto cpus."""
    for p in [pid] + proc_children(pid):
        for task in glob.glob(f"/proc/{p}/task/*"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(os.path.basename(task)), cpus)


@contextlib.contextmanager
def pinned(cpus):
    """Children started inside inherit this process's affinity: servers are
    pinned from their first instruction, threads included."""
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, old)


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# ---- sb-loadgen ----------------------------------------------------------------------

def loadgen_path(build_dir):
    p = os.path.join(build_dir, "bench", "loadgen", "sb-loadgen")
    if not os.path.exists(p):
        raise FileNotFoundError(f"sb-loadgen not built in {build_dir} (cmake -DSB_BENCH=ON)")
    return p


class Subscribers:
    """sb-loadgen sub --control: stat() asks for one counters line."""

    def __init__(self, binary, args, workdir, cpus):
        self.err = open(os.path.join(workdir, f"loadgen-{time.monotonic_ns()}.err"), "w+")
        with pinned(cpus):
            self.proc = subprocess.Popen([binary, "sub", "--control"] + args,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.err, text=True, bufsize=1)

    @property
    def pid(self):
        return self.proc.pid

    def stat(self, timeout=10):
        self.proc.stdin.write("stat\n")
        self.proc.stdin.flush()
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if r else ""
        if not line:
            raise RuntimeError("sb-loadgen did not answer:\n" + self.stderr())
        return json.loads(line)

    def wait_subscribed(self, n, timeout):
        deadline = time.monotonic() + timeout
        while True:
            s = self.stat()
            if s["subscribed"] >= n:
                return s
            if s["subscribed"] + s["failed"] >= n or time.monotonic() > deadline:
                raise RuntimeError(f"{s['subscribed']} of {n} subscribed, {s['failed']} failed:\n"
                                   + self.stderr())
            time.sleep(0.2)

    def wait_quiet(self, timeout, still=1.0):
        """Waits until no event arrived for `still` seconds (a backlog drained)."""
        deadline = time.monotonic() + timeout
        last = self.stat()["events"]
        while time.monotonic() < deadline:
            time.sleep(still)
            now = self.stat()["events"]
            if now == last:
                return True
            last = now
        return False

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()[-2000:]

    def quit(self):
        """Stops the client; returns its exit code (a sanitizer's report
        makes it non-zero)."""
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        return self.proc.returncode


class Publisher:
    """sb-loadgen pub, in the background; result() waits for its summary."""

    def __init__(self, binary, args, cpus):
        with pinned(cpus):
            self.proc = subprocess.Popen([binary, "pub"] + args, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)

    @property
    def pid(self):
        return self.proc.pid

    def result(self, timeout=60):
        out, err = self.proc.communicate(timeout=timeout)
        lines = [x for x in out.splitlines() if x.startswith("{")]
        if self.proc.returncode != 0 or not lines:
            raise RuntimeError(f"publisher failed ({self.proc.returncode}): {err[-1000:]}")
        return json.loads(lines[-1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.result()


# ---- the systems -------------------------------------------------------------------------

class System:
    """One server setup.  Subclasses fill in start(); servers() are the
    PIDs whose CPU and RSS count, bridge_pid() the bridge alone when there
    is one."""
    name = "?"
    label = "?"
    ingest = False
    heartbeat_s = None   # statusbus: limits.heartbeat_s, None = the shipped one

    def __init__(self, workdir, conns, server_cpus):
        self.workdir = workdir
        self.conns = conns
        self.server_cpus = server_cpus
        self.procs = []

    def servers(self):
        return [p.pid for p in self.procs]

    def bridge_pid(self):
        return None

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []


MQTT_TOPIC = "team/b{c}/app/{u}/status"


class Statusbus(System):
    """statusbus-bridge (shipped config, open development mode) and its own
    mosquitto, both on the server cores."""
    name = "statusbus"
    label = "statusbus-bridge, `team.<t>` (immediate), statusbus.v1"
    ingest = True
    proto = "v1"

    def overrides(self):
        # every subscriber comes from 127.0.0.1: the per-address limits
        # (docs/protocol.md §5.14) are off, as behind a proxy
        overrides = {"limits": {"max_connections": self.conns + 100, "max_connections_per_ip": 0,
                                "max_handshakes_per_ip": 0}, "log_level": "warn"}
        if self.heartbeat_s:
            overrides["limits"].update(heartbeat_s=self.heartbeat_s,
                                       idle_timeout_s=max(60, 2 * self.heartbeat_s + 1))
        if self.proto == "pusher":
            overrides["pusher"] = {"app_id": "1", "key": "app-key", "secret": "app-secret"}
        return overrides

    def start(self):
        conf = ("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "max_queued_messages 1000000\nmax_inflight_messages 1000\n")
        with pinned(self.server_cpus):
            self.mosq = sb.Mosquitto(self.workdir, conf=conf)
            self.procs.append(self.mosq)
            self.bridge = sb.Bridge(self.workdir, self.mosq.port, overrides=self.overrides())
            self.procs.append(self.bridge)

    def bridge_pid(self):
        return self.bridge.pid

    def sub_args(self):
        return ["--proto", self.proto, "--port", str(self.bridge.port)]

    def pub_args(self):
        return ["--target", "mqtt", "--port", str(self.mosq.port), "--qos", "1",
                "--topic", MQTT_TOPIC]

    def messages_in(self):
        return self.bridge.metrics().get("statusbus_messages_in_total", 0)

    def writes(self):
        """Socket writes of frames so far (None: a bridge without the
        metric, before gathered writes)."""
        return self.bridge.metrics().get("statusbus_writes_total")


class StatusbusPusher(Statusbus):
    name = "statusbus-pusher"
    label = "statusbus-bridge, `team.<t>` (immediate), Pusher protocol 7"
    proto = "pusher"
    ingest = False


class MosquittoWs(System):
    """Mosquitto's own WebSocket listener: subscribers speak MQTT over
    WebSocket (QoS 0), the publisher MQTT on its TCP listener."""
    name = "mosquitto-ws"
    label = "Mosquitto's WebSocket listener (C, lws)"

    def start(self):
        self.ws_port = sb.free_port()
        conf = ("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                f"listener {self.ws_port} 127.0.0.1\nprotocol websockets\n"
                "max_queued_messages 1000000\n")
        with pinned(self.server_cpus):
            self.mosq = sb.Mosquitto(self.workdir, conf=conf)
            self.procs.append(self.mosq)
        sb.wait_for(lambda: sb.port_open(self.ws_port), 10, what="mosquitto websockets")

    def sub_args(self):
        return ["--proto", "mqtt", "--port", str(self.ws_port),
                "--channel", "team/b{c}/app/+/status"]

    def pub_args(self):
        return ["--target", "mqtt", "--port", str(self.mosq.port), "--qos", "1",
                "--topic", MQTT_TOPIC]


NGINX_CONF = """\
{user}daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {nofile};
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
load_module {module};
events {{ worker_connections {nofile}; use epoll; multi_accept on; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 600s;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location ~ ^/pub/(\\w+)$ {{
      nchan_publisher http;
      nchan_channel_id $1;
      nchan_message_buffer_length 10;
      nchan_message_timeout 30s;
    }}
    location ~ ^/sub/(\\w+)$ {{
      nchan_subscriber websocket;
      nchan_channel_id $1;
      nchan_subscriber_first_message newest;
      nchan_websocket_ping_interval 25;
    }}
  }}
}}
"""


class Nchan(System):
    """nginx (one worker) with nchan: WebSocket subscribers on /sub/<ch>,
    HTTP POST publishes on /pub/<ch>; a heartbeat every 25 s like the
    bridge's."""
    name = "nchan"
    label = "nginx + nchan (C)"

    @staticmethod
    def available():
        return shutil.which("nginx") is not None and os.path.exists(NCHAN_MODULE)

    def start(self):
        self.port = sb.free_port()
        conf = NGINX_CONF.format(user="user root;\n" if os.geteuid() == 0 else "",
                                 nofile=self.conns + 1024, dir=self.workdir,
                                 module=NCHAN_MODULE, port=self.port)
        path = os.path.join(self.workdir, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        with pinned(self.server_cpus):
            self.nginx = sb.Process("nginx", ["nginx", "-c", path, "-p", self.workdir,
                                              "-e", os.path.join(self.workdir, "nginx-error.log")],
                                    self.workdir)
            self.procs.append(self.nginx)
        sb.wait_for(lambda: sb.port_open(self.port) or not self.nginx.alive(), 10, what="nginx")
        if not self.nginx.alive():
            raise RuntimeError("nginx failed to start:\n" + self.nginx.output())
        sb.wait_for(lambda: proc_children(self.nginx.pid), 10, what="nginx worker")

    def servers(self):
        return [self.nginx.pid] + proc_children(self.nginx.pid)

    def sub_args(self):
        return ["--proto", "nchan", "--port", str(self.port), "--path", "/sub/b{c}"]

    def pub_args(self):
        return ["--target", "http", "--port", str(self.port), "--topic", "/pub/b{c}",
                "--inflight", "64"]


SYSTEMS = {c.name: c for c in (Nchan, MosquittoWs, Statusbus, StatusbusPusher)}


# ---- the fleet (bench/fleet_bench.py): configs from deploy/ via scripts/fleet_config.py ----

def http_ok(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):
        return False


def fleet_plan(workdir, nodes=0, bridges=(), **extra):
    """A scripts/fleet_config.py plan on free, distinct loopback ports:
    `nodes` NATS nodes, the given bridge ports and a HAProxy port."""
    ports = set()
    while len(ports) < 4 * nodes + 1:
        ports.add(sb.free_port())
    ports = list(ports)
    plan = {"host": "127.0.0.1", "run": workdir,
            "nodes": [{"client": ports.pop(), "http": ports.pop(), "cluster": ports.pop(),
                       "mqtt": ports.pop()} for _ in range(nodes)],
            "bridges": list(bridges), "haproxy": ports.pop(),
            "jwt_secret_file": None, "static_dir": None,
            "client_id_prefix": f"sb-bench-{uuid.uuid4().hex[:6]}"}
    plan.update(extra)
    return plan


class Haproxy(sb.Process):
    """haproxy with deploy/haproxy/haproxy.cfg.in in front of the bridges of
    plan; `balance` replaces the shipped `url_param team`."""
    SHIPPED = "balance url_param team"

    def __init__(self, workdir, plan, balance="url_param team"):
        cfg = fleet_config.haproxy_cfg(plan)
        assert self.SHIPPED in cfg, "deploy/haproxy/haproxy.cfg.in changed its balance line"
        cfg = cfg.replace(self.SHIPPED, f"balance {balance}")
        path = os.path.join(workdir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        super().__init__("haproxy", ["haproxy", "-db", "-f", path], workdir)
        self.port = plan["haproxy"]
        sb.wait_for(lambda: http_ok(self.port, "/readyz") or not self.alive(), 20, interval=0.1,
                    what="haproxy")
        if not self.alive():
            raise RuntimeError("haproxy failed to start:\n" + self.output())


class StatusbusLb(Statusbus):
    """Statusbus's broker and `n_bridges` bridges (its config) behind HAProxy
    (deploy/haproxy), all on the server cores.  Subscribers connect to
    HAProxy with their channel's team in the URL (`/v1/ws?team=b<k>`), which
    `balance url_param team` hashes."""
    name = "statusbus-haproxy"
    label = "statusbus-bridge behind HAProxy (deploy/haproxy)"
    ingest = False
    n_bridges = 1
    balance = "url_param team"

    def overrides(self):
        o = super().overrides()
        # as deploy/bridge/fleet.json: on a busy shared machine a SUBACK
        # may take longer than the shipped 5 s
        o["limits"]["subscribe_timeout_ms"] = 15000
        return o

    def start(self):
        super().start()
        self.bridges = [self.bridge]
        with pinned(self.server_cpus):
            for _ in range(self.n_bridges - 1):
                self.bridges.append(sb.Bridge(self.workdir, self.mosq.port,
                                              overrides=self.overrides()))
                self.procs.append(self.bridges[-1])
            plan = fleet_plan(self.workdir, bridges=[b.port for b in self.bridges])
            self.lb = Haproxy(self.workdir, plan, self.balance)
            self.procs.append(self.lb)

    def sub_args(self):
        return ["--proto", self.proto, "--port", str(self.lb.port), "--path", "/v1/ws?team=b{c}"]


class NatsFleet(System):
    """The fleet's 3-node NATS cluster (deploy/nats, as scripts/fleet.sh
    makes it) on the server cores, and one bridge from
    deploy/bridge/fleet.json attached to node 3 (b1 of test_fleet).
    Publishers use node 1.  For compare.Run's ingest, `mosq` is the node
    the bridge and the ingest peer subscribe on (node `peer_node` + 1)."""
    name = "nats-fleet"
    label = "3-node NATS cluster (JetStream, MQTT), bridge on node 3"
    ingest = True
    proto = "v1"
    peer_node = 2

    def start(self):
        self.plan = fleet_plan(self.workdir, nodes=3, bridge_nodes=[2],
                               bridges=[sb.free_port()],
                               bridge={"limits": {"drain_s": 0}, "log_level": "warn"})
        paths = fleet_config.write_all(self.plan, os.path.join(self.workdir, "conf"))
        with pinned(self.server_cpus):
            self.nodes = []
            for i, conf in enumerate(paths["nodes"]):
                p = sb.Process(f"n{i + 1}", ["nats-server", "-c", conf], self.workdir)
                p.port = self.plan["nodes"][i]["mqtt"]
                self.procs.append(p)
                self.nodes.append(p)
            for i, n in enumerate(self.plan["nodes"]):
                # JetStream up and the cluster has its meta leader
                sb.wait_for(lambda: http_ok(n["http"], "/healthz"), 60, interval=0.2,
                            what=f"NATS node {i + 1}")
            self.bridge = sb.Bridge(self.workdir, None, port=self.plan["bridges"][0],
                                    overrides=fleet_config.bridge_conf(self.plan, 0))
            self.procs.append(self.bridge)

    @property
    def mosq(self):
        return self.nodes[self.peer_node]

    def node_pids(self):
        return [n.pid for n in self.nodes]

    def bridge_pid(self):
        return self.bridge.pid

    def sub_args(self):
        return ["--proto", self.proto, "--port", str(self.bridge.port)]

    def pub_args(self):
        return ["--target", "mqtt", "--port", str(self.nodes[0].port), "--qos", "1",
                "--topic", MQTT_TOPIC]

    def messages_in(self):
        return self.bridge.metrics().get("statusbus_messages_in_total", 0)

