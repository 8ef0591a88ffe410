/* SPDX-License-Identifier: MIT
 *
 * test_filters.c - unit tests for filters.c, the bridge's MQTT
 * subscriptions (docs/protocol.md §3.4 reference-counted subscriptions;
 * §5.8 an ack means live): N users of a filter cost one subscribe and the
 * last unref unsubscribes; a link that comes back resubscribes every
 * filter in use and a link that drops forgets every SUBACK; a SUBACK makes
 * a filter acknowledged and waiting for a replay barrier, and the barrier
 * number n coming back syncs every filter waiting for n or an earlier one;
 * synced, acked, cover and cover_synced answer from that state; a
 * wildcard filter synced with no retained message since its subscribe is
 * taken once as silent.  The
 * broker side is a fake that counts subscribe and unsubscribe calls per
 * filter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filters.h"

#define APP "team/+/app/+/status"
#define DEP "team/+/deploy/+/status"
#define LOGS "deploy/0b8f7c1e-1111-2222-3333-444455556666/logs"
#define MANY 2000

/* ---- a fake broker link ------------------------------------------------------- */

/* Filters named "n/<i>" are counted in the arrays at i; every other one
 * in `other`. */
struct fake {
	int subs, unsubs;
	char last_sub[128], last_unsub[128];
	int sub_n[MANY], unsub_n[MANY];
};

static int index_of(const char *filter)
{
	char *end;
	long i;

	if (strncmp(filter, "n/", 2) != 0)
		return -1;
	i = strtol(filter + 2, &end, 10);
	return *end || i < 0 || i >= MANY ? -1 : (int)i;
}

static void fake_subscribe(void *ctx, const char *filter)
{
	struct fake *f = ctx;
	int i = index_of(filter);

	f->subs++;
	snprintf(f->last_sub, sizeof(f->last_sub), "%s", filter);
	if (i >= 0)
		f->sub_n[i]++;
}

static void fake_unsubscribe(void *ctx, const char *filter)
{
	struct fake *f = ctx;
	int i = index_of(filter);

	f->unsubs++;
	snprintf(f->last_unsub, sizeof(f->last_unsub), "%s", filter);
	if (i >= 0)
		f->unsub_n[i]++;
}

/* Each test gets a fresh fake and a filter set on it. */
struct fx {
	struct fake f;
	struct sb_filters *fs;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct sb_filter_ops ops = { NULL, fake_subscribe, fake_unsubscribe };

	if (!x)
		return -1;
	ops.ctx = &x->f;
	if (sb_filters_create(&x->fs, &ops) != SB_OK) {
		free(x);
		return -1;
	}
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	sb_filters_destroy(x->fs);
	free(x);
	return 0;
}

static const char *name_n(char *buf, size_t len, int i)
{
	snprintf(buf, len, "n/%d", i);
	return buf;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_empty(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct fake *f = &x->f;

	assert_int_equal(sb_filters_count(fs), 0);
	assert_int_equal(sb_filters_active(fs), 0);
	assert_int_equal(sb_filters_list(fs, NULL, 0), 0);
	assert_false(sb_filters_acked(fs, APP));
	assert_false(sb_filters_synced(fs, APP));
	assert_false(sb_filters_cover(fs, "team/42/app/x/status"));
	assert_false(sb_filters_cover_synced(fs, "team/42/app/x/status"));
	assert_int_equal(sb_filters_barrier(fs, 10), 0);
	sb_filters_link(fs, 0);
	sb_filters_link(fs, 1);
	assert_int_equal(f->subs + f->unsubs, 0);
	sb_filters_destroy(NULL);
}

static void test_ref_counting(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct fake *f = &x->f;

	/* three users, one broker subscription */
	for (int i = 0; i < 3; i++)
		assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_int_equal(f->subs, 1);
	assert_string_equal(f->last_sub, APP);
	assert_int_equal(sb_filters_count(fs), 1);
	assert_true(sb_filters_cover(fs, "team/42/app/x/status"));

	/* the last user unsubscribes, once */
	assert_int_equal(sb_filters_unref(fs, APP), 0);
	assert_int_equal(sb_filters_unref(fs, APP), 0);
	assert_int_equal(f->unsubs, 0);
	assert_int_equal(sb_filters_unref(fs, APP), 1);
	assert_int_equal(f->unsubs, 1);
	assert_string_equal(f->last_unsub, APP);
	assert_int_equal(sb_filters_count(fs), 0);
	assert_false(sb_filters_cover(fs, "team/42/app/x/status"));

	/* one unref too many, or of a filter never used: nothing happens */
	assert_int_equal(sb_filters_unref(fs, APP), 0);
	assert_int_equal(sb_filters_unref(fs, "never/used"), 0);
	assert_int_equal(f->unsubs, 1);

	/* used again: subscribed again */
	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_int_equal(f->subs, 2);
	sb_filters_destroy(fs);
	x->fs = NULL;
	/* destroy unsubscribes nothing: the link goes with the bridge */
	assert_int_equal(f->unsubs, 1);
}

static void test_filters_are_independent(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	const char *list[4], *want[] = { APP, DEP, LOGS };

	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, DEP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, DEP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, LOGS), SB_OK);
	assert_int_equal(x->f.subs, 3);
	assert_int_equal(sb_filters_count(fs), 3);

	/* list: every filter once; a short array gets what fits, the count
	 * is the whole */
	assert_int_equal(sb_filters_list(fs, list, 4), 3);
	for (int k = 0; k < 3; k++) {
		int seen = 0;
		for (int i = 0; i < 3; i++)
			seen += strcmp(list[i], want[k]) == 0;
		assert_int_equal(seen, 1);
	}
	list[1] = NULL;
	assert_int_equal(sb_filters_list(fs, list, 1), 3);
	assert_null(list[1]);

	assert_int_equal(sb_filters_unref(fs, DEP), 0);
	assert_int_equal(sb_filters_unref(fs, APP), 1);
	assert_int_equal(sb_filters_count(fs), 2);
	assert_true(sb_filters_cover(fs, "team/42/deploy/d/status"));
	assert_true(sb_filters_cover(fs, LOGS));
	assert_false(sb_filters_cover(fs, "team/42/app/x/status"));
}

static void test_ops_copied_and_optional(void **state)
{
	struct fx *x = *state;
	struct fake *f = &x->f;
	struct sb_filter_ops ops = { f, fake_subscribe, fake_unsubscribe };
	struct sb_filter_ops none = { NULL, NULL, NULL };
	struct sb_filters *fs = NULL;

	/* the ops are copied at create */
	assert_int_equal(sb_filters_create(&fs, &ops), SB_OK);
	ops.subscribe = NULL;
	ops.ctx = NULL;
	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_int_equal(f->subs, 1);
	sb_filters_destroy(fs);

	/* no ops at all: the bookkeeping still works */
	assert_int_equal(sb_filters_create(&fs, &none), SB_OK);
	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	sb_filters_suback(fs, APP, 1);
	assert_int_equal(sb_filters_barrier(fs, 1), 1);
	assert_true(sb_filters_synced(fs, APP));
	sb_filters_link(fs, 0);
	sb_filters_link(fs, 1);
	assert_false(sb_filters_acked(fs, APP));
	assert_int_equal(sb_filters_unref(fs, APP), 1);	sb_filters_destroy(fs);
}

static void test_suback_and_barriers(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct fake *f = &x->f;

	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, DEP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, LOGS), SB_OK);
	assert_false(sb_filters_acked(fs, APP));

	sb_filters_suback(fs, APP, 1);
	sb_filters_suback(fs, DEP, 2);
	sb_filters_suback(fs, LOGS, 3);
	assert_int_equal(sb_filters_active(fs), 3);
	/* acknowledged, but no replay barrier back yet */
	assert_true(sb_filters_acked(fs, APP));
	assert_false(sb_filters_synced(fs, APP));
	assert_false(sb_filters_cover_synced(fs, "team/42/app/x/status"));
	assert_true(sb_filters_cover(fs, "team/42/app/x/status"));

	/* barrier 0 is nobody's */
	assert_int_equal(sb_filters_barrier(fs, 0), 0);
	/* 2 syncs those waiting for 1 and 2, not 3 */
	assert_int_equal(sb_filters_barrier(fs, 2), 2);
	assert_true(sb_filters_synced(fs, APP));
	assert_true(sb_filters_synced(fs, DEP));
	assert_false(sb_filters_synced(fs, LOGS));
	assert_true(sb_filters_acked(fs, LOGS));
	assert_true(sb_filters_cover_synced(fs, "team/42/app/x/status"));
	assert_true(sb_filters_cover_synced(fs, "team/7/deploy/d/status"));
	assert_false(sb_filters_cover_synced(fs, LOGS));
	assert_true(sb_filters_cover(fs, LOGS));
	/* the same or an earlier barrier again (a QoS 1 redelivery): no change */
	assert_int_equal(sb_filters_barrier(fs, 2), 0);
	assert_int_equal(sb_filters_barrier(fs, 1), 0);
	/* a later one syncs the rest */
	assert_int_equal(sb_filters_barrier(fs, 9), 1);
	assert_true(sb_filters_synced(fs, LOGS));
	assert_true(sb_filters_cover_synced(fs, LOGS));
	assert_int_equal(sb_filters_active(fs), 3);
	assert_int_equal(f->subs, 3);   /* SUBACKs and barriers subscribe nothing */
}

static void test_suback_without_barrier_is_synced(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct fake *f = &x->f;

	/* barrier 0 (no barrier will be sent, live.c without a publisher):
	 * the grant alone syncs */
	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	sb_filters_suback(fs, APP, 0);
	assert_true(sb_filters_acked(fs, APP));
	assert_true(sb_filters_synced(fs, APP));
	assert_int_equal(sb_filters_barrier(fs, 1), 0);   /* not counted again */
	assert_int_equal(f->subs, 1);
}

static void test_new_suback_waits_again(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct fake *f = &x->f;

	/* granted again (a resubscribe): the broker replays again, so the
	 * filter waits for the barrier sent after the new grant */
	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	sb_filters_suback(fs, APP, 1);
	assert_int_equal(sb_filters_barrier(fs, 1), 1);
	assert_true(sb_filters_synced(fs, APP));
	sb_filters_suback(fs, APP, 4);
	assert_true(sb_filters_acked(fs, APP));
	assert_false(sb_filters_synced(fs, APP));
	assert_int_equal(sb_filters_barrier(fs, 3), 0);
	assert_int_equal(sb_filters_barrier(fs, 4), 1);
	assert_true(sb_filters_synced(fs, APP));
	assert_int_equal(f->subs, 1);
}

static void test_suback_for_unused_filter_ignored(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct fake *f = &x->f;

	/* a SUBACK nobody asked for (or that arrives after the last user
	 * left) leaves no state behind */
	sb_filters_suback(fs, APP, 1);
	assert_false(sb_filters_acked(fs, APP));
	assert_int_equal(sb_filters_active(fs), 0);
	assert_int_equal(sb_filters_barrier(fs, 1), 0);
	assert_false(sb_filters_cover_synced(fs, "team/42/app/x/status"));

	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_int_equal(sb_filters_unref(fs, APP), 1);
	sb_filters_suback(fs, APP, 2);
	assert_false(sb_filters_acked(fs, APP));
	assert_int_equal(sb_filters_active(fs), 0);
	/* and a later user starts unacknowledged */
	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_false(sb_filters_acked(fs, APP));
	assert_int_equal(sb_filters_barrier(fs, 2), 0);
	assert_false(sb_filters_synced(fs, APP));
	assert_int_equal(f->subs, 2);
	assert_int_equal(f->unsubs, 1);
}

static void test_last_unref_clears_acked(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct fake *f = &x->f;

	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	sb_filters_suback(fs, APP, 1);
	assert_int_equal(sb_filters_barrier(fs, 1), 1);
	/* a user less: still acknowledged and synced */
	assert_int_equal(sb_filters_unref(fs, APP), 0);
	assert_true(sb_filters_synced(fs, APP));
	/* the last one: unsubscribed, and no longer acknowledged */
	assert_int_equal(sb_filters_unref(fs, APP), 1);
	assert_false(sb_filters_acked(fs, APP));
	assert_false(sb_filters_synced(fs, APP));
	assert_false(sb_filters_cover_synced(fs, "team/42/app/x/status"));
	assert_int_equal(sb_filters_active(fs), 0);
	/* a new user must wait for a new grant */
	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_false(sb_filters_acked(fs, APP));
	assert_int_equal(f->subs, 2);
}

static void test_link_down_up(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct fake *f = &x->f;

	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, DEP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, DEP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, LOGS), SB_OK);
	sb_filters_suback(fs, APP, 1);
	sb_filters_suback(fs, DEP, 1);
	assert_int_equal(sb_filters_barrier(fs, 1), 2);
	assert_int_equal(f->subs, 3);

	/* down: nothing is acknowledged, every user is kept, nothing is
	 * unsubscribed */
	sb_filters_link(fs, 0);
	assert_int_equal(sb_filters_active(fs), 0);
	assert_false(sb_filters_acked(fs, APP));
	assert_false(sb_filters_synced(fs, DEP));
	assert_false(sb_filters_cover_synced(fs, "team/42/app/x/status"));
	assert_true(sb_filters_cover(fs, "team/42/app/x/status"));
	assert_int_equal(sb_filters_count(fs), 3);
	assert_int_equal(f->unsubs, 0);
	/* a barrier of the old link syncs nothing */
	assert_int_equal(sb_filters_barrier(fs, 1), 0);

	/* up: each filter in use is subscribed once more */
	sb_filters_link(fs, 1);
	assert_int_equal(f->subs, 6);
	assert_false(sb_filters_acked(fs, APP));
	sb_filters_suback(fs, APP, 2);
	sb_filters_suback(fs, DEP, 2);
	sb_filters_suback(fs, LOGS, 3);
	assert_int_equal(sb_filters_barrier(fs, 3), 3);
	/* the ref counts survived: DEP still has two users */
	assert_int_equal(sb_filters_unref(fs, DEP), 0);
	assert_int_equal(sb_filters_unref(fs, DEP), 1);
}

static void test_many_filters(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct fake *f = &x->f;
	char name[32];
	const char **list = calloc(MANY, sizeof(*list));

	assert_non_null(list);
	for (int i = 0; i < MANY; i++) {
		assert_int_equal(sb_filters_ref(fs, name_n(name, sizeof(name), i)), SB_OK);
		sb_filters_suback(fs, name, i + 1);   /* barrier numbers 1 .. MANY */
	}
	assert_int_equal(sb_filters_count(fs), MANY);
	assert_int_equal(sb_filters_active(fs), MANY);
	assert_int_equal(sb_filters_list(fs, list, MANY), MANY);
	for (int i = 0; i < MANY; i++)
		assert_true(index_of(list[i]) >= 0);

	/* half the barriers come back */
	assert_int_equal(sb_filters_barrier(fs, MANY / 2), MANY / 2);
	for (int i = 0; i < MANY; i++)
		assert_int_equal(sb_filters_synced(fs, name_n(name, sizeof(name), i)),
				 i < MANY / 2);

	/* down (removing entries while it walks them) and up: every filter
	 * resubscribed exactly once */
	sb_filters_link(fs, 0);
	assert_int_equal(sb_filters_active(fs), 0);
	sb_filters_link(fs, 1);
	for (int i = 0; i < MANY; i++)
		assert_int_equal(f->sub_n[i], 2);

	/* every other one released: only those are unsubscribed */
	for (int i = 0; i < MANY; i += 2)
		assert_int_equal(sb_filters_unref(fs, name_n(name, sizeof(name), i)), 1);
	for (int i = 0; i < MANY; i++)
		assert_int_equal(f->unsub_n[i], i % 2 == 0);
	assert_int_equal(sb_filters_count(fs), MANY / 2);
	assert_true(sb_filters_cover(fs, "n/1"));
	assert_false(sb_filters_cover(fs, "n/2"));
	free(list);
}

/* ---- silent replays: wildcard filters synced with no retained message ------ */

struct taken {
	int n;
	char names[8][64];
};

static void take(const char *filter, void *user)
{
	struct taken *t = user;

	if (t->n < 8)
		snprintf(t->names[t->n], sizeof(t->names[0]), "%s", filter);
	t->n++;
}

static void test_silent_replay(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct taken t = { 0 };

	assert_int_equal(sb_filters_ref(fs, APP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, DEP), SB_OK);
	assert_int_equal(sb_filters_ref(fs, LOGS), SB_OK);   /* no wildcard: not watched */
	sb_filters_suback(fs, APP, 1);
	sb_filters_suback(fs, DEP, 1);
	sb_filters_suback(fs, LOGS, 1);
	/* a retained message under DEP (and a live-looking one elsewhere) */
	sb_filters_retained(fs, "team/42/deploy/d1/status");
	sb_filters_retained(fs, "user/u1/notify");
	/* nothing is silent before its barrier is back */
	assert_int_equal(sb_filters_take_silent(fs, take, &t), 0);
	assert_int_equal(sb_filters_barrier(fs, 1), 3);
	assert_int_equal(sb_filters_take_silent(fs, take, &t), 1);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.names[0], APP);
	/* taken once */
	assert_int_equal(sb_filters_take_silent(fs, take, &t), 0);
	/* a retained message after the barrier is no replay */
	assert_int_equal(sb_filters_ref(fs, "team/+/db/+/status"), SB_OK);
	sb_filters_suback(fs, "team/+/db/+/status", 2);
	assert_int_equal(sb_filters_barrier(fs, 2), 1);
	sb_filters_retained(fs, "team/42/db/x/status");
	assert_int_equal(sb_filters_take_silent(fs, take, &t), 1);
	assert_string_equal(t.names[1], "team/+/db/+/status");

	/* the link comes back: every wildcard filter's replay is awaited again */
	sb_filters_link(fs, 0);
	sb_filters_link(fs, 1);
	sb_filters_suback(fs, APP, 3);
	sb_filters_suback(fs, DEP, 3);
	sb_filters_retained(fs, "team/7/app/a/status");
	assert_int_equal(sb_filters_barrier(fs, 3), 2);
	t.n = 0;
	assert_int_equal(sb_filters_take_silent(fs, take, &t), 1);
	assert_string_equal(t.names[0], DEP);

	/* a filter released while awaited is forgotten */
	sb_filters_link(fs, 0);
	sb_filters_link(fs, 1);
	sb_filters_suback(fs, APP, 4);
	assert_int_equal(sb_filters_unref(fs, APP), 1);
	sb_filters_barrier(fs, 4);
	t.n = 0;
	sb_filters_take_silent(fs, take, &t);
	for (int i = 0; i < t.n && i < 8; i++)
		assert_string_not_equal(t.names[i], APP);
}

/* A filter a carrier covers is not subscribed at the broker: acked and
 * synced with its carrier, never resubscribed; when the carrier goes it
 * is subscribed on its own. */
static void test_carried_filters(void **state)
{
	struct fx *x = *state;
	struct sb_filters *fs = x->fs;
	struct fake *f = &x->f;
	const char *team_app = "team/42/app/+/status", *one = "team/+/app/a1/status";
	const char *reach = "team/42/server/+/reachability";

	assert_int_equal(sb_filters_ref_carrier(fs, APP), SB_OK);
	assert_int_equal(f->subs, 1);
	assert_int_equal(sb_filters_ref_carrier(fs, APP), SB_ERR_INVAL);   /* in use */
	assert_int_equal(sb_filters_ref(fs, team_app), SB_OK);
	assert_int_equal(sb_filters_ref(fs, one), SB_OK);
	assert_int_equal(sb_filters_ref(fs, reach), SB_OK);   /* not covered */
	assert_int_equal(f->subs, 2);
	assert_string_equal(f->last_sub, reach);
	assert_true(sb_filters_carried(fs, team_app));
	assert_true(sb_filters_carried(fs, one));
	assert_false(sb_filters_carried(fs, reach));
	assert_false(sb_filters_carried(fs, APP));
	assert_int_equal(sb_filters_carried_count(fs), 2);
	assert_int_equal(sb_filters_count(fs), 2);   /* at the broker */

	/* acked and synced with the carrier */
	assert_false(sb_filters_acked(fs, team_app));
	sb_filters_suback(fs, team_app, 1);   /* not subscribed: ignored */
	assert_false(sb_filters_acked(fs, team_app));
	sb_filters_suback(fs, APP, 1);
	assert_true(sb_filters_acked(fs, team_app));
	assert_false(sb_filters_synced(fs, team_app));
	sb_filters_barrier(fs, 1);
	assert_true(sb_filters_synced(fs, team_app));
	assert_true(sb_filters_synced(fs, one));
	assert_true(sb_filters_cover_synced(fs, "team/42/app/a1/status"));

	/* the link: only what is subscribed is subscribed again */
	sb_filters_link(fs, 0);
	assert_false(sb_filters_synced(fs, team_app));
	sb_filters_link(fs, 1);
	assert_int_equal(f->subs, 4);   /* APP and reach */

	/* a carried filter's last user: nothing to unsubscribe */
	assert_int_equal(sb_filters_unref(fs, one), 1);
	assert_int_equal(f->unsubs, 0);
	assert_false(sb_filters_carried(fs, one));

	/* the carrier goes: what it carried is subscribed on its own */
	assert_int_equal(sb_filters_unref(fs, APP), 1);
	assert_int_equal(f->unsubs, 1);
	assert_string_equal(f->last_unsub, APP);
	assert_int_equal(f->subs, 5);
	assert_string_equal(f->last_sub, team_app);
	assert_false(sb_filters_carried(fs, team_app));
	assert_false(sb_filters_synced(fs, team_app));
	assert_int_equal(sb_filters_carried_count(fs), 0);
	assert_int_equal(sb_filters_count(fs), 2);
	assert_int_equal(sb_filters_unref(fs, team_app), 1);
	assert_string_equal(f->last_unsub, team_app);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_empty),
		T(test_ref_counting),
		T(test_filters_are_independent),
		T(test_ops_copied_and_optional),
		T(test_suback_and_barriers),
		T(test_suback_without_barrier_is_synced),
		T(test_new_suback_waits_again),
		T(test_suback_for_unused_filter_ignored),
		T(test_last_unref_clears_acked),
		T(test_link_down_up),
		T(test_many_filters),
		T(test_silent_replay),
		T(test_carried_filters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
