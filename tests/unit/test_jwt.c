/* SPDX-License-Identifier: MIT
 *
 * test_jwt.c - unit tests for jwt.c.
 *
 * Tokens are built here with this file's own base64url encoder and signed
 * directly with OpenSSL (keys generated at start-up), not with jwt.c, so a
 * shared bug in encoding or signing cannot make both sides agree.  Each
 * attack from the JWT literature (alg none, alg confusion with the RSA
 * public key as HMAC secret, DER vs raw ECDSA, padding, duplicate claims,
 * overflowing dates) has its own test asserting the error a caller sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "jwt.h"

#define NOW 1700000000LL
#define SECRET "correct horse battery staple, 32+ bytes"

/* *_EXTRA: a valid signature with one more byte appended */
enum signer { SIG_HS, SIG_RS, SIG_ES, SIG_ES_DER, SIG_HS_EXTRA, SIG_RS_EXTRA,
	      SIG_ES_EXTRA, SIG_NONE };

static EVP_PKEY *rsa_key, *ec_key, *rsa1024_key, *p384_key;
static char *rsa_pub_pem, *ec_pub_pem, *rsa1024_pub_pem, *p384_pub_pem;
static struct sb_jwt_key *hs_key, *rs_key, *es_key;

/* ---- helpers ------------------------------------------------------------ */

static char *b64url(const unsigned char *in, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(n / 3 * 4 + 5);
	size_t i, o = 0;

	assert_non_null(out);
	for (i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16;
		size_t left = n - i;

		if (left > 1)
			w |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			w |= in[i + 2];
		out[o++] = tbl[(w >> 18) & 63];
		out[o++] = tbl[(w >> 12) & 63];
		if (left > 1)
			out[o++] = tbl[(w >> 6) & 63];
		if (left > 2)
			out[o++] = tbl[w & 63];
	}
	out[o] = '\0';
	return out;
}

static char *pub_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_non_null(b);
	assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	n = BIO_get_mem_data(b, &data);
	out = malloc((size_t)n + 1);
	assert_non_null(out);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	BIO_free(b);
	return out;
}

static unsigned char *digest_sign(EVP_PKEY *k, const char *data, size_t *len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig;

	assert_non_null(ctx);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, NULL, len, (const unsigned char *)data,
					strlen(data)), 1);
	sig = malloc(*len);
	assert_non_null(sig);
	assert_int_equal(EVP_DigestSign(ctx, sig, len, (const unsigned char *)data,
					strlen(data)), 1);
	EVP_MD_CTX_free(ctx);
	return sig;
}

/* header.payload, as given, signed as asked; caller frees. */
static char *make_token_key(const char *header, const char *payload,
			    enum signer how, const void *secret, size_t secret_len,
			    EVP_PKEY *pkey)
{
	char *h = b64url((const unsigned char *)header, strlen(header));
	char *p = b64url((const unsigned char *)payload, strlen(payload));
	char *input, *s = NULL, *tok;
	unsigned char mac[33] = { 0 }, *sig = NULL, raw[65] = { 0 };
	unsigned int maclen = 0;
	size_t siglen = 0, n;

	n = strlen(h) + strlen(p) + 2;
	input = malloc(n);
	assert_non_null(input);
	snprintf(input, n, "%s.%s", h, p);
	switch (how) {
	case SIG_HS:
	case SIG_HS_EXTRA:
		assert_non_null(HMAC(EVP_sha256(), secret, (int)secret_len,
				     (const unsigned char *)input, strlen(input),
				     mac, &maclen));
		s = b64url(mac, maclen + (how == SIG_HS_EXTRA));
		break;
	case SIG_RS:
	case SIG_RS_EXTRA:
	case SIG_ES_DER:
		sig = digest_sign(pkey, input, &siglen);
		if (how == SIG_RS_EXTRA) {
			sig = realloc(sig, siglen + 1);
			assert_non_null(sig);
			sig[siglen++] = 0;
		}
		s = b64url(sig, siglen);
		break;
	case SIG_ES:
	case SIG_ES_EXTRA: {
		const unsigned char *q;
		ECDSA_SIG *es;
		const BIGNUM *r, *ss;

		sig = digest_sign(pkey, input, &siglen);
		q = sig;
		es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);
		assert_non_null(es);
		ECDSA_SIG_get0(es, &r, &ss);
		assert_int_equal(BN_bn2binpad(r, raw, 32), 32);
		assert_int_equal(BN_bn2binpad(ss, raw + 32, 32), 32);
		ECDSA_SIG_free(es);
		s = b64url(raw, how == SIG_ES_EXTRA ? 65 : 64);
		break;
	}
	case SIG_NONE:
		s = strdup("");
		break;
	}
	n = strlen(input) + strlen(s) + 2;
	tok = malloc(n);
	assert_non_null(tok);
	snprintf(tok, n, "%s.%s", input, s);
	free(h);
	free(p);
	free(input);
	free(s);
	free(sig);
	return tok;
}

static char *make_token(const char *header, const char *payload, enum signer how)
{
	switch (how) {
	case SIG_RS:
	case SIG_RS_EXTRA:
		return make_token_key(header, payload, how, NULL, 0, rsa_key);
	case SIG_ES:
	case SIG_ES_EXTRA:
	case SIG_ES_DER:
		return make_token_key(header, payload, how, NULL, 0, ec_key);
	default:
		return make_token_key(header, payload, how, SECRET,
				      strlen(SECRET), NULL);
	}
}

static const char *HS = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char *RS = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
static const char *ES = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";

/* A payload with sub and exp plus `extra` members (",\"k\":v" form). */
static char *payload(const char *extra)
{
	char *p = malloc(strlen(extra) + 128);

	assert_non_null(p);
	sprintf(p, "{\"sub\":\"u1\",\"exp\":%lld%s}", NOW + 3600, extra);
	return p;
}

static struct sb_jwt_verify_opts opts_default(void)
{
	struct sb_jwt_verify_opts o = { .now_s = NOW, .leeway_s = 30 };

	return o;
}

static char reason[256];

/* Verifies tok with key and opts; asserts the reason never quotes the
 * token's signing input or signature; frees claims unless kept. */
static enum sb_err run(const struct sb_jwt_key *key, const char *tok,
		       const struct sb_jwt_verify_opts *o,
		       struct sb_jwt_claims **keep)
{
	struct sb_jwt_claims *c = (struct sb_jwt_claims *)0x1;
	enum sb_err e;
	const char *dot;

	memset(reason, 'X', sizeof(reason));
	e = sb_jwt_verify(key, tok, strlen(tok), o, &c, reason, sizeof(reason));
	assert_non_null(memchr(reason, '\0', sizeof(reason)));
	if (e == SB_OK) {
		assert_non_null(c);
	} else {
		assert_null(c);
		assert_true(reason[0] != '\0');
		/* no segment of 8+ characters of the token in the reason */
		for (dot = tok; strlen(dot) >= 8; dot++) {
			char frag[9];

			memcpy(frag, dot, 8);
			frag[8] = '\0';
			assert_null(strstr(reason, frag));
		}
	}
	if (keep)
		*keep = c;
	else
		sb_jwt_claims_destroy(c);
	return e;
}

static enum sb_err check(const struct sb_jwt_key *key, const char *header,
			 const char *pl, enum signer how)
{
	struct sb_jwt_verify_opts o = opts_default();
	char *tok = make_token(header, pl, how);
	enum sb_err e = run(key, tok, &o, NULL);

	free(tok);
	return e;
}

static enum sb_err check_extra(const char *extra)
{
	char *pl = payload(extra);
	enum sb_err e = check(hs_key, HS, pl, SIG_HS);

	free(pl);
	return e;
}

/* ---- setup -------------------------------------------------------------- */

static int setup(void **state)
{
	char err[256];

	(void)state;
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	rsa1024_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	p384_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	if (!rsa_key || !ec_key || !rsa1024_key || !p384_key)
		return -1;
	rsa_pub_pem = pub_pem(rsa_key);
	ec_pub_pem = pub_pem(ec_key);
	rsa1024_pub_pem = pub_pem(rsa1024_key);
	p384_pub_pem = pub_pem(p384_key);
	if (sb_jwt_key_create_hmac(&hs_key, (const unsigned char *)SECRET,
				   strlen(SECRET)) != SB_OK)
		return -1;
	if (sb_jwt_key_create_pem(&rs_key, SB_JWT_RS256, rsa_pub_pem,
				  strlen(rsa_pub_pem), err, sizeof(err)) != SB_OK ||
	    sb_jwt_key_create_pem(&es_key, SB_JWT_ES256, ec_pub_pem,
				  strlen(ec_pub_pem), err, sizeof(err)) != SB_OK) {
		fprintf(stderr, "key: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sb_jwt_key_destroy(hs_key);
	sb_jwt_key_destroy(rs_key);
	sb_jwt_key_destroy(es_key);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(rsa1024_key);
	EVP_PKEY_free(p384_key);
	free(rsa_pub_pem);
	free(ec_pub_pem);
	free(rsa1024_pub_pem);
	free(p384_pub_pem);
	return 0;
}

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

/* ---- header attacks ----------------------------------------------------- */

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

/* ---- signatures --------------------------------------------------------- */

static void flip_sig_bit(char *tok)
{
	char *s = strrchr(tok, '.') + 1;

	/* first char: all 6 bits are payload, so this stays canonical */
	*s = *s == 'A' ? 'B' : 'A';
}

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
	/* 2^53 itself is the largest accepted; fractions and exponents are
	 * NumericDates too */
	assert_int_equal(check(hs_key, HS, "{\"sub\":\"u1\","
			       "\"exp\":9007199254740992}", SIG_HS), SB_OK);
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
			   NOW + 3600, NOW - 86400), SB_OK);
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
		cmocka_unit_test(test_hs256_valid),
		cmocka_unit_test(test_hs256_minimal_and_unterminated),
		cmocka_unit_test(test_rs256_valid),
		cmocka_unit_test(test_es256_valid),
		cmocka_unit_test(test_wrong_alg),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_alg_confusion_rsa_pem_as_hmac_secret),
		cmocka_unit_test(test_header_typ_crit),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_es256_der_and_lengths),
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
		cmocka_unit_test(test_sign_hs256_round_trip),
	};

	return cmocka_run_group_tests_name("jwt", tests, setup, teardown);
}
