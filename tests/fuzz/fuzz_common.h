/* SPDX-License-Identifier: MIT
 *
 * fuzz_common.h - what every libFuzzer harness in tests/fuzz shares: a
 * reader that turns the fuzzer's bytes into choices, an invariant check
 * that aborts (so libFuzzer keeps the input as a crash), and a strict
 * JSON checker written independently of the bridge (fuzz_json.c), used as
 * the oracle for "every frame a browser gets is valid JSON and UTF-8".
 * How to build and run the harnesses is docs/fuzzing.md.
 */
#ifndef SB_FUZZ_COMMON_H
#define SB_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant: print it and abort, so that libFuzzer saves the
 * input (a plain return would look like a pass). */
#define FZ_CHECK(cond, ...)                                                            \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "\nfuzz invariant failed at %s:%d: %s\n  ",      \
				__FILE__, __LINE__, #cond);                             \
			fprintf(stderr, __VA_ARGS__);                                  \
			fputc('\n', stderr);                                           \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* ---- the fuzzer's bytes as a stream of choices -------------------------------- */

struct fz {
	const uint8_t *p;
	size_t n;
};

/* 0 once the input is used up: a harness stops there rather than
 * inventing bytes, so that every input means one thing. */
static inline int fz_more(const struct fz *f) { return f->n > 0; }

static inline uint8_t fz_u8(struct fz *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t hi = fz_u8(f);

	return (uint16_t)(hi << 8 | fz_u8(f));
}

/* Up to `max` bytes, the count taken from the stream first; *len gets it. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t max, size_t *len)
{
	size_t want = fz_u8(f);
	const uint8_t *p = f->p;

	if (want > max)
		want = max;
	if (want > f->n)
		want = f->n;
	f->p += want;
	f->n -= want;
	*len = want;
	return p;
}

/* A malloc'ed copy of d[0..n) with a NUL after it (the harness frees). */
static inline char *fz_strndup(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, d, n);
	s[n] = '\0';
	return s;
}

/* ---- strict JSON (fuzz_json.c) ---------------------------------------------------- */

/* 1 when s[0..n) is exactly one JSON value as RFC 8259 (and a browser's
 * JSON.parse) defines it, with optional white space around it: UTF-8
 * everywhere, no raw control characters in strings, only the escapes of
 * the RFC, numbers without leading zeros.  Nesting deeper than 4096 is
 * refused (nothing the bridge sends comes close). */
int fz_json_strict(const char *s, size_t n);

/* 1 when a string of the JSON text s[0..n) holds an escape that decodes
 * to NUL: \u0000, or a \u without four hex digits (cJSON reads those as
 * NUL and cuts the string there, where JSON.parse refuses the text). */
int fz_json_nul_escape(const char *s, size_t n);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, no surrogates, at most
 * U+10FFFF). */
int fz_utf8_valid(const char *s, size_t n);

#endif
