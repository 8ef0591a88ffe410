/* SPDX-License-Identifier: MIT
 *
 * jwt.c - JSON Web Token verification: token structure, the header, and
 * the claims.  Keys, the pinned algorithm and signatures are in jwt_key.c;
 * base64url in jwt_b64.c.
 *
 * The order of checks is chosen so that untrusted bytes reach as little code
 * as possible: length bound, segment count and strict base64url first; then
 * the header JSON (small, needed to know the alg, which must equal the alg
 * the key was created for); then the signature over the encoded text; only
 * a token whose signature verified has its payload parsed.
 *
 * Reasons written for the caller never quote the token or its claim values:
 * they end up in logs next to client addresses.
 */
#include "jwt_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define JWT_DEFAULT_MAX_LEN 8192
#define JWT_MAX_SUB_LEN 128
#define JWT_MAX_ID_LEN 64
#define JWT_MAX_CHANNEL_LEN 256
#define JWT_MAX_LIST 1024
/* Largest double below which every integer is exact: 2^53. */
#define JWT_MAX_EXACT 9007199254740992.0

void sb_jwt_set_reason(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* ---- JSON helpers ------------------------------------------------------- */

/* cJSON decodes "\u0000" into a NUL that silently truncates the string
 * ("alice\u0000x" would read as "alice"), and so is a \u whose four
 * characters are not all hex digits ("alice\uzzzzx"), so such text is
 * refused before parsing.  Escapes are skipped pairwise so "\\u0000" is
 * not a match. */
static int has_escaped_nul(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && i + 5 < n &&
		    ((s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' && s[i + 5] == '0') ||
		     !isxdigit((unsigned char)s[i + 2]) || !isxdigit((unsigned char)s[i + 3]) ||
		     !isxdigit((unsigned char)s[i + 4]) || !isxdigit((unsigned char)s[i + 5])))
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
		sb_jwt_set_reason(reason, reasonlen, "%s contains a NUL character",
				  what);
		return SB_ERR_INVAL;
	}
	/* length includes the terminator: cJSON then insists that nothing
	 * but whitespace follows the value */
	j = cJSON_ParseWithLengthOpts((const char *)buf, len + 1, NULL, 1);
	if (!j) {
		sb_jwt_set_reason(reason, reasonlen, "%s is not valid JSON", what);
		return SB_ERR_INVAL;
	}
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		sb_jwt_set_reason(reason, reasonlen, "%s is not a JSON object", what);
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
	free(c->name);
	for (i = 0; i < c->n_teams; i++)
		free(c->teams[i]);
	free(c->teams);
	for (i = 0; i < c->n_channels; i++)
		free(c->channels[i]);
	free(c->channels);
	free(c);
}

/* One element of a teams/channels array as text in *s (num holds the
 * digits of an integer team id); 0 when it breaks the element rule. */
static int list_element(const cJSON *e, int is_team, char num[32],
			const char **s)
{
	size_t len;
	double d;

	if (is_team && cJSON_IsNumber(e)) {
		d = e->valuedouble;
		if (!isfinite(d) || d < 0 || d > JWT_MAX_EXACT || d != floor(d))
			return 0;
		snprintf(num, 32, "%" PRId64, (int64_t)d);
		*s = num;
		return 1;
	}
	if (!cJSON_IsString(e))
		return 0;
	*s = e->valuestring;
	len = strlen(*s);
	if (is_team)
		return id_ok(*s, len);
	return len > 0 && len <= JWT_MAX_CHANNEL_LEN && text_ok(*s, len);
}

/* Array claim `name` of obj -> vector of strings; absent is an empty
 * vector.  is_team selects the element rule. */
static enum sb_err string_list(const cJSON *obj, const char *name, int is_team,
			       char ***out, size_t *n_out,
			       char *reason, size_t reasonlen)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, name), *e;
	char **v, num[32];
	size_t n = 0, i = 0;
	const char *s;

	if (!arr)
		return SB_OK;
	if (!cJSON_IsArray(arr)) {
		sb_jwt_set_reason(reason, reasonlen, "\"%s\" is not an array", name);
		return SB_ERR_INVAL;
	}
	for (e = arr->child; e; e = e->next)
		if (++n > JWT_MAX_LIST) {
			sb_jwt_set_reason(reason, reasonlen, "\"%s\" has more than "
					  "%d entries", name, JWT_MAX_LIST);
			return SB_ERR_INVAL;
		}
	if (n == 0)
		return SB_OK;
	v = calloc(n, sizeof(*v));
	if (!v)
		return SB_ERR_NOMEM;
	*out = v;
	for (e = arr->child; e; e = e->next, i++) {
		if (!list_element(e, is_team, num, &s))
			goto bad;
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
		sb_jwt_set_reason(reason, reasonlen, "teams[%zu] is not a team id "
				  "([A-Za-z0-9_-]{1,64} or a non-negative "
				  "integer)", i);
	else
		sb_jwt_set_reason(reason, reasonlen, "channels[%zu] is not a "
				  "string of 1 to %d bytes of printable UTF-8",
				  i, JWT_MAX_CHANNEL_LEN);
	return SB_ERR_INVAL;
}

static enum sb_err parse_sub(const cJSON *p, struct sb_jwt_claims *c,
			     char *reason, size_t reasonlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(p, "sub");
	size_t len;

	if (!it) {
		sb_jwt_set_reason(reason, reasonlen, "missing \"sub\" claim");
		return SB_ERR_INVAL;
	}
	len = cJSON_IsString(it) ? strlen(it->valuestring) : 0;
	if (len == 0 || len > JWT_MAX_SUB_LEN || !text_ok(it->valuestring, len)) {
		sb_jwt_set_reason(reason, reasonlen, "\"sub\" is not a string of 1 "
				  "to %d bytes of printable UTF-8",
				  JWT_MAX_SUB_LEN);
		return SB_ERR_INVAL;
	}
	c->sub = strdup(it->valuestring);
	if (!c->sub)
		return SB_ERR_NOMEM;
	/* "name" is only shown to a presence channel's members: one that is
	 * not a short printable string is left out, never a reason to refuse */
	it = cJSON_GetObjectItemCaseSensitive(p, "name");
	len = cJSON_IsString(it) ? strlen(it->valuestring) : 0;
	if (len && len <= JWT_MAX_SUB_LEN && text_ok(it->valuestring, len) &&
	    !(c->name = strdup(it->valuestring)))
		return SB_ERR_NOMEM;
	return SB_OK;
}

/* NumericDate claim `name` of p into *out; left alone when absent and not
 * required.  round_up as for numeric_date(). */
static enum sb_err date_claim(const cJSON *p, const char *name, int required,
			      int round_up, int64_t *out,
			      char *reason, size_t reasonlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(p, name);

	if (!it) {
		if (!required)
			return SB_OK;
		sb_jwt_set_reason(reason, reasonlen, "missing \"%s\" claim", name);
		return SB_ERR_INVAL;
	}
	if (!numeric_date(it, round_up, out)) {
		sb_jwt_set_reason(reason, reasonlen, "\"%s\" is not a number of "
				  "seconds between 0 and 2^53", name);
		return SB_ERR_INVAL;
	}
	return SB_OK;
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

/* "iss" and "aud", each only when the configuration names one. */
static enum sb_err check_iss_aud(const cJSON *p,
				 const struct sb_jwt_verify_opts *opts,
				 char *reason, size_t reasonlen)
{
	const cJSON *it;
	int malformed;

	if (opts->issuer) {
		it = cJSON_GetObjectItemCaseSensitive(p, "iss");
		if (!it) {
			sb_jwt_set_reason(reason, reasonlen, "missing \"iss\" claim");
			return SB_ERR_DENIED;
		}
		if (!cJSON_IsString(it) || strcmp(it->valuestring, opts->issuer)) {
			sb_jwt_set_reason(reason, reasonlen, "\"iss\" is not the "
					  "configured issuer");
			return SB_ERR_DENIED;
		}
	}
	if (!opts->audience)
		return SB_OK;
	it = cJSON_GetObjectItemCaseSensitive(p, "aud");
	if (!it) {
		sb_jwt_set_reason(reason, reasonlen, "missing \"aud\" claim");
		return SB_ERR_DENIED;
	}
	if (aud_contains(it, opts->audience, &malformed))
		return SB_OK;
	if (malformed) {
		sb_jwt_set_reason(reason, reasonlen, "\"aud\" is neither a string "
				  "nor an array of strings");
		return SB_ERR_INVAL;
	}
	sb_jwt_set_reason(reason, reasonlen, "\"aud\" does not contain the "
			  "configured audience");
	return SB_ERR_DENIED;
}

/* "*.42" or "*.*" would match a channel of every kind (team.42,
 * user.42, ...): a claim that wide is most likely an issuer's mistake. */
static enum sb_err check_channels(const struct sb_jwt_claims *c,
				  const struct sb_jwt_verify_opts *opts,
				  char *reason, size_t reasonlen)
{
	size_t i;

	if (opts->allow_wildcard_first_segment)
		return SB_OK;
	for (i = 0; i < c->n_channels; i++) {
		const char *p = c->channels[i];

		if (p[0] == '*' && (p[1] == '.' || p[1] == '\0')) {
			sb_jwt_set_reason(reason, reasonlen, "channels[%zu] starts with "
					  "the segment \"*\", which matches channels of "
					  "every kind (auth.allow_wildcard_first_segment "
					  "is off)", i);
			return SB_ERR_INVAL;
		}
	}
	return SB_OK;
}

/* exp no further than max_ttl_s after iat, or after now without iat
 * (plus the leeway: the issuer's clock may be ahead): else exp = 2^53
 * would be a token that never expires. */
static enum sb_err check_ttl(const struct sb_jwt_claims *c,
			     const struct sb_jwt_verify_opts *opts,
			     char *reason, size_t reasonlen)
{
	int64_t max = opts->max_ttl_s > 0 ? opts->max_ttl_s :
					    SB_JWT_DEFAULT_MAX_TTL;
	int64_t leeway = opts->leeway_s > 0 ? opts->leeway_s : 0;

	if (c->iat && c->exp - c->iat > max) {
		sb_jwt_set_reason(reason, reasonlen, "token lives %" PRId64 " s "
				  "from iat to exp, over the %" PRId64 " s "
				  "allowed (auth.max_ttl_s)", c->exp - c->iat,
				  max);
		return SB_ERR_INVAL;
	}
	if (!c->iat && c->exp - opts->now_s - leeway > max) {
		sb_jwt_set_reason(reason, reasonlen, "token expires in %" PRId64
				  " s, over the %" PRId64 " s allowed "
				  "(auth.max_ttl_s)", c->exp - opts->now_s, max);
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

/* exp, nbf, iat <= 2^53 and leeway is an int: none of these sums can
 * overflow. */
static enum sb_err check_time(const struct sb_jwt_claims *c,
			      const struct sb_jwt_verify_opts *opts,
			      char *reason, size_t reasonlen)
{
	int64_t leeway = opts->leeway_s > 0 ? opts->leeway_s : 0;
	int64_t now = opts->now_s;

	if (now >= c->exp + leeway) {
		sb_jwt_set_reason(reason, reasonlen, "token expired %" PRId64
				  " s ago", now - c->exp);
		return SB_ERR_EXPIRED;
	}
	if (c->nbf && c->nbf - leeway > now) {
		sb_jwt_set_reason(reason, reasonlen, "token not valid for another "
				  "%" PRId64 " s (nbf)", c->nbf - now);
		return SB_ERR_EXPIRED;
	}
	if (c->iat && c->iat - leeway > now) {
		sb_jwt_set_reason(reason, reasonlen, "token issued %" PRId64 " s "
				  "in the future (iat); check the clocks",
				  c->iat - now);
		return SB_ERR_EXPIRED;
	}
	return SB_OK;
}

/* The payload p into c, in a fixed order so that the first problem found
 * is the one reported. */
static enum sb_err parse_claims(const cJSON *p,
				const struct sb_jwt_verify_opts *opts,
				struct sb_jwt_claims *c,
				char *reason, size_t reasonlen)
{
	static const char *const registered[] = {
		"sub", "exp", "nbf", "iat", "iss", "aud", "teams", "channels",
	};
	const char *dup;
	enum sb_err e;

	dup = duplicate_member(p, registered, SB_ARRAY_LEN(registered));
	if (dup) {
		sb_jwt_set_reason(reason, reasonlen, "claim \"%s\" appears twice",
				  dup);
		return SB_ERR_INVAL;
	}
	e = parse_sub(p, c, reason, reasonlen);
	if (e == SB_OK)
		e = date_claim(p, "exp", 1, 0, &c->exp, reason, reasonlen);
	if (e == SB_OK)
		e = date_claim(p, "nbf", 0, 1, &c->nbf, reason, reasonlen);
	if (e == SB_OK)
		e = date_claim(p, "iat", 0, 1, &c->iat, reason, reasonlen);
	if (e == SB_OK)
		e = string_list(p, "teams", 1, &c->teams, &c->n_teams,
				reason, reasonlen);
	if (e == SB_OK)
		e = string_list(p, "channels", 0, &c->channels, &c->n_channels,
				reason, reasonlen);
	if (e == SB_OK)
		e = check_channels(c, opts, reason, reasonlen);
	if (e == SB_OK)
		e = check_iss_aud(p, opts, reason, reasonlen);
	/* Time last, so that a malformed token is reported as such even
	 * when it has also expired. */
	if (e == SB_OK)
		e = check_time(c, opts, reason, reasonlen);
	if (e == SB_OK)
		e = check_ttl(c, opts, reason, reasonlen);
	return e;
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
		sb_jwt_set_reason(reason, reasonlen, "header \"%s\" appears twice",
				  dup);
		return SB_ERR_INVAL;
	}
	alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
	if (!alg) {
		sb_jwt_set_reason(reason, reasonlen, "header has no \"alg\"; "
				  "expected %s", want);
		return SB_ERR_DENIED;
	}
	if (!cJSON_IsString(alg) || strcmp(alg->valuestring, want) != 0) {
		shown = printable_alg(alg);
		if (shown)
			sb_jwt_set_reason(reason, reasonlen, "alg \"%s\" is not "
					  "the configured %s", shown, want);
		else
			sb_jwt_set_reason(reason, reasonlen, "alg is not the "
					  "configured %s", want);
		return SB_ERR_DENIED;
	}
	/* No extension is understood, so a token that demands one is refused
	 * (RFC 7515 section 4.1.11). */
	if (cJSON_GetObjectItemCaseSensitive(h, "crit")) {
		sb_jwt_set_reason(reason, reasonlen, "header \"crit\" is not "
				  "supported");
		return SB_ERR_DENIED;
	}
	typ = cJSON_GetObjectItemCaseSensitive(h, "typ");
	if (typ && (!cJSON_IsString(typ) || strcmp(typ->valuestring, "JWT") != 0)) {
		sb_jwt_set_reason(reason, reasonlen, "header \"typ\" is not "
				  "\"JWT\"");
		return SB_ERR_INVAL;
	}
	/* kid, jku, jwk, x5u, x5c are ignored: the key comes from config,
	 * never from the token. */
	return SB_OK;
}

/* ---- verify ------------------------------------------------------------- */

/* The positions of the two dots of header.payload.signature; SB_ERR_INVAL
 * unless there are exactly two and neither header nor payload is empty. */
static enum sb_err find_dots(const char *token, size_t len, size_t dots[2],
			     char *reason, size_t reasonlen)
{
	size_t ndots = 0, i;

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
		sb_jwt_set_reason(reason, reasonlen, "token is not three base64url "
				  "segments separated by dots");
		return SB_ERR_INVAL;
	}
	if (dots[0] == 0 || dots[1] == dots[0] + 1) {
		sb_jwt_set_reason(reason, reasonlen, "token has an empty %s "
				  "segment", dots[0] == 0 ? "header" : "payload");
		return SB_ERR_INVAL;
	}
	return SB_OK;
}

enum sb_err sb_jwt_verify(const struct sb_jwt_key *key, const char *token,
			  size_t len, const struct sb_jwt_verify_opts *opts,
			  struct sb_jwt_claims **out,
			  char *reason, size_t reasonlen)
{
	size_t max, dots[2], hlen, plen, slen;
	unsigned char *hdr = NULL, *pay = NULL, *sig = NULL;
	struct sb_jwt_claims *c = NULL;
	cJSON *hj = NULL, *pj = NULL;
	enum sb_err e;

	if (reason && reasonlen)
		reason[0] = '\0';
	if (out)
		*out = NULL;
	if (!key || !opts || !out || (!token && len)) {
		sb_jwt_set_reason(reason, reasonlen, "invalid arguments");
		return SB_ERR_INVAL;
	}
	max = opts->max_token_len ? opts->max_token_len : JWT_DEFAULT_MAX_LEN;
	if (len > max) {
		sb_jwt_set_reason(reason, reasonlen, "token is %zu bytes; the limit "
				  "is %zu", len, max);
		return SB_ERR_LIMIT;
	}
	e = find_dots(token, len, dots, reason, reasonlen);
	if (e != SB_OK)
		return e;
	e = sb_jwt_b64_decode(token, dots[0], &hdr, &hlen);
	if (e == SB_OK)
		e = sb_jwt_b64_decode(token + dots[0] + 1, dots[1] - dots[0] - 1,
				      &pay, &plen);
	if (e == SB_OK)
		e = sb_jwt_b64_decode(token + dots[1] + 1, len - dots[1] - 1,
				      &sig, &slen);
	if (e != SB_OK) {
		sb_jwt_set_reason(reason, reasonlen, e == SB_ERR_NOMEM ?
				  "out of memory" :
				  "token is not valid unpadded base64url");
		goto done;
	}

	e = parse_object(hdr, hlen, "header", &hj, reason, reasonlen);
	if (e != SB_OK)
		goto done;
	e = check_header(hj, sb_jwt_key_alg(key), reason, reasonlen);
	if (e != SB_OK)
		goto done;

	e = sb_jwt_key_verify_sig(key, sig, slen, (const unsigned char *)token,
				  dots[1], reason, reasonlen);
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
		sb_jwt_set_reason(reason, reasonlen, "out of memory");
	sb_jwt_claims_destroy(c);
	cJSON_Delete(hj);
	cJSON_Delete(pj);
	free(hdr);
	free(pay);
	free(sig);
	return e;
}
