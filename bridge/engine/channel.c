/* SPDX-License-Identifier: MIT
 *
 * channel.c - a live channel: subscribers, snapshot frames per encoder,
 * batching, conflation, history and fan-out (see channel.h).
 */
#include "hub_internal.h"

#include <stdlib.h>
#include <string.h>

static void free_frame(void *v) { sb_frame_unref(v); }
static void free_msg(void *v) { sb_msg_unref(v); }

const char *sb_chan_event_name(const struct sb_kind *k, const char *topic)
{
	const char *relayed = k && k->relay ? sb_relay_event(topic) : NULL;

	return relayed ? relayed : k ? k->event : "message";
}

/* ---- life cycle ------------------------------------------------------------ */

static int64_t chan_deadline(const struct sb_chan *ch)
{
	int64_t d = INT64_MAX;

	if (ch->npending && ch->batch_deadline < d)
		d = ch->batch_deadline;
	if (ch->latest && sb_dict_size(ch->latest) && ch->conflate_deadline < d)
		d = ch->conflate_deadline;
	if (ch->linger_until && ch->linger_until < d)
		d = ch->linger_until;
	return d;
}

void sb_chan_rearm(struct sb_hub *h, struct sb_chan *ch)
{
	int64_t d = chan_deadline(ch);

	if (d == INT64_MAX)
		sb_timer_disarm(&h->timers, &ch->timer);
	else if (sb_timer_arm(&h->timers, &ch->timer, d) != SB_OK)
		h->m.drop_nomem++;
	sb_hub__rearm(h);
}

static int covered(const char *topic, void *filters)
{
	return sb_filters_cover(filters, topic);
}

/* The id of the owned resource a channel belongs to (its ACL parameter:
 * a deploy, an app, ...), with its kind in *kind; NULL when none. */
static const char *owned_by(const struct sb_chan *ch, const char **kind)
{
	const struct sb_chan_tmpl *t = ch->ref.tmpl;

	*kind = sb_acl_owned_kind(t->acl);
	return *kind && t->acl_param >= 0 ? ch->ref.params[t->acl_param] : NULL;
}

void sb_chan_recheck_owned(struct sb_hub *h, const char *kind, const char *id)
{
	struct sb_chan **chans = NULL;
	size_t n = 0, cap = 0;
	struct sb_dict_iter it;
	void *v;

	/* collect first: removing subscriptions may free channels */
	sb_dict_iter_init(&it, h->chans);
	while (sb_dict_next(&it, NULL, &v)) {
		struct sb_chan *ch = v;
		const char *k, *i = owned_by(ch, &k);

		if (!i || strcmp(k, kind) != 0 || strcmp(i, id) != 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 4;
			struct sb_chan **g = realloc(chans, nc * sizeof(*g));
			if (!g) {
				h->m.drop_nomem++;
				break;
			}
			chans = g;
			cap = nc;
		}
		chans[n++] = ch;
		ch->held++;   /* kept until every subscription was asked */
	}
	for (size_t j = 0; j < n; j++) {
		struct sb_chan *ch = chans[j];
		size_t before = ch->nsubs;

		for (size_t k = ch->nsubs; k-- > 0;)
			if (k < ch->nsubs)
				sb_hub__sub_recheck(h, ch->subs[k]->client, ch->subs[k]);
		ch->held--;
		/* its last subscriber went now: what sb_hub__sub_remove's own
		 * release skipped while the channel was held (a channel that had
		 * none keeps its linger deadline) */
		if (before && !ch->nsubs)
			sb_chan_release(h, ch);
	}
	free(chans);
}

void sb_chan_free(struct sb_hub *h, struct sb_chan *ch)
{
	const char *kind, *id = owned_by(ch, &kind);

	sb_hub__chan_gone(h, ch);
	if (ch->owner_held)
		sb_owners_release(h->owners, kind, id);
	sb_timer_disarm(&h->timers, &ch->timer);
	for (size_t i = 0; i < ch->nfilters; i++)
		if (sb_filters_unref(h->filters, ch->filters[i]))
			/* no update reaches what nothing covers any more */
			sb_cache_evict(h->cache, ch->filters[i], covered, h->filters);
	sb_chanmap_free_filters(ch->filters, ch->nfilters);
	for (size_t i = 0; i < ch->npending; i++)
		sb_msg_unref(ch->pending[i]);
	free(ch->pending);
	sb_dict_destroy(ch->latest);
	sb_dict_destroy(ch->snap);
	for (int e = 0; e < SB_HUB_MAX_ENCODERS; e++)
		sb_dict_destroy(ch->snapf[e]);
	sb_history_clear(&ch->hist);
	free(ch->subs);
	sb_intern_unref(h->atoms, ch->atom);
	free(ch->name);
	free(ch);
}

struct snap_ctx {
	struct sb_hub *h;
	struct sb_chan *ch;
};

static void snap_add(struct sb_msg *m, void *user)
{
	struct snap_ctx *s = user;
	const struct sb_kind *k = sb_kinds_lookup(s->h->p.kinds, m->topic);

	if (!sb_hub__kept(k, m) || !sb_hub__topic_allowed(s->h, s->ch->ref.tmpl, m->topic))
		return;
	if (sb_dict_set(s->ch->snap, m->topic, sb_msg_ref(m)) != SB_OK) {
		sb_msg_unref(m);
		s->h->m.drop_nomem++;
	}
}

/* The channel's MQTT filters: its template's, and with the Pusher HTTP API
 * on, pusher/<name>/+ for the events it relays (relay.h). */
static enum sb_err chan_filters(const struct sb_hub *h, const struct sb_chan_ref *ref,
				const char *name, char ***out, size_t *n)
{
	char **f, *relay;

	if (sb_chanmap_filters(ref, out, n) != SB_OK)
		return SB_ERR_NOMEM;
	if (!h->p.cfg->pusher_enabled)
		return SB_OK;
	relay = sb_relay_filter(name);
	f = relay ? realloc(*out, (*n + 1) * sizeof(*f)) : NULL;
	if (!f) {
		free(relay);
		sb_chanmap_free_filters(*out, *n);
		*out = NULL;
		*n = 0;
		return SB_ERR_NOMEM;
	}
	f[(*n)++] = relay;
	*out = f;
	return SB_OK;
}

struct sb_chan *sb_chan_get(struct sb_hub *h, const struct sb_chan_ref *ref, const char *name)
{
	struct sb_chan *ch = sb_dict_get(h->chans, name);
	const struct sb_delivery *d = &ref->tmpl->delivery;
	const char *kind, *id;
	struct snap_ctx s;

	if (ch)
		return ch;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return NULL;
	ch->name = strdup(name);
	ch->atom = sb_intern_ref(h->atoms, name, strlen(name));
	ch->ref = *ref;
	ch->seq_unsure = 1;   /* where its stream starts is not known yet */
	ch->snap = sb_dict_create(free_msg);
	sb_history_init(&ch->hist, d->history_lines > 0 ? (size_t)d->history_lines : 0,
			(size_t)d->history_bytes);
	if (!ch->name || !ch->snap || !ch->atom ||
	    chan_filters(h, ref, name, &ch->filters, &ch->nfilters) != SB_OK) {
		sb_dict_destroy(ch->snap);
		sb_intern_unref(h->atoms, ch->atom);
		free(ch->name);
		free(ch);
		return NULL;
	}
	if ((d->mode == SB_DELIVER_CONFLATE && !(ch->latest = sb_dict_create(free_msg))) ||
	    sb_dict_set(h->chans, name, ch) != SB_OK) {
		sb_chanmap_free_filters(ch->filters, ch->nfilters);
		ch->nfilters = 0;
		ch->filters = NULL;
		sb_chan_free(h, ch);
		return NULL;
	}
	/* snapshot from the cache first, then subscribe: the broker's replay
	 * of what the cache already holds is recognised as a duplicate */
	s.h = h;
	s.ch = ch;
	for (size_t i = 0; i < ch->nfilters; i++)
		sb_cache_foreach(h->cache, ch->filters[i], snap_add, &s);
	for (size_t i = 0; i < ch->nfilters; i++)
		if (sb_filters_ref(h->filters, ch->filters[i]) != SB_OK)
			h->m.drop_nomem++;
	/* the resource keeps its team while anything of it is here (owners.h) */
	if ((id = owned_by(ch, &kind))) {
		if (sb_owners_hold(h->owners, kind, id) != SB_OK) {
			sb_dict_take(h->chans, name);
			sb_chan_free(h, ch);
			return NULL;
		}
		ch->owner_held = 1;
	}
	return ch;
}

void sb_chan_linger(struct sb_hub *h, struct sb_chan *ch)
{
	if (ch->held)
		return;   /* kept anyway; a linger deadline would only fire */
	ch->linger_until = sb_hub__now(h) + SB_LINGER_MS;
	sb_chan_rearm(h, ch);
}

void sb_chan_release(struct sb_hub *h, struct sb_chan *ch)
{
	if (ch->nsubs || ch->held)
		return;
	if (ch->ref.tmpl->delivery.history_lines > 0) {
		/* keep history (and its subscription) a while for resumes */
		sb_chan_linger(h, ch);
		return;
	}
	sb_dict_take(h->chans, ch->name);
	sb_chan_free(h, ch);
}

enum sb_err sb_chan_add_sub(struct sb_chan *ch, struct sb_sub *s)
{
	if (ch->nsubs == ch->capsubs) {
		size_t cap = ch->capsubs ? ch->capsubs * 2 : 4;
		struct sb_sub **n = realloc(ch->subs, cap * sizeof(*n));
		if (!n)
			return SB_ERR_NOMEM;
		ch->subs = n;
		ch->capsubs = cap;
	}
	s->chan = ch;
	s->idx = ch->nsubs;
	ch->subs[ch->nsubs++] = s;
	ch->nenc[s->enc]++;
	ch->linger_until = 0;   /* the timer stays armed only for pending work */
	return SB_OK;
}

void sb_chan_remove_sub(struct sb_chan *ch, struct sb_sub *s)
{
	ch->subs[s->idx] = ch->subs[--ch->nsubs];
	ch->subs[s->idx]->idx = s->idx;
	ch->nenc[s->enc]--;
}

/* ---- fan-out ------------------------------------------------------------------ */

typedef struct sb_frame *(*build_fn)(struct sb_hub *, struct sb_chan *, int enc, void *);

/* Tells s's client alone that lines [from, to] of ch will not come. */
static void send_gap(struct sb_hub *h, struct sb_chan *ch, struct sb_sub *s, int64_t from,
		     int64_t to, uint64_t *counter)
{
	(*counter)++;
	sb_hub_client_send_owned(h, s->client, sb_hub__enc(h, s->enc)->gap(ch->name, from, to,
								       (size_t)(to - from + 1)));
}

static struct sb_frame *build_batch(struct sb_hub *h, struct sb_chan *ch, int enc, void *arg);
static void send_trimmed(struct sb_hub *h, struct sb_client *c, struct sb_chan *ch, void *arg,
			 int64_t from, int enc);

/* A resumed subscriber of a log channel: what of [s0, s1] it still gets.
 * Returns 0 when the fan-out must skip it (already sent or sent here). */
static int resume_filter(struct sb_hub *h, struct sb_chan *ch, struct sb_sub *s, build_fn build,
			 void *arg, int64_t s0, int64_t s1)
{
	if (s1 && s1 < s->expect_seq)
		return 0;   /* the resume already sent these */
	if (s0 && s0 < s->expect_seq && build == build_batch) {
		/* the batch straddles what the client already has: send it only
		 * the rest (rare: per-client work) */
		send_trimmed(h, s->client, ch, arg, s->expect_seq, s->enc);
		s->expect_seq = 0;
		return 0;
	}
	if (s0 > s->expect_seq)
		send_gap(h, ch, s, s->expect_seq, s0 - 1, &h->m.history_gaps);
	s->expect_seq = 0;
	return 1;
}

/* Fans one frame per encoder in use out to every subscriber of ch;
 * frames[] are filled in (one reference each, for the caller). */
static void fanout(struct sb_hub *h, struct sb_chan *ch, enum sb_qkind kind, const char *topic,
		   struct sb_frame **frames, build_fn build, void *arg, int64_t s0, int64_t s1,
		   size_t n, int shared)
{
	/* the queue's key: the topic interned once per message, so that
	 * each delivery compares integers (0 when out of memory: the status
	 * is then queued without a key, never conflated) */
	uint32_t ta = kind == SB_Q_STATUS ? sb_intern_ref(h->atoms, topic, strlen(topic)) : 0;
	uint32_t ca = kind == SB_Q_STATUS || kind == SB_Q_LOG ? ch->atom : 0;

	for (int e = 0; e < h->nenc; e++)
		if (ch->nenc[e] && !frames[e] && !(frames[e] = build(h, ch, e, arg)))
			h->m.drop_nomem++;
	h->fanning_out = 1;
	for (size_t i = 0; i < ch->nsubs; i++) {
		struct sb_sub *s = ch->subs[i];

		if (s->pending)
			continue;   /* not acknowledged: the snapshot comes with the ack */
		if (s->client == h->exclude)
			continue;   /* a relayed event's sender (docs/pusher.md) */
		if (kind == SB_Q_LOG && s->expect_seq &&
		    !resume_filter(h, ch, s, build, arg, s0, s1))
			continue;
		/* a retained status's frame is also the channel's snapshot
		 * frame, and conflation keeps one per topic: bounded by the
		 * number of topics, not by how fast the client reads */
		sb_client__enqueue(h, s->client, kind, frames[s->enc], ca, ta, s0, s1, n, shared);
	}
	h->fanning_out = 0;
	sb_intern_unref(h->atoms, ta);
}

struct ev_arg {
	const struct sb_kind *kind;
	struct sb_msg *m;
	int deleted;
};

static struct sb_frame *build_event(struct sb_hub *h, struct sb_chan *ch, int enc, void *arg)
{
	struct ev_arg *a = arg;
	struct sb_frame *f = sb_hub__enc(h, enc)->event(ch->name,
		a->deleted ? "deleted" : sb_chan_event_name(a->kind, a->m->topic), a->m->topic,
		sb_hub__kept(a->kind, a->m),
		a->deleted ? NULL : a->m->payload, a->m->payload_len);

	if (f)
		f->origin_us = a->m->arrived_us;
	return f;
}

/* Keeps the snapshot current: the message for every encoder, and the
 * frames just built for those in use (stale ones dropped). */
static void snap_update(struct sb_hub *h, struct sb_chan *ch, struct sb_msg *m, int deleted,
			struct sb_frame **frames)
{
	if (deleted) {
		sb_dict_del(ch->snap, m->topic);
	} else if (sb_dict_set(ch->snap, m->topic, sb_msg_ref(m)) != SB_OK) {
		sb_msg_unref(m);
		h->m.drop_nomem++;
	}
	for (int e = 0; e < h->nenc; e++) {
		if (!ch->snapf[e])
			continue;
		if (deleted || !frames[e] ||
		    sb_dict_set(ch->snapf[e], m->topic, sb_frame_ref(frames[e])) != SB_OK) {
			if (!deleted && frames[e])
				sb_frame_unref(frames[e]);
			sb_dict_del(ch->snapf[e], m->topic);
		}
	}
}

static void deliver_event(struct sb_hub *h, struct sb_chan *ch, const struct sb_kind *k,
			  struct sb_msg *m, int deleted)
{
	struct ev_arg a = { k, m, deleted };
	int retained = sb_hub__kept(k, m);
	struct sb_frame *frames[SB_HUB_MAX_ENCODERS] = { 0 };

	fanout(h, ch, retained || ch->ref.tmpl->delivery.mode == SB_DELIVER_CONFLATE ?
	       SB_Q_STATUS : SB_Q_EVENT, m->topic, frames, build_event, &a, 0, 0, 1,
	       retained && !deleted);
	if (retained)
		snap_update(h, ch, m, deleted, frames);
	for (int e = 0; e < h->nenc; e++)
		sb_frame_unref(frames[e]);
}

/* ---- batches, conflation, history -------------------------------------------- */

struct batch_arg {
	const struct sb_kind *kind;
	struct sb_msg **items;
	size_t n;
};

static struct sb_frame *build_batch(struct sb_hub *h, struct sb_chan *ch, int enc, void *arg)
{
	struct batch_arg *a = arg;
	struct sb_frame *f = sb_hub__enc(h, enc)->batch(ch->name,
		sb_chan_event_name(a->kind, a->items[0]->topic), a->items, a->n);

	if (f)
		f->origin_us = a->items[0]->arrived_us;   /* the oldest line's */
	return f;
}

static void send_trimmed(struct sb_hub *h, struct sb_client *c, struct sb_chan *ch, void *arg,
			 int64_t from, int enc)
{
	struct batch_arg *a = arg, t = { a->kind, a->items, a->n };
	struct sb_frame *f;

	while (t.n && t.items[0]->seq < from) {
		t.items++;
		t.n--;
	}
	if (!t.n)
		return;
	f = build_batch(h, ch, enc, &t);
	sb_client__enqueue(h, c, SB_Q_LOG, f, ch->atom, 0, t.items[0]->seq, t.items[t.n - 1]->seq,
			   t.n, 0);
	sb_frame_unref(f);
}

static void flush_batch(struct sb_hub *h, struct sb_chan *ch)
{
	struct batch_arg a = { ch->pending_kind, ch->pending, ch->npending };
	struct sb_frame *frames[SB_HUB_MAX_ENCODERS] = { 0 };
	int64_t s0, s1;

	if (!ch->npending)
		return;
	s0 = ch->pending[0]->seq;
	s1 = ch->pending[ch->npending - 1]->seq;
	h->m.batches++;
	sb_hist_observe(&h->m.batch_lines, (double)ch->npending);
	if (s1 > ch->flushed_seq)
		ch->flushed_seq = s1;
	fanout(h, ch, SB_Q_LOG, NULL, frames, build_batch, &a, s0, s1, ch->npending, 0);
	for (int e = 0; e < h->nenc; e++)
		sb_frame_unref(frames[e]);
	for (size_t i = 0; i < ch->npending; i++)
		sb_msg_unref(ch->pending[i]);
	ch->npending = 0;
	ch->pending_kind = NULL;
}

static void flush_conflate(struct sb_hub *h, struct sb_chan *ch)
{
	struct sb_dict_iter it;
	const char *topic;
	void *v;

	sb_dict_iter_init(&it, ch->latest);
	while (sb_dict_next(&it, &topic, &v)) {
		struct sb_msg *m = v;
		deliver_event(h, ch, sb_kinds_lookup(h->p.kinds, m->topic), m, 0);
		sb_dict_del(ch->latest, topic);
	}
}

/* A jump in the stream's seq: lines [from, to] will never come.  Every
 * subscriber is told, in order with the batches (the caller flushed the
 * pending one first), by one frame per encoder; a resumed subscriber that
 * has not caught up yet is told only what it does not have. */
static void fanout_seq_gap(struct sb_hub *h, struct sb_chan *ch, int64_t from, int64_t to)
{
	struct sb_frame *frames[SB_HUB_MAX_ENCODERS] = { 0 };

	for (size_t i = 0; i < ch->nsubs; i++) {
		struct sb_sub *s = ch->subs[i];

		if (s->pending)
			continue;   /* not acknowledged: nothing may come before the ack */
		if (s->expect_seq) {
			if (s->expect_seq > to)
				continue;   /* resumed past the hole (it had them elsewhere) */
			/* every line before the jump was flushed: what it
			 * still expects up to `to` will not come */
			send_gap(h, ch, s, s->expect_seq, to, &h->m.seq_gaps);
			s->expect_seq = 0;
			continue;
		}
		if (!frames[s->enc] && !(frames[s->enc] = sb_hub__enc(h, s->enc)->gap(ch->name,
						from, to, (size_t)(to - from + 1)))) {
			h->m.drop_nomem++;
			continue;
		}
		h->m.seq_gaps++;
		sb_client__enqueue(h, s->client, SB_Q_CTRL, frames[s->enc], 0, 0, 0, 0, 0, 0);
	}
	for (int e = 0; e < h->nenc; e++)
		sb_frame_unref(frames[e]);
}

/* The seq check of a log channel with history (docs/protocol.md §5.9).
 * Returns 0 when the line is dropped: not above the highest seq seen (a
 * QoS 1 redelivery, a replay, or a late line inside a hole the
 * subscribers were already told about).  A jump is a gap for every
 * subscriber and stays a hole in the history. */
static int seq_check(struct sb_hub *h, struct sb_chan *ch, int64_t seq)
{
	if (seq <= ch->last_seq) {
		size_t i = sb_history_find(&ch->hist, seq);

		if (ch->hist.count && seq > sb_history_first_seq(&ch->hist) &&
		    (i == ch->hist.count || sb_history_at(&ch->hist, i)->seq != seq))
			h->m.drop_out_of_order++;
		else
			h->m.drop_duplicate++;
		return 0;   /* and settles nothing about an unsure stream */
	}
	/* the seq before this one is known: the last seen, or 0 for a stream
	 * followed from before its first line (follow.c) */
	if ((ch->last_seq || !ch->seq_unsure) && seq > ch->last_seq + 1) {
		h->m.drop_seq_gap += (uint64_t)(seq - ch->last_seq - 1);
		if (ch->nsubs) {
			flush_batch(h, ch);
			fanout_seq_gap(h, ch, ch->last_seq + 1, seq - 1);
		}
	}
	ch->seq_unsure = 0;
	return 1;
}

static void deliver_batched(struct sb_hub *h, struct sb_chan *ch, const struct sb_kind *k,
			    struct sb_msg *m)
{
	const struct sb_delivery *d = &ch->ref.tmpl->delivery;
	int64_t seq = m->seq;

	if (seq && d->history_lines && !seq_check(h, ch, seq))
		return;
	if (seq)
		ch->last_seq = seq;
	if (d->history_lines && seq && sb_history_add(&ch->hist, m) != SB_OK)
		h->m.drop_nomem++;
	if (!ch->nsubs) {
		/* lingering: history only, and nobody is owed these lines */
		if (seq)
			ch->flushed_seq = seq;
		return;
	}
	if (ch->npending && ch->pending_kind != k)
		flush_batch(h, ch);
	if (!ch->pending) {
		ch->pending = calloc((size_t)d->max_events, sizeof(*ch->pending));
		if (!ch->pending) {
			h->m.drop_nomem++;
			return;
		}
	}
	if (ch->npending == 0) {
		ch->batch_deadline = sb_hub__now(h) + d->max_delay_ms;
		ch->pending_kind = k;
	}
	ch->pending[ch->npending++] = sb_msg_ref(m);
	if (ch->npending >= (size_t)d->max_events)
		flush_batch(h, ch);
	sb_chan_rearm(h, ch);
}

static void deliver_conflated(struct sb_hub *h, struct sb_chan *ch, struct sb_msg *m)
{
	if (sb_dict_get(ch->latest, m->topic))
		h->m.conflated_interval++;
	else if (sb_dict_size(ch->latest) == 0)
		ch->conflate_deadline = sb_hub__now(h) + ch->ref.tmpl->delivery.interval_ms;
	if (sb_dict_set(ch->latest, m->topic, sb_msg_ref(m)) != SB_OK) {
		sb_msg_unref(m);
		h->m.drop_nomem++;
		return;
	}
	sb_chan_rearm(h, ch);
}

void sb_chan_deliver(struct sb_hub *h, struct sb_chan *ch, const struct sb_kind *k,
		     struct sb_msg *m, int deleted)
{
	enum sb_delivery_mode mode = ch->ref.tmpl->delivery.mode;
	int kept = sb_hub__kept(k, m);

	/* relayed Pusher events are never batched nor conflated */
	if (deleted || kept || (k && k->relay) || mode == SB_DELIVER_IMMEDIATE) {
		/* a lingering channel has no subscribers but keeps its
		 * snapshot current: deliver_event does both */
		if (ch->nsubs || kept)
			deliver_event(h, ch, k, m, deleted);
	} else if (mode == SB_DELIVER_BATCH) {
		deliver_batched(h, ch, k, m);
	} else if (ch->nsubs) {
		deliver_conflated(h, ch, m);
	}
}

int sb_chan_tick(struct sb_hub *h, struct sb_chan *ch, int64_t now)
{
	if (ch->npending && now >= ch->batch_deadline)
		flush_batch(h, ch);
	if (ch->latest && sb_dict_size(ch->latest) && now >= ch->conflate_deadline)
		flush_conflate(h, ch);
	if (ch->linger_until && now >= ch->linger_until && !ch->nsubs) {
		sb_dict_take(h->chans, ch->name);
		sb_chan_free(h, ch);
		return 1;
	}
	sb_chan_rearm(h, ch);
	return 0;
}

void sb_chan_flush(struct sb_hub *h, struct sb_chan *ch)
{
	flush_batch(h, ch);
	if (ch->latest)
		flush_conflate(h, ch);
	sb_chan_rearm(h, ch);
}

/* ---- what a new subscriber gets ------------------------------------------------ */

size_t sb_chan_send_snapshot(struct sb_hub *h, struct sb_chan *ch, struct sb_sub *s)
{
	struct sb_dict_iter it;
	const char *topic;
	void *v;
	uint32_t ta;
	struct sb_dict *frames = ch->snapf[s->enc];
	size_t n = 0;

	if (!frames && !(frames = ch->snapf[s->enc] = sb_dict_create(free_frame))) {
		h->m.drop_nomem++;
		return 0;
	}
	sb_dict_iter_init(&it, ch->snap);
	while (sb_dict_next(&it, &topic, &v)) {
		struct sb_msg *m = v;
		struct sb_frame *f = sb_dict_get(frames, topic);

		if (!f) {
			/* built once per encoder, then shared by every subscriber */
			const struct sb_kind *k = sb_kinds_lookup(h->p.kinds, topic);
			f = sb_hub__enc(h, s->enc)->event(ch->name, sb_chan_event_name(k, topic), topic, 1,
							  m->payload, m->payload_len);
			if (!f || sb_dict_set(frames, topic, f) != SB_OK) {
				sb_frame_unref(f);
				h->m.drop_nomem++;
				continue;
			}
		}
		ta = sb_intern_ref(h->atoms, topic, strlen(topic));
		/* the channel holds these frames anyway: a snapshot larger than
		 * the queue's bounds does not make a reading client "slow" */
		sb_client__enqueue(h, s->client, SB_Q_STATUS, f, ch->atom, ta, 0, 0, 1, 1);
		sb_intern_unref(h->atoms, ta);
		n++;
	}
	return n;
}

static void send_items(struct sb_hub *h, struct sb_chan *ch, struct sb_sub *s,
		       struct sb_msg **items, size_t n)
{
	struct sb_frame *f = sb_hub__enc(h, s->enc)->batch(ch->name,
		sb_chan_event_name(sb_kinds_lookup(h->p.kinds, items[0]->topic), items[0]->topic),
		items, n);

	sb_client__enqueue(h, s->client, SB_Q_LOG, f, ch->atom, 0, items[0]->seq, items[n - 1]->seq,
			   n, 0);
	sb_frame_unref(f);
	h->m.history_served += n;
}

void sb_chan_send_history(struct sb_hub *h, struct sb_chan *ch, struct sb_sub *s)
{
	/* replay history after `since` up to what was already flushed (the
	 * pending batch brings the rest); what it lacks, lines it no longer
	 * holds or the hole of a seq jump, is a gap where the lines were */
	struct sb_msg *items[256];
	size_t n = 0, per = (size_t)ch->ref.tmpl->delivery.max_events * 10;
	int64_t next = s->expect_seq;

	if (!next || next > ch->flushed_seq)
		return;
	for (size_t i = sb_history_find(&ch->hist, next); i < ch->hist.count; i++) {
		struct sb_msg *e = sb_history_at(&ch->hist, i);

		if (e->seq > ch->flushed_seq)
			break;
		if (e->seq > next) {
			if (n)
				send_items(h, ch, s, items, n);
			n = 0;
			send_gap(h, ch, s, next, e->seq - 1, &h->m.history_gaps);
		}
		items[n++] = e;
		next = e->seq + 1;
		if (n == SB_ARRAY_LEN(items) || n == per) {
			send_items(h, ch, s, items, n);
			n = 0;
		}
	}
	if (n)
		send_items(h, ch, s, items, n);
	if (next <= ch->flushed_seq)
		send_gap(h, ch, s, next, ch->flushed_seq, &h->m.history_gaps);
	s->expect_seq = ch->flushed_seq + 1;
}

/* ---- is the stream whole ------------------------------------------------------------ */

int sb_chan_recovered(const struct sb_chan *ch, int64_t since)
{
	return !ch->seq_unsure && sb_history_holds(&ch->hist, since + 1, ch->last_seq);
}

/* What "possibly broken" must mean for `recovered` never to lie:
 *  - until the next line arrives, no resume is recovered: lines after
 *    last_seq may have been published and lost, and nothing here can tell
 *    whether or how many (the same holds for a channel that has seen no
 *    line yet, which is why channels start unsure);
 *  - the next line settles it.  seq == last_seq + 1 proves nothing was
 *    lost (a stream's seqs are consecutive).  A jump is what it always is,
 *    a gap for every subscriber and a hole in the history, and from then
 *    on the history itself says what is missing.  A duplicate (seq <=
 *    last_seq) says nothing about what came after and settles nothing;
 *  - what was received stays: the pending batch, the history, last_seq;
 *  - a resume acked before the break keeps its answer: it spoke of the
 *    lines that existed then, and a later loss reaches that subscriber as
 *    a gap like everyone else's. */
void sb_chan_mark_broken(struct sb_hub *h, struct sb_chan *ch)
{
	SB_UNUSED(h);
	ch->seq_unsure = 1;
}
