/* SPDX-License-Identifier: MIT
 *
 * schema_internal.h - what the pieces of the schema module share, and only
 * they: the compiled form (a graph of nodes) and the calls between
 * schema.c (the compile driver), schema_keywords.c (one handler per
 * keyword), schema_validate.c, schema_regex.c and schema_format.c.
 * Callers use schema.h; nothing outside bridge/domain/schema*.c includes
 * this file.
 */
#ifndef SB_SCHEMA_INTERNAL_H
#define SB_SCHEMA_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#include "schema.h"

#define SB_SCHEMA_LOC_MAX 512       /* bytes of a JSON pointer in a reason */

/* ---- compiled form -------------------------------------------------------- */

enum {
	T_NULL = 1, T_BOOLEAN = 2, T_OBJECT = 4, T_ARRAY = 8,
	T_NUMBER = 16, T_INTEGER = 32, T_STRING = 64,
};

enum sb_schema_fmt { F_NONE = 0, F_DATE_TIME, F_DATE, F_TIME, F_UUID };

enum {
	HAS_MIN = 1, HAS_MAX = 2, HAS_XMIN = 4, HAS_XMAX = 8, HAS_MULT = 16,
	HAS_CONST = 32, HAS_ENUM = 64,
};

struct sb_schema_re;            /* a compiled `pattern`, schema_regex.c */

struct sb_schema_prop {
	char *name;
	struct sb_schema_node *schema;
};

struct sb_schema_pprop {
	struct sb_schema_re *re;
	struct sb_schema_node *schema;
};

struct sb_schema_dep {
	char *name;
	char **req;
	size_t n;
};

struct sb_schema_node {
	bool boolean;           /* a `true`/`false` schema */
	bool value;
	unsigned types;         /* T_* mask, 0 = any */
	unsigned flags;         /* HAS_* */
	double minimum, maximum, xmin, xmax, multiple;
	size_t min_len, max_len;        /* max SIZE_MAX = none */
	size_t min_items, max_items;
	size_t min_props, max_props;
	bool unique;
	enum sb_schema_fmt format;
	struct sb_schema_re *pattern;
	cJSON *enum_vals;
	cJSON *const_val;
	struct sb_schema_prop *props;
	size_t n_props;
	struct sb_schema_pprop *pprops;
	size_t n_pprops;
	struct sb_schema_node *additional;
	char **required;
	size_t n_required;
	struct sb_schema_dep *deps;
	size_t n_deps;
	struct sb_schema_node **prefix;
	size_t n_prefix;
	struct sb_schema_node *items;
	struct sb_schema_node *ref;
	struct sb_schema_node **all_of, **any_of, **one_of;
	size_t n_all, n_any, n_one;
	struct sb_schema_node *not_schema;
	char *loc;              /* schema location, for compile errors */
	int mark;               /* cycle check: 0 new, 1 on stack, 2 done */
};

struct sb_schema {
	struct sb_schema_node **nodes;
	size_t n, cap;
	struct sb_schema_node *root;
};

/* ---- compiling (schema.c, schema_keywords.c) ------------------------------ */

/* The state of one sb_schema_compile() call. */
struct sb_schema_cctx {
	struct sb_schema *s;
	const cJSON *root;
	const char *root_id;
	size_t root_id_len;
	struct sb_schema_map_ent *map;  /* schema JSON -> its node, for $ref */
	size_t nmap, capmap;
	char loc[SB_SCHEMA_LOC_MAX];    /* where in the schema we are */
	size_t loclen;
	char *err;
	size_t errlen;
	bool failed;
};

/* Writes "<loc>: <fmt...>" into the caller's err (the first failure only)
 * and returns rc. */
enum sb_err sb_schema_cfail(struct sb_schema_cctx *c, enum sb_err rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends a JSON pointer segment to c->loc and returns the old length,
 * for sb_schema_loc_pop(). */
size_t sb_schema_loc_push(struct sb_schema_cctx *c, const char *seg);
size_t sb_schema_loc_push_idx(struct sb_schema_cctx *c, size_t i);
void sb_schema_loc_pop(struct sb_schema_cctx *c, size_t old);

/* Compiles the schema `js` (or finds its node, compiled already) into
 * *out, a node of c->s. */
enum sb_err sb_schema_compile_node(struct sb_schema_cctx *c, const cJSON *js, int depth,
				   struct sb_schema_node **out);

/* Applies every keyword of the schema object `js` to its node `n`. */
enum sb_err sb_schema_compile_keywords(struct sb_schema_cctx *c, struct sb_schema_node *n,
				       const cJSON *js, int depth);

/* ---- JSON pointers in reasons (schema.c) ---------------------------------- */

/* Appends "/seg" to loc (escaping ~ and /), never past SB_SCHEMA_LOC_MAX. */
void sb_schema_loc_append(char *loc, size_t *len, const char *seg);

/* Writes "<pointer>: " to buf, abbreviating a long pointer to its start
 * and end so that the reason after it still fits.  Returns bytes written. */
size_t sb_schema_put_loc(char *buf, size_t len, const char *loc, size_t loclen);

/* ---- types (schema_validate.c) -------------------------------------------- */

/* The T_* bit of a type name, 0 when there is no such type. */
unsigned sb_schema_type_bit(const char *name);

/* ---- patterns (schema_regex.c) -------------------------------------------- */

/* Compiles `src` with PCRE2 in its ECMA-262-like dialect (docs/schemas.md).
 * A pattern that does not compile fails through sb_schema_cfail() with
 * PCRE2's message and the offset of the error.  Free *out with
 * sb_schema_re_free(). */
enum sb_err sb_schema_re_compile(struct sb_schema_cctx *c, const char *src,
				 struct sb_schema_re **out);

/* How a search ended.  SB_SCHEMA_RE_ERROR means it could not tell: a
 * step, depth or memory limit was hit, or `s` is not UTF-8.  The caller
 * must not read it as a no-match (under `not` that would accept the
 * document). */
enum { SB_SCHEMA_RE_ERROR = -1, SB_SCHEMA_RE_NOMATCH = 0, SB_SCHEMA_RE_MATCH = 1 };

/* What one validation needs to run searches (PCRE2's match block); made
 * by the first search, freed with sb_schema_re_scratch_free(). */
struct sb_schema_re_scratch;

/* Searches `s` for `re` anywhere (JSON Schema patterns are not anchored),
 * within limits that grow with the length of `s`.  *scratch is NULL
 * before the first search of a validation.  On SB_SCHEMA_RE_ERROR `why`
 * gets PCRE2's reason ("match limit exceeded"). */
int sb_schema_re_search(const struct sb_schema_re *re, const char *s,
			struct sb_schema_re_scratch **scratch, char *why, size_t whylen);

/* Accepts NULL. */
void sb_schema_re_scratch_free(struct sb_schema_re_scratch *scratch);

/* The pattern as written, for reasons. */
const char *sb_schema_re_source(const struct sb_schema_re *re);

/* Accepts NULL. */
void sb_schema_re_free(struct sb_schema_re *re);

/* ---- formats (schema_format.c) -------------------------------------------- */

/* F_NONE when `name` is not a supported format. */
enum sb_schema_fmt sb_schema_format_find(const char *name);
bool sb_schema_format_ok(enum sb_schema_fmt f, const char *s);
const char *sb_schema_format_name(enum sb_schema_fmt f);

/* ---- small helpers -------------------------------------------------------- */

static inline bool sb_schema_is_int(double d)
{
	return isfinite(d) && floor(d) == d;
}

/* True when s[0..n) are all ASCII digits. */
static inline bool sb_schema_digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static inline int sb_schema_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
