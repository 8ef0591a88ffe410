/* SPDX-License-Identifier: MIT
 *
 * query.c - the answers behind the HTTP fallbacks (docs/protocol.md §7):
 * a channel's snapshot from the retained cache, or its history after a
 * seq.  Authorized like a subscription; the result is a JSON body and an
 * enum sb_code, and the HTTP adapter maps the code to a status.  A query
 * for a channel nobody follows starts following it (lingering) and, given a
 * waiter, is answered once the broker's retained replay is in (live.c), so
 * the first answer is complete.  Also the per-channel subscriber counts
 * the Pusher HTTP API's channel queries report.
 */
#include "hub_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_v1.h"

static void free_frame(void *v) { sb_frame_unref(v); }

struct snap_ctx {
	struct sb_hub *h;
	struct sb_dict *frames;   /* topic -> v1 event frame */
	const char *name;
	const struct sb_chan_tmpl *tmpl;
};

static void snap_add(struct sb_msg *m, void *user)
{
	struct snap_ctx *s = user;
	const struct sb_kind *k = sb_kinds_lookup(s->h->p.kinds, m->topic);
	struct sb_frame *f;

	if (!k || !k->retained || !sb_hub__topic_allowed(s->h, s->tmpl, m->topic))
		return;
	f = sb_proto_event(s->name, k->event, m->topic, 1, m->payload, m->payload_len);
	if (!f || sb_dict_set(s->frames, m->topic, f) != SB_OK) {
		sb_frame_unref(f);
		s->h->m.drop_nomem++;
	}
}

/* From the cache: one dict keyed by topic, so a topic matched by two
 * filters is listed once. */
static void put_snapshot(struct sb_hub *h, struct sb_buf *b, const struct sb_chan_ref *ref,
			 const char *name)
{
	struct snap_ctx sc = { h, sb_dict_create(free_frame), name, ref->tmpl };
	struct sb_dict_iter it;
	char **filters;
	size_t nf, n = 0;
	void *v;

	if (sc.frames && sb_chanmap_filters(ref, &filters, &nf) == SB_OK) {
		for (size_t i = 0; i < nf; i++)
			sb_cache_foreach(h->cache, filters[i], snap_add, &sc);
		sb_chanmap_free_filters(filters, nf);
		sb_dict_iter_init(&it, sc.frames);
		while (sb_dict_next(&it, NULL, &v)) {
			struct sb_frame *f = v;
			if (n++)
				sb_buf_puts(b, ",");
			sb_buf_append(b, sb_frame_data(f), f->len);
		}
	}
	sb_dict_destroy(sc.frames);
	sb_buf_puts(b, "]");
}

struct holes_ctx {
	struct sb_buf *b;
	size_t n;
};

static void put_hole(int64_t from, int64_t to, void *user)
{
	struct holes_ctx *x = user;

	sb_buf_printf(x->b, "%s{\"from\":%lld,\"to\":%lld}", x->n++ ? "," : "", (long long)from,
		      (long long)to);
}

/* "gap": what the ring no longer holds after since (one range, as before
 * "gaps" existed); "gaps": every range after since that the history lacks,
 * that one first, then the holes of seq jumps (docs/protocol.md §7). */
static void put_history(struct sb_buf *b, const struct sb_chan *ch, int64_t since)
{
	struct holes_ctx x = { b, 0 };
	size_t n = 0;
	int64_t oldest = ch && ch->hist.count ? sb_history_first_seq(&ch->hist) : 0;

	for (size_t i = 0; ch && i < ch->hist.count; i++) {
		const struct sb_msg *e = sb_history_at(&ch->hist, i);
		if (e->seq <= since)
			continue;
		if (n++)
			sb_buf_puts(b, ",");
		sb_buf_append(b, e->payload, e->payload_len);
	}
	sb_buf_puts(b, "],\"gap\":");
	if (oldest > since + 1)
		sb_buf_printf(b, "{\"from\":%lld,\"to\":%lld}", (long long)since + 1,
			      (long long)oldest - 1);
	else
		sb_buf_puts(b, "null");
	sb_buf_puts(b, ",\"gaps\":[");
	if (ch)
		sb_history_holes(&ch->hist, since + 1, ch->last_seq, put_hole, &x);
	sb_buf_puts(b, "]");
	sb_buf_printf(b, ",\"last_seq\":%lld", ch ? (long long)ch->last_seq : 0LL);
}

/* Checks the channel, the token and the ACL; SB_OK or the refusal. */
static enum sb_err admit(struct sb_hub *h, const char *token, const char *channel, int history,
			 struct sb_chan_ref *ref, char *name, enum sb_code *code, char *reason,
			 size_t rlen)
{
	struct sb_jwt_claims *cl = NULL;
	enum sb_err rc = sb_chanmap_parse(h->p.map, channel, strlen(channel), ref, reason, rlen);

	if (rc) {
		*code = rc == SB_ERR_NOTFOUND ? SB_CODE_NOT_FOUND : SB_CODE_BAD_REQUEST;
		return rc;
	}
	sb_chanmap_name(ref, name, SB_CHAN_MAX_NAME + 1);
	if (history && ref->tmpl->delivery.history_lines == 0) {
		*code = SB_CODE_BAD_REQUEST;
		snprintf(reason, rlen, "channel %.200s has no history", name);
		return SB_ERR_INVAL;
	}
	if (h->p.jwt_key && token &&
	    (rc = sb_hub_verify_token(h, token, strlen(token), &cl, code, reason, rlen)) != SB_OK)
		return rc;
	rc = sb_auth_channel(h, cl, 0, ref, name, code, reason, rlen);
	sb_jwt_claims_destroy(cl);
	return rc;
}

static char *error_body(enum sb_code code, const char *reason)
{
	struct sb_buf b;
	char *out;

	sb_buf_init(&b);
	sb_buf_printf(&b, "{\"error\":\"%s\",\"code\":\"%s\",\"message\":", sb_code_name(code),
		      sb_code_name(code));
	sb_buf_json_str(&b, reason, strlen(reason));
	sb_buf_puts(&b, "}");
	out = sb_buf_str(&b) ? strdup(sb_buf_str(&b)) : NULL;
	sb_buf_free(&b);
	return out;
}

enum sb_err sb_hub_query(struct sb_hub *h, const char *token, const char *channel, int history,
			 int64_t since, char **body, enum sb_code *code, struct sb_hub_waiter *w)
{
	struct sb_chan_ref ref;
	char reason[256], name[SB_CHAN_MAX_NAME + 1];
	struct sb_buf b;
	struct sb_chan *ch;
	enum sb_err rc;

	*body = NULL;
	/* no seq is above SB_INT_MAX_EXACT, so a since past it asks for the
	 * same; clamped, since + 1 below cannot overflow */
	since = since < 0 ? 0 : since > SB_INT_MAX_EXACT ? SB_INT_MAX_EXACT : since;
	rc = admit(h, token, channel, history, &ref, name, code, reason, sizeof(reason));
	if (rc) {
		*body = error_body(*code, reason);
		return rc;
	}
	ch = sb_dict_get(h->chans, name);
	if (w && (!ch || !sb_hub__chan_live(h, ch))) {
		/* complete on the first request: follow the channel and answer
		 * once the broker's retained replay for it is in */
		ch = ch ? ch : sb_chan_get(h, &ref, name);
		if (ch) {
			if (!ch->nsubs)
				sb_chan_linger(h, ch);
			/* a new channel whose filters ride on synced ones (filters.h:
			 * carried) is live at once: no barrier will come to wake it */
			if (!sb_hub__chan_live(h, ch)) {
				sb_live_wait_chan(h, ch, w);
				return SB_ERR_PENDING;
			}
		}
	}
	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"channel\":");
	sb_buf_json_str(&b, name, strlen(name));
	sb_buf_puts(&b, ",\"events\":[");
	if (history)
		put_history(&b, ch, since);
	else
		put_snapshot(h, &b, &ref, name);
	/* retained topics the bridge is not subscribed to are unknown to it:
	 * say whether the answer is complete */
	sb_buf_printf(&b, ",\"live\":%s}", ch && sb_hub__chan_live(h, ch) ? "true" : "false");
	if (!ch) {
		/* start following the channel so that the next poll is complete */
		struct sb_chan *nc = sb_chan_get(h, &ref, name);
		if (nc && !nc->nsubs)
			sb_chan_linger(h, nc);
	}
	*body = sb_buf_str(&b) ? strdup(sb_buf_str(&b)) : NULL;
	sb_buf_free(&b);
	if (*body)
		return SB_OK;
	*code = SB_CODE_INTERNAL;
	h->m.drop_nomem++;
	return SB_ERR_NOMEM;
}

/* ---- channel counts (the Pusher HTTP API's queries) ------------------------------------ */

const struct sb_chanmap *sb_hub_chanmap(const struct sb_hub *h) { return h->p.map; }

size_t sb_hub_chan_subscribers(const struct sb_hub *h, const char *name,
			       size_t counts[SB_HUB_MAX_ENCODERS])
{
	const struct sb_chan *ch = sb_dict_get(h->chans, name);

	memset(counts, 0, SB_HUB_MAX_ENCODERS * sizeof(*counts));
	if (!ch)
		return 0;
	memcpy(counts, ch->nenc, SB_HUB_MAX_ENCODERS * sizeof(*counts));
	return ch->nsubs;
}

void sb_hub_foreach_chan(const struct sb_hub *h, sb_hub_chan_fn cb, void *user)
{
	struct sb_dict_iter it;
	const char *name;
	void *v;

	sb_dict_iter_init(&it, h->chans);
	while (sb_dict_next(&it, &name, &v))
		if (((const struct sb_chan *)v)->nsubs)
			cb(name, ((const struct sb_chan *)v)->nenc, user);
}
