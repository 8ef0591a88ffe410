#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# hub_seeds.py - writes the seed scripts of fuzz_hub into
# tests/fuzz/corpus/hub/seed-*.bin.  A script is the byte stream
# fuzz_hub.c's step() reads; the helpers below spell its operations, so this
# file is also where the format is written down for people (step() is the
# authority: keep the two in step when an operation changes).  The seeds
# play the unit tests' scenarios: statuses and ACL by team, deploy logs with
# resume and gaps, Pusher private and cache channels, refresh narrowing a
# token, the link going down with and without the session, slow clients,
# HTTP queries.  Run it after changing step(); libFuzzer grows the corpus
# from these.
import os
import sys

# indexes into the alphabets of fuzz_hub.c
TOPICS = ["team/42/app/a1/status", "team/43/app/a2/status", "team/42/db/b1/status",
          "team/42/deploy/D1/status", "team/43/deploy/D2/status",
          "team/42/deploy/D3/status", "team/43/deploy/D3/status",
          "deploy/D1/logs", "deploy/D2/logs", "deploy/D3/logs",
          "team/42/app/a1/stats", "team/43/app/a2/stats", "user/u1/notify", "user/u2/notify",
          "public/p1/status", "team/42/incident/i1", "team/43/maintenance/m1",
          "team/42/server/s1/reachability", "unknown/topic/x"]
CHANNELS = ["team.42", "team.43", "team.42.stats", "team.43.stats", "deploy.D1",
            "deploy.D1.logs", "deploy.D2", "deploy.D2.logs", "deploy.D3", "deploy.D3.logs",
            "user.u1", "user.u2", "public.p1", "public.p2", "nosuch.x", "team.4+2"]
NONE = 8   # token(): 8 = no token; 0..7 index hm_tokens


class Script:
    def __init__(self, config=0):
        self.b = bytearray([config])

    def op(self, code, *args):
        self.b += bytes([code, *args])
        return self

    def fuzz(self, data):
        self.b += bytes([len(data)]) + data
        return self

    # MQTT: payload selector sel (% 8): logs 0/1 next seq, 2 jump, 3 back, 4 same;
    # others 0-3 valid example `arg`, 4 invalid example, 5 empty (delete), 6-7 raw
    def mqtt(self, topic, sel=0, arg=0, retain_flag=False, raw=None):
        sel = sel % 8 + (0 if retain_flag else 8)
        self.op(0, TOPICS.index(topic), sel, arg)
        if raw is not None:
            self.fuzz(raw)
        return self

    def connect(self, pusher=False, how=1):
        return self.op(3, 1 if pusher else 0, how)

    def chan(self, name):
        if name in CHANNELS:
            return bytes([CHANNELS.index(name)])
        return bytes([224, len(name)]) + name.encode()

    def hello(self, k, tok=NONE):
        return self.op(4, k, 0, tok)

    def sub(self, k, channel, since=None):
        s = 0 if since is None else 1 if since == 0 else (since * 4 + 3) & 0xff
        self.b += bytes([4, k, 1, s]) + self.chan(channel)
        return self

    def unsub(self, k, channel):
        self.b += bytes([4, k, 3]) + self.chan(channel)
        return self

    def refresh(self, k, tok):
        return self.op(4, k, 4, tok)

    def v1_raw(self, k, text):
        self.op(4, k, 5)
        return self.fuzz(text.encode())

    # Pusher: form 0 "", 1 private-, 2 private-cache-, 3 cache-; auth 0 signed,
    # 1 bad signature, 2 none
    def p_sub(self, k, form, channel, auth=0):
        self.b += bytes([7, k, 0, form + 4 * auth]) + self.chan(channel)
        return self

    def p_unsub(self, k, form, channel):
        self.b += bytes([7, k, 2, form]) + self.chan(channel)
        return self

    def p_event(self, k, form, channel):
        self.b += bytes([7, k, 3, form]) + self.chan(channel)
        return self

    def read(self, k, n=15, choke=False):
        return self.op(9, k + 4 * (n - 1) + (192 if choke else 0))

    def advance(self, step):   # 0:1ms 1:10 2:50 3:100 4:250 5:1s 6:5s 7:12s 8:31s 9:65s
        return self.op(11, step)

    def broker(self, what):    # 0 pump, 2 grant only, 3 hold, 4 down, 5 up, 6 up lost, 7 QoS 1 again
        return self.op(12, what)

    def gone(self, k):
        return self.op(13, k)

    def query(self, tok, channel, history=False, since=0, wait=False):
        b = (0 if wait else 1) + (2 if history else 0)
        self.b += bytes([14, b, since, tok]) + self.chan(channel)
        return self

    def flush(self):
        return self.op(15, 0)


def seeds():
    s = {}
    s["team-status"] = (Script().connect().hello(0, 0).sub(0, "team.42").sub(0, "team.43")
                        .mqtt("team/42/app/a1/status").mqtt("team/43/app/a2/status")
                        .mqtt("team/42/app/a1/status", 5).read(0).unsub(0, "team.42").read(0))
    s["deploy-logs"] = (Script().mqtt("team/42/deploy/D1/status", 3, 4).connect().hello(0, 0)
                        .mqtt("deploy/D1/logs").mqtt("deploy/D1/logs").mqtt("deploy/D1/logs")
                        .sub(0, "deploy.D1.logs", since=1).mqtt("deploy/D1/logs", 2, 7)
                        .advance(3).read(0).mqtt("deploy/D1/logs", 3, 2).advance(3).read(0))
    s["resume"] = (Script().mqtt("team/42/deploy/D1/status", 3, 4).connect().hello(0, 2)
                   .sub(0, "deploy.D1.logs").mqtt("deploy/D1/logs").mqtt("deploy/D1/logs")
                   .advance(3).read(0).unsub(0, "deploy.D1.logs").mqtt("deploy/D1/logs")
                   .sub(0, "deploy.D1.logs", since=2).advance(3).read(0).advance(9).read(0))
    s["pusher"] = (Script().connect(pusher=True).p_sub(0, 1, "team.42").p_sub(0, 3, "public.p1")
                   .p_sub(0, 0, "team.43", auth=2).mqtt("public/p1/status")
                   .mqtt("team/42/app/a1/status").read(0).p_unsub(0, 1, "team.42")
                   .mqtt("team/42/app/a1/status", 1).read(0).advance(7).advance(8).read(0))
    s["pusher-relay"] = (Script().connect(pusher=True).connect(pusher=True)
                         .p_sub(0, 1, "team.42").p_sub(1, 1, "team.42")
                         .p_event(0, 1, "team.42").read(0).read(1).p_sub(1, 2, "deploy.D2.logs")
                         .mqtt("team/43/deploy/D2/status", 2, 4).mqtt("deploy/D2/logs")
                         .advance(4).read(1))
    s["refresh"] = (Script().connect().hello(0, 2).sub(0, "team.43").sub(0, "team.42")
                    .mqtt("team/43/app/a2/status").refresh(0, 0).mqtt("team/43/app/a2/status", 1)
                    .read(0).refresh(0, 1).read(0).refresh(0, 6).read(0))
    s["contested"] = (Script().mqtt("team/42/deploy/D3/status", 2, 4)
                      .mqtt("team/43/deploy/D3/status", 1, 4).connect().connect().hello(0, 0)
                      .hello(1, 1).sub(0, "deploy.D3").sub(1, "deploy.D3").mqtt("deploy/D3/logs")
                      .mqtt("team/42/deploy/D3/status", 5).mqtt("team/43/deploy/D3/status", 0, 1)
                      .read(0).read(1).sub(1, "deploy.D3.logs").read(1))
    s["link"] = (Script(1).connect().hello(0, 0).sub(0, "team.42").broker(3).sub(0, "deploy.D1")
                 .mqtt("team/42/deploy/D1/status", 3, 4).broker(3).broker(4)
                 .mqtt("team/42/app/a1/status").broker(6).broker(0).read(0).advance(5).read(0))
    s["slow"] = (Script().mqtt("team/42/deploy/D1/status", 3, 4).connect().hello(0, 3)
                 .sub(0, "deploy.D1.logs").read(0, 2, choke=True)
                 .mqtt("deploy/D1/logs").mqtt("deploy/D1/logs").mqtt("deploy/D1/logs")
                 .advance(3).mqtt("deploy/D1/logs").advance(3).mqtt("deploy/D1/logs", 2, 30)
                 .advance(3).read(0, 1, choke=True).mqtt("team/42/deploy/D1/status", 1, 2)
                 .advance(3).read(0))
    s["query"] = (Script().mqtt("public/p1/status").query(NONE, "public.p1")
                  .query(0, "team.42", wait=True).broker(0).query(0, "team.42")
                  .mqtt("team/42/deploy/D1/status", 3, 4).mqtt("deploy/D1/logs")
                  .query(2, "deploy.D1.logs", history=True, since=0).query(6, "team.42")
                  .query(1, "team.42"))
    s["expiry"] = (Script().connect().hello(0, 4).sub(0, "team.42").advance(9).advance(9)
                   .read(0).connect().hello(1, 5).read(1).connect().v1_raw(2, '{"op":"ping"}')
                   .read(2))
    s["user"] = (Script().connect().hello(0, 0).sub(0, "user.u1").sub(0, "user.u2")
                 .sub(0, "team.42.stats").mqtt("user/u1/notify").mqtt("team/42/app/a1/stats")
                 .mqtt("team/42/app/a1/stats", 1).advance(4).read(0).v1_raw(0, "{nope").read(0))
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "hub")
    os.makedirs(out, exist_ok=True)
    for name, script in seeds().items():
        with open(os.path.join(out, "seed-" + name + ".bin"), "wb") as f:
            f.write(bytes(script.b))


if __name__ == "__main__":
    main()
