/* SPDX-License-Identifier: MIT
 *
 * inbox.h - the one thread boundary: a bounded, mutex-protected FIFO of
 * MQTT events that any thread pushes (Paho calls back on its own thread)
 * and the service thread drains, dispatching each event through a const
 * ops table.  It knows neither Paho nor the hub: the MQTT adapter pushes,
 * the composition root decides what each event means.
 *
 * Bounds.  Messages are bounded by count (limits.inbound_queue_msgs) and by
 * bytes (limits.inbound_queue_bytes, topic + payload).  A message that does
 * not fit is refused (SB_INBOX_FULL) and not copied; the MQTT adapter then
 * returns 0 to Paho, which keeps the message and offers it again: back
 * pressure, counted, not a loss.  A message larger than the whole byte
 * bound is taken when no message is queued, so it can never be refused
 * forever (Paho offers its held messages strictly in order: one refused
 * for good would hold back every later one).  Connection, SUBACK and
 * publish events are not bounded: they are few, and losing one would
 * leave the hub believing a wrong link state.
 *
 * Losses.  The only way a message offered here is lost is running out of
 * memory while copying it (SB_INBOX_DROPPED): it is counted in
 * drop_inbound_overflow and reported once to the next drain through
 * ops->dropped.  A lost connection/SUBACK/publish event (also out of
 * memory only) is counted in lost_events.
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
	/* n messages were lost (out of memory) since the last report; called
	 * once per drain, before the events, when n > 0 */
	void (*dropped)(void *ctx, uint64_t n);
};

enum sb_inbox_verdict {
	SB_INBOX_ACCEPTED = 0,  /* queued */
	SB_INBOX_FULL,          /* refused by a bound: offer it again later */
	SB_INBOX_DROPPED,       /* taken but lost (out of memory), counted */
};

struct sb_inbox_stats {
	uint64_t messages;              /* messages accepted */
	uint64_t events;                /* other events accepted */
	/* message pushes refused by a bound.  Paho keeps the message and
	 * offers it again, so one message may be counted several times. */
	uint64_t backpressure;
	/* messages lost here: out of memory copying them */
	uint64_t drop_inbound_overflow;
	uint64_t lost_events;           /* other events lost: out of memory */
	uint64_t wakes;                 /* wake calls made */
	size_t queued_msgs, queued_bytes;   /* now (with copies under way) */
	size_t max_msgs, max_bytes;
};

/* max_msgs >= 1; max_bytes = 0 means no byte bound.  wake may be NULL.
 * Caller frees with sb_inbox_destroy(). */
enum sb_err sb_inbox_create(struct sb_inbox **out, size_t max_msgs, size_t max_bytes,
			    sb_inbox_wake_fn wake, void *wake_ctx);
/* Frees every pending event (messages unreferenced, strings freed) without
 * dispatching it.  No other thread may push any more.  Accepts NULL. */
void sb_inbox_destroy(struct sb_inbox *inbox);
/* Any thread.  Once it returns, the previous wake is never called again
 * (main clears it before destroying what the wake points at). */
void sb_inbox_set_wake(struct sb_inbox *inbox, sb_inbox_wake_fn wake, void *wake_ctx);

/* ---- any thread ---- */
/* Copies topic[0..topic_len) and payload[0..payload_len) into a new
 * sb_msg only when it fits; the caller keeps its buffers in every case. */
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
