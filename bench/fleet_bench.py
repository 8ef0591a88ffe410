#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The fleet's figures for docs/scaling.md's model (issue 14), measured on
this machine with compare.py's pieces (sb-loadgen, the /proc windows) and
the fleet's configs from deploy/ (scripts/fleet_config.py):

  nats      QoS 1 MQTT msgs/s through a 3-node NATS cluster (publisher on
            node 1) into mosquitto_sub on node 3 and on node 1, and into a
            bridge (deploy/bridge/fleet.json) on node 3; NATS CPU (the three
            nodes) per message; then the same ingest on one Mosquitto
            (compare.py's, bridge and mosquitto_sub) for comparison;
  haproxy   N idle statusbus.v1 connections (10 channels) directly on one
            bridge and through HAProxy (deploy/haproxy) to it: connects/s
            (new WebSocket + sub + ack), RSS per connection and idle CPU of
            HAProxy and of the bridge, and the CPU per delivery of each at
            fixed delivery rates;
  routing   B bridges behind HAProxy, T teams with k clients each: MQTT
            subscriptions and messages into the bridges per published status
            with `balance url_param team` (shipped) and `random(1)`: how
            many bridges each team's stream reaches.

Servers run on --server-cpus (0), the load on --load-cpus (1); every window
records the load average and what other processes took of each core, as
compare.py does (bench/README.md).

  bench/fleet_bench.py [--build-dir build] [--json F] [--sections nats,haproxy,routing]
  bench/fleet_bench.py --smoke    # routing with a few clients: counts only (CTest)
"""

import argparse
import copy
import json
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import compare  # noqa: E402

# roundrobin is left out by default: sb-loadgen connects clients in index
# order (client i of team i mod T), so round robin puts them by that order,
# not as browsers arriving at random would land
BALANCES = ["url_param team", "random(1)"]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.environ.get("SB_BINARY_DIR",
                                                          os.path.join(bl.SOURCE_DIR, "build")))
    ap.add_argument("--sections", default="nats,haproxy,routing")
    ap.add_argument("--conns", type=int, default=10000, help="haproxy: idle connections")
    ap.add_argument("--channels", type=int, default=10, help="haproxy: channels")
    ap.add_argument("--rates", type=compare.ints, default=[20000, 100000],
                    help="haproxy: fixed offered deliveries/s")
    ap.add_argument("--window", type=float, default=8)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--idle-window", type=float, default=30,
                    help="seconds; over 25 so that every connection's heartbeat falls in it")
    ap.add_argument("--ingest-window", type=float, default=6)
    ap.add_argument("--bridges", type=int, default=3, help="routing: bridges behind HAProxy")
    ap.add_argument("--teams", type=int, default=200, help="routing: teams (channels)")
    ap.add_argument("--per-team", type=int, default=3, help="routing: clients per team")
    ap.add_argument("--messages", type=int, default=5, help="routing: statuses per team")
    ap.add_argument("--concurrency", type=int, default=8,
                    help="routing: clients set up at once, each bringing a new channel "
                         "(bench/README.md)")
    ap.add_argument("--balances", default=";".join(BALANCES),
                    help="routing: HAProxy balance algorithms, ';'-separated")
    compare.add_machine_args(ap, nice_note="; under setsid, the session's autogroup too")
    ap.add_argument("--smoke", action="store_true",
                    help="routing with 2 bridges and a few clients; asserts counts, no timing")
    return compare.machine_args(ap.parse_args(argv))


def raise_nofile(n):
    """HAProxy holds two descriptors per client (client and bridge side) and
    takes its maxconn from RLIMIT_NOFILE: raise the hard limit too when we
    may (root), else stay at the hard limit."""
    hard = bl.raise_nofile()
    if hard < n:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
            hard = n
        except (ValueError, OSError):
            pass
    return hard


def ticks(pids):
    return {k: bl.proc_ticks(p) for k, p in pids.items()}


def cpu_s(t0, t1):
    return {k: (t1[k] - t0[k]) / bl.CLK_TCK for k in t0}


def wait_quiet(pids, limit_s=30, below=0.1):
    """Waits until pids together use less than `below` of a core over
    0.5 s (a backlog worked off); returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        a = sum(bl.proc_ticks(p) for p in pids)
        time.sleep(0.5)
        if (sum(bl.proc_ticks(p) for p in pids) - a) / bl.CLK_TCK / 0.5 < below:
            break
    return time.monotonic() - t0


def noise(args):
    """Waits up to --quiet-wait for others to use < 0.3 of a core (2 s
    samples); the load average and what others used."""
    busy = compare.machine_busy(args.quiet_wait)
    return {"load1": bl.load1(), "busy_cores": busy}


def renice(nice):
    """Every process of the benchmark at `nice`; run under setsid, the
    session's autogroup too (with sched_autogroup, nice ranks tasks only
    inside their session's group: compare.py --nice explains it).  Another
    session's autogroup is left alone."""
    os.setpriority(os.PRIO_PROCESS, 0, nice)
    if os.getsid(0) != os.getpid():
        print("fleet_bench: not a session leader (run it under setsid): the autogroup's nice "
              "is left as it is", flush=True)
        return
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    except OSError:
        pass


# ---- 1. NATS ---------------------------------------------------------------------------------

def peer_file_msgs(system):
    """Messages ingest_peer's mosquitto_sub printed (two bytes each, the
    retained probe included)."""
    path = os.path.join(system.workdir, "peer-ingest.out")
    return os.path.getsize(path) // 2 if os.path.exists(path) else 0


def nats_section(args, binary):
    out = {}
    with tempfile.TemporaryDirectory(prefix="sbfleet-nats-") as d:
        out["noise_before"] = noise(args)
        system = bl.NatsFleet(d, 1, args.server_cpus)
        run = compare.Run(args, system, binary)
        print(f"== NATS: 3 nodes on CPU {sorted(args.server_cpus)}, load average "
              f"{out['noise_before']['load1']:.2f}", flush=True)
        system.start()
        try:
            nodes = {f"n{i + 1}": p for i, p in enumerate(system.node_pids())}
            # mosquitto_sub first, on node 3 and on node 1, then the bridge
            # on node 3 (Run.ingest without its peer, so that the nodes'
            # CPU is per subscriber kind; it moves node 3, the subscribers'
            # node, to the load core as it moves compare's broker).  Each
            # after NATS is done with the previous one's backlog.
            for node in (2, 0):
                system.peer_node = node
                out[f"quiet_before_node{node + 1}"] = wait_quiet(nodes.values())
                t0 = ticks(nodes)
                p = run.ingest_peer()
                c = cpu_s(t0, ticks(nodes))
                n = peer_file_msgs(system) - 1
                p["nats_cpu_s"] = c
                p["messages"] = n
                p["nats_us_per_msg"] = sum(c.values()) * 1e6 / n if n > 0 else None
                out[f"mosquitto_sub_node{node + 1}"] = p
                print(f"    NATS -> mosquitto_sub on node {node + 1}: {p['ingest_per_s']:,.0f} "
                      f"msgs/s, NATS {compare.report.fmt(p['nats_us_per_msg'], 2)} us/msg "
                      f"(3 nodes, the whole call)", flush=True)
            system.peer_node = 2
            out["quiet_before_bridge"] = wait_quiet(nodes.values())
            run.ingest_peer = lambda: None
            t0, m0 = ticks(nodes), system.messages_in()
            w = run.ingest()
            c = cpu_s(t0, ticks(nodes))
            m = system.messages_in() - m0
            w["nats_cpu_s"] = c
            w["nats_us_per_msg"] = sum(c.values()) * 1e6 / m if m else None
            out["bridge_node3"] = w
            print(f"    NATS -> bridge: {w['ingest_per_s']:,.0f} msgs/s, NATS "
                  f"{compare.report.fmt(w['nats_us_per_msg'], 2)} us/msg (3 nodes, the whole "
                  f"call), per node {', '.join(f'{k} {v:.1f} s' for k, v in c.items())}",
                  flush=True)
            srv, load = sorted(args.server_cpus), sorted(args.load_cpus)
            out["placement"] = {
                "mosquitto_sub runs": {"n1": srv, "n2": srv, "n3": srv, "mosquitto_sub": srv,
                                       "publisher": load},
                "bridge run": {"n1": srv, "n2": srv, "n3": load, "bridge": srv,
                               "publisher": load, "client": load}}
        finally:
            system.stop()
    with tempfile.TemporaryDirectory(prefix="sbfleet-mosq-") as d:
        system = bl.Statusbus(d, 1, args.server_cpus)
        run = compare.Run(args, system, binary)
        print("== one Mosquitto (compare.py's ingest)", flush=True)
        system.start()
        try:
            w = run.ingest()
        finally:
            system.stop()
        w["broker_us_per_msg"] = (w["broker_cpu_share"] * 1e6 / w["ingest_per_s"]
                                  if w["ingest_per_s"] else None)
        p = w["peer"]
        p["broker_us_per_msg"] = (p["broker_cpu_share"] * 1e6 / p["ingest_per_s"]
                                  if p["ingest_per_s"] else None)
        print(f"    Mosquitto: {compare.report.fmt(w['broker_us_per_msg'], 2)} us/msg into the "
              f"bridge, {compare.report.fmt(p['broker_us_per_msg'], 2)} us/msg into "
              f"mosquitto_sub", flush=True)
        out["mosquitto"] = w
    return out


# ---- 2 and 3. HAProxy in front: idle connections, connect rate, CPU per delivery ----------

def lb_run(args, binary, via_lb):
    cls = bl.StatusbusLb if via_lb else bl.Statusbus
    r = {"via": "haproxy" if via_lb else "direct", "noise_before": noise(args)}
    with tempfile.TemporaryDirectory(prefix=f"sbfleet-{r['via']}-") as d:
        system = cls(d, args.conns, args.server_cpus)
        run = compare.Run(args, system, binary)
        print(f"== {args.conns} statusbus.v1 clients {r['via']}, load average "
              f"{r['noise_before']['load1']:.2f}, others using "
              f"{r['noise_before']['busy_cores']:.2f} cores", flush=True)
        system.start()
        subs = None
        try:
            pids = {"bridge": system.bridge.pid, "mosquitto": system.mosq.pid}
            if via_lb:
                pids["haproxy"] = system.lb.pid
            time.sleep(1)
            rss0 = {k: bl.proc_rss_kb(p) for k, p in pids.items()}
            t0 = time.monotonic()
            subs = bl.Subscribers(binary, system.sub_args() + [
                "--conns", str(args.conns), "--channels", str(args.channels)], d, args.load_cpus)
            subs.wait_subscribed(args.conns, 120)
            r["connect_s"] = time.monotonic() - t0
            r["connects_per_s"] = args.conns / r["connect_s"]
            system.bridge.wait_subscribed()
            time.sleep(2)
            rss1 = {k: bl.proc_rss_kb(p) for k, p in pids.items()}
            r["rss_kb"] = rss1
            r["rss_per_conn_kb"] = {k: (rss1[k] - rss0[k]) / args.conns for k in pids}
            c0 = ticks(pids)
            w = run.window(args.idle_window, subs)
            w["cpu_share"] = {k: v / w["seconds"] for k, v in cpu_s(c0, ticks(pids)).items()}
            r["idle"] = w
            print(f"    {args.conns} subscribed in {r['connect_s']:.1f} s "
                  f"({r['connects_per_s']:,.0f}/s); RSS per connection "
                  + ", ".join(f"{k} {v:.2f} KiB" for k, v in r["rss_per_conn_kb"].items())
                  + "; idle " + ", ".join(f"{k} {v:.2%}" for k, v in w["cpu_share"].items())
                  + f" of a core{'  NOISY' if w['noisy'] else ''}", flush=True)
            r["rates"] = []
            for x in args.rates:
                c0, e0 = ticks(pids), subs.stat()["events"]
                w = run.at_rate(subs, x, args.warmup, args.window)
                c, e = cpu_s(c0, ticks(pids)), subs.stat()["events"] - e0
                # per process over the whole step (warm-up, window, drain)
                w["us_per_delivery_of"] = {k: v * 1e6 / e if e else None for k, v in c.items()}
                r["rates"].append(w)
                print("      whole step, us per delivery: " + ", ".join(
                    f"{k} {compare.report.fmt(v, 3)}" for k, v in w["us_per_delivery_of"].items()),
                    flush=True)
        finally:
            if subs:
                subs.quit()
            system.stop()
    return r


def haproxy_section(args, binary):
    hard = raise_nofile(2 * args.conns + 2000)
    a = copy.copy(args)
    if 2 * a.conns + 1500 > hard:
        # both runs with the same N, in whole thousands
        a.conns = (hard - 1500) // 2 // 1000 * 1000
        print(f"fleet_bench: HAProxy holds two descriptors per client and RLIMIT_NOFILE's hard "
              f"limit is {hard} (raising it needs CAP_SYS_RESOURCE): {a.conns} connections "
              f"instead of {args.conns}", flush=True)
    return {"conns": a.conns, "direct": lb_run(a, binary, False),
            "haproxy": lb_run(a, binary, True)}


# ---- 4. team routing vs random ----------------------------------------------------------------

def bridge_sum(bridges, name):
    return [b.metrics().get(name, 0) for b in bridges]


# (topic, what reaches the bridges): app statuses are subscribed by every
# bridge for its life (owner tracking, docs/protocol.md §3.4), a team's
# other topics only by the bridges with a subscriber of the team.  The
# reachability topic's payload (sb-loadgen's app status) fails its schema:
# the bridges count it in, reject it, deliver nothing.
ROUTE_TOPICS = [("app-status", "team/t{c}/app/{u}/status"),
                ("team-only", "team/t{c}/server/{u}/reachability")]


def publish_round(args, binary, system, topic, want_in, want_events, subs):
    """Publishes --messages statuses per team on topic; waits until the
    bridges counted want_in(published) messages in and the clients
    want_events(published) events."""
    bridges = system.bridges
    in0, e0 = bridge_sum(bridges, "statusbus_messages_in_total"), subs.stat()["events"]
    pub = bl.Publisher(binary, system.pub_args() + [
        "--rate", "2000", "--count", str(args.teams * args.messages),
        "--channels", str(args.teams), "--topic", topic], args.load_cpus)
    n = pub.result()["acked"]
    for what, got, want in (
            ("messages in", lambda: sum(bridge_sum(bridges, "statusbus_messages_in_total"))
             - sum(in0), want_in(n)),
            ("events", lambda: subs.stat()["events"] - e0, want_events(n))):
        try:
            bl.sb.wait_for(lambda: got() >= want, 30, interval=0.1, what=f"{want} {what}")
        except TimeoutError as e:
            print(f"    {e}", flush=True)
    time.sleep(0.5)  # nothing more may arrive
    in1 = bridge_sum(bridges, "statusbus_messages_in_total")
    r = {"published": n, "messages_in_per_bridge": [b - a for a, b in zip(in0, in1)],
         "expected_in": want_in(n), "events": subs.stat()["events"] - e0,
         "expected_events": want_events(n)}
    r["messages_in"] = sum(r["messages_in_per_bridge"])
    r["bridges_per_status"] = r["messages_in"] / n if n else None
    return r


def routing_run(args, binary, balance):
    t, k, b = args.teams, args.per_team, args.bridges
    r = {"balance": balance, "bridges": b, "teams": t, "per_team": k, "noise_before": noise(args)}
    with tempfile.TemporaryDirectory(prefix="sbfleet-route-") as d:
        system = bl.StatusbusLb(d, t * k, args.server_cpus)
        system.n_bridges, system.balance = b, balance
        print(f"== routing: {b} bridges, {t} teams x {k} clients, balance {balance}", flush=True)
        system.start()
        subs = None
        try:
            bridges = system.bridges
            subs0 = bridge_sum(bridges, "statusbus_mqtt_subscriptions")
            ch0 = bridge_sum(bridges, "statusbus_channels")
            subs = bl.Subscribers(binary, system.sub_args() + [
                "--conns", str(t * k), "--channels", str(t), "--path", "/v1/ws?team=t{c}",
                "--channel", "team.t{c}", "--concurrency", str(args.concurrency)],
                d, args.load_cpus)
            subs.wait_subscribed(t * k, 60)
            for x in bridges:
                x.wait_subscribed(30)
            r["clients_per_bridge"] = bridge_sum(bridges, "statusbus_connections")
            r["teams_per_bridge"] = [c1 - c0 for c0, c1 in
                                     zip(ch0, bridge_sum(bridges, "statusbus_channels"))]
            r["mqtt_subscriptions"] = (sum(bridge_sum(bridges, "statusbus_mqtt_subscriptions"))
                                       - sum(subs0))
            reached = sum(r["teams_per_bridge"])  # (team, bridge) pairs
            r["app-status"] = publish_round(args, binary, system, ROUTE_TOPICS[0][1],
                                            lambda n: n * b, lambda n: n * k, subs)
            r["team-only"] = publish_round(args, binary, system, ROUTE_TOPICS[1][1],
                                           lambda n: n * reached // t, lambda n: 0, subs)
            s = subs.stat()
        finally:
            if subs:
                subs.quit()
            system.stop()
    r["errors"], r["failed"] = s["errors"], s["failed"]
    r["bridges_per_team"] = reached / t
    r["share_of_bridges"] = r["bridges_per_team"] / b
    # k clients placed independently at random: a team reaches a bridge
    # unless all k went elsewhere
    r["random_expected_share"] = 1 - (1 - 1 / b) ** k
    a, o = r["app-status"], r["team-only"]
    print(f"    clients per bridge {r['clients_per_bridge']}, teams per bridge "
          f"{r['teams_per_bridge']}: {r['bridges_per_team']:.2f} bridges per team, "
          f"{r['share_of_bridges']:.0%} of {b} (independent random placement: "
          f"{r['random_expected_share']:.0%}); {r['mqtt_subscriptions']:.0f} MQTT subscriptions",
          flush=True)
    print(f"    team-only topic: {o['published']} statuses -> {o['messages_in']:.0f} messages into "
          f"the bridges {o['messages_in_per_bridge']} = {o['bridges_per_status']:.2f} per status",
          flush=True)
    print(f"    app status (owner-tracked): {a['published']} statuses -> {a['messages_in']:.0f} "
          f"messages in = {a['bridges_per_status']:.2f} per status; "
          f"{a['events']}/{a['expected_events']} events delivered", flush=True)
    return r


def routing_section(args, binary):
    return [routing_run(args, binary, x) for x in args.balances.split(";") if x]


# ---- smoke --------------------------------------------------------------------------------------

def smoke(args, binary):
    """Counts only: with url_param team every status reaches exactly one
    bridge; with random(1) at least one and at most every bridge; every
    client gets every status of its team either way."""
    a = copy.copy(args)
    # 13 teams on 2 bridges: a round robin over the clients in index order
    # (client i of team i mod 13) would put each team on both, not on one
    a.bridges, a.teams, a.per_team, a.messages = 2, 13, 3, 4
    failures = []
    for balance in ("url_param team", "random(1)"):
        r = routing_run(a, binary, balance)
        checks = [(r["errors"] == 0 and r["failed"] == 0, "no client error"),
                  (r["app-status"]["events"] == r["app-status"]["expected_events"],
                   "every client got every status of its team"),
                  (r["app-status"]["messages_in"] == r["app-status"]["expected_in"],
                   "every bridge got every app status (owner tracking)"),
                  (r["team-only"]["messages_in"] == r["team-only"]["expected_in"],
                   "team-only statuses reached exactly the bridges with the team's clients")]
        if balance == "url_param team":
            checks.append((r["teams_per_bridge"] and sum(r["teams_per_bridge"]) == a.teams,
                           "each team on exactly one bridge"))
        else:
            checks.append((a.teams <= sum(r["teams_per_bridge"]) <= a.bridges * a.teams,
                           "each team on one to every bridge"))
        for ok, what in checks:
            print(f"  {'ok  ' if ok else 'FAIL'} {balance}: {what}", flush=True)
            if not ok:
                failures.append(f"{balance}: {what}")
    return 1 if failures else 0


def summary(out):
    """The figures the model uses, one line each."""
    f = compare.report.fmt
    lines = []
    n = out.get("nats")
    if n:
        for key, what in (("mosquitto_sub_node3", "NATS 3 nodes, pub node 1 -> mosquitto_sub node 3"),
                          ("mosquitto_sub_node1", "NATS 3 nodes, pub node 1 -> mosquitto_sub node 1"),
                          ("bridge_node3", "NATS 3 nodes, pub node 1 -> bridge on node 3")):
            x = n[key]
            lines.append(f"{what}: {x['ingest_per_s']:,.0f} QoS 1 msgs/s, NATS "
                         f"{f(x['nats_us_per_msg'], 1)} us CPU/msg (sum of the nodes)")
        m = n["mosquitto"]
        lines.append(f"one Mosquitto -> bridge: {m['ingest_per_s']:,.0f} msgs/s, broker "
                     f"{f(m['broker_us_per_msg'], 2)} us/msg, bridge {f(m['bridge_us_per_msg'], 2)} us/msg")
        lines.append(f"one Mosquitto -> mosquitto_sub: {m['peer']['ingest_per_s']:,.0f} msgs/s, "
                     f"broker {f(m['peer']['broker_us_per_msg'], 2)} us/msg")
    h = out.get("haproxy")
    if h:
        for via in ("direct", "haproxy"):
            x = h[via]
            lines.append(f"{via}: {x['connects_per_s']:,.0f} connects+sub/s; RSS KiB/conn "
                         + ", ".join(f"{k} {v:.2f}" for k, v in x["rss_per_conn_kb"].items())
                         + "; idle % of a core " + ", ".join(
                             f"{k} {v:.2%}" for k, v in x["idle"]["cpu_share"].items())
                         + ("  NOISY" if x["idle"]["noisy"] else ""))
            for w in x["rates"]:
                lines.append(f"  {via} {w['offered']:>7}/s: {w['delivered_share']:.0%} delivered, "
                             "us/delivery " + ", ".join(
                                 f"{k} {f(v, 2)}" for k, v in w["us_per_delivery_of"].items())
                             + f", p99 {w['p99_ms']:.1f} ms" + ("  NOISY" if w["noisy"] else "")
                             + ("  CLIENT-BOUND" if w["client_bound"] else ""))
    for r in out.get("routing", []):
        lines.append(f"routing {r['balance']:>15}: {r['bridges']} bridges, {r['teams']} teams x "
                     f"{r['per_team']}: team-only topic reaches {r['team-only']['bridges_per_status']:.2f} "
                     f"bridges/status ({r['share_of_bridges']:.0%}), app status "
                     f"{r['app-status']['bridges_per_status']:.2f}; {r['mqtt_subscriptions']:.0f} "
                     "MQTT subscriptions")
    print("\nsummary\n" + "\n".join(lines), flush=True)


def main(argv):
    args = parse_args(argv)
    args.build_dir = os.path.abspath(args.build_dir)
    binary = bl.loadgen_path(args.build_dir)
    os.environ["SB_BINARY_DIR"] = args.build_dir
    bl.sb.BINARY_DIR = args.build_dir
    bl.raise_nofile()
    if args.nice:
        renice(args.nice)
    for tool in ("haproxy", "nats-server", "mosquitto_sub"):
        if not bl.shutil.which(tool):
            print(f"fleet_bench: {tool} is not installed (scripts/setup.sh)")
            return 77
    if args.smoke:
        return smoke(args, binary)
    info = compare.machine()
    print(f"fleet_bench: {info}", flush=True)
    out = {"machine": info, "args": {k: (sorted(v) if isinstance(v, set) else v)
                                     for k, v in vars(args).items()}}
    sections = {"nats": nats_section, "haproxy": haproxy_section, "routing": routing_section}
    for name in args.sections.split(","):
        t0 = time.monotonic()
        out[name] = sections[name](args, binary)
        print(f"   ({name}: {time.monotonic() - t0:.0f} s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    summary(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
