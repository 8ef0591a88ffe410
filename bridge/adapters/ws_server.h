/* SPDX-License-Identifier: MIT
 *
 * ws_server.h - the libwebsockets adapter: one vhost on listen.host:port
 * serving the statusbus.v1 WebSocket protocol on /v1/ws, the HTTP
 * endpoints of docs/protocol.md §7 (http_api.c) and static files.  All of
 * it runs on the lws service thread; the only call from another thread is
 * lws_cancel_service() (the MQTT inbox's wake and the signal handler).
 */
#ifndef SB_WS_SERVER_H
#define SB_WS_SERVER_H

#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "http_api.h"
#include "hub.h"
#include "mqtt_link.h"

struct lws_context;
struct lws;
struct sb_conn_guard;
struct sb_heartbeat;
struct sb_evloop;

struct sb_server {
	const struct sb_config *cfg;
	struct sb_hub *hub;
	const struct sb_session *v1;     /* the sessions of /v1/ws and /app/<key> */
	struct sb_pusher *pusher;        /* NULL unless the config has "pusher" */
	struct sb_mqtt_link *link;
	struct sb_inbox *inbox;     /* MQTT events, drained on EVENT_WAIT_CANCELLED */
	struct lws_context *ctx;
	int64_t started_ms;
	struct sb_http_api http;    /* what http_api.c reads, set at create */
	volatile sig_atomic_t stop;
	/* SIGHUP: set by the signal handler, which wakes the service thread;
	 * reload_cb(reload_arg) runs there (main.c wires reload.c) */
	volatile sig_atomic_t reload;
	void (*reload_cb)(void *arg);
	void *reload_arg;
	int stopping;
	void *timer;        /* lws_sorted_usec_list_t for the hub */
	void *housekeeping; /* periodic: MQTT retry, shutdown */
	void *pending;      /* lws_dll2_owner: clients to write after this pass */
	struct sb_conn_guard *guard;   /* accept limits, request deadline, wire checks */
	struct sb_ws_compress *compress;   /* permessage-deflate; NULL when off */
	struct sb_heartbeat *heartbeat;  /* keep-alive of every WebSocket (heartbeat.c) */
	struct sb_evloop *evloop;        /* epoll (libev) or poll (evloop.c) */
};

/* Creates the lws context and listening socket (bound to listen.host
 * only).  On failure `err` says why. */
enum sb_err sb_server_create(struct sb_server *srv, char *err, size_t errlen);
/* Runs until srv->stop, then drains (drain.h): /readyz 503, upgrades
 * refused, clients closed with 1001 over limits.drain_s.  Returns 0. */
int sb_server_run(struct sb_server *srv);
void sb_server_destroy(struct sb_server *srv);
/* One pass of the event loop, after writing the clients the previous
 * pass queued frames for.  Returns < 0 when lws has stopped. */
int sb_server_service(struct sb_server *srv);

/* Fills the socket side of the hub's ops (wake, timer); ctx = srv. */
void sb_server_hub_ops(struct sb_server *srv, struct sb_hub_ops *ops);
/* Wake for the MQTT inbox (any thread). */
void sb_server_wakeup(void *srv);

#endif
