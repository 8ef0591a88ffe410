/* SPDX-License-Identifier: MIT
 *
 * schema_regex.c - `pattern` and `patternProperties`: a thin wrapper over
 * PCRE2 (Debian's libpcre2-8), compiled with the options that bring it
 * closest to ECMA-262.  docs/schemas.md lists what still differs.
 *
 * A pattern is refused at compile time with PCRE2's message and the offset
 * of the error.  Every search is bounded, because a hostile pattern or
 * input must not stall the bridge: PCRE2 counts backtracking steps, but
 * restarts the count at each start position of an unanchored search, so
 * an unanchored pattern is searched for as "(?s:.*?)(?:P)" anchored at the
 * start, which visits the same start positions under one count.  Without
 * auto-possessification every character a repeat gives back is a counted
 * step, so the count follows the time spent scanning, not only the
 * backtracking.  A search that hits a limit is an error, never a "no
 * match".
 */
#include "schema_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATTERN 4096            /* bytes of one pattern */

/* Limits of one search of a string of n bytes: steps and nesting grow
 * with n, since even a plain search takes a step per start position. */
#define MATCH_LIMIT_BASE 1000000u   /* ~15 ms of backtracking */
#define MATCH_LIMIT_PER_BYTE 10u
#define DEPTH_LIMIT_BASE 100000u
#define DEPTH_LIMIT_PER_BYTE 4u
#define HEAP_LIMIT_KIB 65536u       /* 64 MiB of backtracking frames */

/* ECMA-262 (no flags) as far as PCRE2 10.42 goes: code points, not bytes
 * (UTF); ASCII \d \w \b (and no (*UCP) to change that); \uHHHH, \u{H..}
 * and \xHH; [] never matches, [^] is any character; a backreference to an
 * unset group matches the empty string; $ only at the very end; \C, which
 * could split a character, refused. */
#define RE_OPTIONS (PCRE2_UTF | PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C | PCRE2_ALT_BSUX | \
		    PCRE2_ALLOW_EMPTY_CLASS | PCRE2_MATCH_UNSET_BACKREF | PCRE2_DOLLAR_ENDONLY | \
		    PCRE2_NO_AUTO_POSSESS)

struct sb_schema_re {
	pcre2_code *code;       /* anchored: the pattern, or its search form */
	char *src;              /* as written, for reasons */
};

struct sb_schema_re_scratch {
	pcre2_match_data *md;
	pcre2_match_context *mc;
};

/* NULL with *err and *off (in bytes) set on failure. */
static pcre2_code *re_compile(const char *pat, size_t len, uint32_t options, int *err,
			      PCRE2_SIZE *off)
{
	pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
	pcre2_code *code;

	if (!cc) {
		*err = PCRE2_ERROR_NOMEMORY;
		*off = 0;
		return NULL;
	}
	pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
	/* `.` stops at every Unicode line break, ECMA's \n \r U+2028 U+2029
	 * among them (and, unlike ECMA, also VT, FF and NEL) */
	pcre2_set_newline(cc, PCRE2_NEWLINE_ANY);
	code = pcre2_compile((PCRE2_SPTR)pat, len, RE_OPTIONS | options, err, off, cc);
	pcre2_compile_context_free(cc);
	return code;
}

/* Code points in the first `off` bytes of s, for a position in a reason. */
static size_t chars_before(const char *s, size_t off)
{
	size_t n = 0;

	for (size_t i = 0; i < off && s[i]; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static void re_message(int err, char *buf, size_t len)
{
	/* a message too long for buf comes back cut, which is fine */
	if (pcre2_get_error_message(err, (PCRE2_UCHAR *)buf, len) == PCRE2_ERROR_BADDATA && len)
		snprintf(buf, len, "PCRE2 error %d", err);
}

enum sb_err sb_schema_re_compile(struct sb_schema_cctx *c, const char *src,
				 struct sb_schema_re **out)
{
	static const char pre[] = "(?s:.*?)(?:", post[] = ")";
	size_t len = strlen(src);
	struct sb_schema_re *r;
	char why[160], *search;
	pcre2_code *code;
	PCRE2_SIZE off;
	uint32_t info = 0;
	int err;

	if (len > MAX_PATTERN)
		return sb_schema_cfail(c, SB_ERR_LIMIT, "pattern is longer than %d bytes",
				       MAX_PATTERN);
	code = re_compile(src, len, 0, &err, &off);
	if (!code) {
		re_message(err, why, sizeof(why));
		return sb_schema_cfail(c, err == PCRE2_ERROR_NOMEMORY ? SB_ERR_NOMEM : SB_ERR_INVAL,
				       "pattern \"%s\" does not compile: %s (at offset %zu)", src,
				       why, chars_before(src, off));
	}
	pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &info);
	if (!(info & PCRE2_ANCHORED)) {
		/* only the search form is kept: see the top of the file */
		pcre2_code_free(code);
		search = malloc(sizeof(pre) + len + sizeof(post));
		if (!search)
			return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
		snprintf(search, sizeof(pre) + len + sizeof(post), "%s%s%s", pre, src, post);
		code = re_compile(search, PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED, &err, &off);
		free(search);
		if (!code) {
			/* valid alone but not inside a group: \Q without \E,
			 * or a leading (*VERB) */
			re_message(err, why, sizeof(why));
			return sb_schema_cfail(c, err == PCRE2_ERROR_NOMEMORY ? SB_ERR_NOMEM :
					       SB_ERR_INVAL, "pattern \"%s\" cannot be searched for: %s",
					       src, why);
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->src = strdup(src))) {
		free(r);
		pcre2_code_free(code);
		return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
	}
	r->code = code;
	*out = r;
	return SB_OK;
}

static uint32_t limit(uint32_t base, uint32_t per_byte, size_t n)
{
	uint64_t v = (uint64_t)base + (uint64_t)per_byte * n;

	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

int sb_schema_re_search(const struct sb_schema_re *re, const char *s,
			struct sb_schema_re_scratch **scratch, char *why, size_t whylen)
{
	struct sb_schema_re_scratch *x = *scratch;
	size_t n = strlen(s);
	int rc;

	if (!x) {
		x = calloc(1, sizeof(*x));
		if (x) {
			*scratch = x;
			x->md = pcre2_match_data_create(1, NULL);
			x->mc = pcre2_match_context_create(NULL);
		}
		if (!x || !x->md || !x->mc) {
			snprintf(why, whylen, "out of memory");
			return SB_SCHEMA_RE_ERROR;
		}
		pcre2_set_heap_limit(x->mc, HEAP_LIMIT_KIB);
	}
	pcre2_set_match_limit(x->mc, limit(MATCH_LIMIT_BASE, MATCH_LIMIT_PER_BYTE, n));
	pcre2_set_depth_limit(x->mc, limit(DEPTH_LIMIT_BASE, DEPTH_LIMIT_PER_BYTE, n));
	rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, x->md, x->mc);
	if (rc >= 0)
		return SB_SCHEMA_RE_MATCH;
	if (rc == PCRE2_ERROR_NOMATCH)
		return SB_SCHEMA_RE_NOMATCH;
	re_message(rc, why, whylen);
	return SB_SCHEMA_RE_ERROR;
}

void sb_schema_re_scratch_free(struct sb_schema_re_scratch *x)
{
	if (!x)
		return;
	pcre2_match_data_free(x->md);
	pcre2_match_context_free(x->mc);
	free(x);
}

const char *sb_schema_re_source(const struct sb_schema_re *re)
{
	return re->src;
}

void sb_schema_re_free(struct sb_schema_re *r)
{
	if (!r)
		return;
	pcre2_code_free(r->code);
	free(r->src);
	free(r);
}
