/* SPDX-License-Identifier: MIT
 *
 * jwt_internal.h - what the three files of the JWT module share, and
 * nothing else includes: jwt.c (token structure, header, claims),
 * jwt_key.c (keys, the pinned algorithm, signatures) and jwt_b64.c
 * (base64url).  The public API is jwt.h.
 */
#ifndef SB_JWT_INTERNAL_H
#define SB_JWT_INTERNAL_H

#include <stddef.h>

#include "jwt.h"

/* snprintf into a caller's reason buffer; buf may be NULL or len 0.  The
 * text never quotes the token or its claim values: reasons end up in logs
 * next to client addresses. */
void sb_jwt_set_reason(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Decodes in[0..n) into a malloc'ed, NUL-terminated buffer (caller frees).
 * Strict: only the url-safe alphabet, no padding, no length with
 * n % 4 == 1, no non-zero unused trailing bits.  SB_ERR_INVAL or
 * SB_ERR_NOMEM (then *out is NULL). */
enum sb_err sb_jwt_b64_decode(const char *in, size_t n,
			      unsigned char **out, size_t *outlen);

/* Writes the unpadded base64url of in[0..n) at out, NUL-terminated, and
 * returns the number of characters written: sb_jwt_b64_len(n).  out needs
 * room for that plus the NUL. */
size_t sb_jwt_b64_encode(const unsigned char *in, size_t n, char *out);
size_t sb_jwt_b64_len(size_t n);

/* SB_OK when sig is a valid signature of data under key (by the key's
 * pinned alg); SB_ERR_DENIED when it is not; SB_ERR_NOMEM/INTERNAL when
 * it could not tell.  Sets reason on every failure. */
enum sb_err sb_jwt_key_verify_sig(const struct sb_jwt_key *key,
				  const unsigned char *sig, size_t siglen,
				  const unsigned char *data, size_t len,
				  char *reason, size_t reasonlen);

#endif
