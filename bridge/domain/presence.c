/* SPDX-License-Identifier: MIT
 *
 * presence.c - the member set of a presence channel (see presence.h).
 *
 * One entry per member: its info, its local connection count and how many
 * bridges' lists name it.  An entry exists exactly while it is a member
 * (local > 0 or nremote > 0), so the table's size is the member count.
 */
#include "presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "dict.h"

struct entry {
	char *info;
	size_t local;
	size_t nremote;
};

struct rlist {
	char **ids;
	size_t n;
};

struct sb_presence_set {
	struct sb_dict *members;   /* id -> struct entry */
	struct sb_dict *remotes;   /* bridge id -> struct rlist */
	size_t max, conns;
	uint64_t overflow;
};

static void entry_free(void *v)
{
	struct entry *e = v;

	if (e)
		free(e->info);
	free(e);
}

static void rlist_free(void *v)
{
	struct rlist *r = v;

	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->ids[i]);
	free(r->ids);
	free(r);
}

struct sb_presence_set *sb_presence_set_create(size_t max_members)
{
	struct sb_presence_set *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->max = max_members;
	s->members = sb_dict_create(entry_free);
	s->remotes = sb_dict_create(rlist_free);
	if (!s->members || !s->remotes) {
		sb_presence_set_destroy(s);
		return NULL;
	}
	return s;
}

void sb_presence_set_destroy(struct sb_presence_set *s)
{
	if (!s)
		return;
	sb_dict_destroy(s->members);
	sb_dict_destroy(s->remotes);
	free(s);
}

/* A new entry for id (not a member yet); NULL when full or out of memory
 * (*full says which). */
static struct entry *entry_new(struct sb_presence_set *s, const char *id, const char *info,
			       int *full)
{
	struct entry *e;

	*full = sb_dict_size(s->members) >= s->max;
	if (*full || !(e = calloc(1, sizeof(*e))))
		return NULL;
	if ((info && !(e->info = strdup(info))) || sb_dict_set(s->members, id, e) != SB_OK) {
		entry_free(e);
		return NULL;
	}
	return e;
}

/* e (of id) is no member any more: tell, then forget it. */
static void maybe_leave(struct sb_presence_set *s, const char *id, struct entry *e,
			sb_presence_change_fn cb, void *user)
{
	if (e->local || e->nremote)
		return;
	if (cb)
		cb(user, 0, id, e->info);
	sb_dict_del(s->members, id);
}

enum sb_err sb_presence_local_add(struct sb_presence_set *s, const char *id, const char *info,
				  sb_presence_change_fn cb, void *user)
{
	struct entry *e = sb_dict_get(s->members, id);
	int full;

	if (!e) {
		if (!(e = entry_new(s, id, info, &full)))
			return full ? SB_ERR_LIMIT : SB_ERR_NOMEM;
		e->local = 1;
		s->conns++;
		if (cb)
			cb(user, 1, id, e->info);
		return SB_OK;
	}
	e->local++;
	s->conns++;
	return SB_OK;
}

void sb_presence_local_remove(struct sb_presence_set *s, const char *id,
			      sb_presence_change_fn cb, void *user)
{
	struct entry *e = sb_dict_get(s->members, id);

	if (!e || !e->local)
		return;
	e->local--;
	s->conns--;
	maybe_leave(s, id, e, cb, user);
}

/* New joins are told after the old list is gone, so that a user moving
 * from one list to the next (or named twice) is told nothing. */
enum sb_err sb_presence_remote_set(struct sb_presence_set *s, const char *bridge,
				   char *const *ids, char *const *infos, size_t n,
				   sb_presence_change_fn cb, void *user)
{
	struct rlist *old = sb_dict_take(s->remotes, bridge), *nl = NULL;
	unsigned char *created = NULL;
	enum sb_err rc = SB_OK;
	size_t i;

	if (old)
		for (i = 0; i < old->n; i++) {
			struct entry *e = sb_dict_get(s->members, old->ids[i]);
			if (e && e->nremote)
				e->nremote--;
		}
	if (n) {
		nl = calloc(1, sizeof(*nl));
		created = calloc(n, 1);
		if (!nl || !created || !(nl->ids = calloc(n, sizeof(char *)))) {
			rc = SB_ERR_NOMEM;
			n = 0;
		}
	}
	for (i = 0; i < n; i++) {
		struct entry *e = sb_dict_get(s->members, ids[i]);
		int full = 0;
		char *dup;

		if (!e && !(e = entry_new(s, ids[i], infos ? infos[i] : NULL, &full))) {
			if (full)
				s->overflow++;
			else
				rc = SB_ERR_NOMEM;
			continue;
		}
		if (!(dup = strdup(ids[i]))) {
			if (!e->local && !e->nremote)
				sb_dict_del(s->members, ids[i]);
			rc = SB_ERR_NOMEM;
			continue;
		}
		created[i] = !e->local && !e->nremote;
		e->nremote++;
		nl->ids[nl->n++] = dup;
	}
	if (old) {
		for (i = 0; i < old->n; i++) {
			struct entry *e = sb_dict_get(s->members, old->ids[i]);
			if (e)
				maybe_leave(s, old->ids[i], e, cb, user);
		}
		rlist_free(old);
	}
	for (i = 0; i < n; i++)
		if (created[i] && cb) {
			struct entry *e = sb_dict_get(s->members, ids[i]);
			if (e)
				cb(user, 1, ids[i], e->info);
		}
	free(created);
	if (nl && nl->n && sb_dict_set(s->remotes, bridge, nl) == SB_OK)
		return rc;
	if (nl && nl->n) {
		/* cannot keep the list: its users must not stay forever */
		for (i = 0; i < nl->n; i++) {
			struct entry *e = sb_dict_get(s->members, nl->ids[i]);
			if (e && e->nremote)
				e->nremote--;
			if (e)
				maybe_leave(s, nl->ids[i], e, cb, user);
		}
		rc = SB_ERR_NOMEM;
	}
	rlist_free(nl);
	return rc;
}

size_t sb_presence_count(const struct sb_presence_set *s) { return sb_dict_size(s->members); }
size_t sb_presence_local_conns(const struct sb_presence_set *s) { return s->conns; }
size_t sb_presence_bridges(const struct sb_presence_set *s) { return sb_dict_size(s->remotes); }
uint64_t sb_presence_overflow(const struct sb_presence_set *s) { return s->overflow; }

int sb_presence_has_bridge(const struct sb_presence_set *s, const char *bridge)
{
	return sb_dict_get(s->remotes, bridge) != NULL;
}

int sb_presence_has(const struct sb_presence_set *s, const char *id)
{
	return sb_dict_get(s->members, id) != NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The members' ids, sorted (borrowed keys); *n of them.  NULL with n > 0
 * when out of memory. */
static const char **sorted_ids(const struct sb_presence_set *s, size_t *n)
{
	struct sb_dict_iter it;
	const char *k, **v;
	size_t i = 0;

	*n = sb_dict_size(s->members);
	if (!*n || !(v = malloc(*n * sizeof(*v))))
		return NULL;
	sb_dict_iter_init(&it, s->members);
	while (sb_dict_next(&it, &k, NULL))
		v[i++] = k;
	qsort(v, *n, sizeof(*v), cmp_str);
	return v;
}

void sb_presence_foreach(const struct sb_presence_set *s, sb_presence_member_fn fn, void *user)
{
	size_t n;
	const char **v = sorted_ids(s, &n);

	for (size_t i = 0; v && i < n; i++)
		fn(user, v[i], ((struct entry *)sb_dict_get(s->members, v[i]))->info);
	free(v);
}

char *sb_presence_encode(const struct sb_presence_set *s, size_t *len)
{
	struct sb_buf b;
	size_t n;
	const char **v = sorted_ids(s, &n);
	int first = 1;
	char *out;

	if (n && !v)
		return NULL;
	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"members\":[");
	for (size_t i = 0; i < n; i++) {
		const struct entry *e = sb_dict_get(s->members, v[i]);
		if (!e->local)
			continue;
		sb_buf_puts(&b, first ? "{\"id\":" : ",{\"id\":");
		first = 0;
		sb_buf_json_str(&b, v[i], strlen(v[i]));
		if (e->info) {
			sb_buf_puts(&b, ",\"info\":");
			sb_buf_puts(&b, e->info);
		}
		sb_buf_puts(&b, "}");
	}
	free(v);
	sb_buf_puts(&b, "]}");
	if (!sb_buf_str(&b)) {
		sb_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	out = malloc(b.len + 1);
	if (out)
		memcpy(out, sb_buf_str(&b), b.len + 1);
	sb_buf_free(&b);
	return out;
}

int sb_presence_id_valid(const char *id, size_t len)
{
	size_t i = 0;

	if (!len || len > SB_PRESENCE_MAX_ID)
		return 0;
	while (i < len) {
		size_t l = sb_utf8_len((const unsigned char *)id + i, len - i);
		if (!l || (l == 1 && ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)))
			return 0;
		i += l;
	}
	return 1;
}

void sb_presence_list_free(char **ids, char **infos, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ids)
			free(ids[i]);
		if (infos)
			free(infos[i]);
	}
	free(ids);
	free(infos);
}

enum sb_err sb_presence_decode(const char *payload, size_t len, size_t max, char ***ids,
			       char ***infos, size_t *n, char *why, size_t whylen)
{
	cJSON *doc = cJSON_ParseWithLength(payload, len);
	const cJSON *arr = doc ? cJSON_GetObjectItemCaseSensitive(doc, "members") : NULL, *it;
	size_t cap, k = 0;
	char **iv = NULL, **fv = NULL;

	*ids = *infos = NULL;
	*n = 0;
	if (!cJSON_IsArray(arr)) {
		snprintf(why, whylen, "not {\"members\":[...]}");
		cJSON_Delete(doc);
		return SB_ERR_INVAL;
	}
	cap = (size_t)cJSON_GetArraySize(arr);
	if (cap > max)
		cap = max;
	if (cap && (!(iv = calloc(cap, sizeof(char *))) || !(fv = calloc(cap, sizeof(char *))))) {
		free(iv);
		cJSON_Delete(doc);
		return SB_ERR_NOMEM;
	}
	cJSON_ArrayForEach(it, arr) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
		const cJSON *info = cJSON_GetObjectItemCaseSensitive(it, "info");
		if (k == cap)
			break;
		if (!cJSON_IsString(id) || !sb_presence_id_valid(id->valuestring,
								 strlen(id->valuestring)))
			continue;   /* a bad entry does not hide the good ones */
		if (!(iv[k] = strdup(id->valuestring)))
			break;
		if (info && !cJSON_IsNull(info)) {
			fv[k] = cJSON_PrintUnformatted(info);
			if (fv[k] && strlen(fv[k]) > SB_PRESENCE_MAX_INFO) {
				free(fv[k]);
				fv[k] = NULL;
			}
		}
		k++;
	}
	cJSON_Delete(doc);
	*ids = iv;
	*infos = fv;
	*n = k;
	return SB_OK;
}

/* ---- statusbus.v1 frames ---------------------------------------------------- */

void sb_presence_v1_member(struct sb_buf *b, const char *id, const char *info)
{
	cJSON *doc = info ? cJSON_Parse(info) : NULL;
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "name");
	int more = doc && (!cJSON_IsObject(doc) || cJSON_GetArraySize(doc) > (cJSON_IsString(name) ? 1 : 0));

	sb_buf_puts(b, "{\"sub\":");
	sb_buf_json_str(b, id, strlen(id));
	if (cJSON_IsString(name)) {
		sb_buf_puts(b, ",\"name\":");
		sb_buf_json_str(b, name->valuestring, strlen(name->valuestring));
	}
	if (more) {
		sb_buf_puts(b, ",\"info\":");
		sb_buf_puts(b, info);
	}
	sb_buf_puts(b, "}");
	cJSON_Delete(doc);
}

struct sb_frame *sb_presence_v1_event(const char *channel, int join, const char *id,
				      const char *info)
{
	struct sb_buf b;

	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"op\":\"event\",\"channel\":");
	sb_buf_json_str(&b, channel, strlen(channel));
	sb_buf_puts(&b, join ? ",\"event\":\"presence.join\",\"data\":"
			     : ",\"event\":\"presence.leave\",\"data\":");
	sb_presence_v1_member(&b, id, info);
	sb_buf_puts(&b, "}");
	return sb_buf_to_frame(&b);
}

struct list_ctx {
	struct sb_buf *b;
	int first;
};

static void list_one(void *user, const char *id, const char *info)
{
	struct list_ctx *l = user;

	if (!l->first)
		sb_buf_puts(l->b, ",");
	l->first = 0;
	sb_presence_v1_member(l->b, id, info);
}

struct sb_frame *sb_presence_v1_list(int has_id, int64_t req_id, const char *channel,
				     const struct sb_presence_set *s)
{
	struct sb_buf b;
	struct list_ctx l = { &b, 1 };

	sb_buf_init(&b);
	sb_buf_puts(&b, "{\"op\":\"presence\"");
	if (has_id)
		sb_buf_printf(&b, ",\"id\":%lld", (long long)req_id);
	sb_buf_puts(&b, ",\"channel\":");
	sb_buf_json_str(&b, channel, strlen(channel));
	sb_buf_puts(&b, ",\"members\":[");
	if (s)
		sb_presence_foreach(s, list_one, &l);
	sb_buf_puts(&b, "]}");
	return sb_buf_to_frame(&b);
}

const char *sb_presence_topic_level(char *out, size_t outlen, const char *s, int decode)
{
	size_t i = 0;

	for (; s[i] && i + 1 < outlen; i++)
		out[i] = decode ? (s[i] == ':' ? '.' : s[i]) : (s[i] == '.' ? ':' : s[i]);
	out[i] = '\0';
	return out;
}
