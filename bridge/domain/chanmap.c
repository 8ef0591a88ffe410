/* SPDX-License-Identifier: MIT
 *
 * chanmap.c - channel templates, channel name parsing, routing from topics
 * to channels, and the topic kinds of schemas/topics.json.
 */
#include "chanmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topic.h"

struct sb_chanmap {
	struct sb_chan_tmpl *tmpls;
	size_t n;
};

/* Keep in step with "channels" in examples/bridge.json (a unit test checks). */
static const char default_channels[] =
"["
"{\"name\":\"team.{team}\",\"topics\":[\"team/{team}/app/+/status\",\"team/{team}/db/+/status\","
"\"team/{team}/service/+/status\",\"team/{team}/server/+/reachability\",\"team/{team}/deploy/+/status\","
"\"team/{team}/incident/+\",\"team/{team}/maintenance/+\"],\"acl\":\"team\",\"delivery\":{\"mode\":\"immediate\"}},"
"{\"name\":\"team.{team}.stats\",\"topics\":[\"team/{team}/app/+/stats\"],\"acl\":\"team\","
"\"delivery\":{\"mode\":\"conflate\",\"interval_ms\":250}},"
"{\"name\":\"deploy.{deploy:uuid}.logs\",\"topics\":[\"deploy/{deploy}/logs\"],\"acl\":\"deploy\","
"\"delivery\":{\"mode\":\"batch\",\"max_events\":10,\"max_delay_ms\":100,\"history_lines\":1000,\"history_bytes\":1048576}},"
"{\"name\":\"deploy.{deploy:uuid}\",\"topics\":[\"team/+/deploy/{deploy}/status\"],\"acl\":\"deploy\",\"delivery\":{\"mode\":\"immediate\"}},"
"{\"name\":\"app.{app:uuid}.logs\",\"topics\":[\"team/+/app/{app}/logs\"],\"acl\":\"app\","
"\"delivery\":{\"mode\":\"batch\",\"max_events\":10,\"max_delay_ms\":100,\"history_lines\":1000,\"history_bytes\":1048576}},"
"{\"name\":\"db.{db:uuid}.logs\",\"topics\":[\"team/+/db/{db}/logs\"],\"acl\":\"db\","
"\"delivery\":{\"mode\":\"batch\",\"max_events\":10,\"max_delay_ms\":100,\"history_lines\":1000,\"history_bytes\":1048576}},"
"{\"name\":\"service.{service:uuid}.logs\",\"topics\":[\"team/+/service/{service}/logs\"],\"acl\":\"service\","
"\"delivery\":{\"mode\":\"batch\",\"max_events\":10,\"max_delay_ms\":100,\"history_lines\":1000,\"history_bytes\":1048576}},"
"{\"name\":\"user.{user}\",\"topics\":[\"user/{user}/notify\"],\"acl\":\"user\",\"delivery\":{\"mode\":\"immediate\"}},"
"{\"name\":\"public.{page}\",\"topics\":[\"public/{page}/status\"],\"acl\":\"public\",\"delivery\":{\"mode\":\"immediate\"}}"
"]";

/* The "acl" values, in enum sb_acl_rule order. */
static const char *const acl_rules[] = { "team", "deploy", "user", "public", "claims", "app",
	"db", "service" };

const char *sb_acl_owned_kind(enum sb_acl_rule rule)
{
	switch (rule) {
	case SB_ACL_DEPLOY:
	case SB_ACL_APP:
	case SB_ACL_DB:
	case SB_ACL_SERVICE:
		return acl_rules[rule];
	case SB_ACL_TEAM:
	case SB_ACL_USER:
	case SB_ACL_PUBLIC:
	case SB_ACL_CLAIMS:
		break;
	}
	return NULL;
}

static void tmpl_free(struct sb_chan_tmpl *t)
{
	for (size_t i = 0; i < t->nsegs; i++)
		free(t->segs[i].lit);
	free(t->segs);
	for (int i = 0; i < t->nparams; i++)
		free(t->param_names[i]);
	for (size_t i = 0; i < t->ntopics; i++)
		free(t->topics[i]);
	free(t->topics);
	free(t->name);
}

void sb_chanmap_destroy(struct sb_chanmap *map)
{
	if (!map)
		return;
	for (size_t i = 0; i < map->n; i++)
		tmpl_free(&map->tmpls[i]);
	free(map->tmpls);
	free(map);
}

int sb_chanmap_has_presence(const struct sb_chanmap *map)
{
	for (size_t i = 0; i < sb_chanmap_count(map); i++)
		if (sb_chanmap_at(map, i)->presence)
			return 1;
	return 0;
}

size_t sb_chanmap_count(const struct sb_chanmap *map) { return map->n; }
const struct sb_chan_tmpl *sb_chanmap_at(const struct sb_chanmap *map, size_t i)
{
	return i < map->n ? &map->tmpls[i] : NULL;
}

static int find_param(const struct sb_chan_tmpl *t, const char *name, size_t len)
{
	for (int i = 0; i < t->nparams; i++)
		if (strlen(t->param_names[i]) == len &&
		    memcmp(t->param_names[i], name, len) == 0)
			return i;
	return -1;
}

/* "team.{team}.stats" -> segments; params declared "{name}" or "{name:uuid}". */
static enum sb_err parse_name_tmpl(struct sb_chan_tmpl *t, const char *name,
				   char *err, size_t errlen)
{
	const char *p = name;

	if (!*name) {
		snprintf(err, errlen, "empty channel name");
		return SB_ERR_INVAL;
	}
	while (*p) {
		const char *end = strchr(p, '.');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct sb_chan_seg *segs = realloc(t->segs, (t->nsegs + 1) * sizeof(*segs));

		if (!segs)
			return SB_ERR_NOMEM;
		t->segs = segs;
		segs[t->nsegs].lit = NULL;
		segs[t->nsegs].param = -1;
		if (len == 0) {
			snprintf(err, errlen, "empty segment in channel name \"%s\"", name);
			return SB_ERR_INVAL;
		}
		if (p[0] == '{' && p[len - 1] == '}') {
			const char *colon = memchr(p, ':', len);
			size_t nlen = colon ? (size_t)(colon - p - 1) : len - 2;
			enum sb_param_type type = SB_PARAM_ID;

			if (colon) {
				size_t tlen = (size_t)(p + len - 1 - colon - 1);
				if (tlen == 4 && memcmp(colon + 1, "uuid", 4) == 0)
					type = SB_PARAM_UUID;
				else if (!(tlen == 2 && memcmp(colon + 1, "id", 2) == 0)) {
					snprintf(err, errlen, "unknown parameter type in \"%s\" (id or uuid)", name);
					return SB_ERR_INVAL;
				}
			}
			if (nlen == 0 || !sb_id_valid(p + 1, nlen) || find_param(t, p + 1, nlen) >= 0 ||
			    t->nparams >= SB_CHAN_MAX_PARAMS) {
				snprintf(err, errlen, "bad or repeated parameter in \"%s\"", name);
				return SB_ERR_INVAL;
			}
			t->param_names[t->nparams] = strndup(p + 1, nlen);
			if (!t->param_names[t->nparams])
				return SB_ERR_NOMEM;
			t->param_types[t->nparams] = type;
			segs[t->nsegs].param = t->nparams++;
		} else {
			if (!sb_id_valid(p, len)) {
				snprintf(err, errlen, "bad literal segment in \"%s\"", name);
				return SB_ERR_INVAL;
			}
			segs[t->nsegs].lit = strndup(p, len);
			if (!segs[t->nsegs].lit)
				return SB_ERR_NOMEM;
		}
		t->nsegs++;
		p += len;
		if (*p == '.') {
			p++;
			if (!*p) {
				snprintf(err, errlen, "channel name \"%s\" ends with '.'", name);
				return SB_ERR_INVAL;
			}
		}
	}
	return SB_OK;
}

/* A topic template: levels are literals, '+', '#' (last), or "{param}". */
static enum sb_err check_topic_tmpl(const struct sb_chan_tmpl *t, const char *topic,
				    char *err, size_t errlen)
{
	const char *p = topic;
	int used[SB_CHAN_MAX_PARAMS] = { 0 };

	while (1) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			int i = find_param(t, p + 1, len - 2);
			if (i < 0) {
				snprintf(err, errlen, "topic \"%s\" uses a parameter the channel \"%s\" does not have",
					 topic, t->name);
				return SB_ERR_INVAL;
			}
			/* routing binds a parameter once per level: twice would
			 * name the channel after the last level only */
			if (used[i]) {
				snprintf(err, errlen, "topic \"%s\" uses parameter {%s} twice", topic,
					 t->param_names[i]);
				return SB_ERR_INVAL;
			}
			used[i] = 1;
		} else if (memchr(p, '{', len) || memchr(p, '}', len)) {
			snprintf(err, errlen, "bad parameter in topic \"%s\"", topic);
			return SB_ERR_INVAL;
		}
		if (!end)
			break;
		p = end + 1;
	}
	if (!sb_topic_filter_valid(topic)) {
		snprintf(err, errlen, "topic \"%s\" is not a valid MQTT filter", topic);
		return SB_ERR_INVAL;
	}
	for (int i = 0; i < t->nparams; i++)
		if (!used[i]) {
			snprintf(err, errlen, "topic \"%s\" does not use parameter {%s} of channel \"%s\"",
				 topic, t->param_names[i], t->name);
			return SB_ERR_INVAL;
		}
	return SB_OK;
}

static int json_int(const cJSON *o, const char *key, int def, int min, int max,
		    int *out, char *err, size_t errlen, const char *ctx)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v) {
		*out = def;
		return 1;
	}
	/* range first: casting an out-of-range double (1e300) is undefined */
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max ||
	    v->valuedouble != (double)(long long)v->valuedouble) {
		snprintf(err, errlen, "%s.%s must be an integer in [%d, %d]", ctx, key, min, max);
		return 0;
	}
	*out = (int)v->valuedouble;
	return 1;
}

static enum sb_err parse_delivery(struct sb_chan_tmpl *t, const cJSON *d,
				  char *err, size_t errlen)
{
	const cJSON *mode, *it;
	char ctx[300];
	int hb;
	static const char *const keys[] = { "mode", "max_events", "max_delay_ms",
		"interval_ms", "history_lines", "history_bytes" };

	snprintf(ctx, sizeof(ctx), "channels[%s].delivery", t->name);
	t->delivery.mode = SB_DELIVER_IMMEDIATE;
	t->delivery.max_events = 10;
	t->delivery.max_delay_ms = 100;
	t->delivery.interval_ms = 250;
	t->delivery.history_lines = 0;
	t->delivery.history_bytes = 1 << 20;
	if (!d)
		return SB_OK;
	if (!cJSON_IsObject(d)) {
		snprintf(err, errlen, "%s must be an object", ctx);
		return SB_ERR_INVAL;
	}
	cJSON_ArrayForEach(it, d) {
		size_t k;
		for (k = 0; k < SB_ARRAY_LEN(keys); k++)
			if (strcmp(it->string, keys[k]) == 0)
				break;
		if (k == SB_ARRAY_LEN(keys)) {
			snprintf(err, errlen, "%s: unknown key \"%s\"", ctx, it->string);
			return SB_ERR_INVAL;
		}
	}
	mode = cJSON_GetObjectItemCaseSensitive(d, "mode");
	if (mode) {
		if (!cJSON_IsString(mode)) {
			snprintf(err, errlen, "%s.mode must be a string", ctx);
			return SB_ERR_INVAL;
		}
		if (strcmp(mode->valuestring, "immediate") == 0)
			t->delivery.mode = SB_DELIVER_IMMEDIATE;
		else if (strcmp(mode->valuestring, "batch") == 0)
			t->delivery.mode = SB_DELIVER_BATCH;
		else if (strcmp(mode->valuestring, "conflate") == 0)
			t->delivery.mode = SB_DELIVER_CONFLATE;
		else {
			snprintf(err, errlen, "%s.mode must be immediate, batch or conflate", ctx);
			return SB_ERR_INVAL;
		}
	}
	if (!json_int(d, "max_events", 10, 1, 10000, &t->delivery.max_events, err, errlen, ctx) ||
	    !json_int(d, "max_delay_ms", 100, 1, 60000, &t->delivery.max_delay_ms, err, errlen, ctx) ||
	    !json_int(d, "interval_ms", 250, 10, 60000, &t->delivery.interval_ms, err, errlen, ctx) ||
	    !json_int(d, "history_lines", 0, 0, 1000000, &t->delivery.history_lines, err, errlen, ctx) ||
	    !json_int(d, "history_bytes", 1 << 20, 0, 1 << 30, &hb, err, errlen, ctx))
		return SB_ERR_INVAL;
	t->delivery.history_bytes = (size_t)hb;
	return SB_OK;
}

static enum sb_err parse_tmpl(struct sb_chan_tmpl *t, const cJSON *o, size_t idx,
			      char *err, size_t errlen)
{
	const cJSON *name, *topics, *acl, *it;
	enum sb_err rc;
	static const char *const keys[] = { "name", "topics", "acl", "delivery", "presence" };

	t->index = idx;
	t->acl_param = -1;
	if (!cJSON_IsObject(o)) {
		snprintf(err, errlen, "channels[%zu] must be an object", idx);
		return SB_ERR_INVAL;
	}
	cJSON_ArrayForEach(it, o) {
		size_t k;
		for (k = 0; k < SB_ARRAY_LEN(keys); k++)
			if (strcmp(it->string, keys[k]) == 0)
				break;
		if (k == SB_ARRAY_LEN(keys)) {
			snprintf(err, errlen, "channels[%zu]: unknown key \"%s\"", idx, it->string);
			return SB_ERR_INVAL;
		}
	}
	name = cJSON_GetObjectItemCaseSensitive(o, "name");
	if (!cJSON_IsString(name) || strlen(name->valuestring) > SB_CHAN_MAX_NAME) {
		snprintf(err, errlen, "channels[%zu].name must be a string", idx);
		return SB_ERR_INVAL;
	}
	t->name = strdup(name->valuestring);
	if (!t->name)
		return SB_ERR_NOMEM;
	rc = parse_name_tmpl(t, t->name, err, errlen);
	if (rc)
		return rc;
	topics = cJSON_GetObjectItemCaseSensitive(o, "topics");
	if (!cJSON_IsArray(topics) || cJSON_GetArraySize(topics) == 0) {
		snprintf(err, errlen, "channels[%s].topics must be a non-empty array", t->name);
		return SB_ERR_INVAL;
	}
	t->topics = calloc((size_t)cJSON_GetArraySize(topics), sizeof(char *));
	if (!t->topics)
		return SB_ERR_NOMEM;
	cJSON_ArrayForEach(it, topics) {
		if (!cJSON_IsString(it)) {
			snprintf(err, errlen, "channels[%s].topics must hold strings", t->name);
			return SB_ERR_INVAL;
		}
		rc = check_topic_tmpl(t, it->valuestring, err, errlen);
		if (rc)
			return rc;
		t->topics[t->ntopics] = strdup(it->valuestring);
		if (!t->topics[t->ntopics++])
			return SB_ERR_NOMEM;
	}
	acl = cJSON_GetObjectItemCaseSensitive(o, "acl");
	t->acl = SB_ACL_CLAIMS;
	if (acl) {
		size_t r;
		if (!cJSON_IsString(acl))
			r = SB_ARRAY_LEN(acl_rules);
		else
			for (r = 0; r < SB_ARRAY_LEN(acl_rules); r++)
				if (strcmp(acl->valuestring, acl_rules[r]) == 0)
					break;
		if (r == SB_ARRAY_LEN(acl_rules)) {
			snprintf(err, errlen, "channels[%s].acl must be one of team, deploy, app, db, "
				 "service, user, public, claims", t->name);
			return SB_ERR_INVAL;
		}
		t->acl = (enum sb_acl_rule)r;
		if (t->acl != SB_ACL_PUBLIC && t->acl != SB_ACL_CLAIMS) {
			t->acl_param = find_param(t, acl_rules[r], strlen(acl_rules[r]));
			if (t->acl_param < 0) {
				snprintf(err, errlen, "channels[%s].acl \"%s\" needs a parameter {%s}",
					 t->name, acl_rules[r], acl_rules[r]);
				return SB_ERR_INVAL;
			}
		}
	}
	it = cJSON_GetObjectItemCaseSensitive(o, "presence");
	if (it && !cJSON_IsBool(it)) {
		snprintf(err, errlen, "channels[%s].presence must be true or false", t->name);
		return SB_ERR_INVAL;
	}
	t->presence = cJSON_IsTrue(it);
	return parse_delivery(t, cJSON_GetObjectItemCaseSensitive(o, "delivery"), err, errlen);
}

enum sb_err sb_chanmap_from_json(struct sb_chanmap **out, const cJSON *channels,
				 char *err, size_t errlen)
{
	struct sb_chanmap *map;
	const cJSON *it;
	size_t i = 0;

	*out = NULL;
	if (!cJSON_IsArray(channels) || cJSON_GetArraySize(channels) == 0) {
		snprintf(err, errlen, "channels must be a non-empty array");
		return SB_ERR_INVAL;
	}
	map = calloc(1, sizeof(*map));
	if (!map)
		return SB_ERR_NOMEM;
	map->tmpls = calloc((size_t)cJSON_GetArraySize(channels), sizeof(*map->tmpls));
	if (!map->tmpls) {
		free(map);
		return SB_ERR_NOMEM;
	}
	cJSON_ArrayForEach(it, channels) {
		enum sb_err rc = parse_tmpl(&map->tmpls[i], it, i, err, errlen);
		map->n = ++i;
		if (rc) {
			sb_chanmap_destroy(map);
			return rc;
		}
		/* two templates of the same shape would make names ambiguous */
		for (size_t j = 0; j + 1 < i; j++) {
			const struct sb_chan_tmpl *a = &map->tmpls[j], *b = &map->tmpls[i - 1];
			int same = a->nsegs == b->nsegs;
			for (size_t s = 0; same && s < a->nsegs; s++)
				if (a->segs[s].lit && b->segs[s].lit && strcmp(a->segs[s].lit, b->segs[s].lit))
					same = 0;
			if (same) {
				snprintf(err, errlen, "channels \"%s\" and \"%s\" can match the same names",
					 a->name, b->name);
				sb_chanmap_destroy(map);
				return SB_ERR_INVAL;
			}
		}
	}
	*out = map;
	return SB_OK;
}

enum sb_err sb_chanmap_default(struct sb_chanmap **out, char *err, size_t errlen)
{
	cJSON *j = cJSON_Parse(default_channels);
	enum sb_err rc;

	if (!j)
		return SB_ERR_NOMEM;
	rc = sb_chanmap_from_json(out, j, err, errlen);
	cJSON_Delete(j);
	return rc;
}

static int param_ok(enum sb_param_type type, const char *s, size_t len)
{
	return type == SB_PARAM_UUID ? sb_uuid_valid(s, len) : sb_id_valid(s, len);
}

enum sb_err sb_chanmap_parse(const struct sb_chanmap *map, const char *name,
			     size_t len, struct sb_chan_ref *out,
			     char *reason, size_t reasonlen)
{
	size_t nsegs = 1;
	const char *segs[SB_CHAN_MAX_NAME];
	size_t lens[SB_CHAN_MAX_NAME];

	if (len == 0 || len > SB_CHAN_MAX_NAME) {
		snprintf(reason, reasonlen, "channel name must be 1 to %d bytes", SB_CHAN_MAX_NAME);
		return SB_ERR_INVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '+' || c == '#' || c == '/' || c < 0x20 || c == 0x7f) {
			snprintf(reason, reasonlen, "channel name may not contain '+', '#', '/' or control characters");
			return SB_ERR_INVAL;
		}
	}
	segs[0] = name;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '.') {
			lens[nsegs - 1] = (size_t)(name + i - segs[nsegs - 1]);
			segs[nsegs++] = name + i + 1;
		}
	}
	lens[nsegs - 1] = (size_t)(name + len - segs[nsegs - 1]);
	for (size_t i = 0; i < nsegs; i++)
		if (lens[i] == 0) {
			snprintf(reason, reasonlen, "channel name has an empty segment");
			return SB_ERR_INVAL;
		}
	for (size_t ti = 0; ti < map->n; ti++) {
		const struct sb_chan_tmpl *t = &map->tmpls[ti];
		int ok = t->nsegs == nsegs, bad_param = 0;

		for (size_t s = 0; ok && s < nsegs; s++) {
			if (t->segs[s].lit)
				ok = strlen(t->segs[s].lit) == lens[s] &&
				     memcmp(t->segs[s].lit, segs[s], lens[s]) == 0;
		}
		if (!ok)
			continue;
		for (size_t s = 0; s < nsegs; s++) {
			int p = t->segs[s].param;
			if (t->segs[s].lit)
				continue;
			if (!param_ok(t->param_types[p], segs[s], lens[s])) {
				bad_param = 1;
				snprintf(reason, reasonlen, "channel parameter {%s} must be %s",
					 t->param_names[p],
					 t->param_types[p] == SB_PARAM_UUID ? "a UUID" :
					 "1-64 of [A-Za-z0-9_-]");
				break;
			}
			memcpy(out->params[p], segs[s], lens[s]);
			out->params[p][lens[s]] = '\0';
		}
		if (bad_param)
			return SB_ERR_INVAL;
		out->tmpl = t;
		return SB_OK;
	}
	snprintf(reason, reasonlen, "no such channel");
	return SB_ERR_NOTFOUND;
}

void sb_chanmap_name(const struct sb_chan_ref *ref, char *buf, size_t buflen)
{
	size_t off = 0;
	const struct sb_chan_tmpl *t = ref->tmpl;

	buf[0] = '\0';
	for (size_t s = 0; s < t->nsegs && off < buflen; s++) {
		const char *v = t->segs[s].lit ? t->segs[s].lit : ref->params[t->segs[s].param];
		int n = snprintf(buf + off, buflen - off, "%s%s", s ? "." : "", v);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* Expands one topic template with the parameters of ref. */
static char *expand(const struct sb_chan_ref *ref, const char *tmpl)
{
	char out[1024];
	size_t off = 0;
	const char *p = tmpl;

	while (*p && off + 1 < sizeof(out)) {
		if (*p == '{') {
			const char *end = strchr(p, '}');
			int i = find_param(ref->tmpl, p + 1, (size_t)(end - p - 1));
			size_t vl = strlen(ref->params[i]);
			if (off + vl >= sizeof(out))
				return NULL;
			memcpy(out + off, ref->params[i], vl);
			off += vl;
			p = end + 1;
		} else {
			out[off++] = *p++;
		}
	}
	out[off] = '\0';
	return *p ? NULL : strdup(out);
}

enum sb_err sb_chanmap_filters(const struct sb_chan_ref *ref, char ***out, size_t *n)
{
	const struct sb_chan_tmpl *t = ref->tmpl;
	char **f = calloc(t->ntopics, sizeof(*f));

	if (!f)
		return SB_ERR_NOMEM;
	for (size_t i = 0; i < t->ntopics; i++) {
		f[i] = expand(ref, t->topics[i]);
		if (!f[i]) {
			sb_chanmap_free_filters(f, i);
			return SB_ERR_NOMEM;
		}
	}
	*out = f;
	*n = t->ntopics;
	return SB_OK;
}

void sb_chanmap_free_filters(char **filters, size_t n)
{
	if (!filters)
		return;
	for (size_t i = 0; i < n; i++)
		free(filters[i]);
	free(filters);
}

const char *sb_chan_param(const struct sb_chan_ref *ref, const char *name)
{
	int i = find_param(ref->tmpl, name, strlen(name));

	return i < 0 ? NULL : ref->params[i];
}

/* Matches topic against one topic template, capturing parameters. */
static int match_tmpl(const struct sb_chan_tmpl *t, const char *tt, const char *topic,
		      struct sb_chan_ref *ref)
{
	const char *a = tt, *b = topic;
	int got[SB_CHAN_MAX_PARAMS] = { 0 };

	if (*b == '$')
		return 0;
	for (;;) {
		const char *ae = strchr(a, '/'), *be = strchr(b, '/');
		size_t al = ae ? (size_t)(ae - a) : strlen(a);
		size_t bl = be ? (size_t)(be - b) : strlen(b);

		if (al == 1 && a[0] == '#')
			break;
		if (al >= 2 && a[0] == '{') {
			int i = find_param(t, a + 1, al - 2);
			if (!param_ok(t->param_types[i], b, bl))
				return 0;
			memcpy(ref->params[i], b, bl);
			ref->params[i][bl] = '\0';
			got[i] = 1;
		} else if (!(al == 1 && a[0] == '+') &&
			   (al != bl || memcmp(a, b, al) != 0)) {
			return 0;
		}
		if (!ae || !be) {
			if (ae && strcmp(ae, "/#") == 0)
				break;
			if (ae || be)
				return 0;
			break;
		}
		a = ae + 1;
		b = be + 1;
	}
	for (int i = 0; i < t->nparams; i++)
		if (!got[i])
			return 0;
	ref->tmpl = t;
	return 1;
}

/* Room for any name routing can make: a template's name (at most
 * SB_CHAN_MAX_NAME bytes, "{p}" at least 3 per parameter) with every
 * parameter at SB_PARAM_MAX bytes. */
#define ROUTE_NAME_MAX (SB_CHAN_MAX_NAME + SB_CHAN_MAX_PARAMS * SB_PARAM_MAX + 1)

/* 1 when a topic template of t before k gives topic the channel `name`. */
static int named_before(const struct sb_chan_tmpl *t, size_t k, const char *topic,
			const char *name)
{
	char other[ROUTE_NAME_MAX];

	for (size_t j = 0; j < k; j++) {
		struct sb_chan_ref ref;
		if (match_tmpl(t, t->topics[j], topic, &ref)) {
			sb_chanmap_name(&ref, other, sizeof(other));
			if (strcmp(other, name) == 0)
				return 1;
		}
	}
	return 0;
}

void sb_chanmap_route(const struct sb_chanmap *map, const char *topic,
		      sb_chanmap_route_fn cb, void *user)
{
	char name[ROUTE_NAME_MAX];

	for (size_t ti = 0; ti < map->n; ti++) {
		const struct sb_chan_tmpl *t = &map->tmpls[ti];
		for (size_t k = 0; k < t->ntopics; k++) {
			struct sb_chan_ref ref;
			if (match_tmpl(t, t->topics[k], topic, &ref)) {
				sb_chanmap_name(&ref, name, sizeof(name));
				/* longer than a channel name may be: no channel
				 * (cut short, it would name another one) */
				if (strlen(name) > SB_CHAN_MAX_NAME)
					continue;
				/* two topic templates may bind other values
				 * ("a/{t}/+" and "a/+/{t}" for a/x/y): each channel
				 * once, every one of them */
				if (!named_before(t, k, topic, name))
					cb(name, t, user);
			}
		}
	}
}

/* ---- topic kinds ---------------------------------------------------------- */

struct sb_kinds {
	struct sb_kind *k;
	size_t n;
};

void sb_kinds_destroy(struct sb_kinds *kinds)
{
	if (!kinds)
		return;
	for (size_t i = 0; i < kinds->n; i++) {
		free(kinds->k[i].filter);
		free(kinds->k[i].event);
		free(kinds->k[i].schema);
	}
	free(kinds->k);
	free(kinds);
}

enum sb_err sb_kinds_load(struct sb_kinds **out, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	long len;
	cJSON *root = NULL;
	const cJSON *arr, *it;
	struct sb_kinds *k = NULL;
	enum sb_err rc = SB_ERR_INVAL;

	*out = NULL;
	if (!f) {
		snprintf(err, errlen, "%s: cannot open", path);
		return SB_ERR_IO;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)len + 1)) &&
	    fread(text, 1, (size_t)len, f) == (size_t)len) {
		text[len] = '\0';
		root = cJSON_Parse(text);
	}
	fclose(f);
	free(text);
	arr = cJSON_GetObjectItemCaseSensitive(root, "topics");
	if (!cJSON_IsArray(arr)) {
		snprintf(err, errlen, "%s: expected an object with a \"topics\" array", path);
		goto out;
	}
	k = calloc(1, sizeof(*k));
	if (!k || !(k->k = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*k->k)))) {
		rc = SB_ERR_NOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, arr) {
		const cJSON *fl = cJSON_GetObjectItemCaseSensitive(it, "filter");
		const cJSON *ev = cJSON_GetObjectItemCaseSensitive(it, "event");
		const cJSON *re = cJSON_GetObjectItemCaseSensitive(it, "retained");
		const cJSON *sc = cJSON_GetObjectItemCaseSensitive(it, "schema");
		const cJSON *rl = cJSON_GetObjectItemCaseSensitive(it, "relay");
		struct sb_kind *e = &k->k[k->n];

		if (!cJSON_IsString(fl) || !sb_topic_filter_valid(fl->valuestring) ||
		    !cJSON_IsString(ev) || !cJSON_IsBool(re) || (sc && !cJSON_IsString(sc) && !cJSON_IsNull(sc)) ||
		    (rl && !cJSON_IsBool(rl))) {
			snprintf(err, errlen, "%s: topics[%zu] needs filter (MQTT filter), event (string), "
				 "retained (bool), and relay a bool when present", path, k->n);
			goto out;
		}
		e->filter = strdup(fl->valuestring);
		e->event = strdup(ev->valuestring);
		e->schema = cJSON_IsString(sc) ? strdup(sc->valuestring) : NULL;
		e->retained = cJSON_IsTrue(re);
		e->relay = cJSON_IsTrue(rl);
		k->n++;
		if (!e->filter || !e->event || (cJSON_IsString(sc) && !e->schema)) {
			rc = SB_ERR_NOMEM;
			goto out;
		}
	}
	*out = k;
	k = NULL;
	rc = SB_OK;
out:
	cJSON_Delete(root);
	sb_kinds_destroy(k);
	return rc;
}

const struct sb_kind *sb_kinds_lookup(const struct sb_kinds *kinds, const char *topic)
{
	for (size_t i = 0; i < kinds->n; i++)
		if (sb_topic_matches(kinds->k[i].filter, topic))
			return &kinds->k[i];
	return NULL;
}

size_t sb_kinds_count(const struct sb_kinds *kinds) { return kinds->n; }
const struct sb_kind *sb_kinds_at(const struct sb_kinds *kinds, size_t i)
{
	return i < kinds->n ? &kinds->k[i] : NULL;
}
