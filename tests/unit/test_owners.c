/* SPDX-License-Identifier: MIT
 *
 * test_owners.c - unit tests for owners.c, which team owns each resource
 * (docs/protocol.md §4: a deploy's channels, and an app's, a database's or
 * a service's runtime logs, are allowed to its owner's members; §2: the
 * owner comes from the retained status on team/<team>/<kind>/<uuid>/status,
 * and an empty retained publish deletes it).  Only the kinds tracked are
 * learned, and (kind, uuid) names a resource: an app and a deploy with one
 * uuid are two.  learn reports LEARNED, SAME, CONFLICT (the first team keeps the
 * deploy), FORGOTTEN and IGNORED (not a deploy status topic, or ids of the
 * wrong shape); get and count answer from what was learned; a delete
 * under another team's prefix does not take the deploy from its owner;
 * and many deploys learned then half forgotten leave the other half.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "owners.h"

#define U1 "0b8f7c1e-1111-2222-3333-444455556666"
#define U2 "9f0e1d2c-aaaa-bbbb-cccc-ddddeeeeffff"
#define ST(team, uuid) "team/" team "/deploy/" uuid "/status"

static struct sb_owners *make(void)
{
	struct sb_owners *o = NULL;

	assert_int_equal(sb_owners_create(&o), SB_OK);
	assert_non_null(o);
	assert_int_equal(sb_owners_track(o, "deploy"), SB_OK);
	return o;
}

static void test_empty(void **state)
{
	struct sb_owners *o = make();
	(void)state;

	assert_int_equal(sb_owners_count(o), 0);
	assert_null(sb_owners_get(o, "deploy", U1));
	assert_null(sb_owners_get(o, "deploy", ""));
	sb_owners_destroy(o);
	sb_owners_destroy(NULL);
}

static void test_learn_same_conflict(void **state)
{
	struct sb_owners *o = make();
	const char *owner = "untouched";
	(void)state;

	assert_int_equal(sb_owners_learn(o, ST("42", U1), 0, &owner), SB_OWNER_LEARNED);
	assert_string_equal(owner, "untouched");   /* only a conflict names one */
	assert_string_equal(sb_owners_get(o, "deploy", U1), "42");
	assert_int_equal(sb_owners_count(o), 1);

	/* every later status of the deploy under the same team */
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 0, &owner), SB_OWNER_SAME);
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 0, NULL), SB_OWNER_SAME);
	assert_string_equal(owner, "untouched");

	/* another team's status for it: contested, nobody owns it (the
	 * first team seen may have been the false one) */
	assert_int_equal(sb_owners_learn(o, ST("7", U1), 0, &owner), SB_OWNER_CONTESTED);
	assert_string_equal(owner, "42");
	assert_null(sb_owners_get(o, "deploy", U1));
	assert_true(sb_owners_contested(o, "deploy", U1));
	assert_int_equal(sb_owners_learn(o, ST("7", U1), 0, NULL), SB_OWNER_CONFLICT);
	/* team ids compare whole: a prefix or an extension is another team */
	assert_int_equal(sb_owners_learn(o, ST("4", U1), 0, NULL), SB_OWNER_CONFLICT);
	assert_int_equal(sb_owners_learn(o, ST("420", U1), 0, NULL), SB_OWNER_CONFLICT);
	assert_null(sb_owners_get(o, "deploy", U1));
	/* the owner's statuses change nothing while the others stand */
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 0, NULL), SB_OWNER_SAME);
	assert_null(sb_owners_get(o, "deploy", U1));
	/* nothing held and every other claim deleted: 42's alone again */
	assert_int_equal(sb_owners_learn(o, ST("7", U1), 1, NULL), SB_OWNER_CONFLICT);
	assert_int_equal(sb_owners_learn(o, ST("4", U1), 1, NULL), SB_OWNER_CONFLICT);
	assert_null(sb_owners_get(o, "deploy", U1));
	assert_int_equal(sb_owners_learn(o, ST("420", U1), 1, NULL), SB_OWNER_CONFLICT);
	assert_string_equal(sb_owners_get(o, "deploy", U1), "42");
	assert_false(sb_owners_contested(o, "deploy", U1));

	/* another deploy is another entry */
	assert_int_equal(sb_owners_learn(o, ST("7", U2), 0, NULL), SB_OWNER_LEARNED);
	assert_string_equal(sb_owners_get(o, "deploy", U2), "7");
	assert_int_equal(sb_owners_count(o), 2);
	sb_owners_destroy(o);
}

static void test_forgotten(void **state)
{
	struct sb_owners *o = make();
	(void)state;

	assert_int_equal(sb_owners_learn(o, ST("42", U1), 0, NULL), SB_OWNER_LEARNED);
	assert_int_equal(sb_owners_learn(o, ST("42", U2), 0, NULL), SB_OWNER_LEARNED);
	/* the owner's status deleted: the deploy is unowned */
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 1, NULL), SB_OWNER_FORGOTTEN);
	assert_null(sb_owners_get(o, "deploy", U1));
	assert_string_equal(sb_owners_get(o, "deploy", U2), "42");
	assert_int_equal(sb_owners_count(o), 1);
	/* deleted again, or a deploy never seen: nothing to forget */
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 1, NULL), SB_OWNER_IGNORED);
	assert_int_equal(sb_owners_learn(o, ST("5", "aaaaaaaa-1111-2222-3333-444455556666"), 1,
					 NULL), SB_OWNER_IGNORED);
	/* once forgotten, the next status names the owner afresh */
	assert_int_equal(sb_owners_learn(o, ST("7", U1), 0, NULL), SB_OWNER_LEARNED);
	assert_string_equal(sb_owners_get(o, "deploy", U1), "7");
	sb_owners_destroy(o);
}

static void test_deleted_while_held_keeps_owner(void **state)
{
	struct sb_owners *o = make();
	const char *owner = NULL;
	(void)state;

	/* a channel of U1 exists (its viewers, its log history) */
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 0, NULL), SB_OWNER_LEARNED);
	assert_int_equal(sb_owners_hold(o, "deploy", U1), SB_OK);
	assert_int_equal(sb_owners_hold(o, "deploy", U1), SB_OK);
	/* the owner deletes its status: a tombstone, still team 42's */
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 1, NULL), SB_OWNER_DELETED);
	assert_string_equal(sb_owners_get(o, "deploy", U1), "42");
	assert_int_equal(sb_owners_count(o), 1);
	/* another team cannot take it over: its history would go with it */
	assert_int_equal(sb_owners_learn(o, ST("43", U1), 0, &owner), SB_OWNER_CONTESTED);
	assert_string_equal(owner, "42");
	assert_null(sb_owners_get(o, "deploy", U1));
	/* one channel gone: still held, still nobody's */
	sb_owners_release(o, "deploy", U1);
	assert_null(sb_owners_get(o, "deploy", U1));
	/* the last one gone: nothing of the deploy is left, and 43's is the
	 * only status standing: 43's afresh */
	sb_owners_release(o, "deploy", U1);
	assert_string_equal(sb_owners_get(o, "deploy", U1), "43");
	assert_int_equal(sb_owners_count(o), 1);
	sb_owners_release(o, "deploy", U1);   /* unbalanced: ignored */
	assert_int_equal(sb_owners_learn(o, ST("43", U1), 0, NULL), SB_OWNER_SAME);
	/* and forgotten once 43 deletes it with nothing held */
	assert_int_equal(sb_owners_learn(o, ST("43", U1), 1, NULL), SB_OWNER_FORGOTTEN);
	assert_int_equal(sb_owners_count(o), 0);

	/* deleted then published again by its owner: no longer a tombstone */
	assert_int_equal(sb_owners_learn(o, ST("7", U2), 0, NULL), SB_OWNER_LEARNED);
	assert_int_equal(sb_owners_hold(o, "deploy", U2), SB_OK);
	assert_int_equal(sb_owners_learn(o, ST("7", U2), 1, NULL), SB_OWNER_DELETED);
	assert_int_equal(sb_owners_learn(o, ST("7", U2), 0, NULL), SB_OWNER_SAME);
	sb_owners_release(o, "deploy", U2);
	assert_string_equal(sb_owners_get(o, "deploy", U2), "7");
	sb_owners_destroy(o);
}

static void test_held_before_known(void **state)
{
	struct sb_owners *o = make();
	(void)state;

	/* a channel made before the owner is known (a token's channels claim) */
	assert_int_equal(sb_owners_hold(o, "deploy", U1), SB_OK);
	assert_null(sb_owners_get(o, "deploy", U1));
	assert_int_equal(sb_owners_count(o), 0);
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 0, NULL), SB_OWNER_LEARNED);
	assert_int_equal(sb_owners_count(o), 1);
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 1, NULL), SB_OWNER_DELETED);
	assert_int_equal(sb_owners_learn(o, ST("43", U1), 0, NULL), SB_OWNER_CONTESTED);
	assert_null(sb_owners_get(o, "deploy", U1));
	sb_owners_release(o, "deploy", U1);
	assert_string_equal(sb_owners_get(o, "deploy", U1), "43");
	/* held and released with no owner ever learned: nothing stays */
	assert_int_equal(sb_owners_hold(o, "deploy", U2), SB_OK);
	sb_owners_release(o, "deploy", U2);
	assert_int_equal(sb_owners_learn(o, ST("42", U2), 1, NULL), SB_OWNER_IGNORED);
	sb_owners_destroy(o);   /* frees held entries too (ASan) */
	o = make();
	assert_int_equal(sb_owners_hold(o, "deploy", U1), SB_OK);
	sb_owners_destroy(o);
}

static void test_contested_while_held(void **state)
{
	struct sb_owners *o = make();
	(void)state;

	/* a retained replay in topic order: the false claim first */
	assert_int_equal(sb_owners_learn(o, ST("43", U1), 0, NULL), SB_OWNER_LEARNED);
	assert_int_equal(sb_owners_hold(o, "deploy", U1), SB_OK);   /* 43 subscribed */
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 0, NULL), SB_OWNER_CONTESTED);
	assert_null(sb_owners_get(o, "deploy", U1));
	/* 43 withdraws its status: while anything of the deploy is held (43's
	 * channel may hold 42's lines), nobody gets it */
	assert_int_equal(sb_owners_learn(o, ST("43", U1), 1, NULL), SB_OWNER_DELETED);
	assert_null(sb_owners_get(o, "deploy", U1));
	assert_true(sb_owners_contested(o, "deploy", U1));
	sb_owners_release(o, "deploy", U1);
	/* nothing held, one claim left: 42's */
	assert_string_equal(sb_owners_get(o, "deploy", U1), "42");
	assert_false(sb_owners_contested(o, "deploy", U1));
	/* more rivals than remembered: contested until forgotten */
	assert_int_equal(sb_owners_learn(o, ST("t1", U2), 0, NULL), SB_OWNER_LEARNED);
	assert_int_equal(sb_owners_learn(o, ST("t2", U2), 0, NULL), SB_OWNER_CONTESTED);
	for (int i = 3; i < 10; i++) {
		char topic[128];
		snprintf(topic, sizeof(topic), "team/t%d/deploy/%s/status", i, U2);
		assert_int_equal(sb_owners_learn(o, topic, 0, NULL), SB_OWNER_CONFLICT);
	}
	assert_int_equal(sb_owners_learn(o, ST("t2", U2), 1, NULL), SB_OWNER_CONFLICT);
	assert_true(sb_owners_contested(o, "deploy", U2));
	sb_owners_destroy(o);   /* frees the rivals (ASan) */
}

static void test_delete_under_other_team_keeps_owner(void **state)
{
	struct sb_owners *o = make();
	const char *owner = NULL;
	(void)state;

	assert_int_equal(sb_owners_learn(o, ST("42", U1), 0, NULL), SB_OWNER_LEARNED);
	assert_int_equal(sb_owners_learn(o, ST("7", U1), 0, NULL), SB_OWNER_CONTESTED);
	/* team 7's (conflicting) status deleted: that takes nothing from 42,
	 * or a delete then a status under 7's prefix would move the deploy */
	assert_int_equal(sb_owners_learn(o, ST("7", U1), 1, &owner), SB_OWNER_CONFLICT);
	assert_string_equal(owner, "42");
	assert_string_equal(sb_owners_get(o, "deploy", U1), "42");
	assert_int_equal(sb_owners_learn(o, ST("7", U1), 0, NULL), SB_OWNER_CONTESTED);
	assert_null(sb_owners_get(o, "deploy", U1));
	assert_int_equal(sb_owners_learn(o, ST("7", U1), 1, NULL), SB_OWNER_CONFLICT);
	assert_string_equal(sb_owners_get(o, "deploy", U1), "42");
	/* nor does a delete under a team id of the wrong shape */
	assert_int_equal(sb_owners_learn(o, "team//deploy/" U1 "/status", 1, NULL),
			 SB_OWNER_IGNORED);
	assert_int_equal(sb_owners_learn(o, ST("a b", U1), 1, NULL), SB_OWNER_IGNORED);
	assert_string_equal(sb_owners_get(o, "deploy", U1), "42");
	/* the owner's own delete still forgets it */
	assert_int_equal(sb_owners_learn(o, ST("42", U1), 1, NULL), SB_OWNER_FORGOTTEN);
	assert_null(sb_owners_get(o, "deploy", U1));
	sb_owners_destroy(o);
}

static void test_ignored_topics(void **state)
{
	struct sb_owners *o = make();
	char team64[80], team65[80], topic[256];
	static const char *const ignored[] = {
		"",
		"team/",
		"team/42",
		"team/42/deploy",
		"team/42/deploy/" U1,
		"team/42/deploy/" U1 "/",
		"team/42/deploy/" U1 "/logs",
		"team/42/deploy/" U1 "/status/x",
		"team/42/deploy/" U1 "/x/status",
		"team/42/deploy//status",
		"team/42/app/" U1 "/status",
		"team/42/deploys/" U1 "/status",
		"deploy/" U1 "/logs",
		"deploy/" U1 "/status",
		"teams/42/deploy/" U1 "/status",
		"xteam/42/deploy/" U1 "/status",
		"/team/42/deploy/" U1 "/status",
		"$SYS/team/42/deploy/" U1 "/status",
		/* ids of the wrong shape */
		"team//deploy/" U1 "/status",
		"team/a b/deploy/" U1 "/status",
		"team/a.b/deploy/" U1 "/status",
		"team/+/deploy/" U1 "/status",
		"team/#/deploy/" U1 "/status",
		"team/42/deploy/+/status",
		"team/42/deploy/#/status",
		"team/42/deploy/not-a-uuid/status",
		"team/42/deploy/0b8f7c1e-1111-2222-3333-44445555666/status",
		"team/42/deploy/0b8f7c1e-1111-2222-3333-4444555566667/status",
		"team/42/deploy/0b8f7c1e11112222333344445555666600/status",
		"team/42/deploy/0b8f7c1e-1111-2222-3333-44445555666g/status",
		"team/42/deploy/" U1 U1 "/status",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		if (sb_owners_learn(o, ignored[i], 0, NULL) != SB_OWNER_IGNORED)
			fail_msg("learned from \"%s\"", ignored[i]);
		if (sb_owners_learn(o, ignored[i], 1, NULL) != SB_OWNER_IGNORED)
			fail_msg("forgot from \"%s\"", ignored[i]);
	}
	assert_int_equal(sb_owners_count(o), 0);

	/* a team id is 1 to 64 bytes */
	memset(team64, 'a', 64);
	team64[64] = '\0';
	memset(team65, 'b', 65);
	team65[65] = '\0';
	snprintf(topic, sizeof(topic), "team/%s/deploy/%s/status", team65, U1);
	assert_int_equal(sb_owners_learn(o, topic, 0, NULL), SB_OWNER_IGNORED);
	snprintf(topic, sizeof(topic), "team/%s/deploy/%s/status", team64, U1);
	assert_int_equal(sb_owners_learn(o, topic, 0, NULL), SB_OWNER_LEARNED);
	assert_string_equal(sb_owners_get(o, "deploy", U1), team64);
	assert_int_equal(sb_owners_learn(o, ST("a-Z_9", U2), 0, NULL), SB_OWNER_LEARNED);
	assert_int_equal(sb_owners_count(o), 2);
	sb_owners_destroy(o);
}

static void test_lookups(void **state)
{
	struct sb_owners *o = make();
	(void)state;

	assert_int_equal(sb_owners_learn(o, ST("42", U1), 0, NULL), SB_OWNER_LEARNED);
	assert_string_equal(sb_owners_get(o, "deploy", U1), "42");
	/* exact keys only: no prefix, no case folding (channel names and
	 * topics are case-sensitive) */
	assert_null(sb_owners_get(o, "deploy", "0b8f7c1e-1111-2222-3333-44445555666"));
	assert_null(sb_owners_get(o, "deploy", "0B8F7C1E-1111-2222-3333-444455556666"));
	assert_null(sb_owners_get(o, "deploy", ""));
	assert_null(sb_owners_get(o, "deploy", ST("42", U1)));
	/* an upper-case UUID is a UUID, and another deploy */
	assert_int_equal(sb_owners_learn(o, ST("7", "0B8F7C1E-1111-2222-3333-444455556666"), 0,
					 NULL), SB_OWNER_LEARNED);
	assert_string_equal(sb_owners_get(o, "deploy", "0B8F7C1E-1111-2222-3333-444455556666"), "7");
	assert_string_equal(sb_owners_get(o, "deploy", U1), "42");
	sb_owners_destroy(o);
}

/* Every tracked kind is learned the same way; a kind not tracked is not;
 * (kind, uuid) names a resource. */
static void test_kinds(void **state)
{
	struct sb_owners *o = make();
	const char *owner = NULL;
	(void)state;

	/* app statuses mean nothing until apps are tracked */
	assert_int_equal(sb_owners_learn(o, "team/42/app/" U1 "/status", 0, NULL), SB_OWNER_IGNORED);
	assert_false(sb_owners_tracks(o, "app"));
	assert_int_equal(sb_owners_track(o, "app"), SB_OK);
	assert_int_equal(sb_owners_track(o, "app"), SB_OK);   /* twice is once */
	assert_int_equal(sb_owners_track(o, "service"), SB_OK);
	assert_true(sb_owners_tracks(o, "app"));
	assert_false(sb_owners_tracks(o, "db"));
	assert_int_equal(sb_owners_learn(o, "team/42/app/" U1 "/status", 0, NULL), SB_OWNER_LEARNED);
	assert_int_equal(sb_owners_learn(o, "team/42/db/" U1 "/status", 0, NULL), SB_OWNER_IGNORED);
	/* the same uuid as a deploy of another team: another resource */
	assert_int_equal(sb_owners_learn(o, ST("7", U1), 0, NULL), SB_OWNER_LEARNED);
	assert_string_equal(sb_owners_get(o, "app", U1), "42");
	assert_string_equal(sb_owners_get(o, "deploy", U1), "7");
	assert_null(sb_owners_get(o, "db", U1));
	assert_null(sb_owners_get(o, "service", U1));
	assert_int_equal(sb_owners_count(o), 2);
	/* contested per resource, like deploys */
	assert_int_equal(sb_owners_learn(o, "team/7/app/" U1 "/status", 0, &owner),
			 SB_OWNER_CONTESTED);
	assert_string_equal(owner, "42");
	assert_null(sb_owners_get(o, "app", U1));
	assert_string_equal(sb_owners_get(o, "deploy", U1), "7");
	assert_int_equal(sb_owners_learn(o, "team/7/app/" U1 "/status", 1, NULL), SB_OWNER_CONFLICT);
	assert_string_equal(sb_owners_get(o, "app", U1), "42");
	assert_int_equal(sb_owners_hold(o, "app", U1), SB_OK);
	assert_int_equal(sb_owners_learn(o, "team/42/app/" U1 "/status", 1, NULL), SB_OWNER_DELETED);
	assert_string_equal(sb_owners_get(o, "app", U1), "42");
	/* releasing the app leaves the deploy alone */
	sb_owners_release(o, "app", U1);
	assert_null(sb_owners_get(o, "app", U1));
	assert_string_equal(sb_owners_get(o, "deploy", U1), "7");
	assert_int_equal(sb_owners_learn(o, "team/7/app/" U1 "/status", 0, NULL), SB_OWNER_LEARNED);
	assert_string_equal(sb_owners_get(o, "app", U1), "7");
	/* the other leaves of a resource teach nothing */
	assert_int_equal(sb_owners_learn(o, "team/42/service/" U2 "/logs", 0, NULL),
			 SB_OWNER_IGNORED);
	assert_int_equal(sb_owners_learn(o, "team/42/app/" U2 "/stats", 0, NULL), SB_OWNER_IGNORED);
	assert_null(sb_owners_get(o, "service", U2));
	assert_int_equal(sb_owners_learn(o, "team/42/service/" U2 "/status", 0, NULL),
			 SB_OWNER_LEARNED);
	assert_string_equal(sb_owners_get(o, "service", U2), "42");
	/* kinds are ids, and there are few of them */
	assert_int_equal(sb_owners_track(o, "a/b"), SB_ERR_INVAL);
	assert_int_equal(sb_owners_track(o, ""), SB_ERR_INVAL);
	assert_int_equal(sb_owners_track(o, "+"), SB_ERR_INVAL);
	for (int i = 0; i < SB_OWNERS_MAX_KINDS - 3; i++) {
		char kind[8];
		snprintf(kind, sizeof(kind), "k%d", i);
		assert_int_equal(sb_owners_track(o, kind), SB_OK);
	}
	assert_int_equal(sb_owners_track(o, "one-more"), SB_ERR_LIMIT);
	assert_int_equal(sb_owners_track(o, "app"), SB_OK);
	/* a kind or id too long for any resource is none */
	assert_null(sb_owners_get(o, "app", "x" U1 U1 U1 U1));
	sb_owners_destroy(o);
}

static void test_split(void **state)
{
	char team[8], kind[8], id[40];
	const char *leaf;
	(void)state;

	leaf = sb_owners_split("team/42/app/" U1 "/logs", team, sizeof(team), kind, sizeof(kind),
			       id, sizeof(id));
	assert_non_null(leaf);
	assert_string_equal(leaf, "logs");
	assert_string_equal(team, "42");
	assert_string_equal(kind, "app");
	assert_string_equal(id, U1);
	/* exactly five levels, each fitting its buffer */
	assert_null(sb_owners_split("team/42/app/" U1, team, sizeof(team), kind, sizeof(kind), id,
				    sizeof(id)));
	assert_null(sb_owners_split("team/42/app/" U1 "/logs/x", team, sizeof(team), kind,
				    sizeof(kind), id, sizeof(id)));
	assert_null(sb_owners_split("deploy/" U1 "/logs", team, sizeof(team), kind, sizeof(kind),
				    id, sizeof(id)));
	assert_null(sb_owners_split("team/12345678/app/" U1 "/logs", team, sizeof(team), kind,
				    sizeof(kind), id, sizeof(id)));
	assert_null(sb_owners_split("team/42/services/" U1 "/logs", team, sizeof(team), kind,
				    sizeof(kind), id, sizeof(id)));
	leaf = sb_owners_split("team/42/db/" U1 "/", team, sizeof(team), kind, sizeof(kind), id,
			       sizeof(id));
	assert_non_null(leaf);
	assert_string_equal(leaf, "");
}

#define NDEPLOYS 10000

static const char *uuid_n(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "%08x-0000-4000-8000-%012x", i * 2654435761u, i);
	return buf;
}

static void test_many_deploys(void **state)
{
	struct sb_owners *o = make();
	char uuid[40], topic[128], team[16];
	(void)state;

	for (unsigned i = 0; i < NDEPLOYS; i++) {
		snprintf(topic, sizeof(topic), "team/t%u/deploy/%s/status", i % 97,
			 uuid_n(uuid, sizeof(uuid), i));
		assert_int_equal(sb_owners_learn(o, topic, 0, NULL), SB_OWNER_LEARNED);
	}
	assert_int_equal(sb_owners_count(o), NDEPLOYS);
	/* forget the even ones */
	for (unsigned i = 0; i < NDEPLOYS; i += 2) {
		snprintf(topic, sizeof(topic), "team/t%u/deploy/%s/status", i % 97,
			 uuid_n(uuid, sizeof(uuid), i));
		assert_int_equal(sb_owners_learn(o, topic, 1, NULL), SB_OWNER_FORGOTTEN);
	}
	assert_int_equal(sb_owners_count(o), NDEPLOYS / 2);
	for (unsigned i = 0; i < NDEPLOYS; i++) {
		const char *got = sb_owners_get(o, "deploy", uuid_n(uuid, sizeof(uuid), i));

		if (i % 2 == 0) {
			assert_null(got);
			continue;
		}
		snprintf(team, sizeof(team), "t%u", i % 97);
		assert_non_null(got);
		assert_string_equal(got, team);
		/* and the kept ones are contested by another team's status */
		snprintf(topic, sizeof(topic), "team/other/deploy/%s/status", uuid);
		assert_int_equal(sb_owners_learn(o, topic, 0, NULL), SB_OWNER_CONTESTED);
		assert_null(sb_owners_get(o, "deploy", uuid));
	}
	/* the forgotten ones can be learned again */
	for (unsigned i = 0; i < NDEPLOYS; i += 2) {
		snprintf(topic, sizeof(topic), "team/other/deploy/%s/status",
			 uuid_n(uuid, sizeof(uuid), i));
		assert_int_equal(sb_owners_learn(o, topic, 0, NULL), SB_OWNER_LEARNED);
	}
	assert_int_equal(sb_owners_count(o), NDEPLOYS);
	sb_owners_destroy(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_learn_same_conflict),
		cmocka_unit_test(test_forgotten),
		cmocka_unit_test(test_deleted_while_held_keeps_owner),
		cmocka_unit_test(test_held_before_known),
		cmocka_unit_test(test_contested_while_held),
		cmocka_unit_test(test_delete_under_other_team_keeps_owner),
		cmocka_unit_test(test_ignored_topics),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_many_deploys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
