/* SPDX-License-Identifier: MIT
 *
 * jwt_key.c - the key side of JWT: algorithm names, keys pinned to one
 * algorithm (an HS256 secret, or an RS256/ES256 PEM public key), checking
 * a signature with OpenSSL 3 and minting HS256 tokens.
 *
 * The key type is decided by the pinned alg when the key is created, never
 * by the token, so an RS256 key can never be used as an HMAC secret ("alg
 * confusion").  Secrets are wiped when freed and MACs compared in constant
 * time.
 */
#include "jwt_internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define JWT_MAX_PEM_LEN (1024 * 1024)
#define JWT_RSA_MIN_BITS 2048
#define JWT_ES256_SIG_LEN 64
#define JWT_HS256_SIG_LEN 32

struct sb_jwt_key {
	enum sb_jwt_alg alg;
	unsigned char *secret;  /* HS256 */
	size_t secret_len;
	EVP_PKEY *pkey;         /* RS256, ES256 */
};

enum sb_err sb_jwt_alg_parse(const char *name, enum sb_jwt_alg *out)
{
	if (!name || !out)
		return SB_ERR_INVAL;
	if (strcmp(name, "HS256") == 0)
		*out = SB_JWT_HS256;
	else if (strcmp(name, "RS256") == 0)
		*out = SB_JWT_RS256;
	else if (strcmp(name, "ES256") == 0)
		*out = SB_JWT_ES256;
	else
		return SB_ERR_INVAL;
	return SB_OK;
}

const char *sb_jwt_alg_name(enum sb_jwt_alg alg)
{
	switch (alg) {
	case SB_JWT_HS256: return "HS256";
	case SB_JWT_RS256: return "RS256";
	case SB_JWT_ES256: return "ES256";
	}
	return "?";
}

/* ---- keys ------------------------------------------------------------- */

enum sb_err sb_jwt_key_create_hmac(struct sb_jwt_key **out,
				   const unsigned char *secret, size_t len)
{
	struct sb_jwt_key *k;

	if (!out)
		return SB_ERR_INVAL;
	*out = NULL;
	/* HMAC() takes an int key length */
	if (!secret || len == 0 || len > INT_MAX)
		return SB_ERR_INVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return SB_ERR_NOMEM;
	k->secret = malloc(len);
	if (!k->secret) {
		free(k);
		return SB_ERR_NOMEM;
	}
	memcpy(k->secret, secret, len);
	k->secret_len = len;
	k->alg = SB_JWT_HS256;
	*out = k;
	return SB_OK;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return 0;
}

static EVP_PKEY *pem_to_pkey(const char *pem, size_t len)
{
	EVP_PKEY *pkey = NULL;
	X509 *x509;
	BIO *bio;

	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return NULL;
	pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (pkey)
		return pkey;
	ERR_clear_error();
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		return NULL;
	x509 = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (x509) {
		pkey = X509_get_pubkey(x509);
		X509_free(x509);
	}
	ERR_clear_error();
	return pkey;
}

static int mem_contains(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;

	for (i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return 1;
	return 0;
}

static int rs256_key_ok(EVP_PKEY *pkey, char *err, size_t errlen)
{
	/* "RSA" only: an RSA-PSS key must not verify PKCS#1 v1.5 */
	if (!EVP_PKEY_is_a(pkey, "RSA")) {
		sb_jwt_set_reason(err, errlen, "RS256 needs an RSA public key");
		return 0;
	}
	if (EVP_PKEY_get_bits(pkey) < JWT_RSA_MIN_BITS) {
		sb_jwt_set_reason(err, errlen, "RSA key has %d bits; RS256 needs "
				  "at least %d", EVP_PKEY_get_bits(pkey),
				  JWT_RSA_MIN_BITS);
		return 0;
	}
	return 1;
}

static int es256_key_ok(EVP_PKEY *pkey, char *err, size_t errlen)
{
	char group[64], enc[32];
	size_t glen = 0;

	if (!EVP_PKEY_is_a(pkey, "EC")) {
		sb_jwt_set_reason(err, errlen, "ES256 needs an EC P-256 public key");
		return 0;
	}
	if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1 ||
	    (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
		ERR_clear_error();
		sb_jwt_set_reason(err, errlen, "ES256 needs an EC key on the named "
				  "curve P-256 (prime256v1)");
		return 0;
	}
	/* OpenSSL names explicit parameters that equal P-256's, which is
	 * safe, but RFC 5480 requires the named form and explicit parameters
	 * have been an attack vector (CVE-2020-0601). */
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING,
					   enc, sizeof(enc), NULL) != 1 ||
	    strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
		ERR_clear_error();
		sb_jwt_set_reason(err, errlen, "ES256 key has explicit curve "
				  "parameters; use the named curve form "
				  "(openssl ... -pkeyopt ec_param_enc:named_curve)");
		return 0;
	}
	return 1;
}

enum sb_err sb_jwt_key_create_pem(struct sb_jwt_key **out, enum sb_jwt_alg alg,
				  const char *pem, size_t len,
				  char *err, size_t errlen)
{
	struct sb_jwt_key *k;
	EVP_PKEY *pkey;

	if (!out) {
		sb_jwt_set_reason(err, errlen, "no output pointer");
		return SB_ERR_INVAL;
	}
	*out = NULL;
	if (alg != SB_JWT_RS256 && alg != SB_JWT_ES256) {
		sb_jwt_set_reason(err, errlen, "%s does not take a public key",
				  sb_jwt_alg_name(alg));
		return SB_ERR_INVAL;
	}
	if (!pem || len == 0 || len > JWT_MAX_PEM_LEN) {
		sb_jwt_set_reason(err, errlen, "public key PEM is empty or over %d "
				  "bytes", JWT_MAX_PEM_LEN);
		return SB_ERR_INVAL;
	}
	/* The bridge only verifies: a private key has no business in its
	 * config, and refusing it here keeps one from being deployed there. */
	if (mem_contains(pem, len, "PRIVATE KEY")) {
		sb_jwt_set_reason(err, errlen, "this is a private key; give the "
				  "public key (openssl pkey -in KEY -pubout) instead");
		return SB_ERR_INVAL;
	}
	pkey = pem_to_pkey(pem, len);
	if (!pkey) {
		sb_jwt_set_reason(err, errlen, "no PEM public key (BEGIN PUBLIC "
				  "KEY) or certificate (BEGIN CERTIFICATE) found");
		return SB_ERR_INVAL;
	}
	if (!(alg == SB_JWT_RS256 ? rs256_key_ok(pkey, err, errlen) :
				    es256_key_ok(pkey, err, errlen))) {
		EVP_PKEY_free(pkey);
		return SB_ERR_INVAL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		sb_jwt_set_reason(err, errlen, "out of memory");
		return SB_ERR_NOMEM;
	}
	k->alg = alg;
	k->pkey = pkey;
	*out = k;
	return SB_OK;
}

void sb_jwt_key_destroy(struct sb_jwt_key *key)
{
	if (!key)
		return;
	if (key->secret) {
		OPENSSL_cleanse(key->secret, key->secret_len);
		free(key->secret);
	}
	EVP_PKEY_free(key->pkey);
	free(key);
}

enum sb_jwt_alg sb_jwt_key_alg(const struct sb_jwt_key *key)
{
	return key->alg;
}

/* ---- signatures --------------------------------------------------------- */

static int hs256(const unsigned char *secret, size_t secret_len,
		 const unsigned char *data, size_t len,
		 unsigned char mac[JWT_HS256_SIG_LEN])
{
	unsigned int maclen = 0;

	if (!HMAC(EVP_sha256(), secret, (int)secret_len, data, len, mac, &maclen) ||
	    maclen != JWT_HS256_SIG_LEN) {
		ERR_clear_error();
		return 0;
	}
	return 1;
}

/* JOSE ES256 signatures are r||s, 32 bytes each (RFC 7518 section 3.4);
 * OpenSSL verifies the DER ECDSA-Sig-Value. */
static int es256_raw_to_der(const unsigned char *sig, unsigned char **der,
			    int *derlen)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL);
	BIGNUM *s = BN_bin2bn(sig + 32, 32, NULL);

	*der = NULL;
	if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return 0;
	}
	*derlen = i2d_ECDSA_SIG(es, der);
	ECDSA_SIG_free(es);
	return *derlen > 0;
}

static int pkey_verify(EVP_PKEY *pkey, const unsigned char *sig, size_t siglen,
		       const unsigned char *data, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = 0;

	if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1)
		ok = EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

enum sb_err sb_jwt_key_verify_sig(const struct sb_jwt_key *key,
				  const unsigned char *sig, size_t siglen,
				  const unsigned char *data, size_t len,
				  char *reason, size_t reasonlen)
{
	unsigned char mac[JWT_HS256_SIG_LEN], *der = NULL;
	int derlen = 0, ok;

	switch (key->alg) {
	case SB_JWT_HS256:
		if (!hs256(key->secret, key->secret_len, data, len, mac)) {
			sb_jwt_set_reason(reason, reasonlen, "HMAC failed");
			return SB_ERR_INTERNAL;
		}
		ok = siglen == sizeof(mac) &&
		     CRYPTO_memcmp(mac, sig, sizeof(mac)) == 0;
		OPENSSL_cleanse(mac, sizeof(mac));
		break;
	case SB_JWT_RS256:
		ok = siglen == (size_t)EVP_PKEY_get_size(key->pkey) &&
		     pkey_verify(key->pkey, sig, siglen, data, len);
		break;
	case SB_JWT_ES256:
		if (siglen != JWT_ES256_SIG_LEN) {
			ok = 0;
			break;
		}
		if (!es256_raw_to_der(sig, &der, &derlen)) {
			ERR_clear_error();
			sb_jwt_set_reason(reason, reasonlen, "out of memory");
			return SB_ERR_NOMEM;
		}
		ok = pkey_verify(key->pkey, der, (size_t)derlen, data, len);
		OPENSSL_free(der);
		break;
	default:
		sb_jwt_set_reason(reason, reasonlen, "unknown key type");
		return SB_ERR_INTERNAL;
	}
	if (!ok) {
		sb_jwt_set_reason(reason, reasonlen, "bad signature");
		return SB_ERR_DENIED;
	}
	return SB_OK;
}

/* ---- minting ------------------------------------------------------------ */

enum sb_err sb_jwt_sign_hs256(char **out, const unsigned char *secret,
			      size_t secret_len, const char *claims_json)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	unsigned char mac[JWT_HS256_SIG_LEN];
	size_t plen, total, o;
	char *tok;

	if (!out)
		return SB_ERR_INVAL;
	*out = NULL;
	if (!secret || secret_len == 0 || secret_len > INT_MAX || !claims_json)
		return SB_ERR_INVAL;
	plen = strlen(claims_json);
	if (plen > SIZE_MAX / 2)
		return SB_ERR_LIMIT;
	total = sb_jwt_b64_len(sizeof(header) - 1) + 1 + sb_jwt_b64_len(plen) +
		1 + sb_jwt_b64_len(sizeof(mac)) + 1;
	tok = malloc(total);
	if (!tok)
		return SB_ERR_NOMEM;
	o = sb_jwt_b64_encode((const unsigned char *)header, sizeof(header) - 1,
			      tok);
	tok[o++] = '.';
	o += sb_jwt_b64_encode((const unsigned char *)claims_json, plen, tok + o);
	if (!hs256(secret, secret_len, (const unsigned char *)tok, o, mac)) {
		free(tok);
		return SB_ERR_INTERNAL;
	}
	tok[o++] = '.';
	sb_jwt_b64_encode(mac, sizeof(mac), tok + o);
	OPENSSL_cleanse(mac, sizeof(mac));
	*out = tok;
	return SB_OK;
}
