/* SPDX-License-Identifier: MIT
 *
 * cache.c - retained-message cache, two-level: prefix -> (topic -> msg).
 */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "topic.h"

struct sb_cache {
	struct sb_dict *prefixes;  /* "team/42" -> dict(topic -> sb_msg) */
	size_t size, max;
};

static void free_msg(void *v) { sb_msg_unref(v); }
static void free_bucket(void *v) { sb_dict_destroy(v); }

struct sb_cache *sb_cache_create(size_t max_topics)
{
	struct sb_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->prefixes = sb_dict_create(free_bucket);
	if (!c->prefixes) {
		free(c);
		return NULL;
	}
	c->max = max_topics;
	return c;
}

void sb_cache_destroy(struct sb_cache *c)
{
	if (!c)
		return;
	sb_dict_destroy(c->prefixes);
	free(c);
}

/* The first two levels of s into buf; 0 if they contain a wildcard. */
static int prefix_of(const char *s, char *buf, size_t buflen)
{
	const char *p = strchr(s, '/');
	size_t len;

	if (p)
		p = strchr(p + 1, '/');
	len = p ? (size_t)(p - s) : strlen(s);
	if (len >= buflen)
		len = buflen - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return strchr(buf, '+') == NULL && strchr(buf, '#') == NULL;
}

enum sb_cache_result sb_cache_put(struct sb_cache *c, struct sb_msg *m)
{
	char pre[256];
	struct sb_dict *b;
	struct sb_msg *old;

	prefix_of(m->topic, pre, sizeof(pre));
	b = sb_dict_get(c->prefixes, pre);
	if (!b) {
		if (c->size >= c->max)
			return SB_CACHE_FULL;
		b = sb_dict_create(free_msg);
		if (!b || sb_dict_set(c->prefixes, pre, b) != SB_OK) {
			sb_dict_destroy(b);
			return SB_CACHE_NOMEM;
		}
	}
	old = sb_dict_get(b, m->topic);
	if (old && old->payload_len == m->payload_len &&
	    memcmp(old->payload, m->payload, m->payload_len) == 0)
		return SB_CACHE_SAME;
	if (!old && c->size >= c->max)
		return SB_CACHE_FULL;
	if (sb_dict_set(b, m->topic, sb_msg_ref(m)) != SB_OK) {
		sb_msg_unref(m);
		return SB_CACHE_NOMEM;
	}
	if (!old)
		c->size++;
	return SB_CACHE_CHANGED;
}

int sb_cache_del(struct sb_cache *c, const char *topic)
{
	char pre[256];
	struct sb_dict *b;

	prefix_of(topic, pre, sizeof(pre));
	b = sb_dict_get(c->prefixes, pre);
	if (!b || sb_dict_del(b, topic) != SB_OK)
		return 0;
	c->size--;
	if (sb_dict_size(b) == 0)
		sb_dict_del(c->prefixes, pre);
	return 1;
}

struct sb_msg *sb_cache_get(const struct sb_cache *c, const char *topic)
{
	char pre[256];
	struct sb_dict *b;

	prefix_of(topic, pre, sizeof(pre));
	b = sb_dict_get(c->prefixes, pre);
	return b ? sb_dict_get(b, topic) : NULL;
}

size_t sb_cache_size(const struct sb_cache *c) { return c->size; }

static void scan_bucket(struct sb_dict *b, const char *filter, sb_cache_fn cb, void *user)
{
	struct sb_dict_iter it;
	const char *topic;
	void *v;

	sb_dict_iter_init(&it, b);
	while (sb_dict_next(&it, &topic, &v))
		if (sb_topic_matches(filter, topic))
			cb(v, user);
}

void sb_cache_foreach(const struct sb_cache *c, const char *filter, sb_cache_fn cb, void *user)
{
	char pre[256];
	struct sb_dict_iter it;
	void *b;

	if (prefix_of(filter, pre, sizeof(pre)) && strchr(filter, '/') &&
	    strchr(strchr(filter, '/') + 1, '/')) {
		b = sb_dict_get(c->prefixes, pre);
		if (b)
			scan_bucket(b, filter, cb, user);
		return;
	}
	sb_dict_iter_init(&it, c->prefixes);
	while (sb_dict_next(&it, NULL, &b))
		scan_bucket(b, filter, cb, user);
}

struct evict_ctx {
	const char *filter;
	int (*keep)(const char *, void *);
	void *user;
	size_t removed;
};

static void evict_bucket(struct sb_dict *b, struct evict_ctx *e)
{
	struct sb_dict_iter it;
	const char *topic;

	sb_dict_iter_init(&it, b);
	while (sb_dict_next(&it, &topic, NULL))
		if (sb_topic_matches(e->filter, topic) && !e->keep(topic, e->user)) {
			sb_dict_del(b, topic);   /* safe: current entry only */
			e->removed++;
		}
}

void sb_cache_evict(struct sb_cache *c, const char *filter,
		    int (*keep)(const char *topic, void *user), void *user)
{
	struct evict_ctx e = { filter, keep, user, 0 };
	struct sb_dict_iter it;
	const char *pre;
	void *b;

	sb_dict_iter_init(&it, c->prefixes);
	while (sb_dict_next(&it, &pre, &b)) {
		evict_bucket(b, &e);
		if (sb_dict_size(b) == 0)
			sb_dict_del(c->prefixes, pre);
	}
	c->size -= e.removed;
}
