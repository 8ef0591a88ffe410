/* SPDX-License-Identifier: MIT */
/*
 * lg_pub.h - the publisher side of sb-loadgen: ~110-byte app-status
 * payloads carrying their publish time, at a fixed offered rate, over MQTT
 * (raw 3.1.1 on TCP) or HTTP POST (nchan's publisher endpoint).
 */
#ifndef LG_PUB_H
#define LG_PUB_H

enum lg_target { LG_TARGET_MQTT, LG_TARGET_HTTP };

struct lg_pub_opts {
	const char *host;
	int port;
	enum lg_target target;
	const char *topic;  /* MQTT topic or HTTP path; "{c}" channel index, "{u}" topic uuid */
	int channels;       /* message i goes to channel i % channels */
	int topics;         /* distinct "{u}" per channel, used in turn */
	double rate;        /* messages per second; 0 = as fast as the window allows */
	long count;         /* stop after this many (0 = no limit) */
	double duration_s;  /* stop after this long (0 = no limit) */
	int qos;            /* MQTT: 0 or 1 */
	int inflight;       /* unacknowledged QoS 1 publishes / HTTP requests at most */
	int size;           /* payload bytes (at least 100) */
};

/* Publishes until count, duration or SIGINT/SIGTERM, waits up to 5 s for
 * the outstanding acknowledgements, prints one JSON summary line on stdout.
 * Returns 0, or 1 when it could not connect. */
int lg_pub_run(const struct lg_pub_opts *o);

#endif
