/* SPDX-License-Identifier: MIT
 *
 * test_acl.c - unit tests for acl.c, the subscription rules of
 * docs/protocol.md §4 (default deny): team channels need the team in the
 * token, deploy channels and the runtime logs of apps, databases and
 * services need the resource's owning team, asked for by kind (unknown
 * resource = not_found, another team's = forbidden without naming it; an
 * app and a deploy with one uuid are two resources), user.<u> needs
 * sub = u, public.<p> is always allowed, a missing token is
 * "unauthorized", the `channels` claim's patterns (`*` = exactly one
 * segment) allow more, and open mode allows everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "acl.h"

#define D42 "0b8f7c1e-1111-2222-3333-444455556666"   /* owned by team 42 */
#define D43 "9f0e1d2c-aaaa-bbbb-cccc-ddddeeeeffff"   /* owned by team 43 */
#define DNEW "11111111-2222-3333-4444-555555555555"  /* not known */

#define R42 "aaaaaaaa-1111-2222-3333-444455556666"   /* app, db, service of team 42 */
#define R43 "bbbbbbbb-1111-2222-3333-444455556666"   /* app, db, service of team 43 */

static struct sb_chanmap *map;
static char last_lookup[80], last_kind[16];
static int lookups;

/* The owners: deploys D42 and D43, and resources R42 and R43 of every
 * other kind; a deploy's uuid is no app's, and the other way round. */
static const char *owner(const char *kind, const char *id, void *user)
{
	int deploy = strcmp(kind, "deploy") == 0;

	(void)user;
	lookups++;
	snprintf(last_lookup, sizeof(last_lookup), "%s", id);
	snprintf(last_kind, sizeof(last_kind), "%s", kind);
	if (strcmp(id, deploy ? D42 : R42) == 0)
		return "42";
	if (strcmp(id, deploy ? D43 : R43) == 0)
		return "43";
	return NULL;
}

static int group_setup(void **state)
{
	char err[256];
	(void)state;
	return sb_chanmap_default(&map, err, sizeof(err)) == SB_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	sb_chanmap_destroy(map);
	return 0;
}

/* claims for user u1 in teams 42 and 7, plus optional channel patterns */
static char *teams_u1[] = { "42", "7" };
static struct sb_jwt_claims u1 = { .sub = "u1", .exp = 4000000000LL, .teams = teams_u1,
				   .n_teams = 2 };

struct verdict {
	enum sb_err rc;
	int anonymous;
	char reason[256];
};

static struct verdict check_m(const struct sb_chanmap *m, int open_mode,
			      const struct sb_jwt_claims *claims, const char *name)
{
	struct sb_acl_ctx ctx = { open_mode, claims, owner, NULL };
	struct sb_chan_ref ref;
	struct verdict v;
	char why[256];

	if (sb_chanmap_parse(m, name, strlen(name), &ref, why, sizeof(why)) != SB_OK)
		fail_msg("channel %s does not parse: %s", name, why);
	v.anonymous = -1;
	v.reason[0] = '\0';
	v.rc = sb_acl_check(&ctx, &ref, name, &v.anonymous, v.reason, sizeof(v.reason));
	if (v.rc != SB_OK && !v.reason[0])
		fail_msg("%s refused without a reason", name);
	assert_true(v.anonymous == 0 || v.anonymous == 1);
	return v;
}

static struct verdict check(int open_mode, const struct sb_jwt_claims *claims, const char *name)
{
	return check_m(map, open_mode, claims, name);
}

static void expect_allowed(const struct sb_jwt_claims *claims, const char *name)
{
	struct verdict v = check(0, claims, name);

	if (v.rc != SB_OK)
		fail_msg("%s: refused (%d: %s), want allowed", name, v.rc, v.reason);
	assert_int_equal(v.anonymous, 0);
}

/* Refused as forbidden (a token was there, it does not allow this). */
static struct verdict expect_forbidden(const struct sb_jwt_claims *claims, const char *name)
{
	struct verdict v = check(0, claims, name);

	if (v.rc != SB_ERR_DENIED)
		fail_msg("%s: rc %d (%s), want SB_ERR_DENIED", name, v.rc, v.reason);
	assert_int_equal(v.anonymous, 0);
	return v;
}

/* ---- rules ---------------------------------------------------------------------------- */

static void test_team(void **state)
{
	struct verdict v;
	(void)state;

	expect_allowed(&u1, "team.42");
	expect_allowed(&u1, "team.7");
	expect_allowed(&u1, "team.42.stats");
	v = expect_forbidden(&u1, "team.43");
	assert_string_equal(v.reason, "team 43 is not in your token");   /* the example of docs/protocol.md §5 */
	expect_forbidden(&u1, "team.43.stats");
	expect_forbidden(&u1, "team.4");         /* no prefix matching */
	expect_forbidden(&u1, "team.420");
}

static void test_team_none_in_token(void **state)
{
	struct sb_jwt_claims c = { .sub = "u9", .exp = 1 };
	(void)state;

	expect_forbidden(&c, "team.42");
	expect_forbidden(&c, "deploy." D42);
	expect_allowed(&c, "user.u9");
	expect_allowed(&c, "public.main");
}

static void test_deploy_owner(void **state)
{
	struct verdict v;
	(void)state;

	lookups = 0;
	expect_allowed(&u1, "deploy." D42);
	assert_string_equal(last_lookup, D42);
	assert_string_equal(last_kind, "deploy");
	expect_allowed(&u1, "deploy." D42 ".logs");
	assert_int_equal(lookups, 2);
	/* another team's deploy: forbidden, and the owner is not revealed */
	v = expect_forbidden(&u1, "deploy." D43);
	assert_null(strstr(v.reason, "43 "));
	assert_non_null(strstr(v.reason, D43));
	expect_forbidden(&u1, "deploy." D43 ".logs");
	/* unknown deploy: not_found, not allowed */
	v = check(0, &u1, "deploy." DNEW ".logs");
	assert_int_equal(v.rc, SB_ERR_NOTFOUND);
	assert_int_equal(v.anonymous, 0);
	assert_string_equal(v.reason, "deploy " DNEW " is not known");
	v = check(0, &u1, "deploy." DNEW);
	assert_int_equal(v.rc, SB_ERR_NOTFOUND);
}

/* The runtime logs of an app, a database, a service: the same rule, asked
 * for the resource of the channel's own kind. */
static void test_runtime_logs_owner(void **state)
{
	static const char *const kinds[] = { "app", "db", "service" };
	char name[128], want[128];
	struct verdict v;
	(void)state;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		snprintf(name, sizeof(name), "%s.%s.logs", kinds[i], R42);
		lookups = 0;
		expect_allowed(&u1, name);
		assert_int_equal(lookups, 1);
		assert_string_equal(last_kind, kinds[i]);
		assert_string_equal(last_lookup, R42);
		/* another team's: forbidden, the owner not revealed */
		snprintf(name, sizeof(name), "%s.%s.logs", kinds[i], R43);
		v = expect_forbidden(&u1, name);
		snprintf(want, sizeof(want), "%s %s belongs to a team that is not in your token",
			 kinds[i], R43);
		assert_string_equal(v.reason, want);
		assert_null(strstr(v.reason, "43 "));
		/* unknown: not_found; a deploy's uuid is not an app's */
		snprintf(name, sizeof(name), "%s.%s.logs", kinds[i], D42);
		v = check(0, &u1, name);
		assert_int_equal(v.rc, SB_ERR_NOTFOUND);
		snprintf(want, sizeof(want), "%s %s is not known", kinds[i], D42);
		assert_string_equal(v.reason, want);
		/* no token: unauthorized, and nothing is looked up */
		lookups = 0;
		v = check(0, NULL, name);
		assert_int_equal(v.rc, SB_ERR_DENIED);
		assert_int_equal(v.anonymous, 1);
		assert_int_equal(lookups, 0);
	}
	/* and the other way round: an app's uuid is no deploy */
	v = check(0, &u1, "deploy." R42 ".logs");
	assert_int_equal(v.rc, SB_ERR_NOTFOUND);
}

static void test_deploy_without_lookup(void **state)
{
	struct sb_acl_ctx ctx = { 0, &u1, NULL, NULL };
	struct sb_chan_ref ref;
	char why[256];
	int anon = -1;
	(void)state;

	assert_int_equal(sb_chanmap_parse(map, "deploy." D42, strlen("deploy." D42), &ref, why,
					  sizeof(why)), SB_OK);
	assert_int_equal(sb_acl_check(&ctx, &ref, "deploy." D42, &anon, why, sizeof(why)),
			 SB_ERR_NOTFOUND);
	assert_int_equal(anon, 0);
}

static void test_user(void **state)
{
	struct verdict v;
	(void)state;

	expect_allowed(&u1, "user.u1");
	v = expect_forbidden(&u1, "user.u2");
	assert_string_equal(v.reason, "channel user.u2 is not yours");
	expect_forbidden(&u1, "user.U1");        /* ids are case-sensitive */
	expect_forbidden(&u1, "user.u10");
}

static void test_public_always(void **state)
{
	struct verdict v;
	(void)state;

	expect_allowed(&u1, "public.main");
	v = check(0, NULL, "public.main");
	assert_int_equal(v.rc, SB_OK);
	assert_int_equal(v.anonymous, 0);
}

static void test_anonymous(void **state)
{
	static const char *const names[] = {
		"team.42", "team.42.stats", "deploy." D42, "deploy." D42 ".logs",
		"deploy." DNEW ".logs", "user.u1", "app." R42 ".logs", "service." DNEW ".logs",
	};
	(void)state;

	lookups = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct verdict v = check(0, NULL, names[i]);
		if (v.rc != SB_ERR_DENIED || v.anonymous != 1)
			fail_msg("%s without a token: rc %d anonymous %d", names[i], v.rc, v.anonymous);
		assert_non_null(strstr(v.reason, "needs a token"));
	}
	assert_int_equal(lookups, 0);   /* nothing is revealed about deploys */
}

static void test_open_mode(void **state)
{
	static const char *const names[] = {
		"team.43", "team.43.stats", "deploy." D43, "deploy." DNEW ".logs", "user.u2",
		"public.x",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct verdict a = check(1, NULL, names[i]), b = check(1, &u1, names[i]);
		if (a.rc != SB_OK || b.rc != SB_OK)
			fail_msg("%s refused in open mode", names[i]);
		assert_int_equal(a.anonymous, 0);
	}
}

/* ---- the channels claim ------------------------------------------------------------------- */

static void test_channels_claim(void **state)
{
	char *pats[] = { "deploy.*.logs", "team.43", "user.*", "app.*.logs" };
	struct sb_jwt_claims c = { .sub = "u1", .exp = 1, .teams = teams_u1, .n_teams = 2,
				   .channels = pats, .n_channels = 4 };
	struct verdict v;
	(void)state;

	/* a pattern allows what the rules would not, even an unknown deploy */
	expect_allowed(&c, "deploy." D43 ".logs");
	expect_allowed(&c, "deploy." DNEW ".logs");
	expect_allowed(&c, "team.43");
	expect_allowed(&c, "user.u2");
	expect_allowed(&c, "app." R43 ".logs");
	expect_allowed(&c, "app." DNEW ".logs");
	expect_forbidden(&c, "db." R43 ".logs");   /* another kind: the rule decides */
	/* '*' is one segment: deploy.<d> is not deploy.*.logs */
	expect_forbidden(&c, "deploy." D43);
	v = check(0, &c, "deploy." DNEW);
	assert_int_equal(v.rc, SB_ERR_NOTFOUND);
	expect_forbidden(&c, "team.43.stats");
	/* the rules still apply besides */
	expect_allowed(&c, "team.42");
	expect_allowed(&c, "deploy." D42);
}

static void test_claims_rule_channels(void **state)
{
	struct sb_chanmap *m = NULL;
	char err[256];
	cJSON *j = cJSON_Parse("[{\"name\":\"ops.{x}\",\"topics\":[\"ops/{x}/#\"]},"
			       "{\"name\":\"ops.{x}.audit\",\"topics\":[\"audit/{x}\"]}]");
	char *pats[] = { "ops.*" };
	struct sb_jwt_claims with = { .sub = "u1", .exp = 1, .channels = pats, .n_channels = 1 };
	struct sb_jwt_claims without = { .sub = "u1", .exp = 1 };
	struct verdict v;
	(void)state;

	assert_non_null(j);
	assert_int_equal(sb_chanmap_from_json(&m, j, err, sizeof(err)), SB_OK);
	cJSON_Delete(j);
	/* a channel with no acl rule is allowed only by a claim */
	assert_int_equal(check_m(m, 0, &with, "ops.eu").rc, SB_OK);
	v = check_m(m, 0, &with, "ops.eu.audit");
	assert_int_equal(v.rc, SB_ERR_DENIED);
	assert_string_equal(v.reason, "channel ops.eu.audit is not in your token");
	v = check_m(m, 0, &without, "ops.eu");
	assert_int_equal(v.rc, SB_ERR_DENIED);
	assert_int_equal(v.anonymous, 0);
	v = check_m(m, 0, NULL, "ops.eu");
	assert_int_equal(v.rc, SB_ERR_DENIED);
	assert_int_equal(v.anonymous, 1);
	assert_int_equal(check_m(m, 1, NULL, "ops.eu.audit").rc, SB_OK);
	sb_chanmap_destroy(m);
}

static void test_pattern_match(void **state)
{
	static const struct { const char *p, *c; int want; } rows[] = {
		{ "team.42", "team.42", 1 },
		{ "team.42", "team.43", 0 },
		{ "team.*", "team.43", 1 },
		{ "team.*", "team.43.stats", 0 },     /* '*' is exactly one segment */
		{ "team.*", "team", 0 },
		{ "team.*", "team.", 0 },             /* not an empty one either */
		{ "*", "a", 1 },
		{ "*", "a.b", 0 },
		{ "*", "", 0 },
		{ "*.*", "a.b", 1 },
		{ "*.*", "a", 0 },
		{ "deploy.*.logs", "deploy.x.logs", 1 },
		{ "deploy.*.logs", "deploy.x.y.logs", 0 },
		{ "deploy.*.logs", "deploy..logs", 0 },
		{ "deploy.*.logs", "deploy.x.logs.more", 0 },
		{ "team.4*", "team.42", 0 },          /* not a glob inside a segment */
		{ "team*", "team.42", 0 },
		{ "team.42.stats", "team.42", 0 },
		{ "team.42", "team.42.stats", 0 },
		{ "Team.42", "team.42", 0 },
		{ "", "", 0 },
		{ "a..b", "a..b", 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (sb_acl_pattern_match(rows[i].p, rows[i].c) != rows[i].want)
			fail_msg("sb_acl_pattern_match(\"%s\", \"%s\") != %d", rows[i].p, rows[i].c,
				 rows[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_team),
		cmocka_unit_test(test_team_none_in_token),
		cmocka_unit_test(test_deploy_owner),
		cmocka_unit_test(test_runtime_logs_owner),
		cmocka_unit_test(test_deploy_without_lookup),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_public_always),
		cmocka_unit_test(test_anonymous),
		cmocka_unit_test(test_open_mode),
		cmocka_unit_test(test_channels_claim),
		cmocka_unit_test(test_claims_rule_channels),
		cmocka_unit_test(test_pattern_match),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
