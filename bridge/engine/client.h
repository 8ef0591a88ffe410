/* SPDX-License-Identifier: MIT
 *
 * client.h - one connection as the engine sees it: its send queue and the
 * close verdict when the queue overflows (Redis's
 * checkClientOutputBufferLimits: a pure limit check, a deferred close by
 * flag, one log line, one counter), its subscriptions, its token's claims
 * and deadlines, and the token bucket every protocol's requests go
 * through.
 *
 * Engine-internal (see hub_internal.h for ownership).
 */
#ifndef SB_CLIENT_H
#define SB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "dict.h"
#include "frame.h"
#include "jwt.h"
#include "list.h"
#include "queue.h"

struct sb_hub;
struct sb_chan;
struct sb_session;

/* One client's subscription to one channel. */
struct sb_sub {
	struct sb_chan *chan;
	struct sb_client *client;
	size_t idx;            /* position in chan->subs */
	int64_t expect_seq;    /* resumed logs: next seq owed, 0 = none */
	int enc;               /* encoder of this subscription's frames */
	int trusted;           /* authorized by its protocol (Pusher signature) */
	/* not acknowledged yet: waits for the channel to be live (on
	 * hub->pending, FIFO = deadline order); gets no live traffic */
	int pending;
	int64_t tag;           /* the session's, for sub_ready */
	int has_since;
	int64_t since;
	long barrier;          /* a resume: acked once this barrier is back */
	int64_t deadline;
	struct sb_list_node pnode;
};

struct sb_client {
	uint64_t id;
	char session[33];
	const struct sb_session *sess;
	void *data;            /* the protocol's per-connection state */
	void *transport;
	int ready;             /* hello done (or a protocol without one) */
	int close_code;
	char *close_reason;        /* set with close_code (a close frame's 123 bytes at most) */
	struct sb_queue q;
	/* the next frame, taken from q by sb_hub_client_next_len and not
	 * written yet (sb_hub_client_next returns it first) */
	struct sb_frame *held;
	struct sb_dict *subs;  /* channel -> struct sb_sub */
	struct sb_jwt_claims *claims;
	int64_t hello_deadline;    /* monotonic ms, 0 after hello */
	int64_t token_exp;         /* wall s, 0 = none */
	double rate_tokens;        /* sb_hub_client_rate's bucket */
	int64_t rate_ms;
	int rate_started;
	struct sb_list_node node;  /* on hub->clients */
};

/* Allocates a client (not yet on the hub's list); NULL when out of memory. */
struct sb_client *sb_client__create(struct sb_hub *h, const struct sb_session *sess,
				    void *transport);
/* Frees c's own memory (its subscriptions must be gone). */
void sb_client__free(struct sb_client *c);
/* Marks c for close with code (first verdict wins) and wakes the adapter. */
void sb_client__fail(struct sb_hub *h, struct sb_client *c, int code, const char *reason);

/* Queues f (a new reference is taken; NULL f is ignored).  kind, the key
 * atoms (chan, topic) and the seq range as for sb_queue_push; `shared`: the frame is held by the
 * channel's snapshot anyway, so only the entry is charged.  A queue past
 * its hard bound closes the client 4029 (counted, logged once). */
void sb_client__enqueue(struct sb_hub *h, struct sb_client *c, enum sb_qkind kind,
			struct sb_frame *f, uint32_t chan, uint32_t topic, int64_t s0, int64_t s1,
			size_t n, int shared);

#endif
