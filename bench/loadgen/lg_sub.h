/* SPDX-License-Identifier: MIT */
/*
 * lg_sub.h - the subscriber side of sb-loadgen: thousands of WebSocket
 * connections in one epoll loop, each subscribed to one of C channels, that
 * count frames and events and record publish→receive latency.
 */
#ifndef LG_SUB_H
#define LG_SUB_H

enum lg_proto {
	LG_PROTO_V1,     /* statusbus.v1: hello, sub, event/batch frames */
	LG_PROTO_PUSHER, /* Pusher protocol 7: pusher:subscribe */
	LG_PROTO_MQTT,   /* MQTT 3.1.1 over WebSocket (subprotocol "mqtt") */
	LG_PROTO_NCHAN,  /* nchan's websocket subscriber: the path is the channel */
};

struct lg_sub_opts {
	const char *host;
	int port;
	enum lg_proto proto;
	const char *path;    /* request path; "{c}" = channel index */
	const char *channel; /* v1/Pusher channel or MQTT filter; "{c}" = channel index */
	const char *token;   /* statusbus.v1 hello token, or NULL */
	int conns;           /* connections; connection i uses channel i % channels */
	int channels;
	int concurrency;     /* connections being set up at once */
	int keepalive_s;     /* MQTT keep-alive; a PINGREQ goes 5 s before it */
	double duration_s;   /* 0: until "quit" or a signal */
	double interval_s;   /* 0: no periodic report */
	int control;         /* read "stat" / "quit" lines from stdin */
};

/* Runs until the duration ends, "quit" arrives on stdin or SIGINT/SIGTERM;
 * prints one JSON line of counters per report on stdout.  Returns the exit
 * code: 0, or 1 when it could not start. */
int lg_sub_run(const struct lg_sub_opts *o);

#endif
