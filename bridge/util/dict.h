/* SPDX-License-Identifier: MIT
 *
 * dict.h - a string-keyed hash table with separate chaining (Redis dict
 * without the incremental rehash).  Keys are copied; values are owned by the
 * table when a value destructor is given and freed through it (Redis
 * `list->free`).  Not thread-safe: used only on the service thread.
 */
#ifndef SB_DICT_H
#define SB_DICT_H

#include <stddef.h>

#include "sb_common.h"

struct sb_dict;
typedef void (*sb_dict_free_fn)(void *value);

/* Caller frees with sb_dict_destroy(); `free_value` may be NULL. */
struct sb_dict *sb_dict_create(sb_dict_free_fn free_value);
/* Frees every key and, through free_value, every value.  Accepts NULL. */
void sb_dict_destroy(struct sb_dict *d);

/* NULL when absent.  Borrowed. */
void *sb_dict_get(const struct sb_dict *d, const char *key);
/* Inserts or replaces (the old value goes through free_value). */
enum sb_err sb_dict_set(struct sb_dict *d, const char *key, void *value);
/* Removes and frees through free_value; SB_ERR_NOTFOUND when absent. */
enum sb_err sb_dict_del(struct sb_dict *d, const char *key);
/* Removes without freeing the value; returns it (NULL when absent). */
void *sb_dict_take(struct sb_dict *d, const char *key);
size_t sb_dict_size(const struct sb_dict *d);

/* Iteration: safe against deleting the current entry (only). */
struct sb_dict_iter {
	const struct sb_dict *d;
	size_t bucket;
	void *entry, *next;
};
void sb_dict_iter_init(struct sb_dict_iter *it, const struct sb_dict *d);
/* Returns 0 at the end; key/value are borrowed. */
int sb_dict_next(struct sb_dict_iter *it, const char **key, void **value);

/* The key stored in the table for `key` (stable while the entry lives). */
const char *sb_dict_key(const struct sb_dict *d, const char *key);

#endif
