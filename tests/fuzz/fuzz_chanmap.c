/* SPDX-License-Identifier: MIT
 *
 * fuzz_chanmap.c - the channel map (domain/chanmap.c) in its three
 * directions: a map built from a config's "channels", a channel name from
 * a browser parsed against it, and an MQTT topic routed to the channels it
 * belongs to.  The first input byte chooses:
 *   even  the default map; the rest is "<channel name>\n<topic>";
 *   odd   the rest is a "channels" JSON array; a map that builds is then
 *         exercised with a name made from each of its templates.
 *
 * Oracles, which together say "a channel gets exactly the messages of its
 * filters": a parsed name comes back unchanged from sb_chanmap_name; its
 * filters are valid MQTT filters with no parameter syntax left in them; a
 * topic made from each filter routes to that channel; every channel a topic
 * routes to parses, and one of its filters matches the topic.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "chanmap.h"
#include "topic.h"

static struct sb_chanmap *defmap;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	sb_log_set_level(SB_LOG_ERR);
	if (sb_chanmap_default(&defmap, err, sizeof(err)) != SB_OK) {
		fprintf(stderr, "default map: %s\n", err);
		abort();
	}
	return 0;
}

struct routed {
	const struct sb_chanmap *map;
	const char *topic;
	const char *want;   /* a channel the topic must reach, or NULL */
	int found;
};

/* Every channel a topic routes to is a channel whose filters take it. */
static void on_route(const char *chan, const struct sb_chan_tmpl *tmpl, void *user)
{
	struct routed *r = user;
	struct sb_chan_ref ref;
	char reason[256], **filters;
	size_t nf;
	int match = 0;

	if (r->want && strcmp(chan, r->want) == 0)
		r->found = 1;
	FZ_CHECK(sb_chanmap_parse(r->map, chan, strlen(chan), &ref, reason, sizeof(reason)) ==
		 SB_OK, "topic %s routes to %s, which does not parse: %s", r->topic, chan, reason);
	FZ_CHECK(ref.tmpl == tmpl, "%s parses as another template", chan);
	FZ_CHECK(sb_chanmap_filters(&ref, &filters, &nf) == SB_OK, "filters of %s", chan);
	for (size_t i = 0; i < nf; i++)
		match |= sb_topic_matches(filters[i], r->topic);
	FZ_CHECK(match, "topic %s routes to %s, whose filters do not match it (first: %s)",
		 r->topic, chan, nf ? filters[0] : "-");
	sb_chanmap_free_filters(filters, nf);
}

static void route(const struct sb_chanmap *map, const char *topic, const char *want)
{
	struct routed r = { map, topic, want, 0 };

	sb_chanmap_route(map, topic, on_route, &r);
	FZ_CHECK(!want || r.found, "topic %s, from a filter of %s, does not route to it", topic,
		 want);
}

/* A concrete topic the filter matches: '+' levels and a final '#' become
 * "x" ("a/#" also matches "a", but one topic is enough). */
static void topic_of(const char *filter, char *out, size_t outlen)
{
	size_t o = 0;

	for (const char *p = filter; *p && o + 2 < outlen; p++) {
		if ((*p == '+' || *p == '#') && (p == filter || p[-1] == '/') &&
		    (p[1] == '/' || p[1] == '\0'))
			out[o++] = 'x';
		else
			out[o++] = *p;
	}
	out[o] = '\0';
}

static void check_name(const struct sb_chanmap *map, const char *name, size_t len)
{
	struct sb_chan_ref ref;
	char reason[256], canon[SB_CHAN_MAX_NAME + 1], topic[1200], **filters;
	size_t nf;
	enum sb_err rc;

	memset(reason, 'X', sizeof(reason));
	rc = sb_chanmap_parse(map, name, len, &ref, reason, sizeof(reason));
	FZ_CHECK(memchr(reason, '\0', sizeof(reason)) != NULL || rc == SB_OK,
		 "reason not terminated");
	if (rc != SB_OK) {
		FZ_CHECK(rc == SB_ERR_INVAL || rc == SB_ERR_NOTFOUND, "rc %d", rc);
		return;
	}
	FZ_CHECK(len <= SB_CHAN_MAX_NAME && memchr(name, '\0', len) == NULL,
		 "accepted a name of %zu bytes or with a NUL", len);
	sb_chanmap_name(&ref, canon, sizeof(canon));
	FZ_CHECK(strlen(canon) == len && memcmp(canon, name, len) == 0,
		 "%.*s comes back as %s", (int)len, name, canon);
	FZ_CHECK(sb_chanmap_filters(&ref, &filters, &nf) == SB_OK, "filters of %s", canon);
	for (size_t i = 0; i < nf; i++) {
		FZ_CHECK(sb_topic_filter_valid(filters[i]), "%s: bad filter %s", canon, filters[i]);
		FZ_CHECK(!strchr(filters[i], '{') && !strchr(filters[i], '}'),
			 "%s: filter %s keeps template syntax", canon, filters[i]);
		topic_of(filters[i], topic, sizeof(topic));
		if (topic[0] != '$')
			route(map, topic, canon);
	}
	sb_chanmap_free_filters(filters, nf);
}

/* A name for template t: its literals, "p1" for ids, a UUID for uuids. */
static void name_of(const struct sb_chan_tmpl *t, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t s = 0; s < t->nsegs; s++) {
		const char *v = t->segs[s].lit ? t->segs[s].lit :
				t->param_types[t->segs[s].param] == SB_PARAM_UUID ?
				"0b8f7c1e-1111-2222-3333-444455556666" : "p1";
		int n = snprintf(out + o, outlen - o, "%s%s", s ? "." : "", v);
		if (n < 0 || (size_t)n >= outlen - o)
			return;
		o += (size_t)n;
	}
}

/* A topic of topic template tt with every parameter at its longest (64
 * characters, or a UUID) and '+'/'#' as "x": channel names at their
 * longest come out of routing it. */
static void long_topic_of(const struct sb_chan_tmpl *t, const char *tt, char *out, size_t outlen)
{
	static const char id64[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
	size_t o = 0;

	for (const char *p = tt; *p && o + 70 < outlen;) {
		if (*p == '{') {
			const char *end = strchr(p, '}');
			size_t l = end ? (size_t)(end - p - 1) : 0;
			int uuid = 0;
			for (int i = 0; i < t->nparams; i++)
				if (strlen(t->param_names[i]) == l && !memcmp(t->param_names[i], p + 1, l))
					uuid = t->param_types[i] == SB_PARAM_UUID;
			o += (size_t)snprintf(out + o, outlen - o, "%s",
					      uuid ? "0b8f7c1e-1111-2222-3333-444455556666" : id64);
			p = end ? end + 1 : p + strlen(p);
		} else if ((*p == '+' || *p == '#') && (p == tt || p[-1] == '/')) {
			out[o++] = 'x';
			p++;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	uint8_t mode = fz_u8(&in);
	char *rest = fz_strndup(in.p, in.n);

	if (!(mode & 1)) {
		char *nl = memchr(rest, '\n', in.n);
		size_t nlen = nl ? (size_t)(nl - rest) : in.n;

		check_name(defmap, rest, nlen);
		if (nl && memchr(nl + 1, '\0', in.n - nlen - 1) == NULL)
			route(defmap, nl + 1, NULL);
	} else {
		cJSON *j = cJSON_ParseWithLength(rest, in.n);
		struct sb_chanmap *map = NULL;
		char err[512], name[600];

		memset(err, 'X', sizeof(err));
		if (j && sb_chanmap_from_json(&map, j, err, sizeof(err)) == SB_OK) {
			for (size_t i = 0; i < sb_chanmap_count(map); i++) {
				const struct sb_chan_tmpl *t = sb_chanmap_at(map, i);
				char topic[1200];

				name_of(t, name, sizeof(name));
				check_name(map, name, strlen(name));
				/* a few: routing is quadratic in a template's topics */
				for (size_t k = 0; k < t->ntopics && k < 8; k++) {
					long_topic_of(t, t->topics[k], topic, sizeof(topic));
					if (topic[0] != '$')
						route(map, topic, NULL);
				}
			}
			route(map, "team/42/app/x/status", NULL);
			route(map, "deploy/0b8f7c1e-1111-2222-3333-444455556666/logs", NULL);
			sb_chanmap_destroy(map);
		} else if (j) {
			FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated");
		}
		cJSON_Delete(j);
	}
	free(rest);
	return 0;
}
