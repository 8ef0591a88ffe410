/* SPDX-License-Identifier: MIT
 *
 * schema.h - a JSON Schema (2020-12 subset) validator on cJSON, for the
 * payload contract of docs/protocol.md §8.
 *
 * Supported keywords are listed in docs/schemas.md.  A schema is compiled
 * once (sb_schema_compile) and then validates many documents; validation
 * allocates nothing unless a reason is asked for, and never recurses more
 * than SB_SCHEMA_MAX_DEPTH levels.
 *
 * Pure module: no MQTT or WebSocket headers.  A compiled schema is
 * read-only and may be shared between threads.
 */
#ifndef SB_SCHEMA_H
#define SB_SCHEMA_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "sb_common.h"

#define SB_SCHEMA_MAX_DEPTH 64

struct sb_schema;
struct sb_schema_set;

/* Compiles `schema` (not kept: the compiled form copies what it needs).
 * `$ref` within the same document ("#", "#/$defs/x", "#/definitions/x",
 * JSON pointers) is resolved at compile time.  Unsupported keywords that
 * would change the outcome are an error naming the keyword, never silently
 * ignored; annotations ($schema, $id, title, description, examples,
 * $comment, default, deprecated, readOnly, writeOnly) are accepted.
 * Caller frees *out with sb_schema_destroy(). */
enum sb_err sb_schema_compile(struct sb_schema **out, const cJSON *schema,
			      char *err, size_t errlen);

/* Accepts NULL. */
void sb_schema_destroy(struct sb_schema *schema);

/* SB_OK when `doc` is valid, SB_ERR_INVAL when not; `reason` (may be NULL)
 * gets the first failure as "<json pointer>: <what>", e.g.
 * "/progress: 140 is greater than maximum 100". */
enum sb_err sb_schema_validate(const struct sb_schema *schema, const cJSON *doc,
			       char *reason, size_t reasonlen);

/* Loads every "*.json" file directly in `dir` except "topics.json" and
 * compiles it, keyed by its file name ("app-status.json").  Fails on the
 * first file that does not parse or compile, naming it in `err`.
 * Caller frees with sb_schema_set_destroy(). */
enum sb_err sb_schema_set_load(struct sb_schema_set **out, const char *dir,
			       char *err, size_t errlen);

/* NULL when the set has no schema of that file name.  Borrowed. */
const struct sb_schema *sb_schema_set_get(const struct sb_schema_set *set,
					  const char *name);

/* Accepts NULL. */
void sb_schema_set_destroy(struct sb_schema_set *set);

#endif
