/* SPDX-License-Identifier: MIT
 *
 * config_internal.h - the key table of config.c as its sibling modules see
 * it: config_reload.c (what SIGHUP changes) and config_lint.c (did you
 * mean, keys that do nothing) walk the same rows that parse the file, so
 * a new key is known to all three by its one row.  Not for other modules.
 */
#ifndef SB_CONFIG_INTERNAL_H
#define SB_CONFIG_INTERNAL_H

#include <stddef.h>

#include "config.h"

enum ctype { T_STR, T_INT, T_LONG, T_BOOL, T_STRLIST, T_JSON, T_SECTION };

struct ckey {
	const char *section;    /* NULL = top level */
	const char *name;
	enum ctype type;
	size_t off;
	long min, max;          /* T_STRLIST: min 1 = a string is a list of
				   one, and the list may not be empty */
	const char *def_str;
	long def_num;
	int reloadable;         /* SIGHUP applies a new value (sb_config_reload) */
	int section_flag_off;   /* T_SECTION: offset of the int set to 1 when
				   the section is present, or -1; T_STRLIST:
				   offset of its size_t count */
};

#define FIELD(cfg, k, type) ((type *)((char *)(cfg) + (k)->off))
/* a T_STRLIST's count */
#define FIELD_N(cfg, k) ((size_t *)((char *)(cfg) + (k)->section_flag_off))

/* The table, in the order of the file's documentation. */
extern const struct ckey *const sb_config__keys;
extern const size_t sb_config__nkeys;

/* The row of `section`.`name` (section NULL: top level), or NULL. */
const struct ckey *sb_config__lookup(const char *section, const char *name);

/* Writes "<path>: <key>: unknown key" into err, with "(did you mean
 * <key>?)" when a row is close enough to be what was meant
 * (config_lint.c). */
void sb_config__unknown_key(const char *section, const char *name, const char *path,
			    char *err, size_t errlen);

#endif
