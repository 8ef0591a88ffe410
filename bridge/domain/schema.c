/* SPDX-License-Identifier: MIT
 *
 * schema.c - a JSON Schema (2020-12 subset) compiler and validator on cJSON.
 *
 * Debian 12 packages no C JSON Schema library (valijson is C++ with no
 * cJSON adapter), so this is our own.  A schema document is compiled once
 * into a graph of nodes; `$ref` edges point at nodes of the same graph, so
 * recursive schemas are fine, and every node belongs to one pool that
 * sb_schema_destroy() frees at once.  Cycles of `$ref`/allOf/anyOf/oneOf/not
 * that never descend into the instance would loop forever and are rejected
 * at compile time; everything else is bounded by SB_SCHEMA_MAX_DEPTH at
 * validation time.
 *
 * `pattern` and `patternProperties` take ECMA-262 syntax, translated to a
 * POSIX extended regular expression and run by regexec() under a private
 * C.UTF-8 locale (so `.` and classes see code points, and ranges are
 * code-point ranges).  What cannot be translated faithfully (lookaround,
 * backreferences, \p{..}) is a compile error.  docs/schemas.md lists the
 * dialect differences.
 *
 * Validation stops at the first failure, allocates nothing and writes the
 * reason straight into the caller's buffer.
 */
#include "schema.h"

#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_NODES 4096              /* compiled nodes in one schema */
#define MAX_MEMBERS 1024            /* members of one schema object/map */
#define MAX_PATTERN 4096            /* bytes of one ECMA pattern */
#define MAX_TRANSLATED 16384        /* bytes of its POSIX translation */
#define MAX_CLASS_ITEMS 256         /* chars + ranges in one [...] */
#define MAX_CLASS_EXPAND 1024       /* non-ASCII code points spelled out */
#define MAX_EQUAL_DEPTH 1000        /* = cJSON's own nesting limit */
#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_SET_FILES 256
#define LOC_MAX 512

/* ---- compiled form -------------------------------------------------------- */

enum {
	T_NULL = 1, T_BOOLEAN = 2, T_OBJECT = 4, T_ARRAY = 8,
	T_NUMBER = 16, T_INTEGER = 32, T_STRING = 64,
};

static const struct {
	const char *name;
	unsigned bit;
} type_names[] = {
	{ "null", T_NULL }, { "boolean", T_BOOLEAN }, { "object", T_OBJECT },
	{ "array", T_ARRAY }, { "number", T_NUMBER }, { "integer", T_INTEGER },
	{ "string", T_STRING },
};

enum fmt { F_NONE = 0, F_DATE_TIME, F_DATE, F_TIME, F_UUID };

static const struct {
	const char *name;
	enum fmt fmt;
} formats[] = {
	{ "date-time", F_DATE_TIME }, { "date", F_DATE }, { "time", F_TIME },
	{ "uuid", F_UUID },
};

enum {
	HAS_MIN = 1, HAS_MAX = 2, HAS_XMIN = 4, HAS_XMAX = 8, HAS_MULT = 16,
	HAS_CONST = 32, HAS_ENUM = 64,
};

struct re {
	regex_t re;
	char *src;      /* the ECMA source, for reasons */
};

struct prop {
	char *name;
	struct node *schema;
};

struct pprop {
	struct re *re;
	struct node *schema;
};

struct dep {
	char *name;
	char **req;
	size_t n;
};

struct node {
	bool boolean;           /* a `true`/`false` schema */
	bool value;
	unsigned types;         /* T_* mask, 0 = any */
	unsigned flags;         /* HAS_* */
	double minimum, maximum, xmin, xmax, multiple;
	size_t min_len, max_len;        /* max SIZE_MAX = none */
	size_t min_items, max_items;
	size_t min_props, max_props;
	bool unique;
	enum fmt format;
	struct re *pattern;
	cJSON *enum_vals;
	cJSON *const_val;
	struct prop *props;
	size_t n_props;
	struct pprop *pprops;
	size_t n_pprops;
	struct node *additional;
	char **required;
	size_t n_required;
	struct dep *deps;
	size_t n_deps;
	struct node **prefix;
	size_t n_prefix;
	struct node *items;
	struct node *ref;
	struct node **all_of, **any_of, **one_of;
	size_t n_all, n_any, n_one;
	struct node *not_schema;
	char *loc;              /* schema location, for compile errors */
	int mark;               /* cycle check: 0 new, 1 on stack, 2 done */
};

struct sb_schema {
	struct node **nodes;
	size_t n, cap;
	struct node *root;
	locale_t loc;           /* C.UTF-8, made on the first pattern */
};

struct set_entry {
	char *name;
	struct sb_schema *schema;
};

struct sb_schema_set {
	struct set_entry *v;
	size_t n;
};

/* ---- small helpers -------------------------------------------------------- */

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

static bool is_int(double d)
{
	return isfinite(d) && floor(d) == d;
}

/* Shortest text that reads back as `d`: "100", "0.5", "1e+300". */
static void fmt_num(double d, char *buf, size_t len)
{
	if (is_int(d) && fabs(d) < 1e17) {
		snprintf(buf, len, "%.0f", d);
		return;
	}
	snprintf(buf, len, "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, len, "%.17g", d);
}

/* Appends `s` (at most `max` bytes of it, cut on a UTF-8 boundary) quoted,
 * with quotes, backslashes and control characters escaped. */
static void quote(char *buf, size_t len, const char *s, size_t max)
{
	size_t o = 0, i = 0, n = strlen(s);
	bool cut = false;

	if (len < 8) {
		if (len)
			buf[0] = '\0';
		return;
	}
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		cut = true;
	}
	buf[o++] = '"';
	for (i = 0; i < n && o + 7 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(buf + o, len - o, "\\u%04x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	if (i < n)
		cut = true;
	if (cut && o + 4 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* A short rendering of an instance value for reasons. */
static const char *render(const cJSON *x, char *buf, size_t len)
{
	switch (x->type & 0xFF) {
	case cJSON_NULL: return "null";
	case cJSON_True: return "true";
	case cJSON_False: return "false";
	case cJSON_Number: fmt_num(x->valuedouble, buf, len); return buf;
	case cJSON_String: quote(buf, len, x->valuestring, 64); return buf;
	case cJSON_Array: return "an array";
	case cJSON_Object: return "an object";
	}
	return "an invalid value";
}

static size_t utf8_count(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

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

/* Structural equality (JSON Schema's, so 1 == 1.0, keys unordered).
 * 1 equal, 0 not, -1 nested too deep to tell. */
static int equal(const cJSON *a, const cJSON *b, int depth)
{
	const cJSON *x, *y;
	int r;

	if (depth > MAX_EQUAL_DEPTH)
		return -1;
	if ((a->type & 0xFF) != (b->type & 0xFF))
		return 0;
	switch (a->type & 0xFF) {
	case cJSON_Number:
		return a->valuedouble == b->valuedouble;
	case cJSON_String:
		return strcmp(a->valuestring, b->valuestring) == 0;
	case cJSON_Array:
		for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
			if ((r = equal(x, y, depth + 1)) != 1)
				return r;
		return !x && !y;
	case cJSON_Object:
		if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
			return 0;
		cJSON_ArrayForEach(x, a) {
			y = cJSON_GetObjectItemCaseSensitive(b, x->string);
			if (!y)
				return 0;
			if ((r = equal(x, y, depth + 1)) != 1)
				return r;
		}
		return 1;
	default:
		return 1;       /* null, true, false: the type says it all */
	}
}

/* ---- formats -------------------------------------------------------------- */

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool is_date(const char *s, size_t len)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, max;

	if (len != 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
	    s[7] != '-' || !digits(s + 8, 2))
		return false;
	y = num2(s) * 100 + num2(s + 2);
	m = num2(s + 5);
	d = num2(s + 8);
	if (m < 1 || m > 12 || d < 1)
		return false;
	max = mdays[m - 1];
	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		max = 29;
	return d <= max;
}

/* RFC 3339 full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM).  A leap second
 * (:60) is valid only where it falls on 23:59 UTC. */
static bool is_time(const char *s, size_t len)
{
	const char *p = s + 8, *end = s + len;
	int h, m, sec, oh = 0, om = 0, sign = 0;

	if (len < 9 || !digits(s, 2) || s[2] != ':' || !digits(s + 3, 2) ||
	    s[5] != ':' || !digits(s + 6, 2))
		return false;
	h = num2(s);
	m = num2(s + 3);
	sec = num2(s + 6);
	if (*p == '.') {
		p++;
		if (p >= end || !digits(p, 1))
			return false;
		while (p < end && digits(p, 1))
			p++;
	}
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		sign = *p == '+' ? 1 : -1;
		if (end - p < 6 || !digits(p + 1, 2) || p[3] != ':' || !digits(p + 4, 2))
			return false;
		oh = num2(p + 1);
		om = num2(p + 4);
		p += 6;
	} else {
		return false;
	}
	if (p != end || h > 23 || m > 59 || sec > 60 || oh > 23 || om > 59)
		return false;
	if (sec == 60) {
		int utc = ((h * 60 + m - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;

		if (utc != 23 * 60 + 59)
			return false;
	}
	return true;
}

static bool is_date_time(const char *s, size_t len)
{
	return len > 11 && is_date(s, 10) && (s[10] == 'T' || s[10] == 't') &&
	       is_time(s + 11, len - 11);
}

static bool is_uuid(const char *s, size_t len)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

static bool format_ok(enum fmt f, const char *s)
{
	size_t len = strlen(s);

	switch (f) {
	case F_DATE_TIME: return is_date_time(s, len);
	case F_DATE: return is_date(s, len);
	case F_TIME: return is_time(s, len);
	case F_UUID: return is_uuid(s, len);
	case F_NONE: return true;
	}
	return true;
}

static const char *format_name(enum fmt f)
{
	for (size_t i = 0; i < SB_ARRAY_LEN(formats); i++)
		if (formats[i].fmt == f)
			return formats[i].name;
	return "?";
}

/* ---- ECMA-262 pattern -> POSIX ERE ---------------------------------------- */

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

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool hexn(const char *s, int n, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++) {
		int h = hexval(s[i]);

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

/* Translates the class at s[0] == '['; returns the bytes consumed or 0. */
static size_t translate_class(const char *s0, struct buf *out, char *why, size_t whylen)
{
	const char *s = s0 + 1;
	struct cls *k = calloc(1, sizeof(*k));
	const char *items[8];
	size_t nitems = 0, expanded = 0;
	bool neg = false, any;
	char named, named2;
	uint32_t a, b;

	if (!k) {
		snprintf(why, whylen, "out of memory");
		return 0;
	}
	if (*s == '^') {
		neg = true;
		s++;
	}
	for (;;) {
		if (!*s) {
			snprintf(why, whylen, "unterminated character class");
			goto fail;
		}
		if (*s == ']') {
			s++;
			break;
		}
		if (!class_atom(&s, &a, &named, why, whylen))
			goto fail;
		if (named) {
			k->named[named == 'd' ? 0 : named == 'w' ? 1 : 2] = true;
			continue;
		}
		if (s[0] == '-' && s[1] && s[1] != ']') {
			const char *t = s + 1;

			if (!class_atom(&t, &b, &named2, why, whylen))
				goto fail;
			s = t;
			if (named2) {
				/* Annex B: [a-\d] is a, -, digits */
				if (!cls_add(k, a) || !cls_add(k, '-'))
					goto full;
				k->named[named2 == 'd' ? 0 : named2 == 'w' ? 1 : 2] = true;
				continue;
			}
			if (b < a) {
				snprintf(why, whylen, "range out of order in character class");
				goto fail;
			}
			if (!cls_add_range(k, a, b))
				goto full;
			continue;
		}
		if (!cls_add(k, a))
			goto full;
	}

	any = k->ns || k->nr || k->named[0] || k->named[1] || k->named[2] ||
	      k->rb || k->lb || k->dash || k->caret;
	if (!any) {
		if (!neg) {
			snprintf(why, whylen, "the empty class [] never matches; not supported");
			goto fail;
		}
		b_puts(out, ".");       /* [^] is any character, newlines too */
		goto done;
	}
	if (!neg && k->caret && !k->rb && !k->ns && !k->nr && !k->named[0] &&
	    !k->named[1] && !k->named[2] && !k->lb && !k->dash) {
		b_puts(out, "\\^");
		goto done;
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
				goto fail;
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
done:
	free(k);
	return (size_t)(s - s0);
full:
	snprintf(why, whylen, "character class has more than %d items", MAX_CLASS_ITEMS);
fail:
	free(k);
	return 0;
}

/* {n}, {n,}, {n,m} at s: its length, or 0 when `{` is a literal. */
static size_t quant_len(const char *s)
{
	const char *p = s + 1;

	if (!digits(p, 1))
		return 0;
	while (digits(p, 1))
		p++;
	if (*p == ',') {
		p++;
		while (digits(p, 1))
			p++;
	}
	return *p == '}' ? (size_t)(p + 1 - s) : 0;
}

/* ECMA-262 (no flags) -> POSIX ERE with the same match/no-match answer. */
static bool re_translate(const char *src, struct buf *out, char *why, size_t whylen)
{
	const char *s = src;
	bool after_quant = false;
	int parens = 0;

	while (*s) {
		bool quant = false;
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
			if (s[1] != '?') {
				b_puts(out, "(");
				s++;
			} else if (s[2] == ':') {
				b_puts(out, "(");
				s += 3;
			} else if (s[2] == '<' && s[3] != '=' && s[3] != '!') {
				const char *p = s + 3;

				while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				       (*p >= '0' && *p <= '9') || *p == '_' || *p == '$')
					p++;
				if (*p != '>' || p == s + 3) {
					snprintf(why, whylen, "bad group name");
					return false;
				}
				b_puts(out, "(");
				s = p + 1;
			} else if (s[2] == '=' || s[2] == '!' || s[2] == '<') {
				snprintf(why, whylen, "lookaround assertions are not supported");
				return false;
			} else {
				snprintf(why, whylen, "(?%c is not supported", s[2] ? s[2] : ' ');
				return false;
			}
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
			if (*s == '?' && after_quant) {
				/* lazy quantifier: same yes/no answer as greedy */
				s++;
				break;
			}
			b_putn(out, s, 1);
			s++;
			quant = true;
			break;
		case '{':
			n = quant_len(s);
			if (n) {
				b_putn(out, s, n);
				quant = true;
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

static void re_free(struct re *r)
{
	if (!r)
		return;
	regfree(&r->re);
	free(r->src);
	free(r);
}

/* Writes "<pointer>: " to buf, abbreviating a long pointer to its start
 * and end so that the reason after it still fits.  Returns bytes written. */
static size_t put_loc(char *buf, size_t len, const char *loc, size_t loclen)
{
	int n;

	if (!loclen)
		n = snprintf(buf, len, "/: ");
	else if (loclen <= 160)
		n = snprintf(buf, len, "%s: ", loc);
	else
		n = snprintf(buf, len, "%.60s...%s: ", loc, loc + loclen - 90);
	return n < 0 ? 0 : (size_t)n;
}

/* ---- compiler ------------------------------------------------------------- */

struct map_ent {
	const cJSON *js;
	struct node *n;
};

struct cctx {
	struct sb_schema *s;
	const cJSON *root;
	const char *root_id;
	size_t root_id_len;
	struct map_ent *map;
	size_t nmap, capmap;
	char loc[LOC_MAX];
	size_t loclen;
	char *err;
	size_t errlen;
	bool failed;
};

__attribute__((format(printf, 3, 4)))
static enum sb_err cfail(struct cctx *c, enum sb_err rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->failed || !c->err || !c->errlen)
		goto out;
	n = (int)put_loc(c->err, c->errlen, c->loc, c->loclen);
	if ((size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
out:
	c->failed = true;
	return rc;
}

static void loc_append(char *loc, size_t *len, const char *seg)
{
	if (*len + 1 < LOC_MAX)
		loc[(*len)++] = '/';
	for (; *seg && *len + 2 < LOC_MAX; seg++) {
		if (*seg == '~' || *seg == '/') {
			loc[(*len)++] = '~';
			loc[(*len)++] = *seg == '~' ? '0' : '1';
		} else {
			loc[(*len)++] = *seg;
		}
	}
	loc[*len] = '\0';
}

static size_t loc_push(struct cctx *c, const char *seg)
{
	size_t old = c->loclen;

	loc_append(c->loc, &c->loclen, seg);
	return old;
}

static size_t loc_push_idx(struct cctx *c, size_t i)
{
	char b[24];

	snprintf(b, sizeof(b), "%zu", i);
	return loc_push(c, b);
}

static void loc_pop(struct cctx *c, size_t old)
{
	c->loclen = old;
	c->loc[old] = '\0';
}

static void node_free(struct node *n)
{
	size_t i;

	if (!n)
		return;
	re_free(n->pattern);
	cJSON_Delete(n->enum_vals);
	cJSON_Delete(n->const_val);
	for (i = 0; i < n->n_props; i++)
		free(n->props[i].name);
	free(n->props);
	for (i = 0; i < n->n_pprops; i++)
		re_free(n->pprops[i].re);
	free(n->pprops);
	for (i = 0; i < n->n_required; i++)
		free(n->required[i]);
	free(n->required);
	for (i = 0; i < n->n_deps; i++) {
		for (size_t j = 0; j < n->deps[i].n; j++)
			free(n->deps[i].req[j]);
		free(n->deps[i].req);
		free(n->deps[i].name);
	}
	free(n->deps);
	free(n->prefix);
	free(n->all_of);
	free(n->any_of);
	free(n->one_of);
	free(n->loc);
	free(n);
}

static enum sb_err node_new(struct cctx *c, const cJSON *js, struct node **out)
{
	struct sb_schema *s = c->s;
	struct node *n;

	if (s->n >= MAX_NODES)
		return cfail(c, SB_ERR_LIMIT, "schema has more than %d subschemas", MAX_NODES);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct node **v = realloc(s->nodes, cap * sizeof(*v));

		if (!v)
			return cfail(c, SB_ERR_NOMEM, "out of memory");
		s->nodes = v;
		s->cap = cap;
	}
	if (c->nmap == c->capmap) {
		size_t cap = c->capmap ? c->capmap * 2 : 16;
		struct map_ent *m = realloc(c->map, cap * sizeof(*m));

		if (!m)
			return cfail(c, SB_ERR_NOMEM, "out of memory");
		c->map = m;
		c->capmap = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->loc = xstrdup(c->loclen ? c->loc : "/"))) {
		free(n);
		return cfail(c, SB_ERR_NOMEM, "out of memory");
	}
	n->max_len = n->max_items = n->max_props = SIZE_MAX;
	s->nodes[s->n++] = n;
	c->map[c->nmap].js = js;
	c->map[c->nmap++].n = n;
	*out = n;
	return SB_OK;
}

static enum sb_err compile_node(struct cctx *c, const cJSON *js, int depth,
				struct node **out);

static enum sb_err re_compile(struct cctx *c, const char *src, struct re **out)
{
	char why[128] = "";
	struct buf b = { 0 };
	struct re *r;
	locale_t old;
	int rc;

	if (strlen(src) > MAX_PATTERN)
		return cfail(c, SB_ERR_LIMIT, "pattern is longer than %d bytes", MAX_PATTERN);
	if (!re_translate(src, &b, why, sizeof(why))) {
		free(b.p);
		return cfail(c, SB_ERR_INVAL, "pattern \"%s\": %s", src, why);
	}
	if (!c->s->loc) {
		c->s->loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
		if (!c->s->loc) {
			free(b.p);
			return cfail(c, SB_ERR_INTERNAL, "the C.UTF-8 locale is not available");
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->src = xstrdup(src))) {
		free(r);
		free(b.p);
		return cfail(c, SB_ERR_NOMEM, "out of memory");
	}
	old = uselocale(c->s->loc);
	rc = regcomp(&r->re, b.p, REG_EXTENDED | REG_NOSUB);
	uselocale(old);
	free(b.p);
	if (rc) {
		regerror(rc, &r->re, why, sizeof(why));
		free(r->src);
		free(r);
		return cfail(c, SB_ERR_INVAL, "pattern \"%s\" does not compile: %s", src, why);
	}
	*out = r;
	return SB_OK;
}

static bool get_count(const cJSON *v, size_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!(d >= 0) || !is_int(d))
		return false;
	*out = d >= 9007199254740992.0 ? SIZE_MAX - 1 : (size_t)d;
	return true;
}

static enum sb_err check_size(struct cctx *c, const cJSON *v)
{
	if (cJSON_GetArraySize(v) > MAX_MEMBERS)
		return cfail(c, SB_ERR_LIMIT, "more than %d members", MAX_MEMBERS);
	return SB_OK;
}

/* An array of unique strings, copied. */
static enum sb_err string_set(struct cctx *c, const cJSON *v, char ***out, size_t *n)
{
	const cJSON *x, *y;
	size_t cnt = 0;
	enum sb_err rc;

	if (!cJSON_IsArray(v))
		return cfail(c, SB_ERR_INVAL, "must be an array of strings");
	if ((rc = check_size(c, v)))
		return rc;
	cJSON_ArrayForEach(x, v) {
		if (!cJSON_IsString(x))
			return cfail(c, SB_ERR_INVAL, "must be an array of strings");
		for (y = v->child; y != x; y = y->next)
			if (!strcmp(x->valuestring, y->valuestring))
				return cfail(c, SB_ERR_INVAL, "\"%s\" is listed twice", x->valuestring);
		cnt++;
	}
	*out = calloc(cnt ? cnt : 1, sizeof(char *));
	if (!*out)
		return cfail(c, SB_ERR_NOMEM, "out of memory");
	cJSON_ArrayForEach(x, v) {
		if (!((*out)[*n] = xstrdup(x->valuestring)))
			return cfail(c, SB_ERR_NOMEM, "out of memory");
		(*n)++;
	}
	return SB_OK;
}

static enum sb_err schema_array(struct cctx *c, const cJSON *v, int depth,
				struct node ***out, size_t *n)
{
	const cJSON *x;
	size_t cnt, old;
	enum sb_err rc;

	if (!cJSON_IsArray(v) || !(cnt = (size_t)cJSON_GetArraySize(v)))
		return cfail(c, SB_ERR_INVAL, "must be a non-empty array of schemas");
	if ((rc = check_size(c, v)))
		return rc;
	if (!(*out = calloc(cnt, sizeof(**out))))
		return cfail(c, SB_ERR_NOMEM, "out of memory");
	cJSON_ArrayForEach(x, v) {
		old = loc_push_idx(c, *n);
		rc = compile_node(c, x, depth + 1, &(*out)[*n]);
		loc_pop(c, old);
		if (rc)
			return rc;
		(*n)++;
	}
	return SB_OK;
}

/* JSON pointer (already percent-decoded) into the schema document. */
static const cJSON *resolve_pointer(const cJSON *root, const char *ptr)
{
	const cJSON *cur = root;
	char tok[LOC_MAX];

	while (*ptr) {
		size_t n = 0;

		if (*ptr++ != '/')
			return NULL;
		while (*ptr && *ptr != '/') {
			char ch = *ptr++;

			if (ch == '~') {
				if (*ptr == '0')
					ch = '~';
				else if (*ptr == '1')
					ch = '/';
				else
					return NULL;
				ptr++;
			}
			if (n + 1 >= sizeof(tok))
				return NULL;
			tok[n++] = ch;
		}
		tok[n] = '\0';
		if (cJSON_IsObject(cur)) {
			cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
		} else if (cJSON_IsArray(cur)) {
			char *end;
			long i;

			if (!n || (n > 1 && tok[0] == '0') || !digits(tok, (int)n) || n > 9)
				return NULL;
			i = strtol(tok, &end, 10);
			cur = cJSON_GetArrayItem(cur, (int)i);
		} else {
			return NULL;
		}
		if (!cur)
			return NULL;
	}
	return cur;
}

static enum sb_err kw_ref(struct cctx *c, struct node *n, const char *k,
			  const cJSON *v, int depth)
{
	char ptr[LOC_MAX], saved[LOC_MAX];
	const char *ref, *frag;
	const cJSON *target;
	size_t savedlen, o = 0;
	enum sb_err rc;

	if (!cJSON_IsString(v))
		return cfail(c, SB_ERR_INVAL, "must be a string");
	ref = v->valuestring;
	if (ref[0] == '#') {
		frag = ref + 1;
	} else if (c->root_id_len && !strncmp(ref, c->root_id, c->root_id_len) &&
		   (ref[c->root_id_len] == '\0' || ref[c->root_id_len] == '#')) {
		frag = ref[c->root_id_len] ? ref + c->root_id_len + 1 : "";
	} else {
		return cfail(c, SB_ERR_INVAL,
			     "\"%s\": only references within this document (\"#...\") are supported",
			     ref);
	}
	if (*frag && *frag != '/')
		return cfail(c, SB_ERR_INVAL, "\"%s\": anchors are not supported, use a JSON pointer",
			     ref);
	for (; *frag; frag++) {
		char ch = *frag;

		if (ch == '%') {
			int hi = hexval(frag[1]), lo = hi < 0 ? -1 : hexval(frag[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return cfail(c, SB_ERR_INVAL, "\"%s\": bad percent-encoding", ref);
			ch = (char)(hi * 16 + lo);
			frag += 2;
		}
		if (o + 1 >= sizeof(ptr))
			return cfail(c, SB_ERR_LIMIT, "\"%s\": pointer too long", ref);
		ptr[o++] = ch;
	}
	ptr[o] = '\0';
	target = resolve_pointer(c->root, ptr);
	if (!target)
		return cfail(c, SB_ERR_INVAL, "\"%s\": no such location in this document", ref);

	memcpy(saved, c->loc, c->loclen + 1);
	savedlen = c->loclen;
	memcpy(c->loc, ptr, o + 1);
	c->loclen = o;
	rc = compile_node(c, target, depth + 1, &n->ref);
	memcpy(c->loc, saved, savedlen + 1);
	c->loclen = savedlen;
	return rc;
}

static enum sb_err kw_type(struct cctx *c, struct node *n, const char *k,
			   const cJSON *v, int depth)
{
	const cJSON *x;
	bool arr = cJSON_IsArray(v);

	if (!arr && !cJSON_IsString(v))
		return cfail(c, SB_ERR_INVAL, "must be a type name or an array of them");
	for (x = arr ? v->child : v; x; x = arr ? x->next : NULL) {
		unsigned bit = 0;

		if (!cJSON_IsString(x))
			return cfail(c, SB_ERR_INVAL, "must be a type name or an array of them");
		for (size_t i = 0; i < SB_ARRAY_LEN(type_names); i++)
			if (!strcmp(x->valuestring, type_names[i].name))
				bit = type_names[i].bit;
		if (!bit)
			return cfail(c, SB_ERR_INVAL, "unknown type \"%s\"", x->valuestring);
		if (n->types & bit)
			return cfail(c, SB_ERR_INVAL, "type \"%s\" is listed twice", x->valuestring);
		n->types |= bit;
	}
	if (!n->types)
		return cfail(c, SB_ERR_INVAL, "must list at least one type");
	return SB_OK;
}

static enum sb_err kw_enum(struct cctx *c, struct node *n, const char *k,
			   const cJSON *v, int depth)
{
	if (!cJSON_IsArray(v))
		return cfail(c, SB_ERR_INVAL, "must be an array");
	if (!(n->enum_vals = cJSON_Duplicate(v, 1)))
		return cfail(c, SB_ERR_NOMEM, "out of memory");
	n->flags |= HAS_ENUM;
	return SB_OK;
}

static enum sb_err kw_const(struct cctx *c, struct node *n, const char *k,
			    const cJSON *v, int depth)
{
	if (!(n->const_val = cJSON_Duplicate(v, 1)))
		return cfail(c, SB_ERR_NOMEM, "out of memory");
	n->flags |= HAS_CONST;
	return SB_OK;
}

static enum sb_err kw_number(struct cctx *c, struct node *n, const char *k,
			     const cJSON *v, int depth)
{
	double d;

	if (!cJSON_IsNumber(v))
		return cfail(c, SB_ERR_INVAL, "must be a number");
	d = v->valuedouble;
	if (!strcmp(k, "minimum")) {
		n->minimum = d;
		n->flags |= HAS_MIN;
	} else if (!strcmp(k, "maximum")) {
		n->maximum = d;
		n->flags |= HAS_MAX;
	} else if (!strcmp(k, "exclusiveMinimum")) {
		n->xmin = d;
		n->flags |= HAS_XMIN;
	} else if (!strcmp(k, "exclusiveMaximum")) {
		n->xmax = d;
		n->flags |= HAS_XMAX;
	} else {
		if (!(d > 0))
			return cfail(c, SB_ERR_INVAL, "must be greater than 0");
		n->multiple = d;
		n->flags |= HAS_MULT;
	}
	return SB_OK;
}

static enum sb_err kw_count(struct cctx *c, struct node *n, const char *k,
			    const cJSON *v, int depth)
{
	static const struct {
		const char *name;
		size_t off;
	} map[] = {
		{ "minLength", offsetof(struct node, min_len) },
		{ "maxLength", offsetof(struct node, max_len) },
		{ "minItems", offsetof(struct node, min_items) },
		{ "maxItems", offsetof(struct node, max_items) },
		{ "minProperties", offsetof(struct node, min_props) },
		{ "maxProperties", offsetof(struct node, max_props) },
	};
	size_t val;

	if (!get_count(v, &val))
		return cfail(c, SB_ERR_INVAL, "must be a non-negative integer");
	for (size_t i = 0; i < SB_ARRAY_LEN(map); i++)
		if (!strcmp(k, map[i].name))
			*(size_t *)(void *)((char *)n + map[i].off) = val;
	return SB_OK;
}

static enum sb_err kw_unique(struct cctx *c, struct node *n, const char *k,
			     const cJSON *v, int depth)
{
	if (!cJSON_IsBool(v))
		return cfail(c, SB_ERR_INVAL, "must be a boolean");
	n->unique = cJSON_IsTrue(v);
	return SB_OK;
}

static enum sb_err kw_pattern(struct cctx *c, struct node *n, const char *k,
			      const cJSON *v, int depth)
{
	if (!cJSON_IsString(v))
		return cfail(c, SB_ERR_INVAL, "must be a string");
	return re_compile(c, v->valuestring, &n->pattern);
}

static enum sb_err kw_format(struct cctx *c, struct node *n, const char *k,
			     const cJSON *v, int depth)
{
	if (!cJSON_IsString(v))
		return cfail(c, SB_ERR_INVAL, "must be a string");
	for (size_t i = 0; i < SB_ARRAY_LEN(formats); i++) {
		if (!strcmp(v->valuestring, formats[i].name)) {
			n->format = formats[i].fmt;
			return SB_OK;
		}
	}
	return cfail(c, SB_ERR_INVAL,
		     "format \"%s\" is not supported (date-time, date, time, uuid are)",
		     v->valuestring);
}

static enum sb_err kw_required(struct cctx *c, struct node *n, const char *k,
			       const cJSON *v, int depth)
{
	return string_set(c, v, &n->required, &n->n_required);
}

static enum sb_err kw_dependent_required(struct cctx *c, struct node *n, const char *k,
					 const cJSON *v, int depth)
{
	const cJSON *x;
	enum sb_err rc;
	size_t old;

	if (!cJSON_IsObject(v))
		return cfail(c, SB_ERR_INVAL, "must be an object");
	if ((rc = check_size(c, v)))
		return rc;
	n->deps = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(*n->deps));
	if (!n->deps)
		return cfail(c, SB_ERR_NOMEM, "out of memory");
	cJSON_ArrayForEach(x, v) {
		struct dep *d = &n->deps[n->n_deps++];

		if (!(d->name = xstrdup(x->string)))
			return cfail(c, SB_ERR_NOMEM, "out of memory");
		old = loc_push(c, x->string);
		rc = string_set(c, x, &d->req, &d->n);
		loc_pop(c, old);
		if (rc)
			return rc;
	}
	return SB_OK;
}

static enum sb_err kw_properties(struct cctx *c, struct node *n, const char *k,
				 const cJSON *v, int depth)
{
	const cJSON *x, *y;
	enum sb_err rc;
	size_t old;

	if (!cJSON_IsObject(v))
		return cfail(c, SB_ERR_INVAL, "must be an object");
	if ((rc = check_size(c, v)))
		return rc;
	n->props = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(*n->props));
	if (!n->props)
		return cfail(c, SB_ERR_NOMEM, "out of memory");
	cJSON_ArrayForEach(x, v) {
		struct prop *p = &n->props[n->n_props];

		for (y = v->child; y != x; y = y->next)
			if (!strcmp(x->string, y->string))
				return cfail(c, SB_ERR_INVAL, "property \"%s\" is defined twice",
					     x->string);
		if (!(p->name = xstrdup(x->string)))
			return cfail(c, SB_ERR_NOMEM, "out of memory");
		n->n_props++;
		old = loc_push(c, x->string);
		rc = compile_node(c, x, depth + 1, &p->schema);
		loc_pop(c, old);
		if (rc)
			return rc;
	}
	return SB_OK;
}

static enum sb_err kw_pattern_properties(struct cctx *c, struct node *n, const char *k,
					 const cJSON *v, int depth)
{
	const cJSON *x;
	enum sb_err rc;
	size_t old;

	if (!cJSON_IsObject(v))
		return cfail(c, SB_ERR_INVAL, "must be an object");
	if ((rc = check_size(c, v)))
		return rc;
	n->pprops = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(*n->pprops));
	if (!n->pprops)
		return cfail(c, SB_ERR_NOMEM, "out of memory");
	cJSON_ArrayForEach(x, v) {
		struct pprop *p = &n->pprops[n->n_pprops];

		old = loc_push(c, x->string);
		rc = re_compile(c, x->string, &p->re);
		if (!rc) {
			n->n_pprops++;
			rc = compile_node(c, x, depth + 1, &p->schema);
		}
		loc_pop(c, old);
		if (rc)
			return rc;
	}
	return SB_OK;
}

static enum sb_err kw_subschema(struct cctx *c, struct node *n, const char *k,
				const cJSON *v, int depth)
{
	struct node **slot;

	if (!strcmp(k, "additionalProperties"))
		slot = &n->additional;
	else if (!strcmp(k, "not"))
		slot = &n->not_schema;
	else
		slot = &n->items;
	if (cJSON_IsArray(v) && slot == &n->items)
		return cfail(c, SB_ERR_INVAL,
			     "an array of schemas is draft 7 syntax: use prefixItems");
	return compile_node(c, v, depth + 1, slot);
}

static enum sb_err kw_schema_array(struct cctx *c, struct node *n, const char *k,
				   const cJSON *v, int depth)
{
	if (!strcmp(k, "allOf"))
		return schema_array(c, v, depth, &n->all_of, &n->n_all);
	if (!strcmp(k, "anyOf"))
		return schema_array(c, v, depth, &n->any_of, &n->n_any);
	if (!strcmp(k, "oneOf"))
		return schema_array(c, v, depth, &n->one_of, &n->n_one);
	return schema_array(c, v, depth, &n->prefix, &n->n_prefix);
}

/* $defs / definitions: compiled now so that a broken definition is an
 * error even while nothing refers to it. */
static enum sb_err kw_defs(struct cctx *c, struct node *n, const char *k,
			   const cJSON *v, int depth)
{
	struct node *unused;
	const cJSON *x;
	enum sb_err rc;
	size_t old;

	if (!cJSON_IsObject(v))
		return cfail(c, SB_ERR_INVAL, "must be an object");
	if ((rc = check_size(c, v)))
		return rc;
	cJSON_ArrayForEach(x, v) {
		old = loc_push(c, x->string);
		rc = compile_node(c, x, depth + 1, &unused);
		loc_pop(c, old);
		if (rc)
			return rc;
	}
	return SB_OK;
}

static enum sb_err kw_annotation(struct cctx *c, struct node *n, const char *k,
				 const cJSON *v, int depth)
{
	return SB_OK;
}

typedef enum sb_err (*kw_fn)(struct cctx *, struct node *, const char *,
			     const cJSON *, int);

static const struct {
	const char *name;
	kw_fn fn;
} keywords[] = {
	{ "type", kw_type }, { "enum", kw_enum }, { "const", kw_const },
	{ "minimum", kw_number }, { "maximum", kw_number },
	{ "exclusiveMinimum", kw_number }, { "exclusiveMaximum", kw_number },
	{ "multipleOf", kw_number },
	{ "minLength", kw_count }, { "maxLength", kw_count },
	{ "minItems", kw_count }, { "maxItems", kw_count },
	{ "minProperties", kw_count }, { "maxProperties", kw_count },
	{ "uniqueItems", kw_unique }, { "pattern", kw_pattern },
	{ "format", kw_format }, { "required", kw_required },
	{ "dependentRequired", kw_dependent_required },
	{ "properties", kw_properties },
	{ "patternProperties", kw_pattern_properties },
	{ "additionalProperties", kw_subschema }, { "items", kw_subschema },
	{ "not", kw_subschema }, { "prefixItems", kw_schema_array },
	{ "allOf", kw_schema_array }, { "anyOf", kw_schema_array },
	{ "oneOf", kw_schema_array }, { "$ref", kw_ref },
	{ "$defs", kw_defs }, { "definitions", kw_defs },
	/* annotations: no effect on the outcome */
	{ "$schema", kw_annotation }, { "$id", kw_annotation },
	{ "$comment", kw_annotation }, { "title", kw_annotation },
	{ "description", kw_annotation }, { "examples", kw_annotation },
	{ "default", kw_annotation }, { "deprecated", kw_annotation },
	{ "readOnly", kw_annotation }, { "writeOnly", kw_annotation },
	{ "contentMediaType", kw_annotation }, { "contentEncoding", kw_annotation },
};

/* JSON Schema keywords we know and do not implement: each would change the
 * outcome, so a schema using one is refused rather than half-checked. */
static const char *const unsupported[] = {
	"contains", "minContains", "maxContains", "if", "then", "else",
	"dependentSchemas", "dependencies", "propertyNames",
	"unevaluatedProperties", "unevaluatedItems", "additionalItems",
	"$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef",
	"$recursiveAnchor", "$vocabulary", "contentSchema", "id",
};

static enum sb_err compile_node(struct cctx *c, const cJSON *js, int depth,
				struct node **out)
{
	const cJSON *m, *p;
	struct node *n = NULL;
	enum sb_err rc;

	for (size_t i = 0; i < c->nmap; i++) {
		if (c->map[i].js == js) {
			*out = c->map[i].n;
			return SB_OK;
		}
	}
	if (depth > SB_SCHEMA_MAX_DEPTH)
		return cfail(c, SB_ERR_LIMIT, "schema nested deeper than %d levels",
			     SB_SCHEMA_MAX_DEPTH);
	if (!cJSON_IsBool(js) && !cJSON_IsObject(js))
		return cfail(c, SB_ERR_INVAL, "a schema must be an object or a boolean");
	if ((rc = node_new(c, js, &n)))
		return rc;
	*out = n;
	if (cJSON_IsBool(js)) {
		n->boolean = true;
		n->value = cJSON_IsTrue(js);
		return SB_OK;
	}
	if ((rc = check_size(c, js)))
		return rc;
	cJSON_ArrayForEach(m, js) {
		const char *k = m->string;
		kw_fn fn = NULL;
		size_t old;

		for (p = js->child; p != m; p = p->next)
			if (!strcmp(p->string, k))
				return cfail(c, SB_ERR_INVAL, "keyword \"%s\" appears twice", k);
		old = loc_push(c, k);
		for (size_t i = 0; i < SB_ARRAY_LEN(keywords) && !fn; i++)
			if (!strcmp(k, keywords[i].name))
				fn = keywords[i].fn;
		if (!fn) {
			for (size_t i = 0; i < SB_ARRAY_LEN(unsupported); i++)
				if (!strcmp(k, unsupported[i]))
					return cfail(c, SB_ERR_INVAL,
						     "keyword \"%s\" is not supported", k);
			if (strncmp(k, "x-", 2) != 0)
				return cfail(c, SB_ERR_INVAL,
					     "unknown keyword \"%s\" (extensions must start with \"x-\")",
					     k);
			fn = kw_annotation;
		}
		if (!strcmp(k, "$id") && js != c->root)
			return cfail(c, SB_ERR_INVAL,
				     "$id is supported only at the root of the document");
		rc = fn(c, n, k, m, depth);
		loc_pop(c, old);
		if (rc)
			return rc;
	}
	return SB_OK;
}

/* Cycles through in-place applicators ($ref, allOf, anyOf, oneOf, not)
 * never consume the instance: validation would recurse until the depth
 * bound on every document, so they are a compile error. */
static struct node *inplace_child(const struct node *n, size_t i)
{
	if (n->ref && i-- == 0)
		return n->ref;
	if (n->not_schema && i-- == 0)
		return n->not_schema;
	if (i < n->n_all)
		return n->all_of[i];
	i -= n->n_all;
	if (i < n->n_any)
		return n->any_of[i];
	i -= n->n_any;
	return i < n->n_one ? n->one_of[i] : NULL;
}

static enum sb_err dfs(struct cctx *c, struct node *n, int depth)
{
	struct node *m;
	enum sb_err rc;

	if (depth > SB_SCHEMA_MAX_DEPTH) {
		snprintf(c->loc, sizeof(c->loc), "%s", n->loc);
		c->loclen = strlen(c->loc);
		return cfail(c, SB_ERR_LIMIT,
			     "chain of $ref/allOf/anyOf/oneOf/not deeper than %d levels",
			     SB_SCHEMA_MAX_DEPTH);
	}
	n->mark = 1;
	for (size_t i = 0; (m = inplace_child(n, i)); i++) {
		if (m->mark == 1) {
			snprintf(c->loc, sizeof(c->loc), "%s", n->loc);
			c->loclen = strlen(c->loc);
			return cfail(c, SB_ERR_INVAL,
				     "$ref cycle that never descends into the instance (it would loop forever)");
		}
		if (m->mark == 0 && (rc = dfs(c, m, depth + 1)))
			return rc;
	}
	n->mark = 2;
	return SB_OK;
}

enum sb_err sb_schema_compile(struct sb_schema **out, const cJSON *schema,
			      char *err, size_t errlen)
{
	struct cctx c = { 0 };
	const cJSON *id;
	enum sb_err rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out || !schema) {
		if (err && errlen)
			snprintf(err, errlen, "no schema");
		return SB_ERR_INVAL;
	}
	*out = NULL;
	c.err = err;
	c.errlen = errlen;
	c.root = schema;
	if (!(c.s = calloc(1, sizeof(*c.s))))
		return cfail(&c, SB_ERR_NOMEM, "out of memory");
	id = cJSON_IsObject(schema) ? cJSON_GetObjectItemCaseSensitive(schema, "$id") : NULL;
	if (id) {
		if (!cJSON_IsString(id)) {
			loc_push(&c, "$id");
			rc = cfail(&c, SB_ERR_INVAL, "must be a string");
			goto fail;
		}
		c.root_id = id->valuestring;
		c.root_id_len = strlen(c.root_id);
		if (c.root_id_len && c.root_id[c.root_id_len - 1] == '#')
			c.root_id_len--;
	}
	rc = compile_node(&c, schema, 0, &c.s->root);
	for (size_t i = 0; !rc && i < c.s->n; i++)
		if (c.s->nodes[i]->mark == 0)
			rc = dfs(&c, c.s->nodes[i], 0);
	if (rc)
		goto fail;
	free(c.map);
	*out = c.s;
	return SB_OK;
fail:
	free(c.map);
	sb_schema_destroy(c.s);
	return rc;
}

void sb_schema_destroy(struct sb_schema *schema)
{
	if (!schema)
		return;
	for (size_t i = 0; i < schema->n; i++)
		node_free(schema->nodes[i]);
	free(schema->nodes);
	if (schema->loc)
		freelocale(schema->loc);
	free(schema);
}

/* ---- validator ------------------------------------------------------------ */

struct seg {
	const char *key;        /* NULL: array index */
	size_t idx;
};

struct vctx {
	char *reason;
	size_t reasonlen;
	bool quiet;             /* inside anyOf/oneOf/not: reasons unused */
	bool have;              /* a reason is written */
	int nseg;
	struct seg seg[SB_SCHEMA_MAX_DEPTH + 2];
};

static bool want(const struct vctx *v)
{
	return !v->quiet && !v->have && v->reason && v->reasonlen;
}

__attribute__((format(printf, 2, 3)))
static void vfail(struct vctx *v, const char *fmt, ...)
{
	char loc[LOC_MAX];
	size_t len = 0;
	va_list ap;
	int n;

	if (!want(v))
		return;
	loc[0] = '\0';
	for (int i = 0; i < v->nseg; i++) {
		char b[24];

		if (!v->seg[i].key)
			snprintf(b, sizeof(b), "%zu", v->seg[i].idx);
		loc_append(loc, &len, v->seg[i].key ? v->seg[i].key : b);
	}
	n = (int)put_loc(v->reason, v->reasonlen, loc, len);
	if ((size_t)n < v->reasonlen) {
		va_start(ap, fmt);
		vsnprintf(v->reason + n, v->reasonlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	v->have = true;
}

static void push_key(struct vctx *v, const char *key)
{
	if (v->nseg < (int)SB_ARRAY_LEN(v->seg))
		v->seg[v->nseg].key = key;
	v->nseg++;
}

static void push_idx(struct vctx *v, size_t idx)
{
	if (v->nseg < (int)SB_ARRAY_LEN(v->seg)) {
		v->seg[v->nseg].key = NULL;
		v->seg[v->nseg].idx = idx;
	}
	v->nseg++;
}

static void pop_seg(struct vctx *v)
{
	v->nseg--;
}

static bool v_node(struct vctx *v, const struct node *n, const cJSON *x, int depth);

static unsigned inst_type(const cJSON *x)
{
	switch (x->type & 0xFF) {
	case cJSON_NULL: return T_NULL;
	case cJSON_True: case cJSON_False: return T_BOOLEAN;
	case cJSON_Number:
		return T_NUMBER | (is_int(x->valuedouble) ? T_INTEGER : 0);
	case cJSON_String: return T_STRING;
	case cJSON_Array: return T_ARRAY;
	case cJSON_Object: return T_OBJECT;
	}
	return 0;
}

static void type_fail(struct vctx *v, unsigned want_types, unsigned got)
{
	char list[128] = "";
	size_t o = 0;
	const char *got_name = "an invalid value";

	if (!want(v))
		return;
	for (size_t i = 0; i < SB_ARRAY_LEN(type_names); i++) {
		if (!(want_types & type_names[i].bit))
			continue;
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
				      o ? " or " : "", type_names[i].name);
		if (o >= sizeof(list))
			break;
	}
	for (size_t i = 0; i < SB_ARRAY_LEN(type_names); i++)
		if (got & type_names[i].bit)
			got_name = type_names[i].name;
	if (got & T_NUMBER)
		got_name = "number";
	vfail(v, "expected %s, got %s", list, got_name);
}

static void enum_fail(struct vctx *v, const struct node *n, const cJSON *x)
{
	char list[256], val[96], item[96];
	size_t o = 0;
	const cJSON *e;

	if (!want(v))
		return;
	list[0] = '\0';
	cJSON_ArrayForEach(e, n->enum_vals) {
		const char *r = render(e, item, sizeof(item));
		size_t need = strlen(r) + 2;

		if (o + need + 4 >= sizeof(list)) {
			snprintf(list + o, sizeof(list) - o, "%s...", o ? ", " : "");
			break;
		}
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", r);
	}
	vfail(v, "%s is not one of %s", render(x, val, sizeof(val)), list);
}

static bool v_number(struct vctx *v, const struct node *n, double d)
{
	char a[40], b[40];
	double q;

	if ((n->flags & HAS_MIN) && d < n->minimum) {
		if (want(v)) {
			fmt_num(d, a, sizeof(a));
			fmt_num(n->minimum, b, sizeof(b));
			vfail(v, "%s is less than minimum %s", a, b);
		}
		return false;
	}
	if ((n->flags & HAS_MAX) && d > n->maximum) {
		if (want(v)) {
			fmt_num(d, a, sizeof(a));
			fmt_num(n->maximum, b, sizeof(b));
			vfail(v, "%s is greater than maximum %s", a, b);
		}
		return false;
	}
	if ((n->flags & HAS_XMIN) && d <= n->xmin) {
		if (want(v)) {
			fmt_num(d, a, sizeof(a));
			fmt_num(n->xmin, b, sizeof(b));
			vfail(v, "%s is not greater than exclusiveMinimum %s", a, b);
		}
		return false;
	}
	if ((n->flags & HAS_XMAX) && d >= n->xmax) {
		if (want(v)) {
			fmt_num(d, a, sizeof(a));
			fmt_num(n->xmax, b, sizeof(b));
			vfail(v, "%s is not less than exclusiveMaximum %s", a, b);
		}
		return false;
	}
	if (n->flags & HAS_MULT) {
		bool ok;

		if (is_int(d) && is_int(n->multiple) && fabs(d) < 9007199254740992.0 &&
		    n->multiple < 9007199254740992.0) {
			ok = fmod(d, n->multiple) == 0;
		} else {
			/* binary fractions: 0.0075 / 0.0001 is 74.99999999999999 */
			q = d / n->multiple;
			ok = isfinite(q) && fabs(q - round(q)) <= 1e-9 * fmax(1.0, fabs(q));
		}
		if (!ok) {
			if (want(v)) {
				fmt_num(d, a, sizeof(a));
				fmt_num(n->multiple, b, sizeof(b));
				vfail(v, "%s is not a multiple of %s", a, b);
			}
			return false;
		}
	}
	return true;
}

static bool v_string(struct vctx *v, const struct node *n, const char *s)
{
	char q[96];

	if (n->min_len || n->max_len != SIZE_MAX) {
		size_t len = utf8_count(s);

		if (len < n->min_len) {
			vfail(v, "length %zu is less than minLength %zu", len, n->min_len);
			return false;
		}
		if (len > n->max_len) {
			vfail(v, "length %zu is greater than maxLength %zu", len, n->max_len);
			return false;
		}
	}
	if (n->pattern && regexec(&n->pattern->re, s, 0, NULL, 0) != 0) {
		if (want(v)) {
			char p[96];

			quote(q, sizeof(q), s, 64);
			quote(p, sizeof(p), n->pattern->src, 64);
			vfail(v, "%s does not match pattern %s", q, p);
		}
		return false;
	}
	if (n->format && !format_ok(n->format, s)) {
		if (want(v)) {
			quote(q, sizeof(q), s, 64);
			vfail(v, "%s is not a valid %s", q, format_name(n->format));
		}
		return false;
	}
	return true;
}

static bool v_array(struct vctx *v, const struct node *n, const cJSON *x, int depth)
{
	size_t cnt = (size_t)cJSON_GetArraySize(x), i = 0;
	const cJSON *e, *f;

	if (cnt < n->min_items) {
		vfail(v, "%zu items is fewer than minItems %zu", cnt, n->min_items);
		return false;
	}
	if (cnt > n->max_items) {
		vfail(v, "%zu items is more than maxItems %zu", cnt, n->max_items);
		return false;
	}
	if (n->n_prefix || n->items) {
		cJSON_ArrayForEach(e, x) {
			const struct node *s = i < n->n_prefix ? n->prefix[i] : n->items;
			bool ok = true;

			if (s) {
				push_idx(v, i);
				if (s->boolean && !s->value) {
					vfail(v, "no item is allowed at this position");
					ok = false;
				} else {
					ok = v_node(v, s, e, depth + 1);
				}
				pop_seg(v);
			}
			if (!ok)
				return false;
			i++;
		}
	}
	if (n->unique) {
		size_t a = 0, b;

		for (e = x->child; e; e = e->next, a++) {
			for (f = e->next, b = a + 1; f; f = f->next, b++) {
				int r = equal(e, f, 0);

				if (r == 1) {
					vfail(v, "items %zu and %zu are equal (uniqueItems)", a, b);
					return false;
				}
				if (r < 0) {
					vfail(v, "items are nested too deep to compare");
					return false;
				}
			}
		}
	}
	return true;
}

static bool v_object(struct vctx *v, const struct node *n, const cJSON *x, int depth)
{
	size_t cnt = (size_t)cJSON_GetArraySize(x);
	const cJSON *m;

	if (cnt < n->min_props) {
		vfail(v, "%zu properties is fewer than minProperties %zu", cnt, n->min_props);
		return false;
	}
	if (cnt > n->max_props) {
		vfail(v, "%zu properties is more than maxProperties %zu", cnt, n->max_props);
		return false;
	}
	for (size_t i = 0; i < n->n_required; i++) {
		if (!cJSON_GetObjectItemCaseSensitive(x, n->required[i])) {
			if (want(v)) {
				char q[96];

				quote(q, sizeof(q), n->required[i], 64);
				vfail(v, "missing required property %s", q);
			}
			return false;
		}
	}
	for (size_t i = 0; i < n->n_deps; i++) {
		if (!cJSON_GetObjectItemCaseSensitive(x, n->deps[i].name))
			continue;
		for (size_t j = 0; j < n->deps[i].n; j++) {
			if (!cJSON_GetObjectItemCaseSensitive(x, n->deps[i].req[j])) {
				if (want(v)) {
					char a[96], b[96];

					quote(a, sizeof(a), n->deps[i].name, 64);
					quote(b, sizeof(b), n->deps[i].req[j], 64);
					vfail(v, "property %s requires property %s", a, b);
				}
				return false;
			}
		}
	}
	if (!n->n_props && !n->n_pprops && !n->additional)
		return true;
	cJSON_ArrayForEach(m, x) {
		bool matched = false, ok = true;

		push_key(v, m->string);
		for (size_t i = 0; ok && i < n->n_props; i++) {
			if (!strcmp(m->string, n->props[i].name)) {
				matched = true;
				ok = v_node(v, n->props[i].schema, m, depth + 1);
			}
		}
		for (size_t i = 0; ok && i < n->n_pprops; i++) {
			if (regexec(&n->pprops[i].re->re, m->string, 0, NULL, 0) == 0) {
				matched = true;
				ok = v_node(v, n->pprops[i].schema, m, depth + 1);
			}
		}
		if (ok && !matched && n->additional) {
			if (n->additional->boolean && !n->additional->value) {
				vfail(v, "property is not allowed (additionalProperties is false)");
				ok = false;
			} else {
				ok = v_node(v, n->additional, m, depth + 1);
			}
		}
		pop_seg(v);
		if (!ok)
			return false;
	}
	return true;
}

static bool v_node(struct vctx *v, const struct node *n, const cJSON *x, int depth)
{
	unsigned t;

	if (depth > SB_SCHEMA_MAX_DEPTH) {
		vfail(v, "nested deeper than %d levels", SB_SCHEMA_MAX_DEPTH);
		return false;
	}
	if (n->boolean) {
		if (!n->value)
			vfail(v, "no value is allowed here (false schema)");
		return n->value;
	}
	t = inst_type(x);
	if (n->types && !(n->types & t)) {
		type_fail(v, n->types, t);
		return false;
	}
	if (n->flags & HAS_CONST) {
		if (equal(n->const_val, x, 0) != 1) {
			if (want(v)) {
				char a[96], b[96];

				vfail(v, "%s is not equal to const %s", render(x, a, sizeof(a)),
				      render(n->const_val, b, sizeof(b)));
			}
			return false;
		}
	}
	if (n->flags & HAS_ENUM) {
		const cJSON *e;
		bool found = false;

		cJSON_ArrayForEach(e, n->enum_vals) {
			if (equal(e, x, 0) == 1) {
				found = true;
				break;
			}
		}
		if (!found) {
			enum_fail(v, n, x);
			return false;
		}
	}
	if ((t & T_NUMBER) && !v_number(v, n, x->valuedouble))
		return false;
	if ((t & T_STRING) && !v_string(v, n, x->valuestring))
		return false;
	if ((t & T_ARRAY) && !v_array(v, n, x, depth))
		return false;
	if ((t & T_OBJECT) && !v_object(v, n, x, depth))
		return false;
	if (n->ref && !v_node(v, n->ref, x, depth + 1))
		return false;
	for (size_t i = 0; i < n->n_all; i++)
		if (!v_node(v, n->all_of[i], x, depth + 1))
			return false;
	if (n->n_any || n->n_one || n->not_schema) {
		bool quiet = v->quiet;
		size_t hits = 0;

		v->quiet = true;
		for (size_t i = 0; n->n_any && i < n->n_any && !hits; i++)
			hits += v_node(v, n->any_of[i], x, depth + 1);
		v->quiet = quiet;
		if (n->n_any && !hits) {
			vfail(v, "matches no schema in anyOf");
			return false;
		}
		hits = 0;
		v->quiet = true;
		for (size_t i = 0; i < n->n_one && hits < 2; i++)
			hits += v_node(v, n->one_of[i], x, depth + 1);
		v->quiet = quiet;
		if (n->n_one && hits != 1) {
			if (hits)
				vfail(v, "matches more than one schema in oneOf");
			else
				vfail(v, "matches no schema in oneOf");
			return false;
		}
		if (n->not_schema) {
			v->quiet = true;
			hits = v_node(v, n->not_schema, x, depth + 1);
			v->quiet = quiet;
			if (hits) {
				vfail(v, "must not match the schema in not");
				return false;
			}
		}
	}
	return true;
}

enum sb_err sb_schema_validate(const struct sb_schema *schema, const cJSON *doc,
			       char *reason, size_t reasonlen)
{
	struct vctx v = { .reason = reason, .reasonlen = reasonlen };
	locale_t old = (locale_t)0;
	bool ok;

	if (reason && reasonlen)
		reason[0] = '\0';
	if (!schema || !doc) {
		if (reason && reasonlen)
			snprintf(reason, reasonlen, "/: no schema or no document");
		return SB_ERR_INVAL;
	}
	if (schema->loc)
		old = uselocale(schema->loc);
	ok = v_node(&v, schema->root, doc, 0);
	if (schema->loc)
		uselocale(old);
	return ok ? SB_OK : SB_ERR_INVAL;
}

/* ---- sets ----------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum sb_err read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f)
		return SB_ERR_IO;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		if (errno == 0 || S_ISDIR(st.st_mode))
			errno = EISDIR;
		fclose(f);
		return SB_ERR_IO;
	}
	if (st.st_size > MAX_FILE_BYTES) {
		fclose(f);
		return SB_ERR_LIMIT;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		return SB_ERR_NOMEM;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return SB_ERR_IO;
	}
	fclose(f);
	buf[*len] = '\0';
	*out = buf;
	return SB_OK;
}

static enum sb_err load_one(struct sb_schema_set *set, const char *dir,
			    const char *name, char *err, size_t errlen)
{
	char path[4096], why[512];
	const char *end = NULL;
	struct sb_schema *s;
	size_t len = 0;
	char *text = NULL;
	cJSON *js;
	enum sb_err rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", name);
		return SB_ERR_LIMIT;
	}
	rc = read_file(path, &text, &len);
	if (rc) {
		snprintf(err, errlen, "%s: %s", name,
			 rc == SB_ERR_LIMIT ? "file larger than 1 MiB" : strerror(errno));
		return rc;
	}
	js = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!js) {
		int line = 1, col = 1;

		for (const char *p = text; end && p < end && p < text + len; p++) {
			if (*p == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		snprintf(err, errlen, "%s: not valid JSON (line %d, column %d)", name, line, col);
		free(text);
		return SB_ERR_INVAL;
	}
	free(text);
	rc = sb_schema_compile(&s, js, why, sizeof(why));
	cJSON_Delete(js);
	if (rc) {
		snprintf(err, errlen, "%s: %s", name, why);
		return rc;
	}
	set->v[set->n].name = xstrdup(name);
	if (!set->v[set->n].name) {
		sb_schema_destroy(s);
		snprintf(err, errlen, "%s: out of memory", name);
		return SB_ERR_NOMEM;
	}
	set->v[set->n++].schema = s;
	return SB_OK;
}

enum sb_err sb_schema_set_load(struct sb_schema_set **out, const char *dir,
			       char *err, size_t errlen)
{
	char dummy[1];
	char *names[MAX_SET_FILES];
	size_t nnames = 0, i;
	struct sb_schema_set *set = NULL;
	struct dirent *de;
	enum sb_err rc = SB_OK;
	DIR *d;

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!out || !dir) {
		snprintf(err, errlen, "no directory");
		return SB_ERR_INVAL;
	}
	*out = NULL;
	d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return SB_ERR_IO;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") ||
		    !strcmp(de->d_name, "topics.json"))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
			continue;
		if (nnames == MAX_SET_FILES) {
			snprintf(err, errlen, "%s: more than %d schema files", dir, MAX_SET_FILES);
			rc = SB_ERR_LIMIT;
			break;
		}
		if (!(names[nnames] = xstrdup(de->d_name))) {
			snprintf(err, errlen, "out of memory");
			rc = SB_ERR_NOMEM;
			break;
		}
		nnames++;
	}
	closedir(d);
	if (rc)
		goto out;
	qsort(names, nnames, sizeof(names[0]), cmp_names);
	set = calloc(1, sizeof(*set));
	if (!set || !(set->v = calloc(nnames ? nnames : 1, sizeof(*set->v)))) {
		snprintf(err, errlen, "out of memory");
		rc = SB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nnames && !rc; i++)
		rc = load_one(set, dir, names[i], err, errlen);
out:
	for (i = 0; i < nnames; i++)
		free(names[i]);
	if (rc) {
		sb_schema_set_destroy(set);
		return rc;
	}
	*out = set;
	return SB_OK;
}

const struct sb_schema *sb_schema_set_get(const struct sb_schema_set *set,
					  const char *name)
{
	if (!set || !name)
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].name, name))
			return set->v[i].schema;
	return NULL;
}

void sb_schema_set_destroy(struct sb_schema_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; set->v && i < set->n; i++) {
		free(set->v[i].name);
		sb_schema_destroy(set->v[i].schema);
	}
	free(set->v);
	free(set);
}
