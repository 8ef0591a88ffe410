/* SPDX-License-Identifier: MIT
 *
 * hub_model.c - the client-side model of fuzz_hub.c (see hub_model.h):
 * every frame a fuzzed client receives is checked here against what that
 * client asked for and what it was told.  Written from docs/protocol.md and
 * docs/pusher.md, not from the engine: the ACL is the protocol's table with
 * the script's fixed owners, the pattern match is its own.
 */
#include "hub_model.h"

#include <cjson/cJSON.h>

#include "chanmap.h"
#include "fuzz_common.h"
#include "pusher_codec.h"

const struct sb_chanmap *hm_map;

void hm_client_init(struct hm_client *m, int pusher)
{
	memset(m, 0, sizeof(*m));
	m->pusher = pusher;
	m->tok = -1;
}

/* ---- the ACL of docs/protocol.md §4.2, with the script's owners -------------------- */

static int pattern_match(const char *p, const char *c)
{
	for (;;) {
		const char *pe = strchr(p, '.'), *ce = strchr(c, '.');
		size_t pl = pe ? (size_t)(pe - p) : strlen(p), cl = ce ? (size_t)(ce - c) : strlen(c);

		if (!(pl == 1 && p[0] == '*') && (pl != cl || memcmp(p, c, pl) != 0))
			return 0;
		if (!pe || !ce)
			return !pe && !ce;
		p = pe + 1;
		c = ce + 1;
	}
}

static int has_team(const struct hm_token *t, const char *team)
{
	for (size_t i = 0; i < 3 && t->teams[i]; i++)
		if (strcmp(t->teams[i], team) == 0)
			return 1;
	return 0;
}

int hm_allowed(int tok, const char *name)
{
	const struct hm_token *t = tok >= 0 ? &hm_tokens[tok] : NULL;
	struct sb_chan_ref ref;
	char reason[160];
	const char *p;

	if (sb_chanmap_parse(hm_map, name, strlen(name), &ref, reason, sizeof(reason)) != SB_OK)
		return 0;
	for (size_t i = 0; t && i < 2 && t->patterns[i]; i++)
		if (pattern_match(t->patterns[i], name))
			return 1;
	switch (ref.tmpl->acl) {
	case SB_ACL_PUBLIC:
		return 1;
	case SB_ACL_TEAM:
		return t && has_team(t, sb_chan_param(&ref, "team"));
	case SB_ACL_USER:
		return t && strcmp(t->sub, sb_chan_param(&ref, "user")) == 0;
	case SB_ACL_DEPLOY:
		p = sb_chan_param(&ref, "deploy");
		if (!t)
			return 0;
		if (strcmp(p, HM_D1) == 0)
			return has_team(t, "42");
		if (strcmp(p, HM_D2) == 0)
			return has_team(t, "43");
		if (strcmp(p, HM_D3) == 0)
			return -1;   /* published under both teams: whoever came first */
		return 0;        /* a deploy the script never published */
	case SB_ACL_APP:
	case SB_ACL_DB:
	case SB_ACL_SERVICE:
		return 0;        /* the script's channels name no runtime logs */
	case SB_ACL_CLAIMS:
		return 0;
	}
	return 0;
}

/* ---- requests and subscriptions ------------------------------------------------------ */

int hm_sent(struct hm_client *m, const struct hm_req *r)
{
	if (m->nreqs == HM_MAX_REQS)
		return 0;
	m->reqs[m->nreqs++] = *r;
	return 1;
}

/* The outstanding request an answer is for, or NULL.  An ack names the
 * channel of a sub or unsub and none for a refresh; an error names the
 * channel when it can. */
static struct hm_req *take_req(struct hm_client *m, int64_t id, const char *channel, int ack,
			       struct hm_req *out)
{
	for (size_t i = 0; i < m->nreqs; i++) {
		struct hm_req *r = &m->reqs[i];
		int named = r->op == HM_SUB || r->op == HM_UNSUB;

		if (r->op == HM_HELLO || r->id != id)
			continue;
		if (channel && (!named || strcmp(r->name, channel) != 0))
			continue;
		if (!channel && ack && named)
			continue;
		*out = *r;
		memmove(r, r + 1, (m->nreqs - i - 1) * sizeof(*r));
		m->nreqs--;
		return out;
	}
	return NULL;
}

static struct hm_sub *find_sub(struct hm_client *m, const char *name)
{
	for (size_t i = 0; i < HM_MAX_SUBS; i++)
		if (m->subs[i].active && strcmp(m->subs[i].name, name) == 0)
			return &m->subs[i];
	return NULL;
}

static void activate(struct hm_client *m, const char *name, int has_since, int64_t since)
{
	struct hm_sub *s = find_sub(m, name);

	if (s)
		return;   /* Pusher answers a repeated subscribe again: same stream */
	for (size_t i = 0; !s && i < HM_MAX_SUBS; i++)
		if (!m->subs[i].active)
			s = &m->subs[i];
	FZ_CHECK(s != NULL, "more than %d subscriptions acknowledged", HM_MAX_SUBS);
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->active = 1;
	s->has_last = has_since;
	s->last = since;
}

static void deactivate(struct hm_client *m, const char *name)
{
	struct hm_sub *s = find_sub(m, name);

	if (s)
		s->active = 0;
}

int hm_pusher_signed(struct hm_client *m, const char *name)
{
	for (size_t i = 0; i < m->nsigned; i++)
		if (strcmp(m->signed_names[i], name) == 0)
			return 1;
	if (m->nsigned == HM_MAX_SIGNED)
		return 0;
	snprintf(m->signed_names[m->nsigned++], HM_NAME, "%s", name);
	return 1;
}

int hm_pusher_unsubscribed(struct hm_client *m, const char *name, unsigned mark)
{
	if (m->nmarks == HM_MAX_MARKS)
		return 0;
	m->marks[m->nmarks].id = mark;
	snprintf(m->marks[m->nmarks++].name, HM_NAME, "%s", name);
	return 1;
}

/* ---- the checks on one frame ---------------------------------------------------------- */

static const char *sget(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int nget(const cJSON *o, const char *k, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v))
		return 0;
	*out = (int64_t)v->valuedouble;
	return 1;
}

/* A status topic ("team/<t>/...") reaches only holders of team t: the
 * channel may be allowed through its deploy, but the topic names a team. */
static void check_topic(const struct hm_client *m, const char *channel, const char *topic,
			int trusted)
{
	char team[80];
	const char *slash;

	if (trusted || !topic || strncmp(topic, "team/", 5) != 0)
		return;
	slash = strchr(topic + 5, '/');
	if (!slash || (size_t)(slash - topic - 5) >= sizeof(team))
		return;
	memcpy(team, topic + 5, (size_t)(slash - topic - 5));
	team[slash - topic - 5] = '\0';
	if (m->tok >= 0 && hm_tokens[m->tok].patterns[0] &&
	    pattern_match(hm_tokens[m->tok].patterns[0], channel))
		return;   /* allowed by the channels claim, whoever owns it */
	FZ_CHECK(m->tok >= 0 && has_team(&hm_tokens[m->tok], team),
		 "%s carries %s to a client without team %s", channel, topic, team);
}

/* Traffic on `name` (as subscribed; `base` the statusbus name) is allowed. */
static struct hm_sub *check_traffic(struct hm_client *m, const char *name, const char *base,
				    int trusted)
{
	struct hm_sub *s;

	FZ_CHECK(name != NULL, "channel traffic without a channel");
	s = find_sub(m, name);
	FZ_CHECK(s != NULL, "traffic on %s, which the client is not subscribed to", name);
	if (!trusted)
		FZ_CHECK(hm_allowed(m->tok, base) != 0, "traffic on %s, which token %d does not allow",
			 name, m->tok);
	return s;
}

static void check_seq(struct hm_sub *s, int64_t seq)
{
	FZ_CHECK(!s->has_last || seq > s->last, "%s: seq %lld after %lld", s->name,
		 (long long)seq, (long long)s->last);
	s->last = seq;
	s->has_last = 1;
}

static void check_gap(struct hm_sub *s, int64_t from, int64_t to)
{
	FZ_CHECK(from <= to, "%s: gap %lld..%lld", s->name, (long long)from, (long long)to);
	FZ_CHECK(!s->has_last || from > s->last, "%s: gap %lld..%lld after seq %lld", s->name,
		 (long long)from, (long long)to, (long long)s->last);
	s->last = to;
	s->has_last = 1;
}

static void check_lines(struct hm_sub *s, const cJSON *items)
{
	const cJSON *it;
	int64_t seq;

	FZ_CHECK(cJSON_IsArray(items), "%s: batch without items", s->name);
	cJSON_ArrayForEach(it, items)
		if (nget(it, "seq", &seq) && strstr(s->name, ".logs"))
			check_seq(s, seq);
}

static void v1_frame(struct hm_client *m, const cJSON *j)
{
	const char *op = sget(j, "op"), *ch = sget(j, "channel");
	struct hm_req r, *req;
	struct hm_sub *s;
	int64_t id, from, to;
	int has_id = nget(j, "id", &id);

	FZ_CHECK(op != NULL, "a frame without op");
	if (strcmp(op, "welcome") == 0) {
		FZ_CHECK(!m->welcomed, "a second welcome");
		m->welcomed = 1;
		for (size_t i = 0; i < m->nreqs; i++)
			if (m->reqs[i].op == HM_HELLO) {
				m->tok = m->reqs[i].tok;
				break;
			}
	} else if (strcmp(op, "ack") == 0) {
		FZ_CHECK(has_id, "an ack without id");
		req = take_req(m, id, ch, 1, &r);
		FZ_CHECK(req != NULL, "an ack (id %lld, channel %s) for nothing asked", (long long)id,
			 ch ? ch : "-");
		if (req->op == HM_SUB) {
			FZ_CHECK(hm_allowed(m->tok, ch) != 0, "sub %s acknowledged with token %d", ch,
				 m->tok);
			/* channels without history leave it out even with since */
			FZ_CHECK(!cJSON_GetObjectItemCaseSensitive(j, "recovered") || req->has_since,
				 "recovered without since");
			activate(m, ch, req->has_since, req->since);
		} else if (req->op == HM_UNSUB) {
			deactivate(m, ch);
		} else if (req->op == HM_REFRESH) {
			m->tok = req->tok;
		}
	} else if (strcmp(op, "error") == 0) {
		if (has_id)
			(void)take_req(m, id, ch, 0, &r);
		else if (ch)
			deactivate(m, ch);   /* a subscription the new token no longer allows */
	} else if (strcmp(op, "event") == 0) {
		s = check_traffic(m, ch, ch, 0);
		check_topic(m, ch, sget(j, "topic"), 0);
		(void)s;
	} else if (strcmp(op, "batch") == 0) {
		s = check_traffic(m, ch, ch, 0);
		check_lines(s, cJSON_GetObjectItemCaseSensitive(j, "events"));
	} else if (strcmp(op, "gap") == 0) {
		s = check_traffic(m, ch, ch, 0);
		FZ_CHECK(nget(j, "from", &from) && nget(j, "to", &to), "gap without from/to");
		check_gap(s, from, to);
	} else {
		FZ_CHECK(strcmp(op, "pong") == 0, "unknown op %s", op);
	}
}

static int is_signed(const struct hm_client *m, const char *name)
{
	for (size_t i = 0; i < m->nsigned; i++)
		if (strcmp(m->signed_names[i], name) == 0)
			return 1;
	return 0;
}

/* A marker's error: everything sent before the unsubscribe it follows is in. */
static void pusher_marker(struct hm_client *m, const char *message)
{
	static const char pre[] = "Unsupported event fuzz:marker-";
	unsigned id;

	if (!message || strncmp(message, pre, sizeof(pre) - 1) != 0)
		return;
	id = (unsigned)strtoul(message + sizeof(pre) - 1, NULL, 10);
	for (size_t i = 0; i < m->nmarks; i++)
		if (m->marks[i].id == id) {
			deactivate(m, m->marks[i].name);
			memmove(&m->marks[i], &m->marks[i + 1], (m->nmarks - i - 1) * sizeof(m->marks[0]));
			m->nmarks--;
			return;
		}
}

static void pusher_frame(struct hm_client *m, const cJSON *j)
{
	const char *ev = sget(j, "event"), *ch = sget(j, "channel"), *base = NULL;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
	enum sb_pusher_name form = SB_PUSHER_PUBLIC;
	int trusted = 0;
	cJSON *inner = NULL;
	struct hm_sub *s;
	int64_t from, to;

	FZ_CHECK(ev != NULL, "a frame without event");
	if (ch) {
		form = sb_pusher_name_parse(ch, &base);
		trusted = sb_pusher_name_is_private(form);
	}
	if (strcmp(ev, "pusher:error") == 0) {
		FZ_CHECK(cJSON_IsObject(data), "pusher:error data is not an object");
		pusher_marker(m, sget(data, "message"));
		return;
	}
	if (strncmp(ev, "client-", 7) == 0) {
		check_traffic(m, ch, base, 1);
		FZ_CHECK(trusted, "a client event on %s, which is not private", ch);
		return;
	}
	/* every other server event carries its data as a string of JSON */
	if (data) {
		FZ_CHECK(cJSON_IsString(data), "%s: data is not a string", ev);
		FZ_CHECK(fz_json_strict(data->valuestring, strlen(data->valuestring)),
			 "%s: data is not strict JSON: %s", ev, data->valuestring);
		inner = cJSON_Parse(data->valuestring);
	}
	if (strcmp(ev, "pusher:connection_established") == 0) {
		FZ_CHECK(!m->welcomed, "established twice");
		m->welcomed = 1;
	} else if (strcmp(ev, "pusher_internal:subscription_succeeded") == 0) {
		FZ_CHECK(ch != NULL, "succeeded without channel");
		if (trusted)
			FZ_CHECK(is_signed(m, ch), "%s succeeded without the app's signature", ch);
		else
			FZ_CHECK(form != SB_PUSHER_UNSUPPORTED && hm_allowed(-1, base) == 1,
				 "%s succeeded without a token", ch);
		activate(m, ch, 0, 0);
	} else if (strcmp(ev, "pusher:cache_miss") == 0) {
		check_traffic(m, ch, base, trusted);
	} else if (strcmp(ev, "statusbus:gap") == 0) {
		s = check_traffic(m, ch, base, trusted);
		FZ_CHECK(nget(inner, "from", &from) && nget(inner, "to", &to), "gap without from/to");
		check_gap(s, from, to);
	} else if (ch && strlen(ev) > 6 && strcmp(ev + strlen(ev) - 6, ".batch") == 0) {
		s = check_traffic(m, ch, base, trusted);
		check_lines(s, inner);
	} else if (ch && strcmp(ev, "pusher:subscription_error") != 0) {
		check_traffic(m, ch, base, trusted);
		check_topic(m, base, sget(inner, "topic"), trusted);
	} else {
		FZ_CHECK(!strcmp(ev, "pusher:subscription_error") || !strcmp(ev, "pusher:ping") ||
			 !strcmp(ev, "pusher:pong"), "unknown event %s", ev);
	}
	cJSON_Delete(inner);
}

void hm_frame(struct hm_client *m, const char *data, size_t len)
{
	cJSON *j;

	m->frames++;
	FZ_CHECK(fz_json_strict(data, len), "frame is not strict JSON: %.*s", (int)len, data);
	j = cJSON_ParseWithLength(data, len);
	FZ_CHECK(cJSON_IsObject(j), "frame is not an object: %.*s", (int)len, data);
	if (m->pusher)
		pusher_frame(m, j);
	else
		v1_frame(m, j);
	cJSON_Delete(j);
}
