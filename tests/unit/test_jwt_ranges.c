/* SPDX-License-Identifier: MIT
 *
 * test_jwt_ranges.c - unit tests for the numbers and patterns jwt.c takes
 * from a token: exp, nbf and iat walked over their range (min - 1, min,
 * max, max + 1, overflow, not a number), the token lifetime bound
 * (auth.max_ttl_s: an exp of 2^53 no longer means "never expires") and
 * the refusal of a "channels" pattern whose first segment is "*".
 * Structure, signatures and the other claims: test_jwt.c.
 */
#include "jwt_fixture.h"

#define TWO53 "9007199254740992"

/* Options that test only the range of a date: no lifetime bound. */
static struct sb_jwt_verify_opts opts_wide(void)
{
	struct sb_jwt_verify_opts o = opts_default();

	o.max_ttl_s = INT64_MAX;
	return o;
}

static enum sb_err verify_pl(const char *pl, const struct sb_jwt_verify_opts *o)
{
	char *tok = make_token(HS, pl, SIG_HS);
	enum sb_err e = run(hs_key, tok, o, NULL);

	free(tok);
	return e;
}

/* A payload with `claim` set to `value` (text as written in the JSON);
 * exp stays an hour from now unless it is the claim. */
static enum sb_err date_is(const char *claim, const char *value,
			   const struct sb_jwt_verify_opts *o)
{
	char pl[256];

	if (strcmp(claim, "exp") == 0)
		snprintf(pl, sizeof(pl), "{\"sub\":\"u1\",\"exp\":%s}", value);
	else
		snprintf(pl, sizeof(pl), "{\"sub\":\"u1\",\"exp\":%lld,\"%s\":%s}",
			 NOW + 3600, claim, value);
	return verify_pl(pl, o);
}

/* What every date claim refuses as not a NumericDate: below the range,
 * past it (the next double after 2^53 is 2^53 + 2), overflowing any
 * integer type, and not a number. */
static void refused_as_dates(const char *claim)
{
	static const char *const bad[] = {
		"-1", "-0.5", "-1e-300",                           /* min - 1 */
		"9007199254740994", "9007199254740996",            /* max + 1 */
		"9223372036854775807", "9223372036854775808",      /* int64 */
		"18446744073709551616", "1e300", "1e999", "-1e999",
		"\"1700000000\"", "\"\"", "true", "false", "null", "[]", "[1700000000]",
		"{}",
	};
	struct sb_jwt_verify_opts o = opts_wide();

	for (size_t i = 0; i < SB_ARRAY_LEN(bad); i++) {
		if (date_is(claim, bad[i], &o) != SB_ERR_INVAL)
			fail_msg("%s: %s not refused as invalid", claim, bad[i]);
		assert_non_null(strstr(reason, claim));
		assert_non_null(strstr(reason, "2^53"));
	}
}

static void test_exp_range(void **state)
{
	struct sb_jwt_verify_opts o = opts_wide(), def = opts_default();

	(void)state;
	refused_as_dates("exp");
	/* min: a NumericDate, long expired */
	assert_int_equal(date_is("exp", "0", &o), SB_ERR_EXPIRED);
	assert_int_equal(date_is("exp", "-0", &o), SB_ERR_EXPIRED);
	/* max: 2^53 - 1 and 2^53 are dates; 2^53 + 1 reads as 2^53 (a JSON
	 * number is a double, and there is none between them) */
	assert_int_equal(date_is("exp", "9007199254740991", &o), SB_OK);
	assert_int_equal(date_is("exp", TWO53, &o), SB_OK);
	assert_int_equal(date_is("exp", "9007199254740993", &o), SB_OK);
	assert_int_equal(date_is("exp", "9.007199254740992e15", &o), SB_OK);
	/* ...but with the default lifetime bound, far exps are refused */
	assert_int_equal(date_is("exp", TWO53, &def), SB_ERR_INVAL);
	assert_non_null(strstr(reason, "auth.max_ttl_s"));
	assert_int_equal(date_is("exp", "9007199254740991", &def), SB_ERR_INVAL);
}

static void test_nbf_range(void **state)
{
	struct sb_jwt_verify_opts o = opts_wide();
	char v[32];

	(void)state;
	refused_as_dates("nbf");
	assert_int_equal(date_is("nbf", "0", &o), SB_OK);          /* min */
	snprintf(v, sizeof(v), "%lld", NOW + 30);                   /* the leeway */
	assert_int_equal(date_is("nbf", v, &o), SB_OK);
	snprintf(v, sizeof(v), "%lld", NOW + 31);
	assert_int_equal(date_is("nbf", v, &o), SB_ERR_EXPIRED);
	assert_int_equal(date_is("nbf", TWO53, &o), SB_ERR_EXPIRED);   /* max: not yet */
	assert_non_null(strstr(reason, "nbf"));
}

static void test_iat_range(void **state)
{
	struct sb_jwt_verify_opts o = opts_wide();
	char v[32];

	(void)state;
	refused_as_dates("iat");
	assert_int_equal(date_is("iat", "0", &o), SB_OK);          /* min (as absent) */
	snprintf(v, sizeof(v), "%lld", NOW + 30);
	assert_int_equal(date_is("iat", v, &o), SB_OK);
	snprintf(v, sizeof(v), "%lld", NOW + 31);
	assert_int_equal(date_is("iat", v, &o), SB_ERR_EXPIRED);
	assert_int_equal(date_is("iat", TWO53, &o), SB_ERR_EXPIRED);   /* max: future */
	assert_non_null(strstr(reason, "iat"));
}

/* exp - iat, or exp - now without iat, against max_ttl_s. */
static enum sb_err lifetime(long long iat, long long exp, int64_t max_ttl, int leeway)
{
	struct sb_jwt_verify_opts o = opts_default();
	char pl[256];

	o.max_ttl_s = max_ttl;
	o.leeway_s = leeway;
	if (iat)
		snprintf(pl, sizeof(pl), "{\"sub\":\"u1\",\"iat\":%lld,\"exp\":%lld}", iat, exp);
	else
		snprintf(pl, sizeof(pl), "{\"sub\":\"u1\",\"exp\":%lld}", exp);
	return verify_pl(pl, &o);
}

static void test_max_ttl(void **state)
{
	(void)state;
	/* the default (0) is a day, from iat */
	assert_int_equal(lifetime(NOW, NOW + 86400, 0, 30), SB_OK);
	assert_int_equal(lifetime(NOW, NOW + 86401, 0, 30), SB_ERR_INVAL);
	assert_non_null(strstr(reason, "token lives 86401 s from iat to exp"));
	assert_non_null(strstr(reason, "86400 s allowed (auth.max_ttl_s)"));
	/* from iat, also when exp is near: a token minted to live too long */
	assert_int_equal(lifetime(NOW - 86400 + 100, NOW + 100, 0, 30), SB_OK);
	assert_int_equal(lifetime(NOW - 86401 + 100, NOW + 100, 0, 30), SB_ERR_INVAL);
	/* from now without iat, with the leeway for the issuer's clock */
	assert_int_equal(lifetime(0, NOW + 86400 + 30, 0, 30), SB_OK);
	assert_int_equal(lifetime(0, NOW + 86400 + 31, 0, 30), SB_ERR_INVAL);
	assert_non_null(strstr(reason, "token expires in 86431 s"));
	assert_int_equal(lifetime(0, NOW + 86400, 0, 0), SB_OK);
	assert_int_equal(lifetime(0, NOW + 86401, 0, 0), SB_ERR_INVAL);
	/* a configured bound: its min (60) and max (ten years) */
	assert_int_equal(lifetime(NOW, NOW + 60, 60, 30), SB_OK);
	assert_int_equal(lifetime(NOW, NOW + 61, 60, 30), SB_ERR_INVAL);
	assert_non_null(strstr(reason, "60 s allowed"));
	assert_int_equal(lifetime(NOW, NOW + 315360000, 315360000, 30), SB_OK);
	assert_int_equal(lifetime(NOW, NOW + 315360001, 315360000, 30), SB_ERR_INVAL);
	/* 2^53, with and without iat */
	assert_int_equal(lifetime(NOW, 9007199254740992LL, 0, 30), SB_ERR_INVAL);
	assert_int_equal(lifetime(0, 9007199254740992LL, 0, 30), SB_ERR_INVAL);
	assert_int_equal(lifetime(0, 9007199254740992LL, 315360000, 30), SB_ERR_INVAL);
	/* expired is said first: the client should get a new token */
	assert_int_equal(lifetime(NOW - 10 * 86400, NOW - 3600, 0, 30), SB_ERR_EXPIRED);
}

static enum sb_err channels_are(const char *list, int allow)
{
	struct sb_jwt_verify_opts o = opts_default();
	char extra[512], *pl;
	enum sb_err e;

	o.allow_wildcard_first_segment = allow;
	snprintf(extra, sizeof(extra), ",\"channels\":[%s]", list);
	pl = payload(extra);
	e = verify_pl(pl, &o);
	free(pl);
	return e;
}

static void test_wildcard_first_segment(void **state)
{
	static const char *const wide[] = {
		"\"*\"", "\"*.*\"", "\"*.42\"", "\"*.42.stats\"", "\"*.*.logs\"", "\"*.\"",
	};
	static const char *const fine[] = {
		"\"deploy.*.logs\"", "\"team.*\"", "\"team.*.*\"", "\"**.42\"", "\"x*.42\"",
		"\"*x.42\"", "\"user.*\"",
	};

	(void)state;
	for (size_t i = 0; i < SB_ARRAY_LEN(wide); i++) {
		if (channels_are(wide[i], 0) != SB_ERR_INVAL)
			fail_msg("%s accepted", wide[i]);
		assert_non_null(strstr(reason, "channels[0] starts with the segment \"*\""));
		assert_non_null(strstr(reason, "auth.allow_wildcard_first_segment"));
		assert_int_equal(channels_are(wide[i], 1), SB_OK);
	}
	for (size_t i = 0; i < SB_ARRAY_LEN(fine); i++)
		if (channels_are(fine[i], 0) != SB_OK)
			fail_msg("%s refused: %s", fine[i], reason);
	/* the entry is named by its index, never quoted */
	assert_int_equal(channels_are("\"team.42\",\"deploy.*.logs\",\"*.secret-thing\"", 0),
			 SB_ERR_INVAL);
	assert_non_null(strstr(reason, "channels[2]"));
	assert_null(strstr(reason, "secret-thing"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exp_range),
		cmocka_unit_test(test_nbf_range),
		cmocka_unit_test(test_iat_range),
		cmocka_unit_test(test_max_ttl),
		cmocka_unit_test(test_wildcard_first_segment),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
