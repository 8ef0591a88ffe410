/* SPDX-License-Identifier: MIT
 *
 * schema_keywords.c - what each JSON Schema keyword compiles to: one
 * handler a keyword, found through one table, each checking the keyword's
 * value and filling its node.  Keywords we know and do not implement are
 * refused by name rather than half-checked; annotations and "x-"
 * extensions are accepted and have no effect.
 */
#include "schema_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MEMBERS 1024            /* members of one schema object/map */

/* ---- values shared by several keywords ------------------------------------ */

static bool get_count(const cJSON *v, size_t *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!(d >= 0) || !sb_schema_is_int(d))
		return false;
	*out = d >= 9007199254740992.0 ? SIZE_MAX - 1 : (size_t)d;
	return true;
}

static enum sb_err check_size(struct sb_schema_cctx *c, const cJSON *v)
{
	if (cJSON_GetArraySize(v) > MAX_MEMBERS)
		return sb_schema_cfail(c, SB_ERR_LIMIT, "more than %d members", MAX_MEMBERS);
	return SB_OK;
}

/* The value of an object-valued keyword: checked, and a zeroed array with
 * one `size` slot per member (and one more, so that {} allocates too). */
static void *member_slots(struct sb_schema_cctx *c, const cJSON *v, size_t size,
			  enum sb_err *rc)
{
	void *slots;

	if (!cJSON_IsObject(v)) {
		*rc = sb_schema_cfail(c, SB_ERR_INVAL, "must be an object");
		return NULL;
	}
	if ((*rc = check_size(c, v)))
		return NULL;
	slots = calloc((size_t)cJSON_GetArraySize(v) + 1, size);
	if (!slots)
		*rc = sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
	return slots;
}

/* An array of unique strings, copied. */
static enum sb_err string_set(struct sb_schema_cctx *c, const cJSON *v, char ***out, size_t *n)
{
	const cJSON *x, *y;
	size_t cnt = 0;
	enum sb_err rc;

	if (!cJSON_IsArray(v))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be an array of strings");
	if ((rc = check_size(c, v)))
		return rc;
	cJSON_ArrayForEach(x, v) {
		if (!cJSON_IsString(x))
			return sb_schema_cfail(c, SB_ERR_INVAL, "must be an array of strings");
		for (y = v->child; y != x; y = y->next)
			if (!strcmp(x->valuestring, y->valuestring))
				return sb_schema_cfail(c, SB_ERR_INVAL,
						       "\"%s\" is listed twice", x->valuestring);
		cnt++;
	}
	*out = calloc(cnt ? cnt : 1, sizeof(char *));
	if (!*out)
		return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
	cJSON_ArrayForEach(x, v) {
		if (!((*out)[*n] = strdup(x->valuestring)))
			return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
		(*n)++;
	}
	return SB_OK;
}

static enum sb_err schema_array(struct sb_schema_cctx *c, const cJSON *v, int depth,
				struct sb_schema_node ***out, size_t *n)
{
	const cJSON *x;
	size_t cnt, old;
	enum sb_err rc;

	if (!cJSON_IsArray(v) || !(cnt = (size_t)cJSON_GetArraySize(v)))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be a non-empty array of schemas");
	if ((rc = check_size(c, v)))
		return rc;
	if (!(*out = calloc(cnt, sizeof(**out))))
		return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
	cJSON_ArrayForEach(x, v) {
		old = sb_schema_loc_push_idx(c, *n);
		rc = sb_schema_compile_node(c, x, depth + 1, &(*out)[*n]);
		sb_schema_loc_pop(c, old);
		if (rc)
			return rc;
		(*n)++;
	}
	return SB_OK;
}

/* ---- the keywords --------------------------------------------------------- */

/* JSON pointer (already percent-decoded) into the schema document. */
static const cJSON *resolve_pointer(const cJSON *root, const char *ptr)
{
	const cJSON *cur = root;
	char tok[SB_SCHEMA_LOC_MAX];

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

			if (!n || (n > 1 && tok[0] == '0') || !sb_schema_digits(tok, (int)n) ||
			    n > 9)
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

static enum sb_err kw_ref(struct sb_schema_cctx *c, struct sb_schema_node *n,
			  const char *k, const cJSON *v, int depth)
{
	char ptr[SB_SCHEMA_LOC_MAX], saved[SB_SCHEMA_LOC_MAX];
	const char *ref, *frag;
	const cJSON *target;
	size_t savedlen, o = 0;
	enum sb_err rc;

	if (!cJSON_IsString(v))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be a string");
	ref = v->valuestring;
	if (ref[0] == '#') {
		frag = ref + 1;
	} else if (c->root_id_len && !strncmp(ref, c->root_id, c->root_id_len) &&
		   (ref[c->root_id_len] == '\0' || ref[c->root_id_len] == '#')) {
		frag = ref[c->root_id_len] ? ref + c->root_id_len + 1 : "";
	} else {
		return sb_schema_cfail(c, SB_ERR_INVAL,
				       "\"%s\": only references within this document (\"#...\") are supported",
				       ref);
	}
	if (*frag && *frag != '/')
		return sb_schema_cfail(c, SB_ERR_INVAL,
				       "\"%s\": anchors are not supported, use a JSON pointer",
				       ref);
	for (; *frag; frag++) {
		char ch = *frag;

		if (ch == '%') {
			int hi = sb_schema_hexval(frag[1]);
			int lo = hi < 0 ? -1 : sb_schema_hexval(frag[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return sb_schema_cfail(c, SB_ERR_INVAL,
						       "\"%s\": bad percent-encoding", ref);
			ch = (char)(hi * 16 + lo);
			frag += 2;
		}
		if (o + 1 >= sizeof(ptr))
			return sb_schema_cfail(c, SB_ERR_LIMIT, "\"%s\": pointer too long", ref);
		ptr[o++] = ch;
	}
	ptr[o] = '\0';
	target = resolve_pointer(c->root, ptr);
	if (!target)
		return sb_schema_cfail(c, SB_ERR_INVAL,
				       "\"%s\": no such location in this document", ref);

	memcpy(saved, c->loc, c->loclen + 1);
	savedlen = c->loclen;
	memcpy(c->loc, ptr, o + 1);
	c->loclen = o;
	rc = sb_schema_compile_node(c, target, depth + 1, &n->ref);
	memcpy(c->loc, saved, savedlen + 1);
	c->loclen = savedlen;
	return rc;
}

static enum sb_err kw_type(struct sb_schema_cctx *c, struct sb_schema_node *n,
			   const char *k, const cJSON *v, int depth)
{
	const cJSON *x;
	bool arr = cJSON_IsArray(v);

	if (!arr && !cJSON_IsString(v))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be a type name or an array of them");
	for (x = arr ? v->child : v; x; x = arr ? x->next : NULL) {
		unsigned bit;

		if (!cJSON_IsString(x))
			return sb_schema_cfail(c, SB_ERR_INVAL,
					       "must be a type name or an array of them");
		bit = sb_schema_type_bit(x->valuestring);
		if (!bit)
			return sb_schema_cfail(c, SB_ERR_INVAL,
					       "unknown type \"%s\"", x->valuestring);
		if (n->types & bit)
			return sb_schema_cfail(c, SB_ERR_INVAL,
					       "type \"%s\" is listed twice", x->valuestring);
		n->types |= bit;
	}
	if (!n->types)
		return sb_schema_cfail(c, SB_ERR_INVAL, "must list at least one type");
	return SB_OK;
}

static enum sb_err kw_enum(struct sb_schema_cctx *c, struct sb_schema_node *n,
			   const char *k, const cJSON *v, int depth)
{
	if (!cJSON_IsArray(v))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be an array");
	if (!(n->enum_vals = cJSON_Duplicate(v, 1)))
		return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
	n->flags |= HAS_ENUM;
	return SB_OK;
}

static enum sb_err kw_const(struct sb_schema_cctx *c, struct sb_schema_node *n,
			    const char *k, const cJSON *v, int depth)
{
	if (!(n->const_val = cJSON_Duplicate(v, 1)))
		return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
	n->flags |= HAS_CONST;
	return SB_OK;
}

static enum sb_err kw_number(struct sb_schema_cctx *c, struct sb_schema_node *n,
			     const char *k, const cJSON *v, int depth)
{
	double d;

	if (!cJSON_IsNumber(v))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be a number");
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
			return sb_schema_cfail(c, SB_ERR_INVAL, "must be greater than 0");
		n->multiple = d;
		n->flags |= HAS_MULT;
	}
	return SB_OK;
}

static enum sb_err kw_count(struct sb_schema_cctx *c, struct sb_schema_node *n,
			    const char *k, const cJSON *v, int depth)
{
	static const struct {
		const char *name;
		size_t off;
	} map[] = {
		{ "minLength", offsetof(struct sb_schema_node, min_len) },
		{ "maxLength", offsetof(struct sb_schema_node, max_len) },
		{ "minItems", offsetof(struct sb_schema_node, min_items) },
		{ "maxItems", offsetof(struct sb_schema_node, max_items) },
		{ "minProperties", offsetof(struct sb_schema_node, min_props) },
		{ "maxProperties", offsetof(struct sb_schema_node, max_props) },
	};
	size_t val;

	if (!get_count(v, &val))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be a non-negative integer");
	for (size_t i = 0; i < SB_ARRAY_LEN(map); i++)
		if (!strcmp(k, map[i].name))
			*(size_t *)(void *)((char *)n + map[i].off) = val;
	return SB_OK;
}

static enum sb_err kw_unique(struct sb_schema_cctx *c, struct sb_schema_node *n,
			     const char *k, const cJSON *v, int depth)
{
	if (!cJSON_IsBool(v))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be a boolean");
	n->unique = cJSON_IsTrue(v);
	return SB_OK;
}

static enum sb_err kw_pattern(struct sb_schema_cctx *c, struct sb_schema_node *n,
			      const char *k, const cJSON *v, int depth)
{
	if (!cJSON_IsString(v))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be a string");
	return sb_schema_re_compile(c, v->valuestring, &n->pattern);
}

static enum sb_err kw_format(struct sb_schema_cctx *c, struct sb_schema_node *n,
			     const char *k, const cJSON *v, int depth)
{
	if (!cJSON_IsString(v))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be a string");
	n->format = sb_schema_format_find(v->valuestring);
	if (n->format)
		return SB_OK;
	return sb_schema_cfail(c, SB_ERR_INVAL,
			       "format \"%s\" is not supported (date-time, date, time, uuid are)",
			       v->valuestring);
}

static enum sb_err kw_required(struct sb_schema_cctx *c, struct sb_schema_node *n,
			       const char *k, const cJSON *v, int depth)
{
	return string_set(c, v, &n->required, &n->n_required);
}

static enum sb_err kw_dependent_required(struct sb_schema_cctx *c, struct sb_schema_node *n,
					 const char *k, const cJSON *v, int depth)
{
	const cJSON *x;
	enum sb_err rc;
	size_t old;

	if (!(n->deps = member_slots(c, v, sizeof(*n->deps), &rc)))
		return rc;
	cJSON_ArrayForEach(x, v) {
		struct sb_schema_dep *d = &n->deps[n->n_deps++];

		if (!(d->name = strdup(x->string)))
			return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
		old = sb_schema_loc_push(c, x->string);
		rc = string_set(c, x, &d->req, &d->n);
		sb_schema_loc_pop(c, old);
		if (rc)
			return rc;
	}
	return SB_OK;
}

static enum sb_err kw_properties(struct sb_schema_cctx *c, struct sb_schema_node *n,
				 const char *k, const cJSON *v, int depth)
{
	const cJSON *x, *y;
	enum sb_err rc;
	size_t old;

	if (!(n->props = member_slots(c, v, sizeof(*n->props), &rc)))
		return rc;
	cJSON_ArrayForEach(x, v) {
		struct sb_schema_prop *p = &n->props[n->n_props];

		for (y = v->child; y != x; y = y->next)
			if (!strcmp(x->string, y->string))
				return sb_schema_cfail(c, SB_ERR_INVAL,
						       "property \"%s\" is defined twice",
						       x->string);
		if (!(p->name = strdup(x->string)))
			return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
		n->n_props++;
		old = sb_schema_loc_push(c, x->string);
		rc = sb_schema_compile_node(c, x, depth + 1, &p->schema);
		sb_schema_loc_pop(c, old);
		if (rc)
			return rc;
	}
	return SB_OK;
}

static enum sb_err kw_pattern_properties(struct sb_schema_cctx *c, struct sb_schema_node *n,
					 const char *k, const cJSON *v, int depth)
{
	const cJSON *x;
	enum sb_err rc;
	size_t old;

	if (!(n->pprops = member_slots(c, v, sizeof(*n->pprops), &rc)))
		return rc;
	cJSON_ArrayForEach(x, v) {
		struct sb_schema_pprop *p = &n->pprops[n->n_pprops];

		old = sb_schema_loc_push(c, x->string);
		rc = sb_schema_re_compile(c, x->string, &p->re);
		if (!rc) {
			n->n_pprops++;
			rc = sb_schema_compile_node(c, x, depth + 1, &p->schema);
		}
		sb_schema_loc_pop(c, old);
		if (rc)
			return rc;
	}
	return SB_OK;
}

static enum sb_err kw_subschema(struct sb_schema_cctx *c, struct sb_schema_node *n,
				const char *k, const cJSON *v, int depth)
{
	struct sb_schema_node **slot;

	if (!strcmp(k, "additionalProperties"))
		slot = &n->additional;
	else if (!strcmp(k, "not"))
		slot = &n->not_schema;
	else
		slot = &n->items;
	if (cJSON_IsArray(v) && slot == &n->items)
		return sb_schema_cfail(c, SB_ERR_INVAL,
				       "an array of schemas is draft 7 syntax: use prefixItems");
	return sb_schema_compile_node(c, v, depth + 1, slot);
}

static enum sb_err kw_schema_array(struct sb_schema_cctx *c, struct sb_schema_node *n,
				   const char *k, const cJSON *v, int depth)
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
static enum sb_err kw_defs(struct sb_schema_cctx *c, struct sb_schema_node *n,
			   const char *k, const cJSON *v, int depth)
{
	struct sb_schema_node *unused;
	const cJSON *x;
	enum sb_err rc;
	size_t old;

	if (!cJSON_IsObject(v))
		return sb_schema_cfail(c, SB_ERR_INVAL, "must be an object");
	if ((rc = check_size(c, v)))
		return rc;
	cJSON_ArrayForEach(x, v) {
		old = sb_schema_loc_push(c, x->string);
		rc = sb_schema_compile_node(c, x, depth + 1, &unused);
		sb_schema_loc_pop(c, old);
		if (rc)
			return rc;
	}
	return SB_OK;
}

static enum sb_err kw_annotation(struct sb_schema_cctx *c, struct sb_schema_node *n,
				 const char *k, const cJSON *v, int depth)
{
	return SB_OK;
}

/* ---- the table ------------------------------------------------------------ */

typedef enum sb_err (*kw_fn)(struct sb_schema_cctx *, struct sb_schema_node *, const char *,
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

enum sb_err sb_schema_compile_keywords(struct sb_schema_cctx *c, struct sb_schema_node *n,
				       const cJSON *js, int depth)
{
	const cJSON *m, *p;
	enum sb_err rc;

	if ((rc = check_size(c, js)))
		return rc;
	cJSON_ArrayForEach(m, js) {
		const char *k = m->string;
		kw_fn fn = NULL;
		size_t old;

		for (p = js->child; p != m; p = p->next)
			if (!strcmp(p->string, k))
				return sb_schema_cfail(c, SB_ERR_INVAL,
						       "keyword \"%s\" appears twice", k);
		old = sb_schema_loc_push(c, k);
		for (size_t i = 0; i < SB_ARRAY_LEN(keywords) && !fn; i++)
			if (!strcmp(k, keywords[i].name))
				fn = keywords[i].fn;
		if (!fn) {
			for (size_t i = 0; i < SB_ARRAY_LEN(unsupported); i++)
				if (!strcmp(k, unsupported[i]))
					return sb_schema_cfail(c, SB_ERR_INVAL,
							       "keyword \"%s\" is not supported", k);
			if (strncmp(k, "x-", 2) != 0)
				return sb_schema_cfail(c, SB_ERR_INVAL,
						       "unknown keyword \"%s\" (extensions must start with \"x-\")",
						       k);
			fn = kw_annotation;
		}
		if (!strcmp(k, "$id") && js != c->root)
			return sb_schema_cfail(c, SB_ERR_INVAL,
					       "$id is supported only at the root of the document");
		rc = fn(c, n, k, m, depth);
		sb_schema_loc_pop(c, old);
		if (rc)
			return rc;
	}
	return SB_OK;
}
