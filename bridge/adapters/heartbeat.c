/* SPDX-License-Identifier: MIT
 *
 * heartbeat.c - WebSocket pings, idle drops and the Pusher activity check
 * on the bridge's timer wheel (see heartbeat.h).
 */
#include "heartbeat.h"

#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "session_pusher.h"

/* Keep-alive deadlines are seconds; a quarter of one is precise enough. */
#define TICK_MS 250
#define SLOTS 1024   /* one turn: 256 s, over the default timeouts */

struct sb_heartbeat {
	lws_sorted_usec_list_t sul;   /* first: the one lws timer */
	struct lws_context *ctx;
	struct sb_wheel wheel;
	int64_t ping_ms, idle_ms;
};

enum sb_err sb_heartbeat_create(struct sb_heartbeat **out, const struct sb_config *cfg)
{
	struct sb_heartbeat *hb = calloc(1, sizeof(*hb));

	*out = NULL;
	if (!hb || sb_wheel_init(&hb->wheel, SLOTS, TICK_MS, sb_now_ms()) != SB_OK) {
		free(hb);
		return SB_ERR_NOMEM;
	}
	hb->ping_ms = (int64_t)cfg->heartbeat_s * 1000;
	hb->idle_ms = (int64_t)cfg->idle_timeout_s * 1000;
	*out = hb;
	return SB_OK;
}

void sb_heartbeat_destroy(struct sb_heartbeat *hb)
{
	if (!hb)
		return;
	/* the context, and the timer list the sul was on, are gone */
	sb_wheel_clear(&hb->wheel);
	free(hb);
}

static void tick_cb(lws_sorted_usec_list_t *sul);

/* The lws timer runs only while some connection is watched. */
static void schedule(struct sb_heartbeat *hb)
{
	if (hb->ctx && hb->wheel.n && lws_dll2_is_detached(&hb->sul.list))
		lws_sul_schedule(hb->ctx, 0, &hb->sul, tick_cb, TICK_MS * LWS_US_PER_MS);
}

void sb_heartbeat_start(struct sb_heartbeat *hb, struct lws_context *ctx)
{
	hb->ctx = ctx;
	schedule(hb);
}

/* The connection's next deadline: its ping, its drop, its Pusher check.
 * Receiving does not move the entry (heartbeat_rx() only stamps the
 * time), so it must never be armed later than the next ping could be due:
 * while a ping is out, it looks again heartbeat_s after that ping, when a
 * pong that came meanwhile makes the next one due. */
static int64_t next_deadline(const struct sb_heartbeat *hb, const struct sb_heartbeat_conn *c,
			     int64_t now)
{
	int64_t t;

	if (!c->ping_ms) {
		t = c->last_rx_ms + hb->ping_ms;
	} else {
		t = c->last_rx_ms + hb->idle_ms;
		if (c->ping_ms + hb->ping_ms > now && c->ping_ms + hb->ping_ms < t)
			t = c->ping_ms + hb->ping_ms;
	}
	return t < c->pusher_at ? t : c->pusher_at;
}

static void fire(struct sb_wheel_entry *e, void *arg)
{
	struct sb_heartbeat *hb = arg;
	struct sb_heartbeat_conn *c = (struct sb_heartbeat_conn *)e;
	int64_t now = sb_now_ms();

	if (now - c->last_rx_ms >= hb->idle_ms) {
		/* as lws's validity timeout did: no close handshake with a peer
		 * that stopped answering; closed from lws's loop, not from
		 * inside the wheel's advance */
		sb_log(SB_LOG_INFO, "ws: nothing received for %lld s, dropping the connection",
		       (long long)(now - c->last_rx_ms) / 1000);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	if (!c->ping_ms && now - c->last_rx_ms >= hb->ping_ms) {
		c->ping_ms = now;
		c->ping_due = 1;
		lws_callback_on_writable(c->wsi);
	}
	if (c->pusher && now >= c->pusher_at) {
		int64_t in = sb_pusher_timer(c->pusher, now);

		c->pusher_at = in >= 0 ? now + in : INT64_MAX;
	}
	sb_wheel_arm(&hb->wheel, e, next_deadline(hb, c, now));
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	struct sb_heartbeat *hb = (struct sb_heartbeat *)sul;

	sb_wheel_advance(&hb->wheel, sb_now_ms(), fire, hb);
	schedule(hb);
}

void sb_heartbeat_open(struct sb_heartbeat *hb, struct sb_heartbeat_conn *c, struct lws *wsi,
		       struct sb_pusher_conn *pusher)
{
	int64_t now = sb_now_ms();

	c->wsi = wsi;
	c->pusher = pusher;
	c->last_rx_ms = now;
	c->ping_ms = 0;
	c->ping_due = 0;
	c->pusher_at = INT64_MAX;
	if (pusher) {
		int64_t in = sb_pusher_timer(pusher, now);

		if (in >= 0)
			c->pusher_at = now + in;
	}
	sb_wheel_arm(&hb->wheel, &c->e, next_deadline(hb, c, now));
	schedule(hb);
}

void sb_heartbeat_rx(struct sb_heartbeat_conn *c)
{
	c->last_rx_ms = sb_now_ms();
	c->ping_ms = 0;
}

void sb_heartbeat_close(struct sb_heartbeat *hb, struct sb_heartbeat_conn *c)
{
	sb_wheel_cancel(&hb->wheel, &c->e);
	c->wsi = NULL;
	c->pusher = NULL;
}

int sb_heartbeat_writeable(struct sb_heartbeat_conn *c)
{
	static const char payload[] = "statusbus";
	unsigned char buf[LWS_PRE + sizeof(payload)];

	if (!c->ping_due)
		return 0;
	c->ping_due = 0;
	/* a payload: lws 4.1 reports no empty pong; text: with
	 * VALIDATE_UTF8 it checks a pong that follows a text frame as text */
	memcpy(buf + LWS_PRE, payload, sizeof(payload) - 1);
	if (lws_write(c->wsi, buf + LWS_PRE, sizeof(payload) - 1, LWS_WRITE_PING) < 0)
		return -1;
	return 1;
}
