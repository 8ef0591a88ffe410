/* SPDX-License-Identifier: MIT
 *
 * jwt_fixture.h - what the JWT unit tests (test_jwt.c, test_jwt_key.c,
 * test_jwt_ranges.c) share: keys generated once per group, tokens built
 * and signed here, and a verify wrapper that asserts a reason never quotes
 * the token.
 * Header-only (each test is its own executable).
 *
 * Tokens are built with this file's own base64url encoder and signed
 * directly with OpenSSL (keys generated at start-up), not with jwt.c, so a
 * shared bug in encoding or signing cannot make both sides agree.
 */
#ifndef SB_TEST_JWT_FIXTURE_H
#define SB_TEST_JWT_FIXTURE_H

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

/* not every test file uses all three */
static const char *HS __attribute__((unused)) = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char *RS __attribute__((unused)) = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
static const char *ES __attribute__((unused)) = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";

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

static __attribute__((unused)) enum sb_err check(const struct sb_jwt_key *key,
						 const char *header, const char *pl,
						 enum signer how)
{
	struct sb_jwt_verify_opts o = opts_default();
	char *tok = make_token(header, pl, how);
	enum sb_err e = run(key, tok, &o, NULL);

	free(tok);
	return e;
}

static __attribute__((unused)) void flip_sig_bit(char *tok)
{
	char *s = strrchr(tok, '.') + 1;

	/* first char: all 6 bits are payload, so this stays canonical */
	*s = *s == 'A' ? 'B' : 'A';
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

#endif
