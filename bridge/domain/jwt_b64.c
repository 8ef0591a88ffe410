/* SPDX-License-Identifier: MIT
 *
 * jwt_b64.c - base64url without padding (RFC 7515 section 2), as JWS
 * compact serialization uses it.  The decoder is strict so that every byte
 * string has exactly one accepted encoding, and so a valid token exactly
 * one spelling.
 */
#include "jwt_internal.h"

#include <stdint.h>
#include <stdlib.h>

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

/* Refuses any byte outside the url-safe alphabet (so '=', '+', '/',
 * whitespace), a length that no encoder produces (n % 4 == 1) and non-zero
 * unused trailing bits. */
enum sb_err sb_jwt_b64_decode(const char *in, size_t n,
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

size_t sb_jwt_b64_encode(const unsigned char *in, size_t n, char *out)
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

size_t sb_jwt_b64_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}
