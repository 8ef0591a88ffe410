/* SPDX-License-Identifier: MIT
 *
 * client.c - a connection's queue, close verdict, frames out and token
 * bucket (see client.h).
 */
#include "hub_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#define COALESCE_MAX_BYTES 65536  /* merged batch frames stay below this */

struct sb_client *sb_client__create(struct sb_hub *h, const struct sb_session *sess,
				    void *transport)
{
	struct sb_client *c = calloc(1, sizeof(*c));
	unsigned char rnd[16];

	if (!c)
		return NULL;
	if (sb_queue_init(&c->q, &h->qpool, (size_t)h->p.cfg->send_queue_soft_bytes,
			  (size_t)h->p.cfg->send_queue_hard_bytes,
			  (size_t)h->p.cfg->send_queue_frames) != SB_OK ||
	    !(c->subs = sb_dict_create(NULL))) {
		sb_queue_clear(&c->q);
		free(c);
		return NULL;
	}
	c->id = ++h->next_id;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(c->id >> (8 * (i % 8)) ^ (uint64_t)sb_hub__now(h) >> i);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(c->session + 2 * i, 3, "%02x", rnd[i]);
	c->sess = sess;
	c->transport = transport;
	c->hello_deadline = sb_hub__now(h) + (int64_t)h->p.cfg->hello_timeout_s * 1000;
	return c;
}

void sb_client__free(struct sb_client *c)
{
	sb_dict_destroy(c->subs);
	sb_queue_clear(&c->q);
	sb_frame_unref(c->held);
	sb_jwt_claims_destroy(c->claims);
	free(c->close_reason);
	free(c);
}

void sb_client__fail(struct sb_hub *h, struct sb_client *c, int code, const char *reason)
{
	size_t n;

	if (c->close_code)
		return;
	c->close_code = code;
	/* only a closing client holds one (out of memory: no reason) */
	n = reason ? strnlen(reason, 123) : 0;
	c->close_reason = malloc(n + 1);
	if (c->close_reason) {
		memcpy(c->close_reason, reason ? reason : "", n);
		c->close_reason[n] = '\0';
	}
	if (h->ops.wake)
		h->ops.wake(h->ops.ctx, c);
}

void sb_client__enqueue(struct sb_hub *h, struct sb_client *c, enum sb_qkind kind,
			struct sb_frame *f, uint32_t chan, uint32_t topic, int64_t s0, int64_t s1,
			size_t n, int shared)
{
	enum sb_err rc;
	struct sb_queue_stats before = c->q.stats;

	if (c->close_code || !f)
		return;
	/* a live delivery is measured from its message's arrival; a snapshot
	 * or history replay (same frames, queued on subscribe) is not */
	c->q.next_origin_us = h->fanning_out ? f->origin_us : 0;
	rc = shared ? sb_queue_push_shared(&c->q, kind, f, chan, topic) :
		      sb_queue_push(&c->q, kind, f, chan, topic, s0, s1, n);
	h->m.conflated_queue += c->q.stats.conflated - before.conflated;
	h->m.drop_slow_lines += c->q.stats.lines_dropped - before.lines_dropped;
	h->m.gaps += c->q.stats.gaps - before.gaps;
	if (rc == SB_ERR_LIMIT) {
		h->m.slow_closes++;
		sb_log(SB_LOG_WARN, "client %s: send queue over %zu bytes, closing 4029",
		       c->session, c->q.hard_bytes);
		/* nothing more will be written: free the memory now */
		sb_queue_clear(&c->q);
		sb_frame_unref(c->held);
		c->held = NULL;
		sb_client__fail(h, c, SB_CLOSE_SLOW, "client too slow");
		return;
	}
	if (rc == SB_ERR_NOMEM) {
		h->m.drop_nomem++;
		sb_client__fail(h, c, SB_CLOSE_SLOW, "out of memory");
		return;
	}
	if (kind != SB_Q_CTRL)
		h->m.events_out += n ? n : 1;
	if (h->ops.wake)
		h->ops.wake(h->ops.ctx, c);
}

void sb_hub_client_send(struct sb_hub *h, struct sb_client *c, struct sb_frame *f)
{
	sb_client__enqueue(h, c, SB_Q_CTRL, f, 0, 0, 0, 0, 0, 0);
}

void sb_hub_client_send_owned(struct sb_hub *h, struct sb_client *c, struct sb_frame *f)
{
	if (!f) {
		h->m.drop_nomem++;
		return;
	}
	sb_client__enqueue(h, c, SB_Q_CTRL, f, 0, 0, 0, 0, 0, 0);
	sb_frame_unref(f);
}

/* Opportunistic coalescing: when a client is behind and holds several log
 * batches of the same channel back to back, send them as one batch frame.
 * An idle client never waits for this: only what is already queued is
 * merged.  Only for encoders that can say where a batch's items are. */
static struct sb_frame *coalesce(struct sb_hub *h, struct sb_client *c, struct sb_qent *e)
{
	struct sb_qent *n = e->next;
	const struct sb_sub *s;
	const struct sb_encoder *enc;
	struct sb_frame *first, *merged;
	struct sb_buf b;
	size_t s0, e0, s1, e1;
	unsigned char bulk;

	if (e->kind != SB_Q_LOG || !n || n->kind != SB_Q_LOG || n->chan != e->chan || !e->chan)
		return NULL;
	s = sb_dict_get(c->subs, sb_intern_str(h->atoms, e->chan));
	enc = s ? sb_hub__enc(h, s->enc) : NULL;
	if (!enc || !enc->batch_items || !enc->batch_items(e->frame, &s0, &e0))
		return NULL;
	first = sb_frame_ref(e->frame);   /* its tail closes the merged frame */
	sb_buf_init(&b);
	sb_buf_append(&b, sb_frame_data(first), e0);
	sb_queue_pop(&c->q);
	while ((e = sb_queue_peek(&c->q)) && e->kind == SB_Q_LOG && e->chan &&
	       b.len + e->frame->len < COALESCE_MAX_BYTES && enc->batch_items(e->frame, &s1, &e1) &&
	       s1 <= e1 && e1 - s1 > 0) {
		/* same channel and same event prefix only */
		if (s1 != s0 || memcmp(sb_frame_data(e->frame), b.mem + SB_FRAME_PRE, s0) != 0)
			break;
		sb_buf_append(&b, ",", 1);
		sb_buf_append(&b, sb_frame_data(e->frame) + s1, e1 - s1);
		sb_queue_pop(&c->q);
		h->m.coalesced++;
	}
	sb_buf_append(&b, (const char *)sb_frame_data(first) + e0, first->len - e0);
	bulk = first->bulk;
	sb_frame_unref(first);
	merged = sb_buf_to_frame(&b);
	if (merged)
		merged->bulk = bulk;   /* still a batch (listen.compression) */
	return merged;
}

/* The next frame out of the queue (the caller owns the reference). */
static struct sb_frame *take_next(struct sb_hub *h, struct sb_client *c)
{
	struct sb_qent *e;
	struct sb_frame *f;

	while ((e = sb_queue_peek(&c->q))) {
		int64_t origin = e->origin_us;   /* the oldest of a coalesced run */

		f = coalesce(h, c, e);
		if (!f) {
			if (e->kind == SB_Q_GAP) {
				const char *chan = sb_intern_str(h->atoms, e->chan);
				const struct sb_sub *s = sb_dict_get(c->subs, chan);
				int enc = s ? s->enc : c->sess->enc;
				f = sb_hub__enc(h, enc)->gap(chan, e->seq_first, e->seq_last, e->nlines);
				if (!f)
					h->m.drop_nomem++;
			} else {
				f = sb_frame_ref(e->frame);
			}
			sb_queue_pop(&c->q);
		}
		if (f && !f->len) {
			/* nothing to send (and next_len's 0 means none) */
			sb_frame_unref(f);
			f = NULL;
		}
		if (f) {
			h->m.frames_out++;
			h->m.bytes_out += f->len;
			if (origin)
				sb_hist_observe(&h->m.delivery_latency, sb_hub__since_s(origin));
			return f;
		}
	}
	return NULL;
}

struct sb_frame *sb_hub_client_next(struct sb_hub *h, struct sb_client *c)
{
	struct sb_frame *f = c->held;

	if (f) {
		c->held = NULL;
		return f;
	}
	return take_next(h, c);
}

size_t sb_hub_client_next_len(struct sb_hub *h, struct sb_client *c)
{
	if (!c->held)
		c->held = take_next(h, c);
	return c->held ? c->held->len : 0;
}

void sb_hub_client_choked(struct sb_hub *h, struct sb_client *c, int choked)
{
	SB_UNUSED(h);
	c->q.choked = choked != 0;
}

int sb_hub_client_rate(struct sb_hub *h, struct sb_client *c, double per_s, double burst,
		       double *debt)
{
	int64_t now = sb_hub__now(h);

	if (!c->rate_started) {
		/* a fresh connection may spend the whole burst at once (a
		 * reconnecting pusher-js resubscribes every channel) */
		c->rate_started = 1;
		c->rate_tokens = burst;
		c->rate_ms = now;
	}
	c->rate_tokens += (double)(now - c->rate_ms) * per_s / 1000.0;
	if (c->rate_tokens > burst)
		c->rate_tokens = burst;
	c->rate_ms = now;
	c->rate_tokens -= 1.0;
	if (debt)
		*debt = c->rate_tokens < 0 ? -c->rate_tokens : 0;
	if (c->rate_tokens >= 0.0)
		return 1;
	h->m.rate_limited++;
	return 0;
}

void *sb_client_transport(const struct sb_client *c) { return c->transport; }
const char *sb_client_session(const struct sb_client *c) { return c->session; }
void *sb_client_data(const struct sb_client *c) { return c->data; }
void sb_client_set_data(struct sb_client *c, void *data) { c->data = data; }
size_t sb_client_queued_bytes(const struct sb_client *c)
{
	return c->q.bytes + (c->held ? c->held->len : 0);
}
int sb_client_ready(const struct sb_client *c) { return c->ready; }
const struct sb_jwt_claims *sb_client_claims(const struct sb_client *c) { return c->claims; }

int sb_client_close_code(const struct sb_client *c, const char **reason)
{
	const struct sb_session_ops *ops = c->sess->ops;

	if (reason)
		*reason = c->close_reason ? c->close_reason : "";
	if (!c->close_code || !ops->close_code)
		return c->close_code;
	return ops->close_code(c->sess->self, c, c->close_code, reason);
}

void sb_hub_client_close(struct sb_hub *h, struct sb_client *c, int code, const char *reason)
{
	sb_client__fail(h, c, code, reason);
}

void sb_hub_client_set_ready(struct sb_hub *h, struct sb_client *c)
{
	SB_UNUSED(h);
	c->ready = 1;
	c->hello_deadline = 0;
}
