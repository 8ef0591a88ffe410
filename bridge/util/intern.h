/* SPDX-License-Identifier: MIT
 *
 * intern.h - strings interned to small integer atoms, reference-counted.
 *
 * The fan-out path keys its per-client state by atoms instead of strings
 * (a channel's name, a message's topic): a topic is interned once per
 * message, and every delivery after that compares and hashes integers.
 * Atom 0 is never handed out ("none").  An atom and its string stay valid
 * while references are held; the last unref frees the string and the id is
 * reused later.  Lookups hash the bytes (FNV-1a) into an open-addressing
 * table of ids.  Not thread-safe: the service thread only.
 */
#ifndef SB_INTERN_H
#define SB_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "sb_common.h"

struct sb_intern;

/* NULL when out of memory. */
struct sb_intern *sb_intern_create(void);
/* Frees the table and every string (held references or not).  Accepts NULL. */
void sb_intern_destroy(struct sb_intern *t);

/* The atom of s[0..len) with one new reference (made on first use); 0 when
 * out of memory. */
uint32_t sb_intern_ref(struct sb_intern *t, const char *s, size_t len);
/* The atom of s[0..len) if it exists (no reference taken), else 0. */
uint32_t sb_intern_find(const struct sb_intern *t, const char *s, size_t len);
/* One more reference to an existing atom (0 is ignored). */
void sb_intern_hold(struct sb_intern *t, uint32_t atom);
/* Drops one reference; the last frees the string (0 is ignored). */
void sb_intern_unref(struct sb_intern *t, uint32_t atom);
/* The NUL-terminated string of a live atom, NULL for 0 or a free id. */
const char *sb_intern_str(const struct sb_intern *t, uint32_t atom);
/* Live atoms. */
size_t sb_intern_count(const struct sb_intern *t);

#endif
