#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""statusbus side by side with nginx + nchan and Mosquitto's WebSocket
listener (issue 13), with one C load client (sb-loadgen) for all of them.

For each system, one after another and each twice (--reps), on free
loopback ports in a temporary directory: start the server pinned to the
server core(s), connect N subscribers on C channels from the load core,
then measure

  idle       RSS per idle connection (RSS delta / N) and the server's CPU
             over --idle-window seconds with N idle connections (each gets
             one heartbeat every 25 s on every system);
  rates      at each fixed offered rate (deliveries/s = publishes/s x N/C):
             server CPU us per delivery (utime+stime from /proc over the
             window / deliveries counted by the clients), share delivered,
             p50/p99 publish->receive;
  ramp       rising rates until delivery falls behind: the highest rate
             delivered in full (>= 95 %) and the highest with p99 <= 50 ms;
  ingest     statusbus only: validated QoS 1 MQTT messages/s into the bridge
             (its /metrics messages_in) with the broker moved to the load
             core, published as fast as the broker takes them.

Every window also records the 1-minute load average, the run-queue wait
of the server and of the subscribers and the CPU that other processes took
on each core (/proc/stat minus ours); a window is flagged noisy (*) when
others took over 10 % of a core on which ours waited (server over 5 % of
the window, subscribers over 10 %), or the publisher sent over 1 % of its
messages late, and client-bound (+) when the load used over 90 % of its
core(s).  Then the figures per system
and their ratios to nchan's in the same repetition.

  bench/compare.py [--build-dir build] [--systems nchan,mosquitto-ws,statusbus]
                   [--conns 10000] [--channels 10] [--rates 20000,100000,200000] ...
  bench/compare.py --smoke      # a few connections, asserts counts (CTest)

Needs a built tree (sb-loadgen, statusbus-bridge), mosquitto, and for nchan
nginx + libnginx-mod-nchan (scripts/bench-setup.sh).  bench/README.md
explains each figure.
"""

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import report  # noqa: E402

def ints(s):
    return [int(float(x)) for x in s.split(",") if x]


def add_machine_args(ap, nice_note=""):
    """Where and how the processes run, and where the figures go (also
    bench/fleet_bench.py's)."""
    ap.add_argument("--server-cpus", default="0")
    ap.add_argument("--load-cpus", default="1")
    ap.add_argument("--quiet-wait", type=float, default=0,
                    help="before each run, wait up to this many seconds for a 2 s "
                         "sample in which the machine is busy < 30 %% of one core")
    ap.add_argument("--nice", type=int, default=0,
                    help="niceness of every process the benchmark starts (negative needs "
                         "root): on a shared machine, -20 makes other jobs yield to the "
                         "servers and the load alike" + nice_note)
    ap.add_argument("--json", help="write every measurement to this file")


def machine_args(a):
    """--server-cpus/--load-cpus as sets: CPUs this process may not use (a
    one-core CI runner) fall back to all."""
    allowed = os.sched_getaffinity(0)
    a.server_cpus = set(ints(a.server_cpus)) & allowed or allowed
    a.load_cpus = set(ints(a.load_cpus)) & allowed or allowed
    return a


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.environ.get("SB_BINARY_DIR",
                                                          os.path.join(bl.SOURCE_DIR, "build")))
    ap.add_argument("--systems", default="nchan,mosquitto-ws,statusbus",
                    help="comma list of " + ",".join(bl.SYSTEMS))
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--channels", type=int, default=10)
    ap.add_argument("--rates", type=ints, default=[20000, 100000, 200000],
                    help="fixed offered deliveries/s")
    ap.add_argument("--window", type=float, default=8, help="seconds per fixed-rate window")
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--ramp", type=ints, default=[50000, 300000, 500000, 800000],
                    help="ramp steps in deliveries/s (empty: no ramp)")
    ap.add_argument("--ramp-window", type=float, default=4)
    ap.add_argument("--idle-window", type=float, default=30,
                    help="seconds; over 25 so that every connection's heartbeat falls in it")
    ap.add_argument("--ingest-window", type=float, default=6)
    ap.add_argument("--idle-only", action="store_true",
                    help="measure the idle figures only (no rates, no ingest)")
    ap.add_argument("--heartbeat-s", type=int, default=None,
                    help="statusbus: limits.heartbeat_s (default: the shipped 25 s)")
    ap.add_argument("--reps", type=int, default=2)
    add_machine_args(ap)
    ap.add_argument("--report", metavar="JSON",
                    help="print the tables of an earlier run's --json file and exit")
    ap.add_argument("--smoke", action="store_true",
                    help="a few connections per system; asserts counts, no timing")
    return machine_args(ap.parse_args(argv))


# ---- one measurement window -------------------------------------------------------------

def snapshot(server_pids, load_pids, subs):
    return {
        "t": time.monotonic(),
        "srv": {p: bl.proc_ticks(p) for p in server_pids},
        "srv_sched": {p: bl.proc_sched(p) for p in server_pids},
        "load": {p: bl.proc_ticks(p) for p in load_pids},
        "load_sched": {p: bl.proc_sched(p) for p in load_pids},
        "cpus": bl.cpu_busy_ticks(),
        "load1": bl.load1(),
        "stat": subs.stat() if subs else None,
    }


def delta(a, b, cpus_srv, cpus_load, bridge_pid=None):
    dt = b["t"] - a["t"]

    def ticks(key, pids=None):
        return sum(b[key][p] - a[key].get(p, 0) for p in b[key] if pids is None or p in pids)

    def wait(key, pids=None):
        return sum(b[key][p][1] - a[key].get(p, (0, 0))[1] for p in b[key]
                   if pids is None or p in pids) / 1e9 / dt

    def busy(cpus):
        return sum(b["cpus"][c] - a["cpus"][c] for c in cpus)

    srv = ticks("srv") / bl.CLK_TCK
    w = {
        "seconds": dt,
        "server_cpu_s": srv,
        "bridge_cpu_s": ticks("srv", {bridge_pid}) / bl.CLK_TCK if bridge_pid else None,
        "server_wait": wait("srv_sched"),
        "load_wait": wait("load_sched"),
        # the subscribers come first among the load's processes
        "client_wait": wait("load_sched", set(list(b["load_sched"])[:1])),
        "foreign_server": max(0.0, (busy(cpus_srv) - ticks("srv")) / bl.CLK_TCK / dt / len(cpus_srv)),
        "foreign_load": max(0.0, (busy(cpus_load) - ticks("load")) / bl.CLK_TCK / dt / len(cpus_load)),
        "load_cpu": ticks("load") / bl.CLK_TCK / dt,
        "load1": a["load1"],
    }
    if cpus_srv & cpus_load:  # shared cores: what others took of all of them
        both = cpus_srv | cpus_load
        w["foreign_server"] = w["foreign_load"] = max(
            0.0, (busy(both) - ticks("srv") - ticks("load")) / bl.CLK_TCK / dt / len(both))
    if a["stat"] and b["stat"]:
        sa, sb_ = a["stat"], b["stat"]
        for k in ("events", "frames", "pings", "errors", "gaps", "closed"):
            w[k] = sb_[k] - sa[k]
        for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms"):
            w[k] = sb_[k]
    # others' CPU hurts when it makes ours wait.  Waits alone are no proof:
    # the bridge's threads and its broker, or the subscribers and the
    # publisher, also wait for each other on their shared core; others'
    # CPU alone neither, when it only fills the time ours sleeps.  Both:
    w["noisy"] = ((w["server_wait"] > 0.05 and w["foreign_server"] > 0.10)
                  or (w["client_wait"] > 0.10 and w["foreign_load"] > 0.10))
    # one load core receives about as fast as one server core sends: past
    # ~90 % of its cores the client, not the server, sets the rate
    w["client_bound"] = not (cpus_srv & cpus_load) and w["load_cpu"] >= 0.9 * len(cpus_load)
    return w


class Run:
    """One system, started, with its subscribers connected."""

    def __init__(self, args, system, binary):
        self.a, self.sys, self.bin = args, system, binary

    def window(self, seconds, subs, extra_load=(), server_pids=None):
        load = [subs.pid] + list(extra_load) if subs else list(extra_load)
        srv = server_pids or self.sys.servers()
        a = snapshot(srv, load, subs)
        time.sleep(seconds)
        b = snapshot(srv, load, subs)
        return delta(a, b, self.a.server_cpus, self.a.load_cpus, self.sys.bridge_pid())

    def publisher(self, rate, duration, extra=()):
        args = self.sys.pub_args() + ["--rate", f"{rate:g}", "--duration", f"{duration:g}",
                                      "--channels", str(self.a.channels)] + list(extra)
        return bl.Publisher(self.bin, args, self.a.load_cpus)

    def at_rate(self, subs, deliveries, warmup, window):
        per_channel = self.a.conns / self.a.channels
        rate = deliveries / per_channel
        pub = self.publisher(rate, warmup + window + 0.5)
        # deliveries in each second of the warm-up: a server that stalls
        # when load begins shows it here (the window starts after it)
        start, ramp_up, last = time.monotonic(), [], subs.stat()["events"]
        while time.monotonic() - start < warmup - 0.05:
            time.sleep(min(1.0, warmup - (time.monotonic() - start)))
            now = subs.stat()["events"]
            ramp_up.append(now - last)
            last = now
        writes = getattr(self.sys, "writes", lambda: None)
        wr0 = writes()
        w = self.window(window, subs, [pub.pid])
        wr1 = writes()
        # the server's memory at the end of the window: a backlog shows here
        w["rss_kb"] = sum(bl.proc_rss_kb(p) for p in self.sys.servers())
        w["writes_per_delivery"] = ((wr1 - wr0) / w["events"]
                                    if wr0 is not None and wr1 is not None and w["events"]
                                    else None)
        w["warmup_events"] = ramp_up
        w["publisher"] = pub.result()
        w["noisy"] = w["noisy"] or w["publisher"]["late"] > 0.01 * w["publisher"]["sent"]
        w["drained"] = subs.wait_quiet(15)
        w["offered"] = deliveries
        w["delivered_per_s"] = w["events"] / w["seconds"]
        w["delivered_share"] = w["delivered_per_s"] / deliveries
        w["us_per_delivery"] = w["server_cpu_s"] * 1e6 / w["events"] if w["events"] else None
        if w["bridge_cpu_s"] is not None and w["events"]:
            w["bridge_us_per_delivery"] = w["bridge_cpu_s"] * 1e6 / w["events"]
        print(f"    {deliveries:>7} /s offered: {w['delivered_share']:6.1%} delivered, "
              f"{report.fmt(w['us_per_delivery'], 3)} us/delivery, "
              f"p50/p99 {w['p50_ms']:.1f}/{w['p99_ms']:.1f} ms, RSS {w['rss_kb'] / 1024:.0f} MB, "
              f"server {w['server_cpu_s'] / w['seconds']:.0%} (waited {w['server_wait']:.0%}), "
              f"load {w['load_cpu']:.0%} (waited {w['client_wait']:.0%})"
              f"{'  NOISY' if w['noisy'] else ''}{'  CLIENT-BOUND' if w['client_bound'] else ''}",
              flush=True)
        return w

    def ingest(self):
        """Validated messages/s into the bridge: one subscriber keeps the
        channel followed, the broker moves to the load cores so that it does
        not share the bridge's."""
        bl.pin_pid(self.sys.mosq.pid, self.a.load_cpus)
        subs = bl.Subscribers(self.bin, self.sys.sub_args() + [
            "--conns", "1", "--channels", "1", "--channel", "team.ing{c}"],
            self.sys.workdir, self.a.load_cpus)
        try:
            subs.wait_subscribed(1, 30)
            self.sys.bridge.wait_subscribed()
            pub = self.publisher(0, self.a.warmup + self.a.ingest_window + 0.5, [
                "--channels", "1", "--topic", "team/ing{c}/app/{u}/status", "--inflight", "2000"])
            time.sleep(self.a.warmup)
            broker = self.sys.mosq.pid
            m0, b0 = self.sys.messages_in(), bl.proc_ticks(broker)
            w = self.window(self.a.ingest_window, subs, [pub.pid, broker],
                            server_pids=[self.sys.bridge_pid()])
            m1, b1 = self.sys.messages_in(), bl.proc_ticks(broker)
            w["publisher"] = pub.result()
            w["messages_in"] = m1 - m0
            w["ingest_per_s"] = (m1 - m0) / w["seconds"]
            w["bridge_us_per_msg"] = w["bridge_cpu_s"] * 1e6 / (m1 - m0) if m1 > m0 else None
            w["broker_cpu_share"] = (b1 - b0) / bl.CLK_TCK / w["seconds"]
            # the load core holds the broker too here; a bridge at its
            # limit is the bottleneck whatever the load core does
            w["client_bound"] = w["client_bound"] and w["bridge_cpu_s"] < 0.9 * w["seconds"]
        finally:
            subs.quit()
        print(f"    ingest: {w['ingest_per_s']:,.0f} msgs/s into the bridge, "
              f"{report.fmt(w['bridge_us_per_msg'], 2)} us of bridge CPU each, bridge at "
              f"{w['bridge_cpu_s'] / w['seconds']:.0%} of a core, broker at "
              f"{w['broker_cpu_share']:.0%}", flush=True)
        w["peer"] = self.ingest_peer()
        return w

    def ingest_peer(self):
        """The same ingest with Mosquitto's own C client (mosquitto_sub,
        libmosquitto, QoS 1, printing one byte and a newline per message)
        in the bridge's place on the server core(s), on a topic the bridge
        does not follow: what the broker and the publisher's core allow
        this machine at all."""
        out_path = os.path.join(self.sys.workdir, "peer-ingest.out")
        with open(out_path, "wb") as out, bl.pinned(self.a.server_cpus):
            peer = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.sys.mosq.port),
                                     "-q", "1", "-t", "team/peer0/#", "-F", "x",
                                     "-i", f"sb-bench-peer-{os.getpid()}"],
                                    stdout=out, stderr=subprocess.PIPE)
        try:
            # subscribed once a retained probe comes back
            probe = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.sys.mosq.port),
                                    "-q", "1", "-r", "-t", "team/peer0/probe", "-m", "probe"],
                                   capture_output=True, timeout=10)
            assert probe.returncode == 0, probe.stderr
            bl.sb.wait_for(lambda: os.path.getsize(out_path) >= 2, 10, what="mosquitto_sub subscribed")
            pub = self.publisher(0, self.a.warmup + self.a.ingest_window + 0.5, [
                "--channels", "1", "--topic", "team/peer{c}/app/{u}/status", "--inflight", "2000"])
            time.sleep(self.a.warmup)
            broker = self.sys.mosq.pid
            n0, p0, b0 = os.path.getsize(out_path) // 2, bl.proc_ticks(peer.pid), bl.proc_ticks(broker)
            t0 = time.monotonic()
            time.sleep(self.a.ingest_window)
            n1, p1, b1 = os.path.getsize(out_path) // 2, bl.proc_ticks(peer.pid), bl.proc_ticks(broker)
            dt = time.monotonic() - t0
            pub.result()
        finally:
            # mosquitto_sub disconnects from its signal handler, which can
            # deadlock on its own lock under load: SIGKILL after a grace
            peer.terminate()
            try:
                peer.wait(5)
            except subprocess.TimeoutExpired:
                peer.kill()
                peer.wait(10)
        p = {"ingest_per_s": (n1 - n0) / dt,
             "us_per_msg": (p1 - p0) / bl.CLK_TCK * 1e6 / (n1 - n0) if n1 > n0 else None,
             "cpu_share": (p1 - p0) / bl.CLK_TCK / dt,
             "broker_cpu_share": (b1 - b0) / bl.CLK_TCK / dt}
        print(f"    ingest peer: {p['ingest_per_s']:,.0f} msgs/s into mosquitto_sub, "
              f"{report.fmt(p['us_per_msg'], 2)} us of its CPU each, at {p['cpu_share']:.0%} "
              f"of a core, broker at {p['broker_cpu_share']:.0%}", flush=True)
        return p


def machine_busy(limit_s):
    """CPU the machine uses (in cores) over 2 s, sampled until it is below
    0.3 or limit_s has passed; our own processes are all stopped here."""
    deadline = time.monotonic() + limit_s
    while True:
        a = bl.cpu_busy_ticks()
        time.sleep(2)
        b = bl.cpu_busy_ticks()
        busy = sum(b[c] - a[c] for c in b) / bl.CLK_TCK / 2
        if busy < 0.3 or time.monotonic() >= deadline:
            return busy


def run_system(args, cls, binary, rep):
    r = {"system": cls.name, "label": cls.label, "rep": rep}
    with tempfile.TemporaryDirectory(prefix=f"sbbench-{cls.name}-") as d:
        system = cls(d, args.conns, args.server_cpus)
        system.heartbeat_s = args.heartbeat_s
        run = Run(args, system, binary)
        r["busy_before"] = machine_busy(args.quiet_wait)
        r["load1_before"] = bl.load1()
        print(f"== {cls.name} (rep {rep}), load average {r['load1_before']:.2f}, others "
              f"using {r['busy_before']:.2f} cores", flush=True)
        system.start()
        subs = None
        try:
            time.sleep(1)
            rss0 = sum(bl.proc_rss_kb(p) for p in system.servers())
            t0 = time.monotonic()
            subs = bl.Subscribers(binary, system.sub_args() + [
                "--conns", str(args.conns), "--channels", str(args.channels)], d, args.load_cpus)
            subs.wait_subscribed(args.conns, 120)
            r["connect_s"] = time.monotonic() - t0
            if system.bridge_pid():
                system.bridge.wait_subscribed()
            time.sleep(2)
            rss1 = sum(bl.proc_rss_kb(p) for p in system.servers())
            r["rss_kb_base"], r["rss_kb_idle"] = rss0, rss1
            r["rss_per_conn_kb"] = (rss1 - rss0) / args.conns
            w = run.window(args.idle_window, subs)
            w["cpu_share"] = w["server_cpu_s"] / w["seconds"]
            r["idle"] = w
            print(f"    {args.conns} subscribed in {r['connect_s']:.1f} s; "
                  f"{r['rss_per_conn_kb']:.2f} KiB RSS per connection; idle "
                  f"{w['cpu_share']:.2%} of a core ({w['pings']} heartbeats)"
                  f"{'  NOISY' if w['noisy'] else ''}", flush=True)
            # rising rates, the fixed ones with their longer window among the
            # ramp's steps; past a step delivered below 90 % only the fixed
            # rates are still measured, and a window that starts while the
            # previous step's backlog still drains counts as noisy
            r["rates"], r["ramp"] = [], []
            behind, backlog = False, False
            steps = [] if args.idle_only else sorted(set(args.rates) | set(args.ramp))
            for x in steps:
                fixed = x in args.rates
                if behind and not fixed:
                    continue
                w = run.at_rate(subs, x, args.warmup if fixed else 1.5,
                                args.window if fixed else args.ramp_window)
                w["after_backlog"] = backlog
                w["noisy"] = w["noisy"] or backlog
                backlog = not w["drained"]
                behind = behind or w["delivered_share"] < 0.9
                (r["rates"] if fixed else r["ramp"]).append(w)
            subs.quit()
            subs = None
            if cls.ingest and not args.idle_only:
                r["ingest"] = run.ingest()
        finally:
            if subs:
                subs.quit()
            system.stop()
    return r


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024 // 1024

    def ver(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"
    return {"cpu": model, "cores": os.cpu_count(), "mem_gib": mem, "kernel": platform.release(),
            "nginx": ver(["nginx", "-v"]), "mosquitto": ver(["mosquitto", "-h"]),
            "commit": ver(["git", "-C", bl.SOURCE_DIR, "describe", "--always", "--dirty"])}


def own_session(argv):
    """Runs this script again as the leader of a new session: with
    sched_autogroup the session is a scheduling group of its own, so the
    group's nice (--nice) covers the benchmark and nothing else."""
    env = dict(os.environ, SB_BENCH_SESSION="1")
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__)] + argv, env=env,
                         start_new_session=True)
    try:
        return p.wait()
    except KeyboardInterrupt:
        p.send_signal(signal.SIGINT)
        return p.wait()


def main(argv):
    args = parse_args(argv)
    if args.report:
        with open(args.report) as f:
            saved = json.load(f)
        for k, v in saved["args"].items():
            setattr(args, k, set(v) if k.endswith("_cpus") else v)
        names = list(dict.fromkeys(r["system"] for r in saved["results"]))
        print(report.markdown(args, saved["machine"], saved["results"], names))
        return 0
    if args.nice and os.environ.get("SB_BENCH_SESSION") != "1":
        return own_session(argv)
    # absolute: the servers run in their own temporary directories
    args.build_dir = os.path.abspath(args.build_dir)
    binary = bl.loadgen_path(args.build_dir)
    os.environ["SB_BINARY_DIR"] = args.build_dir
    bl.sb.BINARY_DIR = args.build_dir
    hard = bl.raise_nofile()
    if args.nice:
        # inherited by every child: servers, their threads, the load.  With
        # sched_autogroup on, nice only ranks tasks inside one session's
        # group and groups share the CPU equally; the group's own nice is
        # what ranks it against the other sessions' jobs.
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(args.nice))
        except OSError:
            pass
    if args.smoke:
        import smoke
        return smoke.run(args, binary)
    if args.conns + 200 > hard:
        sys.exit(f"compare: {args.conns} connections need RLIMIT_NOFILE > {args.conns + 200} "
                 f"(hard limit {hard}); raise it (ulimit -Hn) or lower --conns")
    names = [n for n in args.systems.split(",") if n]
    if "nchan" in names and not bl.Nchan.available():
        sys.exit("compare: nginx or its nchan module is missing: run scripts/bench-setup.sh")
    info = machine()
    print(f"compare: {info}", flush=True)
    results = []
    for rep in range(1, args.reps + 1):
        for n in names:
            results.append(run_system(args, bl.SYSTEMS[n], binary, rep))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "args": {k: (sorted(v) if isinstance(v, set) else v)
                                                 for k, v in vars(args).items()},
                       "results": results}, f, indent=1)
    print()
    print(report.markdown(args, info, results, names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
