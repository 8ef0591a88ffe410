/* SPDX-License-Identifier: MIT
 *
 * fuzz_jwt.c - JWT verification (domain/jwt*.c) with the three pinned
 * algorithms, from fixed test keys (tests/fuzz/keys/: test material only,
 * never used anywhere else).  The first input byte chooses:
 *   mode 0, 1  the rest is a token, verified with the HS256, RS256 and
 *              ES256 keys;
 *   mode 2     the rest is "<header JSON>\n<payload JSON>": the harness
 *              encodes and signs it itself (OpenSSL, not jwt.c) with the
 *              signer the byte names, so the claims parser behind the
 *              signature check is reached, then verifies with every key;
 *   mode 3     the rest is a PEM text for sb_jwt_key_create_pem.
 * Other bits of that byte set the issuer and audience options and a small
 * max_token_len.
 *
 * Oracles: only the signer's key accepts a signed token; an HS256 token is
 * accepted only with the exact HMAC; accepted claims are complete and
 * within the time window, and none was cut short by an escape cJSON
 * decodes as NUL; a reason never quotes the signature.
 */
#include "fuzz_common.h"

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "jwt.h"

#define NOW 1700000000LL
#define LEEWAY 30
#define SECRET "fuzz secret for HS256, 32 bytes+"
#define KEYS SB_SOURCE_DIR "/tests/fuzz/keys/"

enum signer { S_HS = 0, S_RS, S_ES, S_HS_WRONG };

static struct sb_jwt_key *keys[3];   /* indexed like enum signer */
static EVP_PKEY *rs_priv, *es_priv;

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 8192);

	if (!f || !buf || fread(buf, 1, 8191, f) == 0) {
		fprintf(stderr, "cannot read %s\n", path);
		abort();
	}
	fclose(f);
	return buf;
}

static EVP_PKEY *load_priv(const char *path)
{
	FILE *f = fopen(path, "rb");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (!k) {
		fprintf(stderr, "cannot read the private key %s\n", path);
		abort();
	}
	fclose(f);
	return k;
}

static void load_pub(int i, enum sb_jwt_alg alg, const char *path)
{
	char *pem = slurp(path), err[256];

	if (sb_jwt_key_create_pem(&keys[i], alg, pem, strlen(pem), err, sizeof(err)) != SB_OK) {
		fprintf(stderr, "%s: %s\n", path, err);
		abort();
	}
	free(pem);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sb_log_set_level(SB_LOG_ERR);
	if (sb_jwt_key_create_hmac(&keys[S_HS], (const unsigned char *)SECRET,
				   strlen(SECRET)) != SB_OK)
		abort();
	load_pub(S_RS, SB_JWT_RS256, KEYS "rs256.pub.pem");
	load_pub(S_ES, SB_JWT_ES256, KEYS "es256.pub.pem");
	rs_priv = load_priv(KEYS "rs256.pem");
	es_priv = load_priv(KEYS "es256.pem");
	return 0;
}

/* ---- signing, independent of jwt.c ---------------------------------------------- */

/* base64url without padding (RFC 7515), from OpenSSL's base64: not
 * jwt_b64.c, so that a shared mistake cannot make both sides agree. */
static char *b64url(const unsigned char *in, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	int len;

	if (!out)
		abort();
	len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (int i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return out;
}

/* The signature segment of `input` (header.payload) by `how`; caller frees. */
static char *sign(enum signer how, const char *input, size_t n)
{
	unsigned char mac[EVP_MAX_MD_SIZE], *der, raw[64];
	unsigned int maclen = 0;
	size_t len = 0;
	EVP_MD_CTX *ctx;
	char *out;

	if (how == S_HS || how == S_HS_WRONG) {
		const char *secret = how == S_HS ? SECRET : SECRET "!";
		if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)input, n,
			  mac, &maclen))
			abort();
		return b64url(mac, maclen);
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
				       how == S_RS ? rs_priv : es_priv) != 1 ||
	    EVP_DigestSign(ctx, NULL, &len, (const unsigned char *)input, n) != 1 ||
	    !(der = malloc(len)) ||
	    EVP_DigestSign(ctx, der, &len, (const unsigned char *)input, n) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
	if (how == S_RS) {
		out = b64url(der, len);
	} else {
		/* JOSE wants r || s, 32 bytes each, not DER */
		const unsigned char *q = der;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)len);
		const BIGNUM *r, *s;

		if (!es)
			abort();
		ECDSA_SIG_get0(es, &r, &s);
		if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32)
			abort();
		ECDSA_SIG_free(es);
		out = b64url(raw, 64);
	}
	free(der);
	return out;
}

/* ---- verification and its oracles ------------------------------------------------- */

static void check_claims(const struct sb_jwt_claims *c)
{
	FZ_CHECK(c->sub && c->sub[0], "accepted without sub");
	FZ_CHECK(c->exp + LEEWAY >= NOW, "accepted after exp %lld", (long long)c->exp);
	FZ_CHECK(c->nbf == 0 || c->nbf - LEEWAY <= NOW, "accepted before nbf %lld",
		 (long long)c->nbf);
	FZ_CHECK(c->iat == 0 || c->iat - LEEWAY <= NOW, "accepted with iat %lld in the future",
		 (long long)c->iat);
	FZ_CHECK(c->n_teams == 0 || c->teams, "teams");
	FZ_CHECK(c->n_channels == 0 || c->channels, "channels");
	for (size_t i = 0; i < c->n_teams; i++)
		FZ_CHECK(c->teams[i] && c->teams[i][0], "empty team %zu", i);
	for (size_t i = 0; i < c->n_channels; i++)
		FZ_CHECK(c->channels[i] && c->channels[i][0], "empty channel pattern %zu", i);
}

/* Verifies tok with key i; `signer` is who signed it (-1: unknown, the
 * token came from the input); `json` the header and payload texts when the
 * harness made the token (else NULL). */
static void verify(int i, const char *tok, size_t len, int signer, uint8_t flags,
		   const uint8_t *json, size_t jlen)
{
	struct sb_jwt_verify_opts o = {
		.now_s = NOW, .leeway_s = LEEWAY,
		.issuer = flags & 0x04 ? "https://issuer.example" : NULL,
		.audience = flags & 0x08 ? "statusbus" : NULL,
		.max_token_len = flags & 0x40 ? 200 : 0,
	};
	struct sb_jwt_claims *c = (struct sb_jwt_claims *)1;
	char reason[256];
	const char *dot = memchr(tok, '.', len), *sig = NULL;
	enum sb_err rc;

	if (dot)
		dot = memchr(dot + 1, '.', len - (size_t)(dot + 1 - tok));
	if (dot)
		sig = dot + 1;
	memset(reason, 'X', sizeof(reason));
	rc = sb_jwt_verify(keys[i], tok, len, &o, &c, reason, sizeof(reason));
	FZ_CHECK(memchr(reason, '\0', sizeof(reason)) != NULL, "reason not terminated");
	if (rc != SB_OK) {
		FZ_CHECK(c == NULL, "claims on failure");
		FZ_CHECK(rc == SB_ERR_INVAL || rc == SB_ERR_DENIED || rc == SB_ERR_EXPIRED ||
			 rc == SB_ERR_LIMIT, "rc %d", rc);
		FZ_CHECK(reason[0], "no reason");
		/* the signature is the secret-ish part: never in a log line */
		for (const char *w = sig; w && tok + len - w >= 16; w++) {
			char frag[17];
			memcpy(frag, w, 16);
			frag[16] = '\0';
			if (strlen(frag) == 16 && strspn(frag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
							 "opqrstuvwxyz0123456789-_") == 16)
				FZ_CHECK(strstr(reason, frag) == NULL, "reason quotes the token: %s",
					 reason);
		}
		return;
	}
	FZ_CHECK(c != NULL, "no claims");
	FZ_CHECK(signer < 0 || signer == i, "key %d accepts a token signed by %d", i, signer);
	FZ_CHECK(sig != NULL, "accepted without a signature segment");
	if (i == S_HS) {
		/* the exact HMAC, canonically encoded: nothing else */
		char *want = sign(S_HS, tok, (size_t)(dot - tok));
		FZ_CHECK(strlen(want) == len - (size_t)(sig - tok) &&
			 memcmp(want, sig, strlen(want)) == 0, "HS256 accepted a wrong signature");
		free(want);
	}
	/* a claim cut short by an escape cJSON decodes as NUL is another claim */
	FZ_CHECK(!json || !fz_json_nul_escape((const char *)json, jlen),
		 "accepted a token whose JSON holds a NUL escape");
	check_claims(c);
	sb_jwt_claims_destroy(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in = { data, size };
	uint8_t flags = fz_u8(&in);
	int mode = flags & 3;

	if (mode <= 1) {
		char *tok = fz_strndup(in.p, in.n);
		for (int i = 0; i < 3; i++)
			verify(i, tok, in.n, -1, flags, NULL, 0);
		free(tok);
	} else if (mode == 2) {
		enum signer how = (enum signer)((flags >> 4) & 3);
		const uint8_t *nl = memchr(in.p, '\n', in.n);
		size_t hl = nl ? (size_t)(nl - in.p) : in.n;
		char *h = b64url(in.p, hl);
		char *p = nl ? b64url(nl + 1, in.n - hl - 1) : strdup("");
		size_t n = strlen(h) + strlen(p) + 1, tl;
		char *input = malloc(n + 1), *s, *tok;

		if (!input || !p)
			abort();
		snprintf(input, n + 1, "%s.%s", h, p);
		s = sign(how, input, n);
		tl = n + 1 + strlen(s);
		tok = malloc(tl + 1);
		if (!tok)
			abort();
		snprintf(tok, tl + 1, "%s.%s", input, s);
		for (int i = 0; i < 3; i++)
			verify(i, tok, tl, how == S_HS_WRONG ? 99 : (int)how, flags, in.p, in.n);
		free(h);
		free(p);
		free(input);
		free(s);
		free(tok);
	} else {
		enum sb_jwt_alg alg = (flags >> 4) & 1 ? SB_JWT_ES256 : SB_JWT_RS256;
		struct sb_jwt_key *k = NULL;
		char err[256], *pem = fz_strndup(in.p, in.n);

		memset(err, 'X', sizeof(err));
		if (sb_jwt_key_create_pem(&k, alg, pem, in.n, err, sizeof(err)) == SB_OK) {
			FZ_CHECK(k && sb_jwt_key_alg(k) == alg, "key alg");
			sb_jwt_key_destroy(k);
		} else {
			FZ_CHECK(k == NULL, "a refused key is returned");
			FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "err not terminated");
		}
		free(pem);
	}
	return 0;
}
