/* SPDX-License-Identifier: MIT
 *
 * jwt.h - JSON Web Token verification (RFC 7519/7515) with OpenSSL, for the
 * `hello`/`refresh` tokens of statusbus.v1 (docs/protocol.md §4).
 *
 * The algorithm is pinned by configuration: a key is created for exactly one
 * of HS256, RS256, ES256 and a token whose header names any other alg
 * (including "none") is refused.  Signatures are compared in constant time.
 * ES256 signatures are the JOSE raw r||s form (64 bytes), not DER.
 *
 * Pure module: no MQTT or WebSocket headers.  Thread-compatible: a key may
 * be shared read-only between threads once created.
 */
#ifndef SB_JWT_H
#define SB_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "sb_common.h"

enum sb_jwt_alg { SB_JWT_HS256 = 0, SB_JWT_RS256, SB_JWT_ES256 };

struct sb_jwt_key;

/* "HS256"/"RS256"/"ES256" -> alg.  SB_ERR_INVAL for anything else. */
enum sb_err sb_jwt_alg_parse(const char *name, enum sb_jwt_alg *out);
const char *sb_jwt_alg_name(enum sb_jwt_alg alg);

/* HS256 key from a shared secret (copied).  Caller frees with
 * sb_jwt_key_destroy().  SB_ERR_INVAL if len == 0. */
enum sb_err sb_jwt_key_create_hmac(struct sb_jwt_key **out,
				   const unsigned char *secret, size_t len);

/* RS256 or ES256 key from a PEM public key (SubjectPublicKeyInfo) or X.509
 * certificate.  The key type must fit alg (RSA >= 2048 bits for RS256,
 * P-256 for ES256); on failure `err` says why. */
enum sb_err sb_jwt_key_create_pem(struct sb_jwt_key **out, enum sb_jwt_alg alg,
				  const char *pem, size_t len,
				  char *err, size_t errlen);

/* Accepts NULL. */
void sb_jwt_key_destroy(struct sb_jwt_key *key);
enum sb_jwt_alg sb_jwt_key_alg(const struct sb_jwt_key *key);

struct sb_jwt_claims {
	char *sub;          /* required, non-empty */
	char *name;         /* "name" when a string of printable UTF-8 (presence), or NULL */
	int64_t exp;        /* required, seconds since the epoch */
	int64_t nbf, iat;   /* 0 when absent */
	char **teams;       /* "teams": strings or integers, as strings */
	size_t n_teams;
	char **channels;    /* "channels": patterns, '*' = one segment */
	size_t n_channels;
};

struct sb_jwt_verify_opts {
	int64_t now_s;          /* current time, seconds since the epoch */
	int leeway_s;           /* for exp, nbf and iat; docs/protocol.md says 30 */
	const char *issuer;     /* when non-NULL, "iss" must equal it */
	const char *audience;   /* when non-NULL, "aud" (string or array)
				   must contain it */
	size_t max_token_len;   /* longer tokens are SB_ERR_LIMIT; 0 = 8192 */
	int64_t max_ttl_s;      /* exp at most this far after iat (after now,
				   plus leeway, without iat); 0 = the default */
	int allow_wildcard_first_segment;   /* a "channels" pattern may start
					       with the segment "*" */
};

/* auth.max_ttl_s's default: a day. */
#define SB_JWT_DEFAULT_MAX_TTL 86400

/* Verifies `token` (need not be NUL-terminated) and on success stores the
 * claims in *out (caller frees with sb_jwt_claims_destroy()).
 * Returns:
 *   SB_OK           valid
 *   SB_ERR_LIMIT    longer than max_token_len
 *   SB_ERR_INVAL    not three base64url segments, bad JSON, missing or
 *                   mistyped required claim, teams/channels not arrays of
 *                   ids, huge numbers, exp past max_ttl_s, a channels
 *                   pattern starting with "*" (unless allowed)
 *   SB_ERR_DENIED   alg not the pinned one, bad signature, iss/aud mismatch
 *   SB_ERR_EXPIRED  exp (+leeway) passed, nbf or iat in the future
 *                   (beyond leeway)
 * `reason` (may be NULL) gets a short human reason without the token. */
enum sb_err sb_jwt_verify(const struct sb_jwt_key *key, const char *token,
			  size_t len, const struct sb_jwt_verify_opts *opts,
			  struct sb_jwt_claims **out,
			  char *reason, size_t reasonlen);

/* Accepts NULL. */
void sb_jwt_claims_destroy(struct sb_jwt_claims *claims);

/* Mints an HS256 token whose payload is `claims_json` (a JSON object text,
 * used as is).  *out is malloc'ed, caller frees.  For statusbus-token and
 * tests. */
enum sb_err sb_jwt_sign_hs256(char **out, const unsigned char *secret,
			      size_t secret_len, const char *claims_json);

#endif
