/* SPDX-License-Identifier: MIT
 *
 * config_reload.c - what SIGHUP does with the config file read again
 * (docs/protocol.md §11): the running config and the new one compared row
 * by row of config.c's table; a changed value moves into the running
 * config when its row says SIGHUP may reload it, and is reported as
 * needing a restart otherwise.  The values moved are read where they are
 * used (limits at a new connection, auth at the next hello), so moving
 * them is the whole reload for them; the adapter rebuilds what is derived
 * (the JWT key, the schemas, the log level).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "config_internal.h"

/* 1 when the section named `name` is present in one config and not the
 * other (only sections whose presence means something have a flag). */
static int section_toggled(const struct sb_config *a, const struct sb_config *b,
			   const char *name)
{
	const struct ckey *s = sb_config__lookup(NULL, name);

	if (!s || s->type != T_SECTION || s->section_flag_off < 0)
		return 0;
	return *(const int *)((const char *)a + s->section_flag_off) !=
	       *(const int *)((const char *)b + s->section_flag_off);
}

static int same_value(const struct ckey *k, const struct sb_config *a, const struct sb_config *b)
{
	switch (k->type) {
	case T_STR: {
		const char *x = *FIELD(a, k, char *), *y = *FIELD(b, k, char *);
		return x == y || (x && y && !strcmp(x, y));
	}
	case T_INT:
	case T_BOOL:
		return *FIELD(a, k, int) == *FIELD(b, k, int);
	case T_LONG:
		return *FIELD(a, k, long) == *FIELD(b, k, long);
	case T_STRLIST: {
		char **x = *FIELD(a, k, char **), **y = *FIELD(b, k, char **);
		size_t n = *FIELD_N(a, k);

		if (n != *FIELD_N(b, k))
			return 0;
		for (size_t i = 0; i < n; i++)
			if (strcmp(x[i], y[i]) != 0)
				return 0;
		return 1;
	}
	case T_JSON: {
		const cJSON *x = *FIELD(a, k, cJSON *), *y = *FIELD(b, k, cJSON *);
		return x == y || (x && y && cJSON_Compare(x, y, 1));
	}
	case T_SECTION:
		break;
	}
	return 1;
}

static void swap_bytes(void *a, void *b, size_t n)
{
	unsigned char t[sizeof(long) > sizeof(void *) ? sizeof(long) : sizeof(void *)];

	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

static void swap_value(const struct ckey *k, struct sb_config *a, struct sb_config *b)
{
	switch (k->type) {
	case T_STR:
	case T_JSON:
		swap_bytes(FIELD(a, k, void *), FIELD(b, k, void *), sizeof(void *));
		break;
	case T_INT:
	case T_BOOL:
		swap_bytes(FIELD(a, k, int), FIELD(b, k, int), sizeof(int));
		break;
	case T_LONG:
		swap_bytes(FIELD(a, k, long), FIELD(b, k, long), sizeof(long));
		break;
	case T_STRLIST:
		swap_bytes(FIELD(a, k, char **), FIELD(b, k, char **), sizeof(char **));
		swap_bytes(FIELD_N(a, k), FIELD_N(b, k), sizeof(size_t));
		break;
	case T_SECTION:
		break;
	}
}

/* 1 when an earlier row names the same field (an alias: compared once). */
static int is_alias(size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (sb_config__keys[j].type != T_SECTION && sb_config__keys[j].off == sb_config__keys[i].off)
			return 1;
	return 0;
}

size_t sb_config_reload(struct sb_config *live, struct sb_config *next, int apply,
			void (*cb)(void *arg, const char *key, int reloadable), void *arg)
{
	size_t restart = 0;
	char name[128];

	for (size_t i = 0; i < sb_config__nkeys; i++) {
		const struct ckey *k = &sb_config__keys[i];

		if (k->type == T_SECTION) {
			if (section_toggled(live, next, k->name)) {
				cb(arg, k->name, 0);
				restart++;
			}
			continue;
		}
		/* a section that came or went is one change, reported above */
		if (is_alias(i) || (k->section && section_toggled(live, next, k->section)) ||
		    same_value(k, live, next))
			continue;
		snprintf(name, sizeof(name), "%s%s%s", k->section ? k->section : "",
			 k->section ? "." : "", k->name);
		cb(arg, name, k->reloadable);
		if (!k->reloadable)
			restart++;
		else if (apply)
			swap_value(k, live, next);
	}
	return restart;
}
