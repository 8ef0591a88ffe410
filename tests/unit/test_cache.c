/* SPDX-License-Identifier: MIT
 *
 * test_cache.c - unit tests for cache.c, the bridge's cache of
 * retained messages: put reports CHANGED/SAME, the cache holds its own
 * message references, snapshots by filter (foreach) work whether or not
 * the filter's first two levels are literal, eviction asks the keep
 * callback, and max_topics makes put report FULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache.h"

#define UUID "0b8f7c1e-1111-2222-3333-444455556666"

static struct sb_msg *msg(const char *topic, const char *payload)
{
	struct sb_msg *m = sb_msg_create(topic, strlen(topic), payload, strlen(payload), 1);

	assert_non_null(m);
	return m;
}

/* put + drop the caller's reference: the cache keeps the message alive */
static enum sb_cache_result put(struct sb_cache *c, const char *topic, const char *payload)
{
	struct sb_msg *m = msg(topic, payload);
	enum sb_cache_result r = sb_cache_put(c, m);

	sb_msg_unref(m);
	return r;
}

/* ---- foreach collection ---------------------------------------------------- */

#define MAXSEEN 64
struct seen {
	size_t n;
	const char *topics[MAXSEEN];
};

static void collect(struct sb_msg *m, void *user)
{
	struct seen *s = user;

	assert_true(s->n < MAXSEEN);
	s->topics[s->n++] = m->topic;
}

static int has(const struct seen *s, const char *topic)
{
	int n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += strcmp(s->topics[i], topic) == 0;
	return n;
}

/* foreach(filter) yields exactly the topics in want, each once. */
static void expect_snapshot(const struct sb_cache *c, const char *filter,
			    const char *const *want, size_t nwant)
{
	struct seen s = { 0 };

	sb_cache_foreach(c, filter, collect, &s);
	if (s.n != nwant)
		fail_msg("foreach %s: %zu topics, want %zu", filter, s.n, nwant);
	for (size_t i = 0; i < nwant; i++)
		if (has(&s, want[i]) != 1)
			fail_msg("foreach %s: %s seen %d times", filter, want[i], has(&s, want[i]));
}

#define SNAP(c, filter, ...) do { \
	static const char *const w_[] = { __VA_ARGS__ }; \
	expect_snapshot(c, filter, w_, sizeof(w_) / sizeof(w_[0])); \
} while (0)
#define SNAP_NONE(c, filter) expect_snapshot(c, filter, NULL, 0)

/* ---- tests ---------------------------------------------------------------------- */

static void test_put_changed_same(void **state)
{
	struct sb_cache *c = sb_cache_create(100);
	struct sb_msg *a = msg("team/42/app/" UUID "/status", "{\"status\":\"running\"}");
	struct sb_msg *a2 = msg("team/42/app/" UUID "/status", "{\"status\":\"running\"}");
	struct sb_msg *b = msg("team/42/app/" UUID "/status", "{\"status\":\"stopped\"}");
	(void)state;

	assert_non_null(c);
	assert_int_equal(sb_cache_size(c), 0);
	assert_null(sb_cache_get(c, a->topic));

	assert_int_equal(sb_cache_put(c, a), SB_CACHE_CHANGED);
	assert_int_equal(a->refs, 2);                     /* the cache's own reference */
	assert_ptr_equal(sb_cache_get(c, a->topic), a);
	assert_int_equal(sb_cache_size(c), 1);

	/* an identical payload (the broker's replay) is SAME and keeps the first */
	assert_int_equal(sb_cache_put(c, a2), SB_CACHE_SAME);
	assert_int_equal(a2->refs, 1);
	assert_ptr_equal(sb_cache_get(c, a->topic), a);
	assert_int_equal(sb_cache_size(c), 1);

	/* an update replaces it and releases the old one */
	assert_int_equal(sb_cache_put(c, b), SB_CACHE_CHANGED);
	assert_int_equal(a->refs, 1);
	assert_int_equal(b->refs, 2);
	assert_ptr_equal(sb_cache_get(c, a->topic), b);
	assert_int_equal(sb_cache_size(c), 1);

	/* and going back to the first payload is a change again */
	assert_int_equal(sb_cache_put(c, a), SB_CACHE_CHANGED);
	assert_int_equal(b->refs, 1);
	assert_ptr_equal(sb_cache_get(c, a->topic), a);

	sb_cache_destroy(c);
	/* destroy released the cache's references */
	assert_int_equal(a->refs, 1);
	sb_msg_unref(a);
	sb_msg_unref(a2);
	sb_msg_unref(b);
	sb_cache_destroy(NULL);
}

static void test_same_needs_same_length(void **state)
{
	struct sb_cache *c = sb_cache_create(100);
	(void)state;

	assert_int_equal(put(c, "a/b/c", "{\"x\":1}"), SB_CACHE_CHANGED);
	assert_int_equal(put(c, "a/b/c", "{\"x\":1} "), SB_CACHE_CHANGED);   /* longer */
	assert_int_equal(put(c, "a/b/c", "{\"x\":1}"), SB_CACHE_CHANGED);    /* shorter */
	assert_int_equal(put(c, "a/b/c", "{\"x\":1}"), SB_CACHE_SAME);
	assert_int_equal(put(c, "a/b/c", "{\"x\":2}"), SB_CACHE_CHANGED);    /* same length */
	assert_string_equal(sb_cache_get(c, "a/b/c")->payload, "{\"x\":2}");
	sb_cache_destroy(c);
}

static void test_del(void **state)
{
	struct sb_cache *c = sb_cache_create(100);
	struct sb_msg *m = msg("team/42/db/" UUID "/status", "{}");
	(void)state;

	assert_int_equal(sb_cache_put(c, m), SB_CACHE_CHANGED);
	assert_int_equal(put(c, "team/42/app/" UUID "/status", "{}"), SB_CACHE_CHANGED);
	assert_int_equal(sb_cache_size(c), 2);
	assert_int_equal(sb_cache_del(c, m->topic), 1);
	assert_int_equal(m->refs, 1);
	assert_null(sb_cache_get(c, m->topic));
	assert_int_equal(sb_cache_size(c), 1);
	assert_int_equal(sb_cache_del(c, m->topic), 0);               /* not cached */
	assert_int_equal(sb_cache_del(c, "team/43/db/" UUID "/status"), 0);
	assert_int_equal(sb_cache_del(c, "nowhere"), 0);
	assert_int_equal(sb_cache_size(c), 1);
	/* the last topic of a prefix goes, and the prefix can be used again */
	assert_int_equal(sb_cache_del(c, "team/42/app/" UUID "/status"), 1);
	assert_int_equal(sb_cache_size(c), 0);
	SNAP_NONE(c, "#");
	assert_int_equal(sb_cache_put(c, m), SB_CACHE_CHANGED);
	assert_ptr_equal(sb_cache_get(c, m->topic), m);
	sb_cache_destroy(c);
	sb_msg_unref(m);
}

static struct sb_cache *populated(void)
{
	static const char *const topics[] = {
		"team/42/app/" UUID "/status",
		"team/42/db/" UUID "/status",
		"team/42/deploy/" UUID "/status",
		"team/42/incident/i1",
		"team/420/app/" UUID "/status",
		"team/43/app/" UUID "/status",
		"team/43/deploy/" UUID "/status",
		"public/main/status",
		"a/b",                      /* only two levels */
		"a/b/c",
		"a",                        /* one level */
		"$SYS/broker/uptime",
	};
	struct sb_cache *c = sb_cache_create(1000);

	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		assert_int_equal(put(c, topics[i], "{\"v\":1}"), SB_CACHE_CHANGED);
	assert_int_equal(sb_cache_size(c), sizeof(topics) / sizeof(topics[0]));
	return c;
}

static void test_foreach_literal_prefix(void **state)
{
	struct sb_cache *c = populated();
	(void)state;

	SNAP(c, "team/42/#", "team/42/app/" UUID "/status", "team/42/db/" UUID "/status",
	     "team/42/deploy/" UUID "/status", "team/42/incident/i1");
	SNAP(c, "team/42/app/+/status", "team/42/app/" UUID "/status");
	SNAP(c, "team/42/+/+/status", "team/42/app/" UUID "/status", "team/42/db/" UUID "/status",
	     "team/42/deploy/" UUID "/status");
	SNAP(c, "team/42/incident/+", "team/42/incident/i1");
	SNAP(c, "team/420/#", "team/420/app/" UUID "/status");   /* not team/42's bucket */
	SNAP(c, "team/43/deploy/" UUID "/status", "team/43/deploy/" UUID "/status");
	SNAP(c, "public/main/status", "public/main/status");
	SNAP(c, "a/b/#", "a/b", "a/b/c");                          /* parent level too */
	SNAP(c, "a/b/+", "a/b/c");
	SNAP_NONE(c, "team/44/#");
	SNAP_NONE(c, "team/42/app/+/stats");
	sb_cache_destroy(c);
}

static void test_foreach_wildcard_prefix(void **state)
{
	struct sb_cache *c = populated();
	(void)state;

	/* the deploy channel's filter spans every team */
	SNAP(c, "team/+/deploy/" UUID "/status", "team/42/deploy/" UUID "/status",
	     "team/43/deploy/" UUID "/status");
	SNAP(c, "team/+/app/+/status", "team/42/app/" UUID "/status",
	     "team/420/app/" UUID "/status", "team/43/app/" UUID "/status");
	SNAP(c, "+/main/status", "public/main/status");
	SNAP(c, "team/#", "team/42/app/" UUID "/status", "team/42/db/" UUID "/status",
	     "team/42/deploy/" UUID "/status", "team/42/incident/i1",
	     "team/420/app/" UUID "/status", "team/43/app/" UUID "/status",
	     "team/43/deploy/" UUID "/status");
	/* filters with fewer than three levels scan every bucket */
	SNAP(c, "a/b", "a/b");
	SNAP(c, "a", "a");
	SNAP(c, "a/+", "a/b");
	SNAP(c, "+", "a");
	/* '#' is everything except $-topics; those need their own filter */
	{
		struct seen s = { 0 };
		sb_cache_foreach(c, "#", collect, &s);
		assert_int_equal(s.n, sb_cache_size(c) - 1);
		assert_int_equal(has(&s, "$SYS/broker/uptime"), 0);
	}
	SNAP(c, "$SYS/#", "$SYS/broker/uptime");
	SNAP(c, "$SYS/broker/uptime", "$SYS/broker/uptime");
	sb_cache_destroy(c);
}

/* keep: topics under .../db/... stay */
static int keep_db(const char *topic, void *user)
{
	int *calls = user;

	(*calls)++;
	return strstr(topic, "/db/") != NULL;
}

static int keep_none(const char *topic, void *user)
{
	(void)topic;
	(void)user;
	return 0;
}

static void test_evict(void **state)
{
	struct sb_cache *c = populated();
	size_t before = sb_cache_size(c);
	int calls = 0;
	(void)state;

	sb_cache_evict(c, "team/42/#", keep_db, &calls);
	assert_int_equal(calls, 4);                        /* asked once per matching topic */
	assert_int_equal(sb_cache_size(c), before - 3);
	SNAP(c, "team/42/#", "team/42/db/" UUID "/status");
	/* other prefixes untouched */
	SNAP(c, "team/420/#", "team/420/app/" UUID "/status");
	SNAP(c, "team/43/#", "team/43/app/" UUID "/status", "team/43/deploy/" UUID "/status");

	/* wildcard-prefix filter across teams */
	sb_cache_evict(c, "team/+/deploy/+/status", keep_none, NULL);
	SNAP_NONE(c, "team/+/deploy/+/status");
	assert_int_equal(sb_cache_size(c), before - 4);
	assert_non_null(sb_cache_get(c, "team/43/app/" UUID "/status"));

	/* evicting a whole bucket, then using it again */
	sb_cache_evict(c, "team/43/#", keep_none, NULL);
	SNAP_NONE(c, "team/43/#");
	assert_int_equal(put(c, "team/43/app/" UUID "/status", "{}"), SB_CACHE_CHANGED);
	SNAP(c, "team/43/#", "team/43/app/" UUID "/status");

	/* evict "#" leaves $-topics alone */
	sb_cache_evict(c, "#", keep_none, NULL);
	assert_int_equal(sb_cache_size(c), 1);
	assert_non_null(sb_cache_get(c, "$SYS/broker/uptime"));
	sb_cache_destroy(c);
}

static void test_max_topics_full(void **state)
{
	struct sb_cache *c = sb_cache_create(3);
	(void)state;

	assert_int_equal(put(c, "team/1/app/x/status", "{}"), SB_CACHE_CHANGED);
	assert_int_equal(put(c, "team/1/db/x/status", "{}"), SB_CACHE_CHANGED);
	assert_int_equal(put(c, "team/2/app/x/status", "{}"), SB_CACHE_CHANGED);
	assert_int_equal(sb_cache_size(c), 3);
	/* a new topic, in an existing prefix and in a new one */
	assert_int_equal(put(c, "team/1/service/x/status", "{}"), SB_CACHE_FULL);
	assert_int_equal(put(c, "team/3/app/x/status", "{}"), SB_CACHE_FULL);
	assert_null(sb_cache_get(c, "team/1/service/x/status"));
	assert_null(sb_cache_get(c, "team/3/app/x/status"));
	assert_int_equal(sb_cache_size(c), 3);
	/* updates of cached topics still work when full */
	assert_int_equal(put(c, "team/1/app/x/status", "{\"v\":2}"), SB_CACHE_CHANGED);
	assert_int_equal(put(c, "team/1/app/x/status", "{\"v\":2}"), SB_CACHE_SAME);
	assert_string_equal(sb_cache_get(c, "team/1/app/x/status")->payload, "{\"v\":2}");
	/* room again after a delete */
	assert_int_equal(sb_cache_del(c, "team/2/app/x/status"), 1);
	assert_int_equal(put(c, "team/3/app/x/status", "{}"), SB_CACHE_CHANGED);
	assert_int_equal(sb_cache_size(c), 3);
	/* and after an eviction */
	sb_cache_evict(c, "team/1/#", keep_none, NULL);
	assert_int_equal(sb_cache_size(c), 1);
	assert_int_equal(put(c, "team/1/service/x/status", "{}"), SB_CACHE_CHANGED);
	assert_int_equal(put(c, "team/4/service/x/status", "{}"), SB_CACHE_CHANGED);
	assert_int_equal(put(c, "team/5/service/x/status", "{}"), SB_CACHE_FULL);
	sb_cache_destroy(c);
}

static void test_zero_capacity(void **state)
{
	struct sb_cache *c = sb_cache_create(0);
	(void)state;

	assert_int_equal(put(c, "a/b/c", "{}"), SB_CACHE_FULL);
	assert_int_equal(sb_cache_size(c), 0);
	SNAP_NONE(c, "#");
	sb_cache_destroy(c);
}

static void test_long_levels(void **state)
{
	/* first levels longer than the internal prefix buffer still work */
	char t1[700], t2[700], f[700];
	struct sb_cache *c = sb_cache_create(10);
	(void)state;

	memset(t1, 'x', 300);
	snprintf(t1 + 300, sizeof(t1) - 300, "/y/one");
	memcpy(t2, t1, 300);
	snprintf(t2 + 300, sizeof(t2) - 300, "/z/two");
	memcpy(f, t1, 300);
	snprintf(f + 300, sizeof(f) - 300, "/y/#");
	assert_int_equal(put(c, t1, "{}"), SB_CACHE_CHANGED);
	assert_int_equal(put(c, t2, "{}"), SB_CACHE_CHANGED);
	assert_non_null(sb_cache_get(c, t1));
	assert_non_null(sb_cache_get(c, t2));
	{
		struct seen s = { 0 };
		sb_cache_foreach(c, f, collect, &s);
		assert_int_equal(s.n, 1);
		assert_string_equal(s.topics[0], t1);
	}
	assert_int_equal(sb_cache_del(c, t2), 1);
	assert_null(sb_cache_get(c, t2));
	assert_non_null(sb_cache_get(c, t1));
	sb_cache_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_changed_same),
		cmocka_unit_test(test_same_needs_same_length),
		cmocka_unit_test(test_del),
		cmocka_unit_test(test_foreach_literal_prefix),
		cmocka_unit_test(test_foreach_wildcard_prefix),
		cmocka_unit_test(test_evict),
		cmocka_unit_test(test_max_topics_full),
		cmocka_unit_test(test_zero_capacity),
		cmocka_unit_test(test_long_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
