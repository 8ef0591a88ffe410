// SPDX-License-Identifier: MIT
/*
 * sb_loadgen.c - the command line of sb-loadgen, the benchmark's load
 * client (bench/README.md): `sub` runs thousands of WebSocket subscribers
 * (statusbus.v1, Pusher, MQTT over WebSocket, nchan), `pub` publishes
 * timestamped payloads at a fixed rate (MQTT or HTTP POST).  The same
 * binary drives every system the comparison measures, so the client's own
 * cost is the same for all of them.
 */
#define _GNU_SOURCE
#include "lg_pub.h"
#include "lg_sub.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#ifndef SB_LOADGEN_VERSION
#define SB_LOADGEN_VERSION "0"
#endif

static void usage(FILE *f)
{
	fputs("usage: sb-loadgen sub [options]   WebSocket subscribers\n"
	      "       sb-loadgen pub [options]   timestamped publisher\n"
	      "common:  --host 127.0.0.1 --port N --channels 10\n"
	      "sub:     --proto v1|pusher|mqtt|nchan --conns 1000 --path P --channel C\n"
	      "         --token JWT --concurrency 256 --keepalive 30 --duration S\n"
	      "         --interval S (print counters) --control (read stat/quit on stdin)\n"
	      "         defaults per proto: v1 /v1/ws team.b{c}; pusher /app/app-key team.b{c};\n"
	      "         mqtt /mqtt team/b{c}/app/+/status; nchan /sub/b{c}\n"
	      "pub:     --target mqtt|http --topic T --rate R (msgs/s, 0 = max) --count N\n"
	      "         --duration S --qos 0|1 --inflight 1000 --topics 100 --size 110\n"
	      "         defaults: mqtt team/b{c}/app/{u}/status; http /pub/b{c}\n"
	      "Each report is one JSON line on stdout.\n",
	      f);
}

static double num(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v = strtod(s, &end);
	if (*end || v < lo || v > hi) {
		fprintf(stderr, "sb-loadgen: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

/* one WebSocket client per descriptor: take what the hard limit allows */
static void raise_nofile(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("sb-loadgen %s\n", SB_LOADGEN_VERSION);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "sub") && strcmp(argv[1], "pub"))) {
		usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	int is_sub = strcmp(argv[1], "sub") == 0;
	struct lg_sub_opts so = { .host = "127.0.0.1", .proto = LG_PROTO_V1, .conns = 1000,
				  .channels = 10, .concurrency = 256, .keepalive_s = 30 };
	struct lg_pub_opts po = { .host = "127.0.0.1", .target = LG_TARGET_MQTT, .channels = 10,
				  .topics = 100, .rate = 100, .qos = 1, .inflight = 1000,
				  .size = 110 };
	enum { O_HOST = 1, O_PORT, O_CHANNELS, O_PROTO, O_CONNS, O_PATH, O_CHANNEL, O_TOKEN,
	       O_CONC, O_KEEP, O_DUR, O_INTV, O_CTL, O_TARGET, O_TOPIC, O_RATE, O_COUNT, O_QOS,
	       O_INFL, O_TOPICS, O_SIZE, O_HELP };
	static const struct option opts[] = {
		{ "host", 1, 0, O_HOST }, { "port", 1, 0, O_PORT }, { "channels", 1, 0, O_CHANNELS },
		{ "proto", 1, 0, O_PROTO }, { "conns", 1, 0, O_CONNS }, { "path", 1, 0, O_PATH },
		{ "channel", 1, 0, O_CHANNEL }, { "token", 1, 0, O_TOKEN },
		{ "concurrency", 1, 0, O_CONC }, { "keepalive", 1, 0, O_KEEP },
		{ "duration", 1, 0, O_DUR }, { "interval", 1, 0, O_INTV }, { "control", 0, 0, O_CTL },
		{ "target", 1, 0, O_TARGET }, { "topic", 1, 0, O_TOPIC }, { "rate", 1, 0, O_RATE },
		{ "count", 1, 0, O_COUNT }, { "qos", 1, 0, O_QOS }, { "inflight", 1, 0, O_INFL },
		{ "topics", 1, 0, O_TOPICS }, { "size", 1, 0, O_SIZE }, { "help", 0, 0, O_HELP },
		{ 0, 0, 0, 0 }
	};
	const char *path = NULL, *channel = NULL, *topic = NULL;
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_HOST: so.host = po.host = optarg; break;
		case O_PORT: so.port = po.port = (int)num(optarg, 1, 65535, "port"); break;
		case O_CHANNELS: so.channels = po.channels = (int)num(optarg, 1, 100000, "channels"); break;
		case O_PROTO:
			if (!strcmp(optarg, "v1")) so.proto = LG_PROTO_V1;
			else if (!strcmp(optarg, "pusher")) so.proto = LG_PROTO_PUSHER;
			else if (!strcmp(optarg, "mqtt")) so.proto = LG_PROTO_MQTT;
			else if (!strcmp(optarg, "nchan")) so.proto = LG_PROTO_NCHAN;
			else { fprintf(stderr, "sb-loadgen: bad proto: %s\n", optarg); return 2; }
			break;
		case O_CONNS: so.conns = (int)num(optarg, 1, 1000000, "conns"); break;
		case O_PATH: path = optarg; break;
		case O_CHANNEL: channel = optarg; break;
		case O_TOKEN: so.token = optarg; break;
		case O_CONC: so.concurrency = (int)num(optarg, 1, 100000, "concurrency"); break;
		case O_KEEP: so.keepalive_s = (int)num(optarg, 10, 65535, "keepalive"); break;
		case O_DUR: so.duration_s = po.duration_s = num(optarg, 0, 1e7, "duration"); break;
		case O_INTV: so.interval_s = num(optarg, 0, 1e7, "interval"); break;
		case O_CTL: so.control = 1; break;
		case O_TARGET:
			if (!strcmp(optarg, "mqtt")) po.target = LG_TARGET_MQTT;
			else if (!strcmp(optarg, "http")) po.target = LG_TARGET_HTTP;
			else { fprintf(stderr, "sb-loadgen: bad target: %s\n", optarg); return 2; }
			break;
		case O_TOPIC: topic = optarg; break;
		case O_RATE: po.rate = num(optarg, 0, 1e9, "rate"); break;
		case O_COUNT: po.count = (long)num(optarg, 0, 1e15, "count"); break;
		case O_QOS: po.qos = (int)num(optarg, 0, 1, "qos"); break;
		case O_INFL: po.inflight = (int)num(optarg, 1, 65535, "inflight"); break;
		case O_TOPICS: po.topics = (int)num(optarg, 1, 100000, "topics"); break;
		case O_SIZE: po.size = (int)num(optarg, 103, 500, "size"); break;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || !so.port) {
		fprintf(stderr, "sb-loadgen: %s\n", so.port ? "unexpected argument" : "--port is required");
		return 2;
	}
	if (!is_sub) {
		po.topic = topic ? topic : po.target == LG_TARGET_MQTT ? "team/b{c}/app/{u}/status"
								       : "/pub/b{c}";
		return lg_pub_run(&po);
	}
	static const char *const def_path[] = { "/v1/ws",
		"/app/app-key?protocol=7&client=sb-loadgen&version=1.0", "/mqtt", "/sub/b{c}" };
	static const char *const def_channel[] = { "team.b{c}", "team.b{c}",
		"team/b{c}/app/+/status", "" };
	so.path = path ? path : def_path[so.proto];
	so.channel = channel ? channel : def_channel[so.proto];
	raise_nofile();
	return lg_sub_run(&so);
}
