/* SPDX-License-Identifier: MIT
 *
 * schema_validate.c - validating a document against a compiled schema.
 *
 * Validation stops at the first failure and writes the reason, "<json
 * pointer>: <what>", straight into the caller's buffer; it allocates
 * nothing but PCRE2's match block, once a pattern runs.  Inside
 * anyOf/oneOf/not a failing branch is expected, so no reason is rendered
 * there at all, except for a search that hit a limit: that ends the whole
 * validation as a failure, since under `not` a failed branch would accept.
 */
#include "schema_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EQUAL_DEPTH 1000        /* = cJSON's own nesting limit */

static const struct {
	const char *name;
	unsigned bit;
} type_names[] = {
	{ "null", T_NULL }, { "boolean", T_BOOLEAN }, { "object", T_OBJECT },
	{ "array", T_ARRAY }, { "number", T_NUMBER }, { "integer", T_INTEGER },
	{ "string", T_STRING },
};

unsigned sb_schema_type_bit(const char *name)
{
	unsigned bit = 0;

	for (size_t i = 0; i < SB_ARRAY_LEN(type_names); i++)
		if (!strcmp(name, type_names[i].name))
			bit = type_names[i].bit;
	return bit;
}

/* ---- rendering values ----------------------------------------------------- */

/* Shortest text that reads back as `d`: "100", "0.5", "1e+300". */
static void fmt_num(double d, char *buf, size_t len)
{
	if (sb_schema_is_int(d) && fabs(d) < 1e17) {
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
	bool aborted;           /* a search hit a limit: the document fails */
	struct sb_schema_re_scratch *re;        /* made by the first search */
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
	char loc[SB_SCHEMA_LOC_MAX];
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
		sb_schema_loc_append(loc, &len, v->seg[i].key ? v->seg[i].key : b);
	}
	n = (int)sb_schema_put_loc(v->reason, v->reasonlen, loc, len);
	if ((size_t)n < v->reasonlen) {
		va_start(ap, fmt);
		vsnprintf(v->reason + n, v->reasonlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	v->have = true;
}

/* Runs one search.  A search that could not finish ends the validation
 * with a reason, even inside anyOf/oneOf/not, and reads as a failure. */
static bool search(struct vctx *v, const struct sb_schema_re *re, const char *s,
		   const char *what, bool *match)
{
	char why[96], q[96], p[96];
	bool quiet = v->quiet;
	int rc = sb_schema_re_search(re, s, &v->re, why, sizeof(why));

	*match = rc == SB_SCHEMA_RE_MATCH;
	if (rc != SB_SCHEMA_RE_ERROR)
		return true;
	quote(q, sizeof(q), s, 64);
	quote(p, sizeof(p), sb_schema_re_source(re), 64);
	v->quiet = false;
	vfail(v, "pattern %s gave up on %s%s: %s", p, what, q, why);
	v->quiet = quiet;
	v->aborted = true;
	return false;
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

static bool v_node(struct vctx *v, const struct sb_schema_node *n, const cJSON *x, int depth);

static unsigned inst_type(const cJSON *x)
{
	switch (x->type & 0xFF) {
	case cJSON_NULL: return T_NULL;
	case cJSON_True: case cJSON_False: return T_BOOLEAN;
	case cJSON_Number:
		return T_NUMBER | (sb_schema_is_int(x->valuedouble) ? T_INTEGER : 0);
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

static void enum_fail(struct vctx *v, const struct sb_schema_node *n, const cJSON *x)
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

static bool v_number(struct vctx *v, const struct sb_schema_node *n, double d)
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

		if (sb_schema_is_int(d) && sb_schema_is_int(n->multiple) &&
		    fabs(d) < 9007199254740992.0 && n->multiple < 9007199254740992.0) {
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

static bool v_string(struct vctx *v, const struct sb_schema_node *n, const char *s)
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
	if (n->pattern) {
		bool match;

		if (!search(v, n->pattern, s, "", &match))
			return false;
		if (!match) {
			if (want(v)) {
				char p[96];

				quote(q, sizeof(q), s, 64);
				quote(p, sizeof(p), sb_schema_re_source(n->pattern), 64);
				vfail(v, "%s does not match pattern %s", q, p);
			}
			return false;
		}
	}
	if (n->format && !sb_schema_format_ok(n->format, s)) {
		if (want(v)) {
			quote(q, sizeof(q), s, 64);
			vfail(v, "%s is not a valid %s", q, sb_schema_format_name(n->format));
		}
		return false;
	}
	return true;
}

static bool v_array(struct vctx *v, const struct sb_schema_node *n, const cJSON *x, int depth)
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
			const struct sb_schema_node *s = i < n->n_prefix ? n->prefix[i] : n->items;
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

static bool v_object(struct vctx *v, const struct sb_schema_node *n, const cJSON *x, int depth)
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
			bool match;

			ok = search(v, n->pprops[i].re, m->string, "the property name ", &match);
			if (ok && match) {
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

/* The in-place applicators: $ref, allOf, then anyOf, oneOf and not, whose
 * failing branches are expected and so are checked quietly. */
static bool v_applicators(struct vctx *v, const struct sb_schema_node *n, const cJSON *x,
			  int depth)
{
	if (n->ref && !v_node(v, n->ref, x, depth + 1))
		return false;
	for (size_t i = 0; i < n->n_all; i++)
		if (!v_node(v, n->all_of[i], x, depth + 1))
			return false;
	if (n->n_any || n->n_one || n->not_schema) {
		bool quiet = v->quiet;
		size_t hits = 0;

		v->quiet = true;
		for (size_t i = 0; n->n_any && i < n->n_any && !hits && !v->aborted; i++)
			hits += v_node(v, n->any_of[i], x, depth + 1);
		v->quiet = quiet;
		if (v->aborted)
			return false;
		if (n->n_any && !hits) {
			vfail(v, "matches no schema in anyOf");
			return false;
		}
		hits = 0;
		v->quiet = true;
		for (size_t i = 0; i < n->n_one && hits < 2 && !v->aborted; i++)
			hits += v_node(v, n->one_of[i], x, depth + 1);
		v->quiet = quiet;
		if (v->aborted)
			return false;
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
			if (v->aborted)
				return false;
			if (hits) {
				vfail(v, "must not match the schema in not");
				return false;
			}
		}
	}
	return true;
}

static bool v_node(struct vctx *v, const struct sb_schema_node *n, const cJSON *x, int depth)
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
	return v_applicators(v, n, x, depth);
}

enum sb_err sb_schema_validate(const struct sb_schema *schema, const cJSON *doc,
			       char *reason, size_t reasonlen)
{
	struct vctx v = { .reason = reason, .reasonlen = reasonlen };
	bool ok;

	if (reason && reasonlen)
		reason[0] = '\0';
	if (!schema || !doc) {
		if (reason && reasonlen)
			snprintf(reason, reasonlen, "/: no schema or no document");
		return SB_ERR_INVAL;
	}
	ok = v_node(&v, schema->root, doc, 0);
	sb_schema_re_scratch_free(v.re);
	return ok ? SB_OK : SB_ERR_INVAL;
}
