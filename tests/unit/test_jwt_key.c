/* SPDX-License-Identifier: MIT
 *
 * test_jwt_key.c - unit tests for jwt_key.c: algorithm names, loading
 * secrets and PEM public keys, the pinned algorithm, signature checks and
 * HS256 minting.  Each attack from the JWT literature on this side (alg
 * none, alg confusion with the RSA public key as HMAC secret, DER vs raw
 * ECDSA, truncated or extended signatures) has its own test asserting the
 * error a caller sees.
 */
#include "jwt_fixture.h"

/* ---- algorithms and keys ------------------------------------------------ */

static void test_alg_names(void **state)
{
	enum sb_jwt_alg a;

	(void)state;
	assert_int_equal(sb_jwt_alg_parse("HS256", &a), SB_OK);
	assert_int_equal(a, SB_JWT_HS256);
	assert_int_equal(sb_jwt_alg_parse("RS256", &a), SB_OK);
	assert_int_equal(a, SB_JWT_RS256);
	assert_int_equal(sb_jwt_alg_parse("ES256", &a), SB_OK);
	assert_int_equal(a, SB_JWT_ES256);
	assert_int_equal(sb_jwt_alg_parse("none", &a), SB_ERR_INVAL);
	assert_int_equal(sb_jwt_alg_parse("hs256", &a), SB_ERR_INVAL);
	assert_int_equal(sb_jwt_alg_parse("HS384", &a), SB_ERR_INVAL);
	assert_int_equal(sb_jwt_alg_parse("", &a), SB_ERR_INVAL);
	assert_string_equal(sb_jwt_alg_name(SB_JWT_ES256), "ES256");
	assert_int_equal(sb_jwt_key_alg(hs_key), SB_JWT_HS256);
	assert_int_equal(sb_jwt_key_alg(rs_key), SB_JWT_RS256);
	assert_int_equal(sb_jwt_key_alg(es_key), SB_JWT_ES256);
}

static void test_key_refusals(void **state)
{
	struct sb_jwt_key *k = (struct sb_jwt_key *)0x1;
	char err[256];
	static const char junk[] = "-----BEGIN PUBLIC KEY-----\nnope\n"
				   "-----END PUBLIC KEY-----\n";
	BIO *b;
	char *priv, *data;
	long n;

	(void)state;
	assert_int_equal(sb_jwt_key_create_hmac(&k, (const unsigned char *)"", 0),
			 SB_ERR_INVAL);
	assert_null(k);
	/* a one-byte secret is legal, if unwise */
	assert_int_equal(sb_jwt_key_create_hmac(&k, (const unsigned char *)"s", 1),
			 SB_OK);
	sb_jwt_key_destroy(k);

#define REFUSED(alg, pem) do { \
		err[0] = '\0'; \
		assert_int_equal(sb_jwt_key_create_pem(&k, alg, pem, strlen(pem), \
						       err, sizeof(err)), SB_ERR_INVAL); \
		assert_null(k); \
		assert_true(err[0] != '\0'); \
	} while (0)
	REFUSED(SB_JWT_RS256, rsa1024_pub_pem);
	assert_non_null(strstr(err, "2048"));
	REFUSED(SB_JWT_RS256, ec_pub_pem);
	REFUSED(SB_JWT_ES256, rsa_pub_pem);
	REFUSED(SB_JWT_ES256, p384_pub_pem);
	assert_non_null(strstr(err, "P-256"));
	REFUSED(SB_JWT_HS256, rsa_pub_pem);
	REFUSED(SB_JWT_RS256, junk);
	REFUSED(SB_JWT_RS256, "not a pem at all");

	/* P-256 written with explicit curve parameters */
	{
		EVP_PKEY *dup = EVP_PKEY_dup(ec_key);
		char *pem;

		assert_non_null(dup);
		assert_int_equal(EVP_PKEY_set_utf8_string_param(dup,
				 OSSL_PKEY_PARAM_EC_ENCODING,
				 OSSL_PKEY_EC_ENCODING_EXPLICIT), 1);
		pem = pub_pem(dup);
		REFUSED(SB_JWT_ES256, pem);
		assert_non_null(strstr(err, "explicit"));
		free(pem);
		EVP_PKEY_free(dup);
	}

	/* private keys are refused with a hint, not loaded */
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(b, rsa_key, NULL, NULL, 0,
						  NULL, NULL), 1);
	n = BIO_get_mem_data(b, &data);
	priv = strndup(data, (size_t)n);
	BIO_free(b);
	REFUSED(SB_JWT_RS256, priv);
	assert_non_null(strstr(err, "-pubout"));
	free(priv);
#undef REFUSED

	sb_jwt_key_destroy(NULL);
	sb_jwt_claims_destroy(NULL);
}

/* ---- valid tokens ------------------------------------------------------- */

static void test_rs256_valid(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	struct sb_jwt_claims *c;
	char *pl = payload(",\"teams\":[\"7\"]");
	char *tok = make_token(RS, pl, SIG_RS);

	(void)state;
	assert_int_equal(run(rs_key, tok, &o, &c), SB_OK);
	assert_string_equal(c->sub, "u1");
	assert_int_equal(c->n_teams, 1);
	assert_string_equal(c->teams[0], "7");
	sb_jwt_claims_destroy(c);
	free(tok);
	free(pl);
}

static void test_es256_valid(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	struct sb_jwt_claims *c;
	char *pl = payload("");
	char *tok = make_token(ES, pl, SIG_ES);

	(void)state;
	assert_int_equal(run(es_key, tok, &o, &c), SB_OK);
	assert_string_equal(c->sub, "u1");
	assert_int_equal(c->exp, NOW + 3600);
	sb_jwt_claims_destroy(c);
	free(tok);
	free(pl);
}

/* ---- the pinned algorithm ----------------------------------------------- */

static void test_wrong_alg(void **state)
{
	char *pl = payload("");

	(void)state;
	/* each key refuses the other algs, even when correctly signed */
	assert_int_equal(check(hs_key, RS, pl, SIG_RS), SB_ERR_DENIED);
	assert_non_null(strstr(reason, "RS256"));
	assert_int_equal(check(hs_key, ES, pl, SIG_ES), SB_ERR_DENIED);
	assert_int_equal(check(rs_key, HS, pl, SIG_HS), SB_ERR_DENIED);
	assert_int_equal(check(rs_key, ES, pl, SIG_ES), SB_ERR_DENIED);
	assert_int_equal(check(es_key, RS, pl, SIG_RS), SB_ERR_DENIED);
	assert_int_equal(check(es_key, HS, pl, SIG_HS), SB_ERR_DENIED);
	/* near misses of the pinned name */
	assert_int_equal(check(hs_key, "{\"alg\":\"HS384\"}", pl, SIG_HS),
			 SB_ERR_DENIED);
	assert_int_equal(check(hs_key, "{\"alg\":\"hs256\"}", pl, SIG_HS),
			 SB_ERR_DENIED);
	assert_int_equal(check(hs_key, "{\"alg\":\"HS256 \"}", pl, SIG_HS),
			 SB_ERR_DENIED);
	assert_int_equal(check(hs_key, "{\"ALG\":\"HS256\"}", pl, SIG_HS),
			 SB_ERR_DENIED);
	assert_int_equal(check(hs_key, "{\"alg\":256}", pl, SIG_HS),
			 SB_ERR_DENIED);
	assert_int_equal(check(hs_key, "{\"alg\":[\"HS256\"]}", pl, SIG_HS),
			 SB_ERR_DENIED);
	/* missing alg */
	assert_int_equal(check(hs_key, "{\"typ\":\"JWT\"}", pl, SIG_HS),
			 SB_ERR_DENIED);
	/* a NUL escape that cJSON would truncate to "HS256" */
	assert_int_equal(check(hs_key, "{\"alg\":\"HS256\\u0000x\"}", pl, SIG_HS),
			 SB_ERR_INVAL);
	/* duplicate alg: parsers disagree on which one wins */
	assert_int_equal(check(hs_key, "{\"alg\":\"none\",\"alg\":\"HS256\"}", pl,
			       SIG_HS), SB_ERR_INVAL);
	assert_int_equal(check(hs_key, "{\"alg\":\"HS256\",\"alg\":\"none\"}", pl,
			       SIG_HS), SB_ERR_INVAL);
	free(pl);
}

static void test_alg_none(void **state)
{
	static const char *const nones[] = {
		"{\"alg\":\"none\"}", "{\"alg\":\"None\"}", "{\"alg\":\"NONE\"}",
		"{\"alg\":\"nOnE\",\"typ\":\"JWT\"}", "{\"alg\":\"\"}",
		"{\"alg\":null}",
	};
	struct sb_jwt_key *keys[] = { hs_key, rs_key, es_key };
	char *pl = payload("");
	size_t i, k;

	(void)state;
	for (k = 0; k < SB_ARRAY_LEN(keys); k++)
		for (i = 0; i < SB_ARRAY_LEN(nones); i++) {
			/* unsigned, as alg none is meant to be */
			assert_int_equal(check(keys[k], nones[i], pl, SIG_NONE),
					 SB_ERR_DENIED);
			/* and with a signature that would be valid for HS256 */
			assert_int_equal(check(keys[k], nones[i], pl, SIG_HS),
					 SB_ERR_DENIED);
		}
	free(pl);
}

static void test_alg_confusion_rsa_pem_as_hmac_secret(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	char *pl = payload(",\"teams\":[\"victim\"]");
	char *tok;

	(void)state;
	/* The classic attack: the attacker knows the RS256 public key and
	 * signs an HS256 token with its PEM text as the HMAC secret. */
	tok = make_token_key(HS, pl, SIG_HS, rsa_pub_pem, strlen(rsa_pub_pem),
			     NULL);
	assert_int_equal(run(rs_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	/* also with the header claiming RS256 but an HMAC signature */
	tok = make_token_key(RS, pl, SIG_HS, rsa_pub_pem, strlen(rsa_pub_pem),
			     NULL);
	assert_int_equal(run(rs_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	/* same against the ES256 key */
	tok = make_token_key(HS, pl, SIG_HS, ec_pub_pem, strlen(ec_pub_pem), NULL);
	assert_int_equal(run(es_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	free(pl);
}

/* ---- signatures --------------------------------------------------------- */

static void test_bad_signature(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	struct { struct sb_jwt_key *key; const char *hdr; enum signer how; } v[] = {
		{ hs_key, HS, SIG_HS }, { rs_key, RS, SIG_RS }, { es_key, ES, SIG_ES },
	};
	char *pl = payload(""), *tok, *other, *p;
	size_t i;

	(void)state;
	for (i = 0; i < SB_ARRAY_LEN(v); i++) {
		tok = make_token(v[i].hdr, pl, v[i].how);
		flip_sig_bit(tok);
		assert_int_equal(run(v[i].key, tok, &o, NULL), SB_ERR_DENIED);
		assert_non_null(strstr(reason, "signature"));
		/* signature dropped */
		*(strrchr(tok, '.') + 1) = '\0';
		assert_int_equal(run(v[i].key, tok, &o, NULL), SB_ERR_DENIED);
		free(tok);
	}
	/* a valid signature followed by one more byte */
	tok = make_token(HS, pl, SIG_HS_EXTRA);
	assert_int_equal(run(hs_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	tok = make_token(RS, pl, SIG_RS_EXTRA);
	assert_int_equal(run(rs_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	/* tampered payload under an old signature: sub u1 -> u2 */
	tok = make_token(HS, pl, SIG_HS);
	other = payload("");
	other[9] = '2';
	p = make_token(HS, other, SIG_HS);
	/* same length, so the old signature fits in place of the new one */
	memcpy(strrchr(p, '.'), strrchr(tok, '.'), strlen(strrchr(tok, '.')) + 1);
	assert_int_equal(run(hs_key, p, &o, NULL), SB_ERR_DENIED);
	free(p);
	free(other);
	free(tok);
	/* another secret */
	tok = make_token_key(HS, pl, SIG_HS, "other secret", 12, NULL);
	assert_int_equal(run(hs_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	/* another RSA key */
	tok = make_token_key(RS, pl, SIG_RS, NULL, 0, rsa1024_key);
	assert_int_equal(run(rs_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	/* HS256 signature truncated to 31 bytes (42 chars, canonical) */
	tok = make_token(HS, pl, SIG_HS);
	p = strrchr(tok, '.') + 1;
	p[41] = 'A';
	p[42] = '\0';
	assert_int_equal(run(hs_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	free(pl);
}

static void test_es256_der_and_lengths(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	char *pl = payload(""), *tok, *s;
	unsigned char raw[65] = { 0 };

	(void)state;
	/* a correct signature in OpenSSL's DER form is not JOSE */
	tok = make_token(ES, pl, SIG_ES_DER);
	assert_int_equal(run(es_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	/* a valid r||s followed by one more byte */
	tok = make_token(ES, pl, SIG_ES_EXTRA);
	assert_int_equal(run(es_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	/* 63 and 65 byte signatures */
	tok = make_token(ES, pl, SIG_ES);
	*(strrchr(tok, '.') + 1) = '\0';
	s = b64url(raw, 63);
	tok = realloc(tok, strlen(tok) + 100);
	strcat(tok, s);
	assert_int_equal(run(es_key, tok, &o, NULL), SB_ERR_DENIED);
	free(s);
	*(strrchr(tok, '.') + 1) = '\0';
	s = b64url(raw, 65);
	strcat(tok, s);
	assert_int_equal(run(es_key, tok, &o, NULL), SB_ERR_DENIED);
	free(s);
	/* r = s = 0 is 64 bytes but never valid */
	*(strrchr(tok, '.') + 1) = '\0';
	s = b64url(raw, 64);
	strcat(tok, s);
	assert_int_equal(run(es_key, tok, &o, NULL), SB_ERR_DENIED);
	free(s);
	free(tok);
	free(pl);
}

/* ---- minting ------------------------------------------------------------ */

static void test_sign_hs256_round_trip(void **state)
{
	struct sb_jwt_verify_opts o = opts_default();
	struct sb_jwt_claims *c;
	char *pl = payload(",\"teams\":[\"42\",43],\"channels\":[\"user.x\"]");
	char *tok = NULL, *mine;

	(void)state;
	assert_int_equal(sb_jwt_sign_hs256(&tok, (const unsigned char *)SECRET,
					   strlen(SECRET), pl), SB_OK);
	assert_non_null(tok);
	/* byte-identical to this file's independent encoding */
	mine = make_token(HS, pl, SIG_HS);
	assert_string_equal(tok, mine);
	assert_int_equal(run(hs_key, tok, &o, &c), SB_OK);
	assert_string_equal(c->sub, "u1");
	assert_int_equal(c->n_teams, 2);
	assert_string_equal(c->teams[1], "43");
	assert_int_equal(c->n_channels, 1);
	sb_jwt_claims_destroy(c);
	free(tok);
	free(mine);
	/* payloads of every length mod 3 */
	assert_int_equal(sb_jwt_sign_hs256(&tok, (const unsigned char *)"k", 1,
					   "{\"sub\":\"a\",\"exp\":1700003600}"),
			 SB_OK);
	free(tok);
	assert_int_equal(sb_jwt_sign_hs256(&tok, (const unsigned char *)"k", 1,
					   "{\"sub\":\"ab\",\"exp\":1700003600}"),
			 SB_OK);
	free(tok);
	assert_int_equal(sb_jwt_sign_hs256(&tok, (const unsigned char *)"k", 1,
					   "{\"sub\":\"abc\",\"exp\":1700003600}"),
			 SB_OK);
	free(tok);
	/* wrong secret on the other end */
	assert_int_equal(sb_jwt_sign_hs256(&tok, (const unsigned char *)"k", 1, pl),
			 SB_OK);
	assert_int_equal(run(hs_key, tok, &o, NULL), SB_ERR_DENIED);
	free(tok);
	free(pl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_key_refusals),
		cmocka_unit_test(test_rs256_valid),
		cmocka_unit_test(test_es256_valid),
		cmocka_unit_test(test_wrong_alg),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_alg_confusion_rsa_pem_as_hmac_secret),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_es256_der_and_lengths),
		cmocka_unit_test(test_sign_hs256_round_trip),
	};

	return cmocka_run_group_tests_name("jwt_key", tests, setup, teardown);
}
