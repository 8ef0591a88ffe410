/* SPDX-License-Identifier: MIT
 *
 * schema_regex.c - `pattern` and `patternProperties`: ECMA-262 syntax,
 * translated to a POSIX extended regular expression and run by regexec()
 * under a private C.UTF-8 locale (so `.` and classes see code points, and
 * ranges are code-point ranges).  What cannot be translated faithfully
 * (lookaround, backreferences, \p{..}) is a compile error.
 * docs/schemas.md lists the dialect differences.
 */
#include "schema_internal.h"

#include <locale.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATTERN 4096            /* bytes of one ECMA pattern */
#define MAX_TRANSLATED 16384        /* bytes of its POSIX translation */
#define MAX_CLASS_ITEMS 256         /* chars + ranges in one [...] */
#define MAX_CLASS_EXPAND 1024       /* non-ASCII code points spelled out */

struct sb_schema_re {
	regex_t re;
	char *src;      /* the ECMA source, for reasons */
};

/* ---- ECMA-262 pattern -> POSIX ERE ---------------------------------------- */

/* Decodes one UTF-8 sequence; returns its length, 0 when malformed. */
static size_t utf8_dec(const char *s, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n, i;
	uint32_t c;

	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	} else if ((u[0] & 0xE0) == 0xC0) {
		n = 2;
		c = u[0] & 0x1F;
	} else if ((u[0] & 0xF0) == 0xE0) {
		n = 3;
		c = u[0] & 0x0F;
	} else if ((u[0] & 0xF8) == 0xF0) {
		n = 4;
		c = u[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((u[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (u[i] & 0x3F);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
	    (n == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

struct buf {
	char *p;
	size_t len, cap;
	bool bad;               /* out of memory or over MAX_TRANSLATED */
};

static void b_putn(struct buf *b, const char *s, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > MAX_TRANSLATED || !(p = realloc(b->p, cap))) {
			b->bad = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void b_puts(struct buf *b, const char *s)
{
	b_putn(b, s, strlen(s));
}

static void b_put_utf8(struct buf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	b_putn(b, u, n);
}

/* A literal character outside brackets. */
static void b_put_lit(struct buf *b, uint32_t cp)
{
	if (cp < 0x80 && strchr(".[]()*+?{}|^$\\", (int)cp)) {
		char e[2] = { '\\', (char)cp };

		b_putn(b, e, 2);
	} else {
		b_put_utf8(b, cp);
	}
}

/* ECMA `.`: anything but the line terminators \n \r U+2028 U+2029. */
#define RE_DOT "[^\n\r\xE2\x80\xA8\xE2\x80\xA9]"

enum esc { E_CHAR, E_CLASS, E_ASSERT };

static bool hexn(const char *s, int n, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++) {
		int h = sb_schema_hexval(s[i]);

		if (h < 0)
			return false;
		v = v * 16 + (uint32_t)h;
	}
	*out = v;
	return true;
}

/* Parses the escape after a backslash at `s`.  Returns the bytes consumed
 * (>= 1) or 0 with `why` filled. */
static size_t parse_escape(const char *s, bool in_class, enum esc *kind,
			   uint32_t *cp, char *cls, char *why, size_t whylen)
{
	unsigned char c = (unsigned char)s[0];
	size_t n = 1;

	*kind = E_CHAR;
	switch (c) {
	case '\0':
		snprintf(why, whylen, "trailing backslash");
		return 0;
	case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
		*kind = E_CLASS;
		*cls = (char)c;
		return 1;
	case 'b':
		if (in_class) {
			*cp = 8;
			return 1;
		}
		*kind = E_ASSERT;
		*cls = 'b';
		return 1;
	case 'B':
		if (in_class)
			break;
		*kind = E_ASSERT;
		*cls = 'B';
		return 1;
	case 't': *cp = 9; return 1;
	case 'n': *cp = 10; return 1;
	case 'v': *cp = 11; return 1;
	case 'f': *cp = 12; return 1;
	case 'r': *cp = 13; return 1;
	case 'c':
		if ((s[1] >= 'a' && s[1] <= 'z') || (s[1] >= 'A' && s[1] <= 'Z')) {
			*cp = (uint32_t)s[1] % 32;
			return 2;
		}
		break;
	case 'x':
		if (hexn(s + 1, 2, cp) && *cp != 0)
			return 3;
		break;
	case 'u':
		if (!hexn(s + 1, 4, cp))
			break;
		n = 5;
		if (*cp >= 0xD800 && *cp <= 0xDBFF) {
			uint32_t lo;

			if (s[5] != '\\' || s[6] != 'u' || !hexn(s + 7, 4, &lo) ||
			    lo < 0xDC00 || lo > 0xDFFF) {
				snprintf(why, whylen, "lone surrogate \\u%04X", (unsigned)*cp);
				return 0;
			}
			*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
			n = 11;
		} else if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
			snprintf(why, whylen, "lone surrogate \\u%04X", (unsigned)*cp);
			return 0;
		}
		if (*cp == 0)
			break;
		return n;
	case '0':
		snprintf(why, whylen, "\\0 (NUL) is not supported");
		return 0;
	case 'k':
		snprintf(why, whylen, "named backreferences are not supported");
		return 0;
	case 'p': case 'P':
		snprintf(why, whylen, "Unicode property escapes are not supported");
		return 0;
	default:
		if (c >= '1' && c <= '9') {
			snprintf(why, whylen, "backreferences are not supported");
			return 0;
		}
		if (c >= 0x80) {
			n = utf8_dec(s, cp);
			if (!n) {
				snprintf(why, whylen, "not valid UTF-8");
				return 0;
			}
			return n;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
			*cp = c;        /* identity escape of punctuation */
			return 1;
		}
		break;
	}
	snprintf(why, whylen, "unsupported escape \\%c", c);
	return 0;
}

static const char *class_text(char cls, bool in_class)
{
	switch (cls) {
	case 'd': return in_class ? "0-9" : "[0-9]";
	case 'D': return "[^0-9]";
	case 'w': return in_class ? "A-Za-z0-9_" : "[A-Za-z0-9_]";
	case 'W': return "[^A-Za-z0-9_]";
	case 's': return in_class ? "[:space:]" : "[[:space:]]";
	case 'S': return "[^[:space:]]";
	}
	return "";
}

struct cls {
	uint32_t single[MAX_CLASS_ITEMS];
	size_t ns;
	uint32_t lo[MAX_CLASS_ITEMS], hi[MAX_CLASS_ITEMS];
	size_t nr;
	bool named[3];          /* \d \w \s */
	bool rb, lb, dash, caret;
};

static bool cls_special(uint32_t cp)
{
	return cp == ']' || cp == '[' || cp == '-' || cp == '^';
}

static bool cls_add(struct cls *k, uint32_t cp)
{
	switch (cp) {
	case ']': k->rb = true; return true;
	case '[': k->lb = true; return true;
	case '-': k->dash = true; return true;
	case '^': k->caret = true; return true;
	}
	if (k->ns >= MAX_CLASS_ITEMS)
		return false;
	k->single[k->ns++] = cp;
	return true;
}

/* A POSIX bracket cannot easily take ] [ - ^ as range ends: peel them off
 * as single characters (the range still covers everything between). */
static bool cls_add_range(struct cls *k, uint32_t lo, uint32_t hi)
{
	while (lo <= hi && cls_special(lo))
		if (!cls_add(k, lo++))
			return false;
	while (hi >= lo && cls_special(hi))
		if (!cls_add(k, hi--))
			return false;
	if (lo > hi)
		return true;
	if (lo == hi)
		return cls_add(k, lo);
	if (k->nr >= MAX_CLASS_ITEMS)
		return false;
	k->lo[k->nr] = lo;
	k->hi[k->nr++] = hi;
	return true;
}

/* One class atom at *s: a character (*named = 0) or \d \w \s. */
static bool class_atom(const char **s, uint32_t *cp, char *named,
		       char *why, size_t whylen)
{
	size_t n;
	enum esc kind;

	*named = 0;
	if (**s == '\\') {
		n = parse_escape(*s + 1, true, &kind, cp, named, why, whylen);
		if (!n)
			return false;
		if (kind == E_CLASS && (*named == 'D' || *named == 'W' || *named == 'S')) {
			snprintf(why, whylen, "\\%c inside [...] is not supported", *named);
			return false;
		}
		if (kind != E_CLASS)
			*named = 0;
		*s += 1 + n;
		return true;
	}
	n = utf8_dec(*s, cp);
	if (!n) {
		snprintf(why, whylen, "not valid UTF-8");
		return false;
	}
	*s += n;
	return true;
}

/* Reads the items of a class up to and including its `]` into k,
 * advancing *s; false with `why` filled when the class is malformed. */
static bool class_parse(const char **s, struct cls *k, char *why, size_t whylen)
{
	char named, named2;
	uint32_t a, b;

	for (;;) {
		if (!**s) {
			snprintf(why, whylen, "unterminated character class");
			return false;
		}
		if (**s == ']') {
			(*s)++;
			return true;
		}
		if (!class_atom(s, &a, &named, why, whylen))
			return false;
		if (named) {
			k->named[named == 'd' ? 0 : named == 'w' ? 1 : 2] = true;
			continue;
		}
		if ((*s)[0] == '-' && (*s)[1] && (*s)[1] != ']') {
			const char *t = *s + 1;

			if (!class_atom(&t, &b, &named2, why, whylen))
				return false;
			*s = t;
			if (named2) {
				/* Annex B: [a-\d] is a, -, digits */
				if (!cls_add(k, a) || !cls_add(k, '-'))
					goto full;
				k->named[named2 == 'd' ? 0 : named2 == 'w' ? 1 : 2] = true;
				continue;
			}
			if (b < a) {
				snprintf(why, whylen, "range out of order in character class");
				return false;
			}
			if (!cls_add_range(k, a, b))
				goto full;
			continue;
		}
		if (!cls_add(k, a))
			goto full;
	}
full:
	snprintf(why, whylen, "character class has more than %d items", MAX_CLASS_ITEMS);
	return false;
}

/* Writes the POSIX bracket for k; false with `why` filled when its
 * non-ASCII ranges spell out too many code points. */
static bool class_emit(const struct cls *k, bool neg, struct buf *out, char *why,
		       size_t whylen)
{
	const char *items[8];
	size_t nitems = 0, expanded = 0;
	bool any;

	any = k->ns || k->nr || k->named[0] || k->named[1] || k->named[2] ||
	      k->rb || k->lb || k->dash || k->caret;
	if (!any) {
		if (!neg) {
			snprintf(why, whylen, "the empty class [] never matches; not supported");
			return false;
		}
		b_puts(out, ".");       /* [^] is any character, newlines too */
		return true;
	}
	if (!neg && k->caret && !k->rb && !k->ns && !k->nr && !k->named[0] &&
	    !k->named[1] && !k->named[2] && !k->lb && !k->dash) {
		b_puts(out, "\\^");
		return true;
	}
	b_puts(out, neg ? "[^" : "[");
	if (k->rb)
		b_puts(out, "]");
	for (size_t i = 0; i < k->ns; i++)
		b_put_utf8(out, k->single[i]);
	for (size_t i = 0; i < k->nr; i++) {
		uint32_t lo = k->lo[i], hi = k->hi[i];

		if (lo < 0x80) {
			b_put_utf8(out, lo);
			b_puts(out, "-");
			b_put_utf8(out, hi < 0x80 ? hi : 0x7F);
			lo = 0x80;
		}
		/* glibc's C.UTF-8 has no collation rules, and its regcomp
		 * refuses ranges with non-ASCII ends: spell them out */
		for (uint32_t cp = lo; cp <= hi; cp++) {
			if (cp >= 0xD800 && cp <= 0xDFFF)
				continue;
			if (++expanded > MAX_CLASS_EXPAND) {
				snprintf(why, whylen, "ranges beyond ASCII may cover at most %d code points",
					 MAX_CLASS_EXPAND);
				return false;
			}
			b_put_utf8(out, cp);
		}
	}
	for (int i = 0; i < 3; i++)
		if (k->named[i])
			b_puts(out, class_text("dws"[i], true));
	/* then ^ [ -, in an order where ^ is never first and - is an end */
	if (k->caret)
		items[nitems++] = "^";
	if (k->lb)
		items[nitems++] = "[";
	if (k->dash)
		items[nitems++] = "-";
	if (!neg && k->caret && !k->rb && !k->ns && !k->nr && !k->named[0] &&
	    !k->named[1] && !k->named[2]) {
		/* ^ would open the bracket as a negation: swap it with the
		 * next item, giving "[[^...]" or "[-^]" */
		const char *t = items[0];

		items[0] = items[1];
		items[1] = t;
	}
	for (size_t i = 0; i < nitems; i++)
		b_puts(out, items[i]);
	b_puts(out, "]");
	return true;
}

/* Translates the class at s[0] == '['; returns the bytes consumed or 0. */
static size_t translate_class(const char *s0, struct buf *out, char *why, size_t whylen)
{
	const char *s = s0 + 1;
	struct cls *k = calloc(1, sizeof(*k));
	bool neg = false, ok;

	if (!k) {
		snprintf(why, whylen, "out of memory");
		return 0;
	}
	if (*s == '^') {
		neg = true;
		s++;
	}
	ok = class_parse(&s, k, why, whylen) && class_emit(k, neg, out, why, whylen);
	free(k);
	return ok ? (size_t)(s - s0) : 0;
}

/* {n}, {n,}, {n,m} at s: its length, or 0 when `{` is a literal. */
static size_t quant_len(const char *s)
{
	const char *p = s + 1;

	if (!sb_schema_digits(p, 1))
		return 0;
	while (sb_schema_digits(p, 1))
		p++;
	if (*p == ',') {
		p++;
		while (sb_schema_digits(p, 1))
			p++;
	}
	return *p == '}' ? (size_t)(p + 1 - s) : 0;
}

/* A group opening at s[0] == '(': (, (?: and (?<name> all become a POSIX
 * group (names are only labels); returns the bytes consumed, or 0 with
 * `why` filled for lookaround and other (? forms. */
static size_t group_open(const char *s, struct buf *out, char *why, size_t whylen)
{
	const char *p;

	if (s[1] != '?') {
		b_puts(out, "(");
		return 1;
	}
	if (s[2] == ':') {
		b_puts(out, "(");
		return 3;
	}
	if (s[2] == '<' && s[3] != '=' && s[3] != '!') {
		p = s + 3;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		       (*p >= '0' && *p <= '9') || *p == '_' || *p == '$')
			p++;
		if (*p != '>' || p == s + 3) {
			snprintf(why, whylen, "bad group name");
			return 0;
		}
		b_puts(out, "(");
		return (size_t)(p + 1 - s);
	}
	if (s[2] == '=' || s[2] == '!' || s[2] == '<')
		snprintf(why, whylen, "lookaround assertions are not supported");
	else
		snprintf(why, whylen, "(?%c is not supported", s[2] ? s[2] : ' ');
	return 0;
}

/* ECMA-262 (no flags) -> POSIX ERE with the same match/no-match answer. */
static bool re_translate(const char *src, struct buf *out, char *why, size_t whylen)
{
	const char *s = src;
	int after_quant = 0;   /* 1: after a quantifier, 2: after its lazy '?' */
	int parens = 0;

	while (*s) {
		int quant = 0;
		enum esc kind;
		uint32_t cp;
		char cls;
		size_t n;

		switch (*s) {
		case '\\':
			n = parse_escape(s + 1, false, &kind, &cp, &cls, why, whylen);
			if (!n)
				return false;
			if (kind == E_CLASS) {
				b_puts(out, class_text(cls, false));
			} else if (kind == E_ASSERT) {
				char e[2] = { '\\', cls };

				b_putn(out, e, 2);      /* GNU \b \B */
			} else {
				b_put_lit(out, cp);
			}
			s += 1 + n;
			break;
		case '[':
			n = translate_class(s, out, why, whylen);
			if (!n)
				return false;
			s += n;
			break;
		case '(':
			parens++;
			n = group_open(s, out, why, whylen);
			if (!n)
				return false;
			s += n;
			break;
		case ')':
			if (parens-- == 0) {
				snprintf(why, whylen, "unmatched )");
				return false;
			}
			b_puts(out, ")");
			s++;
			break;
		case '.':
			b_puts(out, RE_DOT);
			s++;
			break;
		case '*': case '+': case '?':
			if (*s == '?' && after_quant == 1) {
				/* lazy quantifier: same yes/no answer as greedy */
				s++;
				quant = 2;
				break;
			}
			if (after_quant) {
				/* ECMA-262 refuses "a++" too; glibc would take it, in
				 * memory exponential in the number of quantifiers */
				snprintf(why, whylen, "nothing to repeat");
				return false;
			}
			b_putn(out, s, 1);
			s++;
			quant = 1;
			break;
		case '{':
			n = quant_len(s);
			if (n && after_quant) {
				snprintf(why, whylen, "nothing to repeat");
				return false;
			}
			if (n) {
				b_putn(out, s, n);
				quant = 1;
			} else {
				b_puts(out, "\\{");
				n = 1;
			}
			s += n;
			break;
		default:
			n = utf8_dec(s, &cp);
			if (!n) {
				snprintf(why, whylen, "not valid UTF-8");
				return false;
			}
			b_putn(out, s, n);
			s += n;
			break;
		}
		after_quant = quant;
	}
	if (out->bad) {
		snprintf(why, whylen, "translation is longer than %d bytes", MAX_TRANSLATED);
		return false;
	}
	if (!out->p)
		b_puts(out, "");
	if (out->bad) {
		snprintf(why, whylen, "out of memory");
		return false;
	}
	return true;
}

/* ---- compile and match ---------------------------------------------------- */

enum sb_err sb_schema_re_compile(struct sb_schema_cctx *c, const char *src,
				 struct sb_schema_re **out)
{
	char why[128] = "";
	struct buf b = { 0 };
	struct sb_schema_re *r;
	locale_t old;
	int rc;

	if (strlen(src) > MAX_PATTERN)
		return sb_schema_cfail(c, SB_ERR_LIMIT, "pattern is longer than %d bytes",
				       MAX_PATTERN);
	if (!re_translate(src, &b, why, sizeof(why))) {
		free(b.p);
		return sb_schema_cfail(c, SB_ERR_INVAL, "pattern \"%s\": %s", src, why);
	}
	if (!c->s->loc) {
		c->s->loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
		if (!c->s->loc) {
			free(b.p);
			return sb_schema_cfail(c, SB_ERR_INTERNAL,
					       "the C.UTF-8 locale is not available");
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->src = strdup(src))) {
		free(r);
		free(b.p);
		return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
	}
	old = uselocale(c->s->loc);
	rc = regcomp(&r->re, b.p, REG_EXTENDED | REG_NOSUB);
	uselocale(old);
	free(b.p);
	if (rc) {
		regerror(rc, &r->re, why, sizeof(why));
		free(r->src);
		free(r);
		return sb_schema_cfail(c, SB_ERR_INVAL, "pattern \"%s\" does not compile: %s",
				       src, why);
	}
	*out = r;
	return SB_OK;
}

bool sb_schema_re_match(const struct sb_schema_re *re, const char *s)
{
	return regexec(&re->re, s, 0, NULL, 0) == 0;
}

const char *sb_schema_re_source(const struct sb_schema_re *re)
{
	return re->src;
}

void sb_schema_re_free(struct sb_schema_re *r)
{
	if (!r)
		return;
	regfree(&r->re);
	free(r->src);
	free(r);
}
