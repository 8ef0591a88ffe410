/* SPDX-License-Identifier: MIT
 *
 * genconfig.h - `statusbus-bridge --genconfig`: prints a valid starting
 * config with a fresh random secret and "_comment" keys (genconfig.c).
 */
#ifndef SB_GENCONFIG_H
#define SB_GENCONFIG_H

#include <stddef.h>
#include <stdio.h>

/* Writes the config to out.  Returns 0, or -1 with err saying why (no
 * random bytes, no schemas found). */
int sb_genconfig_print(FILE *out, char *err, size_t errlen);

#endif
