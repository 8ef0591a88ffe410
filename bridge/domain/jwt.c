/* SPDX-License-Identifier: MIT
 *
 * jwt.c - JSON Web Token verification and HS256 minting with OpenSSL 3.
 *
 * The order of checks is chosen so that untrusted bytes reach as little code
 * as possible: length bound, segment count and strict base64url first; then
 * the header JSON (small, needed to know the alg, which must equal the alg
 * the key was created for); then the signature over the encoded text; only
 * a token whose signature verified has its payload parsed.  The key type is
 * decided by the pinned alg when the key is created, never by the token, so
 * an RS256 key can never be used as an HMAC secret ("alg confusion").
 *
 * Reasons written for the caller never quote the token or its claim values:
 * they end up in logs next to client addresses.
 */
#include "jwt.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define JWT_DEFAULT_MAX_LEN 8192
#define JWT_MAX_PEM_LEN (1024 * 1024)
#define JWT_MAX_SUB_LEN 128
#define JWT_MAX_ID_LEN 64
#define JWT_MAX_CHANNEL_LEN 256
#define JWT_MAX_LIST 1024
#define JWT_RSA_MIN_BITS 2048
#define JWT_ES256_SIG_LEN 64
#define JWT_HS256_SIG_LEN 32
/* Largest double below which every integer is exact: 2^53. */
#define JWT_MAX_EXACT 9007199254740992.0

struct sb_jwt_key {
	enum sb_jwt_alg alg;
	unsigned char *secret;  /* HS256 */
	size_t secret_len;
	EVP_PKEY *pkey;         /* RS256, ES256 */
};

static void set_reason(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_reason(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

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

/* ---- base64url (RFC 7515 section 2: no padding) ------------------------- */

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decodes in[0..n) into a malloc'ed, NUL-terminated buffer.  Refuses any
 * byte outside the url-safe alphabet (so '=', '+', '/', whitespace), a
 * length that no encoder produces (n % 4 == 1) and non-zero unused trailing
 * bits, so that every byte string has exactly one accepted encoding. */
static enum sb_err b64url_decode(const char *in, size_t n,
				 unsigned char **out, size_t *outlen)
{
	size_t full = n / 4, rem = n % 4, olen, i, o = 0;
	unsigned char *buf;
	int v[4];

	*out = NULL;
	*outlen = 0;
	if (rem == 1)
		return SB_ERR_INVAL;
	olen = full * 3 + (rem == 0 ? 0 : rem - 1);
	for (i = 0; i < n; i++)
		if (b64url_value((unsigned char)in[i]) < 0)
			return SB_ERR_INVAL;
	if (rem == 2 && (b64url_value((unsigned char)in[n - 1]) & 0x0f))
		return SB_ERR_INVAL;
	if (rem == 3 && (b64url_value((unsigned char)in[n - 1]) & 0x03))
		return SB_ERR_INVAL;
	buf = malloc(olen + 1);
	if (!buf)
		return SB_ERR_NOMEM;
	for (i = 0; i + 4 <= n; i += 4) {
		v[0] = b64url_value((unsigned char)in[i]);
		v[1] = b64url_value((unsigned char)in[i + 1]);
		v[2] = b64url_value((unsigned char)in[i + 2]);
		v[3] = b64url_value((unsigned char)in[i + 3]);
		buf[o++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
		buf[o++] = (unsigned char)((v[1] << 4) | (v[2] >> 2));
		buf[o++] = (unsigned char)((v[2] << 6) | v[3]);
	}
	if (rem >= 2) {
		v[0] = b64url_value((unsigned char)in[i]);
		v[1] = b64url_value((unsigned char)in[i + 1]);
		buf[o++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
		if (rem == 3) {
			v[2] = b64url_value((unsigned char)in[i + 2]);
			buf[o++] = (unsigned char)((v[1] << 4) | (v[2] >> 2));
		}
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return SB_OK;
}

/* Appends the unpadded base64url of in[0..n) at out, NUL-terminated;
 * returns the number of characters written.  out needs 4*ceil(n/3)+1. */
static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;
	uint32_t w;

	for (i = 0; i + 3 <= n; i += 3) {
		w = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
		out[o++] = tbl[(w >> 18) & 63];
		out[o++] = tbl[(w >> 12) & 63];
		out[o++] = tbl[(w >> 6) & 63];
		out[o++] = tbl[w & 63];
	}
	if (n - i == 1) {
		w = (uint32_t)in[i] << 16;
		out[o++] = tbl[(w >> 18) & 63];
		out[o++] = tbl[(w >> 12) & 63];
	} else if (n - i == 2) {
		w = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
		out[o++] = tbl[(w >> 18) & 63];
		out[o++] = tbl[(w >> 12) & 63];
		out[o++] = tbl[(w >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

static size_t b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
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

enum sb_err sb_jwt_key_create_pem(struct sb_jwt_key **out, enum sb_jwt_alg alg,
				  const char *pem, size_t len,
				  char *err, size_t errlen)
{
	struct sb_jwt_key *k;
	EVP_PKEY *pkey;
	char group[64], enc[32];
	size_t glen = 0;

	if (!out) {
		set_reason(err, errlen, "no output pointer");
		return SB_ERR_INVAL;
	}
	*out = NULL;
	if (alg != SB_JWT_RS256 && alg != SB_JWT_ES256) {
		set_reason(err, errlen, "%s does not take a public key",
			   sb_jwt_alg_name(alg));
		return SB_ERR_INVAL;
	}
	if (!pem || len == 0 || len > JWT_MAX_PEM_LEN) {
		set_reason(err, errlen, "public key PEM is empty or over %d bytes",
			   JWT_MAX_PEM_LEN);
		return SB_ERR_INVAL;
	}
	/* The bridge only verifies: a private key has no business in its
	 * config, and refusing it here keeps one from being deployed there. */
	if (mem_contains(pem, len, "PRIVATE KEY")) {
		set_reason(err, errlen, "this is a private key; give the public "
			   "key (openssl pkey -in KEY -pubout) instead");
		return SB_ERR_INVAL;
	}
	pkey = pem_to_pkey(pem, len);
	if (!pkey) {
		set_reason(err, errlen, "no PEM public key (BEGIN PUBLIC KEY) or "
			   "certificate (BEGIN CERTIFICATE) found");
		return SB_ERR_INVAL;
	}
	if (alg == SB_JWT_RS256) {
		/* "RSA" only: an RSA-PSS key must not verify PKCS#1 v1.5 */
		if (!EVP_PKEY_is_a(pkey, "RSA")) {
			set_reason(err, errlen, "RS256 needs an RSA public key");
			goto fail;
		}
		if (EVP_PKEY_get_bits(pkey) < JWT_RSA_MIN_BITS) {
			set_reason(err, errlen, "RSA key has %d bits; RS256 needs at "
				   "least %d", EVP_PKEY_get_bits(pkey),
				   JWT_RSA_MIN_BITS);
			goto fail;
		}
	} else {
		if (!EVP_PKEY_is_a(pkey, "EC")) {
			set_reason(err, errlen, "ES256 needs an EC P-256 public key");
			goto fail;
		}
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1 ||
		    (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
			ERR_clear_error();
			set_reason(err, errlen, "ES256 needs an EC key on the named "
				   "curve P-256 (prime256v1)");
			goto fail;
		}
		/* OpenSSL names explicit parameters that equal P-256's, which
		 * is safe, but RFC 5480 requires the named form and explicit
		 * parameters have been an attack vector (CVE-2020-0601). */
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING,
						   enc, sizeof(enc), NULL) != 1 ||
		    strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
			ERR_clear_error();
			set_reason(err, errlen, "ES256 key has explicit curve "
				   "parameters; use the named curve form "
				   "(openssl ... -pkeyopt ec_param_enc:named_curve)");
			goto fail;
		}
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		set_reason(err, errlen, "out of memory");
		return SB_ERR_NOMEM;
	}
	k->alg = alg;
	k->pkey = pkey;
	*out = k;
	return SB_OK;
fail:
	EVP_PKEY_free(pkey);
	return SB_ERR_INVAL;
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

/* SB_OK when sig is a valid signature of data under key; SB_ERR_DENIED
 * when it is not; SB_ERR_NOMEM/INTERNAL when we could not tell. */
static enum sb_err verify_sig(const struct sb_jwt_key *key,
			      const unsigned char *sig, size_t siglen,
			      const unsigned char *data, size_t len,
			      char *reason, size_t reasonlen)
{
	unsigned char mac[JWT_HS256_SIG_LEN], *der = NULL;
	int derlen = 0, ok;

	switch (key->alg) {
	case SB_JWT_HS256:
		if (!hs256(key->secret, key->secret_len, data, len, mac)) {
			set_reason(reason, reasonlen, "HMAC failed");
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
			set_reason(reason, reasonlen, "out of memory");
			return SB_ERR_NOMEM;
		}
		ok = pkey_verify(key->pkey, der, (size_t)derlen, data, len);
		OPENSSL_free(der);
		break;
	default:
		set_reason(reason, reasonlen, "unknown key type");
		return SB_ERR_INTERNAL;
	}
	if (!ok) {
		set_reason(reason, reasonlen, "bad signature");
		return SB_ERR_DENIED;
	}
	return SB_OK;
}

/* ---- JSON helpers ------------------------------------------------------- */

/* cJSON decodes "\u0000" into a NUL that silently truncates the string
 * ("alice\u0000x" would read as "alice"), so such text is refused before
 * parsing.  Escapes are skipped pairwise so "\\u0000" is not a match. */
static int has_escaped_nul(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && i + 5 < n && s[i + 2] == '0' &&
		    s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0')
			return 1;
		i++;
	}
	return 0;
}

/* Parses a decoded segment that must be exactly one JSON object. */
static enum sb_err parse_object(const unsigned char *buf, size_t len,
				const char *what, cJSON **out,
				char *reason, size_t reasonlen)
{
	cJSON *j;

	*out = NULL;
	/* buf is NUL-terminated at len; a NUL before that is not JSON */
	if (memchr(buf, '\0', len) || has_escaped_nul((const char *)buf, len)) {
		set_reason(reason, reasonlen, "%s contains a NUL character", what);
		return SB_ERR_INVAL;
	}
	/* length includes the terminator: cJSON then insists that nothing
	 * but whitespace follows the value */
	j = cJSON_ParseWithLengthOpts((const char *)buf, len + 1, NULL, 1);
	if (!j) {
		set_reason(reason, reasonlen, "%s is not valid JSON", what);
		return SB_ERR_INVAL;
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		set_reason(reason, reasonlen, "%s is not a JSON object", what);
		return SB_ERR_INVAL;
	}
	*out = j;
	return SB_OK;
}

/* The name of a member in names[] that occurs twice in obj, or NULL.
 * Parsers disagree on which duplicate wins, so one is refused outright. */
static const char *duplicate_member(const cJSON *obj, const char *const *names,
				    size_t n)
{
	unsigned counts[16] = { 0 };
	const cJSON *c;
	size_t i;

	for (c = obj->child; c; c = c->next) {
		if (!c->string)
			continue;
		for (i = 0; i < n && i < SB_ARRAY_LEN(counts); i++)
			if (strcmp(c->string, names[i]) == 0 && ++counts[i] > 1)
				return names[i];
	}
	return NULL;
}

/* Valid UTF-8 (no overlongs, surrogates or > U+10FFFF) with no C0 control
 * characters or DEL: these strings end up in logs and JSON output. */
static int text_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k, need;
	uint32_t cp, min;

	while (i < n) {
		if (p[i] < 0x80) {
			if (p[i] < 0x20 || p[i] == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			need = 1; cp = p[i] & 0x1f; min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			need = 2; cp = p[i] & 0x0f; min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			need = 3; cp = p[i] & 0x07; min = 0x10000;
		} else {
			return 0;
		}
		if (n - i <= need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int id_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > JWT_MAX_ID_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* A NumericDate (RFC 7519 section 2): a non-negative JSON number small
 * enough to be exact as a double.  Fractions are allowed by the RFC and
 * rounded towards the stricter side: exp down, nbf and iat up. */
static int numeric_date(const cJSON *it, int round_up, int64_t *out)
{
	double v;

	if (!cJSON_IsNumber(it))
		return 0;
	v = it->valuedouble;
	if (!isfinite(v) || v < 0 || v > JWT_MAX_EXACT)
		return 0;
	v = round_up ? ceil(v) : floor(v);
	*out = (int64_t)v;
	return 1;
}

/* ---- claims ------------------------------------------------------------- */

void sb_jwt_claims_destroy(struct sb_jwt_claims *c)
{
	size_t i;

	if (!c)
		return;
	free(c->sub);
	for (i = 0; i < c->n_teams; i++)
		free(c->teams[i]);
	free(c->teams);
	for (i = 0; i < c->n_channels; i++)
		free(c->channels[i]);
	free(c->channels);
	free(c);
}

/* Array claim -> vector of strings.  is_team selects the element rule. */
static enum sb_err string_list(const cJSON *arr, const char *name, int is_team,
			       char ***out, size_t *n_out,
			       char *reason, size_t reasonlen)
{
	const cJSON *e;
	char **v, num[32];
	size_t n = 0, i = 0, len;
	const char *s;
	double d;

	if (!cJSON_IsArray(arr)) {
		set_reason(reason, reasonlen, "\"%s\" is not an array", name);
		return SB_ERR_INVAL;
	}
	for (e = arr->child; e; e = e->next)
		if (++n > JWT_MAX_LIST) {
			set_reason(reason, reasonlen, "\"%s\" has more than %d "
				   "entries", name, JWT_MAX_LIST);
			return SB_ERR_INVAL;
		}
	if (n == 0)
		return SB_OK;
	v = calloc(n, sizeof(*v));
	if (!v)
		return SB_ERR_NOMEM;
	*out = v;
	for (e = arr->child; e; e = e->next, i++) {
		if (is_team && cJSON_IsNumber(e)) {
			d = e->valuedouble;
			if (!isfinite(d) || d < 0 || d > JWT_MAX_EXACT ||
			    d != floor(d))
				goto bad;
			snprintf(num, sizeof(num), "%" PRId64, (int64_t)d);
			s = num;
		} else if (cJSON_IsString(e)) {
			s = e->valuestring;
			len = strlen(s);
			if (is_team ? !id_ok(s, len) :
			    (len == 0 || len > JWT_MAX_CHANNEL_LEN || !text_ok(s, len)))
				goto bad;
		} else {
			goto bad;
		}
		v[i] = strdup(s);
		if (!v[i]) {
			*n_out = i;
			return SB_ERR_NOMEM;
		}
	}
	*n_out = n;
	return SB_OK;
bad:
	*n_out = i;
	if (is_team)
		set_reason(reason, reasonlen, "teams[%zu] is not a team id "
			   "([A-Za-z0-9_-]{1,64} or a non-negative integer)", i);
	else
		set_reason(reason, reasonlen, "channels[%zu] is not a string of "
			   "1 to %d bytes of printable UTF-8", i,
			   JWT_MAX_CHANNEL_LEN);
	return SB_ERR_INVAL;
}

static int aud_contains(const cJSON *aud, const char *want, int *malformed)
{
	const cJSON *e;
	int found = 0;

	*malformed = 0;
	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, want) == 0;
	if (!cJSON_IsArray(aud)) {
		*malformed = 1;
		return 0;
	}
	for (e = aud->child; e; e = e->next) {
		if (!cJSON_IsString(e)) {
			*malformed = 1;
			return 0;
		}
		if (strcmp(e->valuestring, want) == 0)
			found = 1;
	}
	return found;
}

static enum sb_err parse_claims(const cJSON *p,
				const struct sb_jwt_verify_opts *opts,
				struct sb_jwt_claims *c,
				char *reason, size_t reasonlen)
{
	static const char *const registered[] = {
		"sub", "exp", "nbf", "iat", "iss", "aud", "teams", "channels",
	};
	const cJSON *it;
	const char *dup;
	int64_t leeway = opts->leeway_s > 0 ? opts->leeway_s : 0;
	int64_t now = opts->now_s;
	enum sb_err e;
	size_t len;
	int malformed;

	dup = duplicate_member(p, registered, SB_ARRAY_LEN(registered));
	if (dup) {
		set_reason(reason, reasonlen, "claim \"%s\" appears twice", dup);
		return SB_ERR_INVAL;
	}

	it = cJSON_GetObjectItemCaseSensitive(p, "sub");
	if (!it) {
		set_reason(reason, reasonlen, "missing \"sub\" claim");
		return SB_ERR_INVAL;
	}
	len = cJSON_IsString(it) ? strlen(it->valuestring) : 0;
	if (len == 0 || len > JWT_MAX_SUB_LEN || !text_ok(it->valuestring, len)) {
		set_reason(reason, reasonlen, "\"sub\" is not a string of 1 to %d "
			   "bytes of printable UTF-8", JWT_MAX_SUB_LEN);
		return SB_ERR_INVAL;
	}
	c->sub = strdup(it->valuestring);
	if (!c->sub)
		return SB_ERR_NOMEM;

	it = cJSON_GetObjectItemCaseSensitive(p, "exp");
	if (!it) {
		set_reason(reason, reasonlen, "missing \"exp\" claim");
		return SB_ERR_INVAL;
	}
	if (!numeric_date(it, 0, &c->exp)) {
		set_reason(reason, reasonlen, "\"exp\" is not a number of seconds "
			   "between 0 and 2^53");
		return SB_ERR_INVAL;
	}
	it = cJSON_GetObjectItemCaseSensitive(p, "nbf");
	if (it && !numeric_date(it, 1, &c->nbf)) {
		set_reason(reason, reasonlen, "\"nbf\" is not a number of seconds "
			   "between 0 and 2^53");
		return SB_ERR_INVAL;
	}
	it = cJSON_GetObjectItemCaseSensitive(p, "iat");
	if (it && !numeric_date(it, 1, &c->iat)) {
		set_reason(reason, reasonlen, "\"iat\" is not a number of seconds "
			   "between 0 and 2^53");
		return SB_ERR_INVAL;
	}

	it = cJSON_GetObjectItemCaseSensitive(p, "teams");
	if (it) {
		e = string_list(it, "teams", 1, &c->teams, &c->n_teams,
				reason, reasonlen);
		if (e != SB_OK)
			return e;
	}
	it = cJSON_GetObjectItemCaseSensitive(p, "channels");
	if (it) {
		e = string_list(it, "channels", 0, &c->channels, &c->n_channels,
				reason, reasonlen);
		if (e != SB_OK)
			return e;
	}

	if (opts->issuer) {
		it = cJSON_GetObjectItemCaseSensitive(p, "iss");
		if (!it) {
			set_reason(reason, reasonlen, "missing \"iss\" claim");
			return SB_ERR_DENIED;
		}
		if (!cJSON_IsString(it) || strcmp(it->valuestring, opts->issuer)) {
			set_reason(reason, reasonlen, "\"iss\" is not the configured "
				   "issuer");
			return SB_ERR_DENIED;
		}
	}
	if (opts->audience) {
		it = cJSON_GetObjectItemCaseSensitive(p, "aud");
		if (!it) {
			set_reason(reason, reasonlen, "missing \"aud\" claim");
			return SB_ERR_DENIED;
		}
		if (!aud_contains(it, opts->audience, &malformed)) {
			if (malformed) {
				set_reason(reason, reasonlen, "\"aud\" is neither a "
					   "string nor an array of strings");
				return SB_ERR_INVAL;
			}
			set_reason(reason, reasonlen, "\"aud\" does not contain the "
				   "configured audience");
			return SB_ERR_DENIED;
		}
	}

	/* Time last, so that a malformed token is reported as such even
	 * when it has also expired.  exp, nbf, iat <= 2^53 and leeway is an
	 * int: none of these sums can overflow. */
	if (now >= c->exp + leeway) {
		set_reason(reason, reasonlen, "token expired %" PRId64 " s ago",
			   now - c->exp);
		return SB_ERR_EXPIRED;
	}
	if (c->nbf && c->nbf - leeway > now) {
		set_reason(reason, reasonlen, "token not valid for another "
			   "%" PRId64 " s (nbf)", c->nbf - now);
		return SB_ERR_EXPIRED;
	}
	if (c->iat && c->iat - leeway > now) {
		set_reason(reason, reasonlen, "token issued %" PRId64 " s in the "
			   "future (iat); check the clocks", c->iat - now);
		return SB_ERR_EXPIRED;
	}
	return SB_OK;
}

/* ---- header ------------------------------------------------------------- */

/* Quotes an attacker-chosen alg only when it is short and alphanumeric,
 * which is enough to tell an operator "RS256" from "HS256". */
static const char *printable_alg(const cJSON *alg)
{
	const char *s;
	size_t i;

	if (!cJSON_IsString(alg))
		return NULL;
	s = alg->valuestring;
	for (i = 0; s[i]; i++)
		if (i >= 16 || !((s[i] >= 'A' && s[i] <= 'Z') ||
				 (s[i] >= 'a' && s[i] <= 'z') ||
				 (s[i] >= '0' && s[i] <= '9')))
			return NULL;
	return i ? s : NULL;
}

static enum sb_err check_header(const cJSON *h, enum sb_jwt_alg pinned,
				char *reason, size_t reasonlen)
{
	static const char *const names[] = { "alg", "typ", "crit" };
	const char *want = sb_jwt_alg_name(pinned), *dup, *shown;
	const cJSON *alg, *typ;

	dup = duplicate_member(h, names, SB_ARRAY_LEN(names));
	if (dup) {
		set_reason(reason, reasonlen, "header \"%s\" appears twice", dup);
		return SB_ERR_INVAL;
	}
	alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
	if (!alg) {
		set_reason(reason, reasonlen, "header has no \"alg\"; expected %s",
			   want);
		return SB_ERR_DENIED;
	}
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, want) != 0) {
		shown = printable_alg(alg);
		if (shown)
			set_reason(reason, reasonlen, "alg \"%s\" is not the "
				   "configured %s", shown, want);
		else
			set_reason(reason, reasonlen, "alg is not the configured %s",
				   want);
		return SB_ERR_DENIED;
	}
	/* No extension is understood, so a token that demands one is refused
	 * (RFC 7515 section 4.1.11). */
	if (cJSON_GetObjectItemCaseSensitive(h, "crit")) {
		set_reason(reason, reasonlen, "header \"crit\" is not supported");
		return SB_ERR_DENIED;
	}
	typ = cJSON_GetObjectItemCaseSensitive(h, "typ");
	if (typ && (!cJSON_IsString(typ) || strcmp(typ->valuestring, "JWT") != 0)) {
		set_reason(reason, reasonlen, "header \"typ\" is not \"JWT\"");
		return SB_ERR_INVAL;
	}
	/* kid, jku, jwk, x5u, x5c are ignored: the key comes from config,
	 * never from the token. */
	return SB_OK;
}

/* ---- verify ------------------------------------------------------------- */

enum sb_err sb_jwt_verify(const struct sb_jwt_key *key, const char *token,
			  size_t len, const struct sb_jwt_verify_opts *opts,
			  struct sb_jwt_claims **out,
			  char *reason, size_t reasonlen)
{
	size_t max, dots[2], ndots = 0, i, hlen, plen, slen;
	unsigned char *hdr = NULL, *pay = NULL, *sig = NULL;
	struct sb_jwt_claims *c = NULL;
	cJSON *hj = NULL, *pj = NULL;
	enum sb_err e;

	if (reason && reasonlen)
		reason[0] = '\0';
	if (out)
		*out = NULL;
	if (!key || !opts || !out || (!token && len)) {
		set_reason(reason, reasonlen, "invalid arguments");
		return SB_ERR_INVAL;
	}
	max = opts->max_token_len ? opts->max_token_len : JWT_DEFAULT_MAX_LEN;
	if (len > max) {
		set_reason(reason, reasonlen, "token is %zu bytes; the limit is %zu",
			   len, max);
		return SB_ERR_LIMIT;
	}
	for (i = 0; i < len; i++) {
		if (token[i] != '.')
			continue;
		if (ndots == 2) {
			ndots = 3;
			break;
		}
		dots[ndots++] = i;
	}
	if (ndots != 2) {
		set_reason(reason, reasonlen, "token is not three base64url "
			   "segments separated by dots");
		return SB_ERR_INVAL;
	}
	if (dots[0] == 0 || dots[1] == dots[0] + 1) {
		set_reason(reason, reasonlen, "token has an empty %s segment",
			   dots[0] == 0 ? "header" : "payload");
		return SB_ERR_INVAL;
	}
	e = b64url_decode(token, dots[0], &hdr, &hlen);
	if (e == SB_OK)
		e = b64url_decode(token + dots[0] + 1, dots[1] - dots[0] - 1,
				  &pay, &plen);
	if (e == SB_OK)
		e = b64url_decode(token + dots[1] + 1, len - dots[1] - 1,
				  &sig, &slen);
	if (e != SB_OK) {
		set_reason(reason, reasonlen, e == SB_ERR_NOMEM ? "out of memory" :
			   "token is not valid unpadded base64url");
		goto done;
	}

	e = parse_object(hdr, hlen, "header", &hj, reason, reasonlen);
	if (e != SB_OK)
		goto done;
	e = check_header(hj, key->alg, reason, reasonlen);
	if (e != SB_OK)
		goto done;

	e = verify_sig(key, sig, slen, (const unsigned char *)token, dots[1],
		       reason, reasonlen);
	if (e != SB_OK)
		goto done;

	e = parse_object(pay, plen, "payload", &pj, reason, reasonlen);
	if (e != SB_OK)
		goto done;
	c = calloc(1, sizeof(*c));
	if (!c) {
		e = SB_ERR_NOMEM;
		goto done;
	}
	e = parse_claims(pj, opts, c, reason, reasonlen);
	if (e == SB_OK) {
		*out = c;
		c = NULL;
	}
done:
	if (e == SB_ERR_NOMEM)
		set_reason(reason, reasonlen, "out of memory");
	sb_jwt_claims_destroy(c);
	cJSON_Delete(hj);
	cJSON_Delete(pj);
	free(hdr);
	free(pay);
	free(sig);
	return e;
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
	total = b64url_len(sizeof(header) - 1) + 1 + b64url_len(plen) + 1 +
		b64url_len(sizeof(mac)) + 1;
	tok = malloc(total);
	if (!tok)
		return SB_ERR_NOMEM;
	o = b64url_encode((const unsigned char *)header, sizeof(header) - 1, tok);
	tok[o++] = '.';
	o += b64url_encode((const unsigned char *)claims_json, plen, tok + o);
	if (!hs256(secret, secret_len, (const unsigned char *)tok, o, mac)) {
		free(tok);
		return SB_ERR_INTERNAL;
	}
	tok[o++] = '.';
	b64url_encode(mac, sizeof(mac), tok + o);
	OPENSSL_cleanse(mac, sizeof(mac));
	*out = tok;
	return SB_OK;
}
