/* SPDX-License-Identifier: MIT
 *
 * fuzz_json.c - a strict JSON checker (RFC 8259) for the fuzzers' oracles.
 * Written from the RFC, sharing no code with the bridge (cJSON is laxer:
 * it takes raw control characters and any byte in strings, "01" and "1."),
 * so that a frame the bridge thinks is fine is checked by something that
 * does not share its mistakes.
 */
#include "fuzz_common.h"

#define MAX_DEPTH 4096

struct jp {
	const unsigned char *s;
	size_t n, i;
	int depth;
};

/* Length of the UTF-8 sequence at s (left bytes available), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned c = s[0];
	size_t n;
	uint32_t cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; min = 0x80; }
	else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; min = 0x800; }
	else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; min = 0x10000; }
	else return 0;
	if (left < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

int fz_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k;

	while (i < n) {
		if (!(k = utf8_seq(s + i, n - i)))
			return 0;
		i += k;
	}
	return 1;
}

static void ws(struct jp *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
			       p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static int is_hex(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int string(struct jp *p)
{
	if (p->i >= p->n || p->s[p->i] != '"')
		return 0;
	p->i++;
	while (p->i < p->n) {
		unsigned c = p->s[p->i];
		size_t k;

		if (c == '"') {
			p->i++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (++p->i >= p->n)
				return 0;
			c = p->s[p->i];
			if (c == 'u') {
				if (p->n - p->i < 5)
					return 0;
				for (k = 1; k <= 4; k++)
					if (!is_hex(p->s[p->i + k]))
						return 0;
				p->i += 5;
			} else if (c && strchr("\"\\/bfnrt", (int)c)) {
				p->i++;
			} else {
				return 0;
			}
			continue;
		}
		if (!(k = utf8_seq(p->s + p->i, p->n - p->i)))
			return 0;
		p->i += k;
	}
	return 0;
}

static int digits(struct jp *p)
{
	size_t start = p->i;

	while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
		p->i++;
	return p->i > start;
}

static int number(struct jp *p)
{
	if (p->i < p->n && p->s[p->i] == '-')
		p->i++;
	if (p->i < p->n && p->s[p->i] == '0')
		p->i++;
	else if (!(p->i < p->n && p->s[p->i] >= '1' && p->s[p->i] <= '9') || !digits(p))
		return 0;
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (!digits(p))
			return 0;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (!digits(p))
			return 0;
	}
	return 1;
}

static int literal(struct jp *p, const char *word)
{
	size_t l = strlen(word);

	if (p->n - p->i < l || memcmp(p->s + p->i, word, l) != 0)
		return 0;
	p->i += l;
	return 1;
}

static int value(struct jp *p);

/* The members of an object or the items of an array after the opening
 * bracket, through the closing one. */
static int container(struct jp *p, int object)
{
	unsigned close = object ? '}' : ']';

	if (++p->depth > MAX_DEPTH)
		return 0;
	p->i++;
	ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		p->depth--;
		return 1;
	}
	for (;;) {
		if (object) {
			if (!string(p))
				return 0;
			ws(p);
			if (p->i >= p->n || p->s[p->i] != ':')
				return 0;
			p->i++;
			ws(p);
		}
		if (!value(p))
			return 0;
		ws(p);
		if (p->i >= p->n)
			return 0;
		if (p->s[p->i] == close) {
			p->i++;
			p->depth--;
			return 1;
		}
		if (p->s[p->i] != ',')
			return 0;
		p->i++;
		ws(p);
	}
}

static int value(struct jp *p)
{
	if (p->i >= p->n)
		return 0;
	switch (p->s[p->i]) {
	case '{': return container(p, 1);
	case '[': return container(p, 0);
	case '"': return string(p);
	case 't': return literal(p, "true");
	case 'f': return literal(p, "false");
	case 'n': return literal(p, "null");
	default: return number(p);
	}
}

int fz_json_strict(const char *s, size_t n)
{
	struct jp p = { (const unsigned char *)s, n, 0, 0 };

	ws(&p);
	if (!value(&p))
		return 0;
	ws(&p);
	return p.i == n;
}

int fz_json_nul_escape(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	int in_str = 0;

	for (size_t i = 0; i < n; i++) {
		if (!in_str) {
			in_str = s[i] == '"';
			continue;
		}
		if (s[i] == '"') {
			in_str = 0;
		} else if (s[i] == '\\' && i + 1 < n) {
			if (s[i + 1] == 'u') {
				if (n - i < 6)
					return 1;
				for (int k = 2; k < 6; k++)
					if (!is_hex(s[i + k]))
						return 1;
				if (memcmp(s + i + 2, "0000", 4) == 0)
					return 1;
			}
			i++;
		}
	}
	return 0;
}
