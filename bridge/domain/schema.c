/* SPDX-License-Identifier: MIT
 *
 * schema.c - a JSON Schema (2020-12 subset) compiler on cJSON: the driver.
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
 * The module's other pieces: schema_keywords.c (what each keyword compiles
 * to), schema_validate.c, schema_regex.c (`pattern`, on PCRE2), schema_format.c
 * (`format`) and schema_set.c (a directory of schemas); they share
 * schema_internal.h.
 */
#include "schema_internal.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 4096              /* compiled nodes in one schema */

/* ---- locations ------------------------------------------------------------ */

/* Writes "<pointer>: " to buf, abbreviating a long pointer to its start
 * and end so that the reason after it still fits.  Returns bytes written. */
size_t sb_schema_put_loc(char *buf, size_t len, const char *loc, size_t loclen)
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

enum sb_err sb_schema_cfail(struct sb_schema_cctx *c, enum sb_err rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->failed || !c->err || !c->errlen)
		goto out;
	n = (int)sb_schema_put_loc(c->err, c->errlen, c->loc, c->loclen);
	if ((size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
out:
	c->failed = true;
	return rc;
}

void sb_schema_loc_append(char *loc, size_t *len, const char *seg)
{
	if (*len + 1 < SB_SCHEMA_LOC_MAX)
		loc[(*len)++] = '/';
	for (; *seg && *len + 2 < SB_SCHEMA_LOC_MAX; seg++) {
		if (*seg == '~' || *seg == '/') {
			loc[(*len)++] = '~';
			loc[(*len)++] = *seg == '~' ? '0' : '1';
		} else {
			loc[(*len)++] = *seg;
		}
	}
	loc[*len] = '\0';
}

size_t sb_schema_loc_push(struct sb_schema_cctx *c, const char *seg)
{
	size_t old = c->loclen;

	sb_schema_loc_append(c->loc, &c->loclen, seg);
	return old;
}

size_t sb_schema_loc_push_idx(struct sb_schema_cctx *c, size_t i)
{
	char b[24];

	snprintf(b, sizeof(b), "%zu", i);
	return sb_schema_loc_push(c, b);
}

void sb_schema_loc_pop(struct sb_schema_cctx *c, size_t old)
{
	c->loclen = old;
	c->loc[old] = '\0';
}

/* ---- nodes ---------------------------------------------------------------- */

struct sb_schema_map_ent {
	const cJSON *js;
	struct sb_schema_node *n;
};

static void node_free(struct sb_schema_node *n)
{
	size_t i;

	if (!n)
		return;
	sb_schema_re_free(n->pattern);
	cJSON_Delete(n->enum_vals);
	cJSON_Delete(n->const_val);
	for (i = 0; i < n->n_props; i++)
		free(n->props[i].name);
	free(n->props);
	for (i = 0; i < n->n_pprops; i++)
		sb_schema_re_free(n->pprops[i].re);
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

static enum sb_err node_new(struct sb_schema_cctx *c, const cJSON *js,
			    struct sb_schema_node **out)
{
	struct sb_schema *s = c->s;
	struct sb_schema_node *n;

	if (s->n >= MAX_NODES)
		return sb_schema_cfail(c, SB_ERR_LIMIT, "schema has more than %d subschemas",
				       MAX_NODES);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct sb_schema_node **v = realloc(s->nodes, cap * sizeof(*v));

		if (!v)
			return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
		s->nodes = v;
		s->cap = cap;
	}
	if (c->nmap == c->capmap) {
		size_t cap = c->capmap ? c->capmap * 2 : 16;
		struct sb_schema_map_ent *m = realloc(c->map, cap * sizeof(*m));

		if (!m)
			return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
		c->map = m;
		c->capmap = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->loc = strdup(c->loclen ? c->loc : "/"))) {
		free(n);
		return sb_schema_cfail(c, SB_ERR_NOMEM, "out of memory");
	}
	n->max_len = n->max_items = n->max_props = SIZE_MAX;
	s->nodes[s->n++] = n;
	c->map[c->nmap].js = js;
	c->map[c->nmap++].n = n;
	*out = n;
	return SB_OK;
}

enum sb_err sb_schema_compile_node(struct sb_schema_cctx *c, const cJSON *js, int depth,
				   struct sb_schema_node **out)
{
	struct sb_schema_node *n = NULL;
	enum sb_err rc;

	for (size_t i = 0; i < c->nmap; i++) {
		if (c->map[i].js == js) {
			*out = c->map[i].n;
			return SB_OK;
		}
	}
	if (depth > SB_SCHEMA_MAX_DEPTH)
		return sb_schema_cfail(c, SB_ERR_LIMIT, "schema nested deeper than %d levels",
				       SB_SCHEMA_MAX_DEPTH);
	if (!cJSON_IsBool(js) && !cJSON_IsObject(js))
		return sb_schema_cfail(c, SB_ERR_INVAL, "a schema must be an object or a boolean");
	if ((rc = node_new(c, js, &n)))
		return rc;
	*out = n;
	if (cJSON_IsBool(js)) {
		n->boolean = true;
		n->value = cJSON_IsTrue(js);
		return SB_OK;
	}
	return sb_schema_compile_keywords(c, n, js, depth);
}

/* ---- cycles --------------------------------------------------------------- */

/* Cycles through in-place applicators ($ref, allOf, anyOf, oneOf, not)
 * never consume the instance: validation would recurse until the depth
 * bound on every document, so they are a compile error. */
static struct sb_schema_node *inplace_child(const struct sb_schema_node *n, size_t i)
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

static enum sb_err dfs(struct sb_schema_cctx *c, struct sb_schema_node *n, int depth)
{
	struct sb_schema_node *m;
	enum sb_err rc;

	if (depth > SB_SCHEMA_MAX_DEPTH) {
		snprintf(c->loc, sizeof(c->loc), "%s", n->loc);
		c->loclen = strlen(c->loc);
		return sb_schema_cfail(c, SB_ERR_LIMIT,
				       "chain of $ref/allOf/anyOf/oneOf/not deeper than %d levels",
				       SB_SCHEMA_MAX_DEPTH);
	}
	n->mark = 1;
	for (size_t i = 0; (m = inplace_child(n, i)); i++) {
		if (m->mark == 1) {
			snprintf(c->loc, sizeof(c->loc), "%s", n->loc);
			c->loclen = strlen(c->loc);
			return sb_schema_cfail(c, SB_ERR_INVAL,
					       "$ref cycle that never descends into the instance (it would loop forever)");
		}
		if (m->mark == 0 && (rc = dfs(c, m, depth + 1)))
			return rc;
	}
	n->mark = 2;
	return SB_OK;
}

/* ---- the API -------------------------------------------------------------- */

enum sb_err sb_schema_compile(struct sb_schema **out, const cJSON *schema,
			      char *err, size_t errlen)
{
	struct sb_schema_cctx c = { 0 };
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
		return sb_schema_cfail(&c, SB_ERR_NOMEM, "out of memory");
	id = cJSON_IsObject(schema) ? cJSON_GetObjectItemCaseSensitive(schema, "$id") : NULL;
	if (id) {
		if (!cJSON_IsString(id)) {
			sb_schema_loc_push(&c, "$id");
			rc = sb_schema_cfail(&c, SB_ERR_INVAL, "must be a string");
			goto fail;
		}
		c.root_id = id->valuestring;
		c.root_id_len = strlen(c.root_id);
		if (c.root_id_len && c.root_id[c.root_id_len - 1] == '#')
			c.root_id_len--;
	}
	rc = sb_schema_compile_node(&c, schema, 0, &c.s->root);
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
	free(schema);
}

