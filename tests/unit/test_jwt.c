/* SPDX-License-Identifier: MIT
 *
 * test_jwt.c - unit tests for jwt.c (and jwt_b64.c through it): token
 * structure, strict base64url, the header, the claims, the time window and
 * the limits.  Each malformed-token trick (padding, duplicate claims, NUL
 * escapes, overflowing dates) has its own test asserting the error a
 * caller sees.  Keys, alg pinning and signatures: test_jwt_key.c.
 */
#include "jwt_fixture.h"

static enum sb_err check_extra(const char *extra)
{
	char *pl = payload(extra);
	enum sb_err e = check(hs_key, HS, pl, SIG_HS);

	free(pl);
	return e;
}

/* ---- valid tokens ------------------------------------------------------- */

static void test_hs256_valid(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	struct sb_jwt_claims *c;
	char *pl = payload(",\"nbf\":1699999990,\"iat\":1699999990,"
			   "\"teams\":[42,\"ops-1\",0],"
			   "\"channels\":[\"deploy.*.logs\",\"user.x\"],"
			   "\"unknown\":{\"nested\":[1,2]}");
	char *tok = make_token(HS, pl, SIG_HS);

	(void)state;
	assert_int_equal(run(hs_key, tok, &o, &c), SB_OK);
	assert_string_equal(c->sub, "u1");
	assert_int_equal(c->exp, NOW + 3600);
	assert_int_equal(c->nbf, 1699999990);
	assert_int_equal(c->iat, 1699999990);
	assert_int_equal(c->n_teams, 3);
	assert_string_equal(c->teams[0], "42");
	assert_string_equal(c->teams[1], "ops-1");
	assert_string_equal(c->teams[2], "0");
	assert_int_equal(c->n_channels, 2);
	assert_string_equal(c->channels[0], "deploy.*.logs");
	assert_string_equal(c->channels[1], "user.x");
	sb_jwt_claims_destroy(c);
	free(tok);
	free(pl);
}

static void test_hs256_minimal_and_unterminated(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	struct sb_jwt_claims *c = NULL;
	char *pl = payload("");
	char *tok = make_token("{\"alg\":\"HS256\"}", pl, SIG_HS);
	size_t n = strlen(tok);
	char *buf = malloc(n + 8);

	(void)state;
	/* no typ, no teams: empty lists */
	assert_int_equal(run(hs_key, tok, &o, &c), SB_OK);
	assert_int_equal(c->n_teams, 0);
	assert_null(c->teams);
	assert_int_equal(c->n_channels, 0);
	assert_int_equal(c->nbf, 0);
	assert_int_equal(c->iat, 0);
	sb_jwt_claims_destroy(c);
	/* the length is honoured: bytes after it are not part of the token */
	memcpy(buf, tok, n);
	memcpy(buf + n, "garbage!", 8);
	assert_int_equal(sb_jwt_verify(hs_key, buf, n, &o, &c, NULL, 0), SB_OK);
	sb_jwt_claims_destroy(c);
	/* NULL reason is allowed on failure too */
	assert_int_equal(sb_jwt_verify(hs_key, buf, n + 8, &o, &c, NULL, 0),
			 SB_ERR_INVAL);
	assert_null(c);
	free(buf);
	free(tok);
	free(pl);
}

/* ---- header ------------------------------------------------------------- */

static void test_header_typ_crit(void **state)
{
	char *pl = payload("");

	(void)state;
	assert_int_equal(check(hs_key, "{\"alg\":\"HS256\",\"typ\":\"JWT\","
			       "\"kid\":\"k1\",\"jku\":\"http://evil\"}", pl, SIG_HS),
			 SB_OK);
	assert_int_equal(check(hs_key, "{\"alg\":\"HS256\",\"typ\":\"JWS\"}", pl,
			       SIG_HS), SB_ERR_INVAL);
	assert_int_equal(check(hs_key, "{\"alg\":\"HS256\",\"typ\":1}", pl,
			       SIG_HS), SB_ERR_INVAL);
	assert_int_equal(check(hs_key, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", pl,
			       SIG_HS), SB_ERR_DENIED);
	assert_int_equal(check(hs_key, "{\"alg\":\"HS256\",\"b64\":false,"
			       "\"crit\":[\"b64\"]}", pl, SIG_HS), SB_ERR_DENIED);
	free(pl);
}

/* ---- structure and encoding --------------------------------------------- */

static void test_segments(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	char *pl = payload(""), *tok = make_token(HS, pl, SIG_HS), *t;
	size_t n = strlen(tok), i;
	char buf[4096];

	(void)state;
	assert_int_equal(run(hs_key, "", &o, NULL), SB_ERR_INVAL);
	assert_int_equal(run(hs_key, ".", &o, NULL), SB_ERR_INVAL);
	assert_int_equal(run(hs_key, "..", &o, NULL), SB_ERR_INVAL);
	assert_int_equal(run(hs_key, "...", &o, NULL), SB_ERR_INVAL);
	assert_int_equal(run(hs_key, "abc", &o, NULL), SB_ERR_INVAL);
	/* truncated after every dot and in the middle of each segment */
	for (i = 1; i < n; i++) {
		memcpy(buf, tok, i);
		buf[i] = '\0';
		assert_int_not_equal(run(hs_key, buf, &o, NULL), SB_OK);
	}
	/* header.payload only */
	t = strdup(tok);
	*strrchr(t, '.') = '\0';
	assert_int_equal(run(hs_key, t, &o, NULL), SB_ERR_INVAL);
	free(t);
	/* extra segments (JWE-like) */
	snprintf(buf, sizeof(buf), "%s.", tok);
	assert_int_equal(run(hs_key, buf, &o, NULL), SB_ERR_INVAL);
	snprintf(buf, sizeof(buf), "%s.AAAA.AAAA", tok);
	assert_int_equal(run(hs_key, buf, &o, NULL), SB_ERR_INVAL);
	/* empty header or payload */
	snprintf(buf, sizeof(buf), "%s", strchr(tok, '.'));
	assert_int_equal(run(hs_key, buf, &o, NULL), SB_ERR_INVAL);
	snprintf(buf, sizeof(buf), "%.*s.%s", (int)(strchr(tok, '.') - tok), tok,
		 strrchr(tok, '.'));
	assert_int_equal(run(hs_key, buf, &o, NULL), SB_ERR_INVAL);
	free(tok);
	free(pl);
}

static void test_base64url_strict(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	char *pl = payload(""), *tok = make_token(HS, pl, SIG_HS);
	size_t n = strlen(tok), i;
	char buf[4096];
	static const char bad[] = { '+', '/', '=', ' ', '\n', '\0', '\x80', '%' };
	char *sig = strrchr(tok, '.') + 1;

	(void)state;
	/* a bad character in each segment, correctly signed or not */
	for (i = 0; i < SB_ARRAY_LEN(bad); i++) {
		size_t at[] = { 3, (size_t)(strchr(tok, '.') - tok) + 3,
				(size_t)(sig - tok) + 3 };
		size_t j;

		for (j = 0; j < 3; j++) {
			enum sb_err e;
			struct sb_jwt_claims *c;

			memcpy(buf, tok, n + 1);
			buf[at[j]] = bad[i];
			e = sb_jwt_verify(hs_key, buf, n, &o, &c, reason,
					  sizeof(reason));
			assert_int_equal(e, SB_ERR_INVAL);
		}
	}
	/* padding: the 32-byte HMAC encodes to 43 chars, padded to 44 */
	snprintf(buf, sizeof(buf), "%s=", tok);
	assert_int_equal(run(hs_key, buf, &o, NULL), SB_ERR_INVAL);
	/* padded header: {"alg":"HS256"} is 15 bytes -> 20 chars, no pad;
	 * {"alg":"HS256"}  (16 bytes, trailing space) -> 22 chars + "==" */
	{
		char *h = b64url((const unsigned char *)"{\"alg\":\"HS256\"} ", 16);
		char *p = b64url((const unsigned char *)pl, strlen(pl));
		char input[2048];
		unsigned char mac[32];
		unsigned int maclen;
		char *s;

		snprintf(input, sizeof(input), "%s==.%s", h, p);
		HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
		     (const unsigned char *)input, strlen(input), mac, &maclen);
		s = b64url(mac, maclen);
		snprintf(buf, sizeof(buf), "%s.%s", input, s);
		assert_int_equal(run(hs_key, buf, &o, NULL), SB_ERR_INVAL);
		free(s);
		free(h);
		free(p);
	}
	/* length % 4 == 1 is never produced by an encoder (43 + 2 = 45) */
	snprintf(buf, sizeof(buf), "%sAA", tok);
	assert_int_equal(run(hs_key, buf, &o, NULL), SB_ERR_INVAL);
	/* non-canonical: the 43rd char of a 32-byte value carries 2 unused
	 * bits; setting one gives the same bytes from different text */
	memcpy(buf, tok, n + 1);
	{
		char *last = buf + n - 1;
		static const char tbl[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789-_";
		int v = (int)(strchr(tbl, *last) - tbl);

		assert_int_equal(v & 3, 0);
		*last = tbl[v | 1];
	}
	assert_int_equal(run(hs_key, buf, &o, NULL), SB_ERR_INVAL);
	free(tok);
	free(pl);
}

static void test_bad_json(void **state)
{
	static const char *const headers[] = {
		"{\"alg\":\"HS256\"", "{alg:\"HS256\"}", "[\"HS256\"]", "\"HS256\"",
		"42", "null", "{\"alg\":\"HS256\"} x", "{\"alg\":\"HS256\"}{}", "",
	};
	static const char *const payloads[] = {
		"{\"sub\":\"u1\",\"exp\":1700003600", "[\"u1\"]", "\"u1\"", "1",
		"true", "{\"sub\":\"u1\",\"exp\":1700003600}junk", "", "{'sub':1}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < SB_ARRAY_LEN(headers); i++)
		assert_int_equal(check(hs_key, headers[i], "{\"sub\":\"u1\","
				       "\"exp\":1700003600}", SIG_HS), SB_ERR_INVAL);
	for (i = 0; i < SB_ARRAY_LEN(payloads); i++)
		assert_int_equal(check(hs_key, HS, payloads[i], SIG_HS),
				 SB_ERR_INVAL);
	/* an unsigned garbage payload is a signature failure, not parsed */
	{
		struct sb_jwt_verify_opts o = opts_default();
		char *tok = make_token(HS, "{\"sub\":", SIG_HS);

		flip_sig_bit(tok);
		assert_int_equal(run(hs_key, tok, &o, NULL), SB_ERR_DENIED);
		free(tok);
	}
	/* whitespace around the JSON is fine */
	assert_int_equal(check(hs_key, " {\"alg\":\"HS256\"}\n",
			       "\n{\"sub\":\"u1\",\"exp\":1700003600} ", SIG_HS),
			 SB_OK);
}

/* ---- claims ------------------------------------------------------------- */

static void test_sub(void **state)
{
	char long_sub[200], pl[400];

	(void)state;
#define P(s) check(hs_key, HS, s, SIG_HS)
	assert_int_equal(P("{\"exp\":1700003600}"), SB_ERR_INVAL);
	assert_non_null(strstr(reason, "sub"));
	assert_int_equal(P("{\"sub\":\"\",\"exp\":1700003600}"), SB_ERR_INVAL);
	assert_int_equal(P("{\"sub\":42,\"exp\":1700003600}"), SB_ERR_INVAL);
	assert_int_equal(P("{\"sub\":null,\"exp\":1700003600}"), SB_ERR_INVAL);
	assert_int_equal(P("{\"sub\":[\"u1\"],\"exp\":1700003600}"), SB_ERR_INVAL);
	assert_int_equal(P("{\"Sub\":\"u1\",\"exp\":1700003600}"), SB_ERR_INVAL);
	assert_int_equal(P("{\"sub\":\"u1\\u0000admin\",\"exp\":1700003600}"),
			 SB_ERR_INVAL);
	/* cJSON reads a \u without four hex digits as NUL too (tests/fuzz) */
	assert_int_equal(P("{\"sub\":\"u1\\uzzzzadmin\",\"exp\":1700003600}"),
			 SB_ERR_INVAL);
	assert_int_equal(P("{\"sub\":\"u1\\nadmin\",\"exp\":1700003600}"),
			 SB_ERR_INVAL);
	assert_int_equal(P("{\"sub\":\"u1\",\"sub\":\"admin\",\"exp\":1700003600}"),
			 SB_ERR_INVAL);
	assert_int_equal(P("{\"sub\":\"\xc3\xa9t\xc3\xa9\",\"exp\":1700003600}"),
			 SB_OK);
	assert_int_equal(P("{\"sub\":\"\xc3(\",\"exp\":1700003600}"), SB_ERR_INVAL);
	memset(long_sub, 'a', 128);
	long_sub[128] = '\0';
	snprintf(pl, sizeof(pl), "{\"sub\":\"%s\",\"exp\":1700003600}", long_sub);
	assert_int_equal(P(pl), SB_OK);
	long_sub[128] = 'a';
	long_sub[129] = '\0';
	snprintf(pl, sizeof(pl), "{\"sub\":\"%s\",\"exp\":1700003600}", long_sub);
	assert_int_equal(P(pl), SB_ERR_INVAL);
#undef P
}

static void test_exp_types_and_huge(void **state)
{
	static const char *const bad[] = {
		"\"1700003600\"", "null", "true", "[1700003600]", "{}",
		"1e300", "9223372036854775808", "18446744073709551616",
		"9007199254740994", "1e999", "-1", "-1700003600", "-1e300",
	};
	char pl[256];
	size_t i;

	(void)state;
	assert_int_equal(check(hs_key, HS, "{\"sub\":\"u1\"}", SIG_HS),
			 SB_ERR_INVAL);
	assert_non_null(strstr(reason, "exp"));
	for (i = 0; i < SB_ARRAY_LEN(bad); i++) {
		snprintf(pl, sizeof(pl), "{\"sub\":\"u1\",\"exp\":%s}", bad[i]);
		assert_int_equal(check(hs_key, HS, pl, SIG_HS), SB_ERR_INVAL);
	}
	/* same bounds on nbf and iat */
	snprintf(pl, sizeof(pl), "{\"sub\":\"u1\",\"exp\":1700003600,\"nbf\":1e300}");
	assert_int_equal(check(hs_key, HS, pl, SIG_HS), SB_ERR_INVAL);
	snprintf(pl, sizeof(pl), "{\"sub\":\"u1\",\"exp\":1700003600,\"iat\":\"0\"}");
	assert_int_equal(check(hs_key, HS, pl, SIG_HS), SB_ERR_INVAL);
	snprintf(pl, sizeof(pl), "{\"sub\":\"u1\",\"exp\":1700003600,\"iat\":-5}");
	assert_int_equal(check(hs_key, HS, pl, SIG_HS), SB_ERR_INVAL);
	/* 2^53 is a NumericDate, but no longer "never expires": it is past
	 * auth.max_ttl_s (test_jwt_ranges.c walks these bounds); fractions
	 * and exponents are NumericDates too */
	assert_int_equal(check(hs_key, HS, "{\"sub\":\"u1\","
			       "\"exp\":9007199254740992}", SIG_HS), SB_ERR_INVAL);
	assert_non_null(strstr(reason, "max_ttl_s"));
	assert_int_equal(check(hs_key, HS, "{\"sub\":\"u1\",\"exp\":1.7000036e9}",
			       SIG_HS), SB_OK);
	assert_int_equal(check(hs_key, HS, "{\"sub\":\"u1\",\"exp\":1700003600.9}",
			       SIG_HS), SB_OK);
}

static void test_time_window(void **state)
{
	char pl[256];

	(void)state;
#define T(fmt, ...) (snprintf(pl, sizeof(pl), fmt, __VA_ARGS__), \
		     check(hs_key, HS, pl, SIG_HS))
	/* exp: valid while now < exp + leeway (30 s) */
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld}", NOW - 3600),
			 SB_ERR_EXPIRED);
	assert_non_null(strstr(reason, "expired"));
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld}", NOW - 31),
			 SB_ERR_EXPIRED);
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld}", NOW - 30),
			 SB_ERR_EXPIRED);
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld}", NOW - 29), SB_OK);
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld}", NOW), SB_OK);
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%s}", "0"), SB_ERR_EXPIRED);
	/* a fractional exp rounds down: 1699999970.9 -> ...970 = now - 30 */
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%s}", "1699999970.9"),
			 SB_ERR_EXPIRED);
	/* nbf: refused while nbf - leeway > now */
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld,\"nbf\":%lld}",
			   NOW + 3600, NOW + 600), SB_ERR_EXPIRED);
	assert_non_null(strstr(reason, "nbf"));
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld,\"nbf\":%lld}",
			   NOW + 3600, NOW + 31), SB_ERR_EXPIRED);
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld,\"nbf\":%lld}",
			   NOW + 3600, NOW + 30), SB_OK);
	/* a fractional nbf rounds up: now + 30.1 -> now + 31 */
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld,\"nbf\":%lld.1}",
			   NOW + 3600, NOW + 30), SB_ERR_EXPIRED);
	/* iat in the future */
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld,\"iat\":%lld}",
			   NOW + 3600, NOW + 31), SB_ERR_EXPIRED);
	assert_non_null(strstr(reason, "iat"));
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld,\"iat\":%lld}",
			   NOW + 3600, NOW + 30), SB_OK);
	assert_int_equal(T("{\"sub\":\"u1\",\"exp\":%lld,\"iat\":%lld}",
			   NOW + 3600, NOW - 82800), SB_OK);   /* lives a day */
#undef T
	/* leeway 0 */
	{
		struct sb_jwt_verify_opts o = opts_default();
		char *tok;

		o.leeway_s = 0;
		snprintf(pl, sizeof(pl), "{\"sub\":\"u1\",\"exp\":%lld}", NOW + 1);
		tok = make_token(HS, pl, SIG_HS);
		assert_int_equal(run(hs_key, tok, &o, NULL), SB_OK);
		o.now_s = NOW + 1;
		assert_int_equal(run(hs_key, tok, &o, NULL), SB_ERR_EXPIRED);
		free(tok);
	}
}

static enum sb_err check_opts(const char *extra, const char *iss,
			      const char *aud)
{
	struct sb_jwt_verify_opts o = opts_default();
	char *pl = payload(extra), *tok = make_token(HS, pl, SIG_HS);
	enum sb_err e;

	o.issuer = iss;
	o.audience = aud;
	e = run(hs_key, tok, &o, NULL);
	free(tok);
	free(pl);
	return e;
}

static void test_iss_aud(void **state)
{
	(void)state;
	/* not configured: ignored whatever the token says */
	assert_int_equal(check_opts(",\"iss\":\"x\",\"aud\":\"y\"", NULL, NULL),
			 SB_OK);
	/* iss */
	assert_int_equal(check_opts(",\"iss\":\"https://app\"", "https://app",
				    NULL), SB_OK);
	assert_int_equal(check_opts(",\"iss\":\"https://evil\"", "https://app",
				    NULL), SB_ERR_DENIED);
	assert_int_equal(check_opts(",\"iss\":\"https://app/\"", "https://app",
				    NULL), SB_ERR_DENIED);
	assert_int_equal(check_opts("", "https://app", NULL), SB_ERR_DENIED);
	assert_int_equal(check_opts(",\"iss\":[\"https://app\"]", "https://app",
				    NULL), SB_ERR_DENIED);
	/* aud: string or array */
	assert_int_equal(check_opts(",\"aud\":\"statusbus\"", NULL, "statusbus"),
			 SB_OK);
	assert_int_equal(check_opts(",\"aud\":[\"api\",\"statusbus\"]", NULL,
				    "statusbus"), SB_OK);
	assert_int_equal(check_opts(",\"aud\":\"api\"", NULL, "statusbus"),
			 SB_ERR_DENIED);
	assert_int_equal(check_opts(",\"aud\":[\"api\",\"other\"]", NULL,
				    "statusbus"), SB_ERR_DENIED);
	assert_int_equal(check_opts(",\"aud\":[]", NULL, "statusbus"),
			 SB_ERR_DENIED);
	assert_int_equal(check_opts("", NULL, "statusbus"), SB_ERR_DENIED);
	assert_int_equal(check_opts(",\"aud\":[\"statusbus\",1]", NULL,
				    "statusbus"), SB_ERR_INVAL);
	assert_int_equal(check_opts(",\"aud\":7", NULL, "statusbus"),
			 SB_ERR_INVAL);
	/* both */
	assert_int_equal(check_opts(",\"iss\":\"i\",\"aud\":[\"a\"]", "i", "a"),
			 SB_OK);
	assert_int_equal(check_opts(",\"iss\":\"i\",\"aud\":[\"b\"]", "i", "a"),
			 SB_ERR_DENIED);
}

static void test_teams(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	struct sb_jwt_claims *c;
	static const char *const bad[] = {
		"\"42\"", "42", "{}", "[\"a/b\"]", "[\"\"]", "[\"team+\"]",
		"[\"#\"]", "[\"team.42\"]", "[\"t 1\"]", "[-1]", "[1.5]",
		"[9007199254740994]", "[1e300]", "[true]", "[null]", "[[\"42\"]]",
		"[{\"id\":42}]", "[\"\xc3\xa9\"]",
		"[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]",
	};
	char extra[512], *pl, *tok;
	size_t i;

	(void)state;
	for (i = 0; i < SB_ARRAY_LEN(bad); i++) {
		snprintf(extra, sizeof(extra), ",\"teams\":%s", bad[i]);
		assert_int_equal(check_extra(extra), SB_ERR_INVAL);
		assert_non_null(strstr(reason, "teams"));
	}
	/* 64 characters is the longest id */
	assert_int_equal(check_extra(",\"teams\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]"), SB_OK);
	assert_int_equal(check_extra(",\"teams\":[]"), SB_OK);
	/* ints and strings, as strings; integral exponents are ints */
	pl = payload(",\"teams\":[42,\"42\",\"Team_A-1\",9007199254740992,1e2,7.0]");
	tok = make_token(HS, pl, SIG_HS);
	assert_int_equal(run(hs_key, tok, &o, &c), SB_OK);
	assert_int_equal(c->n_teams, 6);
	assert_string_equal(c->teams[0], "42");
	assert_string_equal(c->teams[1], "42");
	assert_string_equal(c->teams[2], "Team_A-1");
	assert_string_equal(c->teams[3], "9007199254740992");
	assert_string_equal(c->teams[4], "100");
	assert_string_equal(c->teams[5], "7");
	sb_jwt_claims_destroy(c);
	free(tok);
	free(pl);
}

static void test_channels(void **state)
{
	char extra[1024], big[300];

	(void)state;
	assert_int_equal(check_extra(",\"channels\":[\"deploy.*.logs\","
				     "\"team.42.stats\"]"), SB_OK);
	assert_int_equal(check_extra(",\"channels\":\"deploy.*.logs\""),
			 SB_ERR_INVAL);
	assert_int_equal(check_extra(",\"channels\":[1]"), SB_ERR_INVAL);
	assert_int_equal(check_extra(",\"channels\":[\"\"]"), SB_ERR_INVAL);
	assert_int_equal(check_extra(",\"channels\":[\"a\\tb\"]"), SB_ERR_INVAL);
	assert_int_equal(check_extra(",\"channels\":[\"a\\u0000b\"]"),
			 SB_ERR_INVAL);
	memset(big, 'c', 256);
	big[256] = '\0';
	snprintf(extra, sizeof(extra), ",\"channels\":[\"%s\"]", big);
	assert_int_equal(check_extra(extra), SB_OK);
	big[256] = 'c';
	big[257] = '\0';
	snprintf(extra, sizeof(extra), ",\"channels\":[\"%s\"]", big);
	assert_int_equal(check_extra(extra), SB_ERR_INVAL);
}

static enum sb_err check_list_len(const char *name, size_t n)
{
	struct sb_jwt_verify_opts o = opts_default();
	size_t cap = n * 4 + 256, i, at;
	char *extra = malloc(cap), *pl, *tok;
	enum sb_err e;

	at = (size_t)snprintf(extra, cap, ",\"%s\":[", name);
	for (i = 0; i < n; i++)
		at += (size_t)snprintf(extra + at, cap - at, "%s\"%zu\"",
				       i ? "," : "", i % 10);
	snprintf(extra + at, cap - at, "]");
	pl = payload(extra);
	tok = make_token(HS, pl, SIG_HS);
	o.max_token_len = 65536;
	e = run(hs_key, tok, &o, NULL);
	free(tok);
	free(pl);
	free(extra);
	return e;
}

static void test_list_limits(void **state)
{
	(void)state;
	assert_int_equal(check_list_len("teams", 1024), SB_OK);
	assert_int_equal(check_list_len("teams", 1025), SB_ERR_INVAL);
	assert_non_null(strstr(reason, "1024"));
	assert_int_equal(check_list_len("channels", 1024), SB_OK);
	assert_int_equal(check_list_len("channels", 1025), SB_ERR_INVAL);
}

static void test_oversized(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	char *extra = malloc(9000), *pl, *tok;

	(void)state;
	/* padding claim that makes the token just over 8192 bytes */
	strcpy(extra, ",\"pad\":\"");
	memset(extra + 8, 'x', 6100);
	strcpy(extra + 8 + 6100, "\"");
	pl = payload(extra);
	tok = make_token(HS, pl, SIG_HS);
	assert_true(strlen(tok) > 8192);
	assert_int_equal(run(hs_key, tok, &o, NULL), SB_ERR_LIMIT);
	/* the limit is configurable both ways */
	o.max_token_len = strlen(tok);
	assert_int_equal(run(hs_key, tok, &o, NULL), SB_OK);
	free(tok);
	free(pl);
	pl = payload("");
	tok = make_token(HS, pl, SIG_HS);
	o.max_token_len = strlen(tok) - 1;
	assert_int_equal(run(hs_key, tok, &o, NULL), SB_ERR_LIMIT);
	/* an oversized token is refused before anything is decoded, so even
	 * a non-JWT gets SB_ERR_LIMIT */
	memset(extra, '!', 8193);
	extra[8193] = '\0';
	o.max_token_len = 0;
	assert_int_equal(run(hs_key, extra, &o, NULL), SB_ERR_LIMIT);
	free(tok);
	free(pl);
	free(extra);
}

static void test_duplicate_claims(void **state)
{
	(void)state;
	assert_int_equal(check_extra(",\"exp\":9999999999"), SB_ERR_INVAL);
	assert_int_equal(check_extra(",\"teams\":[1],\"teams\":[2]"), SB_ERR_INVAL);
	assert_int_equal(check_extra(",\"x\":1,\"x\":2"), SB_OK);
}

static void test_bad_args(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	struct sb_jwt_claims *c;
	char *out = (char *)0x1;

	(void)state;
	assert_int_equal(sb_jwt_verify(NULL, "a.b.c", 5, &o, &c, NULL, 0),
			 SB_ERR_INVAL);
	assert_int_equal(sb_jwt_verify(hs_key, NULL, 5, &o, &c, NULL, 0),
			 SB_ERR_INVAL);
	assert_int_equal(sb_jwt_verify(hs_key, "a.b.c", 5, NULL, &c, NULL, 0),
			 SB_ERR_INVAL);
	assert_int_equal(sb_jwt_sign_hs256(&out, (const unsigned char *)"", 0,
					   "{}"), SB_ERR_INVAL);
	assert_null(out);
	assert_int_equal(sb_jwt_sign_hs256(&out, (const unsigned char *)"s", 1,
					   NULL), SB_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hs256_valid),
		cmocka_unit_test(test_hs256_minimal_and_unterminated),
		cmocka_unit_test(test_header_typ_crit),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_base64url_strict),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_sub),
		cmocka_unit_test(test_exp_types_and_huge),
		cmocka_unit_test(test_time_window),
		cmocka_unit_test(test_iss_aud),
		cmocka_unit_test(test_teams),
		cmocka_unit_test(test_channels),
		cmocka_unit_test(test_list_limits),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_duplicate_claims),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests_name("jwt", tests, setup, teardown);
}
