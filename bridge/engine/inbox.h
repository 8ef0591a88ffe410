/* SPDX-License-Identifier: MIT
 *
 * inbox.h - the one thread boundary: a bounded, mutex-protected FIFO of
 * MQTT events that any thread pushes (Paho calls back on its own thread)
 * and the service thread drains, dispatching each event through a const
 * ops table.  It knows neither Paho nor the hub: the MQTT adapter pushes,
 * the composition root decides what each event means.
 *
 * Bounds.  Messages are bounded by count (limits.inbound_queue_msgs) and by
 * bytes (limits.inbound_queue_bytes, topic + payload).  A push that finds
 * no room waits for the drain to make some, up to a budget
 * (limits.inbound_wait_ms, set with sb_inbox_set_wait), on a condition
 * variable the drain signals; that wait is counted as back pressure.  If
 * the inbox is still full when the budget runs out, the message is dropped
 * (SB_INBOX_OVERFLOW), never copied.  A message larger than the whole byte
 * bound is taken when no message is queued.  Connection, SUBACK and
 * publish events are not bounded: they are few, and losing one would
 * leave the hub believing a wrong link state.
 *
 * Waiting slows the producer down (real back pressure: Paho reads the
 * socket no faster than the drain, so TCP and then the broker hold the
 * rest), and the budget keeps it from stalling on a service thread that
 * is stuck.  Why not refuse and let Paho offer the message again: see
 * on_message in mqtt_link.c.
 *
 * Losses.  A message offered here is lost when the inbox is still full at
 * the end of the wait (SB_INBOX_OVERFLOW) or when copying it runs out of
 * memory (SB_INBOX_NOMEM).  Both are counted in drop_inbound_overflow and
 * reported once to the next drain through ops->dropped, which counts them
 * in statusbus_dropped_total{reason="inbound_overflow"} (docs/protocol.md
 * §6).  A lost connection/SUBACK/publish event (out of memory only) is
 * counted in lost_events.
 *
 * Wakes.  The wake callback runs when the inbox goes from idle (nothing
 * queued, no drop unreported) to busy, not once per event: one wake per
 * batch.  A drain that stops at `max` with events left wakes again, so a
 * partly drained inbox is never forgotten.
 */
#ifndef SB_INBOX_H
#define SB_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "sb_common.h"

struct sb_inbox;

/* Called from the pushing thread (or the draining one, see above) with the
 * inbox's lock held: it must not call into the inbox, and must be cheap and
 * safe from any thread (lws_cancel_service is).  May be NULL. */
typedef void (*sb_inbox_wake_fn)(void *ctx);

/* The service thread's handlers; any may be NULL (the event is then just
 * freed).  Every pointer argument is borrowed for the call only: a handler
 * that keeps the message takes its own reference (sb_msg_ref), one that
 * keeps a string copies it.  The inbox frees them after the call. */
struct sb_inbox_ops {
	void (*message)(void *ctx, struct sb_msg *m);
	/* the link is up; session_present is the broker's CONNACK flag */
	void (*connected)(void *ctx, int session_present, const char *cause);
	/* an established link went down */
	void (*lost)(void *ctx, const char *cause);
	/* a connection attempt failed (the link was not up) */
	void (*connect_failed)(void *ctx, const char *cause);
	/* the broker answered a subscription: granted_qos 0..2, or -1 when it
	 * refused (or the request failed), with cause saying why */
	void (*suback)(void *ctx, const char *filter, int granted_qos, const char *cause);
	/* a publish the service thread started did not go out */
	void (*publish_failed)(void *ctx, const char *cause);
	/* n messages were lost (inbox still full after the wait, or out of
	 * memory) since the last report; called once per drain, before the
	 * events, when n > 0 */
	void (*dropped)(void *ctx, uint64_t n);
};

enum sb_inbox_verdict {
	SB_INBOX_ACCEPTED = 0,  /* queued, perhaps after waiting for room */
	SB_INBOX_OVERFLOW,      /* still full when the wait ran out: lost, counted */
	SB_INBOX_NOMEM,         /* room, but the copy ran out of memory: lost, counted */
};

struct sb_inbox_stats {
	uint64_t messages;              /* messages accepted */
	uint64_t events;                /* other events accepted */
	/* message pushes that found no room and had to wait (each then got
	 * in, or was dropped: drop_inbound_overflow) */
	uint64_t backpressure;
	/* messages lost here: still no room at the end of the wait, or out
	 * of memory copying them */
	uint64_t drop_inbound_overflow;
	uint64_t lost_events;           /* other events lost: out of memory */
	uint64_t wakes;                 /* wake calls made */
	size_t queued_msgs, queued_bytes;   /* now (with copies under way) */
	size_t max_msgs, max_bytes;
	size_t waiting;                 /* pushes waiting for room now */
};

/* max_msgs >= 1; max_bytes = 0 means no byte bound.  wake may be NULL.
 * The wait budget starts at 0 (a full inbox drops at once): see
 * sb_inbox_set_wait.  Caller frees with sb_inbox_destroy(). */
enum sb_err sb_inbox_create(struct sb_inbox **out, size_t max_msgs, size_t max_bytes,
			    sb_inbox_wake_fn wake, void *wake_ctx);
/* Frees every pending event (messages unreferenced, strings freed) without
 * dispatching it.  No other thread may push any more.  Accepts NULL. */
void sb_inbox_destroy(struct sb_inbox *inbox);
/* Any thread.  Once it returns, the previous wake is never called again
 * (main clears it before destroying what the wake points at). */
void sb_inbox_set_wake(struct sb_inbox *inbox, sb_inbox_wake_fn wake, void *wake_ctx);

/* Any thread: how long a message push may wait for room, in ms (0 = not
 * at all).  Keep it well below the MQTT keepalive: the pushing thread is
 * Paho's, which reads nothing else meanwhile.  Pushes already waiting
 * keep the budget they started with. */
void sb_inbox_set_wait(struct sb_inbox *inbox, unsigned wait_ms);

/* ---- any thread ---- */
/* Copies topic[0..topic_len) and payload[0..payload_len) into a new
 * sb_msg once it fits, waiting up to the budget for room (never call it
 * with a budget from the draining thread: nothing would make room).  The
 * caller keeps its buffers in every case. */
enum sb_inbox_verdict sb_inbox_push_message(struct sb_inbox *inbox, const char *topic,
					    size_t topic_len, const void *payload,
					    size_t payload_len, int retained);
/* These copy their strings (NULL allowed) and return SB_OK, or
 * SB_ERR_NOMEM when the event was lost (counted in lost_events). */
enum sb_err sb_inbox_push_connected(struct sb_inbox *inbox, int session_present,
				    const char *cause);
enum sb_err sb_inbox_push_lost(struct sb_inbox *inbox, const char *cause);
enum sb_err sb_inbox_push_connect_failed(struct sb_inbox *inbox, const char *cause);
enum sb_err sb_inbox_push_suback(struct sb_inbox *inbox, const char *filter, int granted_qos,
				 const char *cause);
enum sb_err sb_inbox_push_publish_failed(struct sb_inbox *inbox, const char *cause);

/* ---- the service thread ---- */
/* Pops up to `max` events in FIFO order and hands each to `ops` (with ctx);
 * returns how many were popped.  Wakes again when events are left. */
size_t sb_inbox_drain(struct sb_inbox *inbox, const struct sb_inbox_ops *ops, void *ctx,
		      size_t max);

/* Any thread: a consistent copy of the counters and gauges. */
void sb_inbox_stats(struct sb_inbox *inbox, struct sb_inbox_stats *out);

#endif
