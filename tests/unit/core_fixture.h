/* SPDX-License-Identifier: MIT
 *
 * core_fixture.h - the cmocka group fixture shared by the hub and Pusher
 * unit tests: the shipped default channel map and the topic kinds of
 * schemas/topics.json, loaded once per group.  Header-only (each test is
 * its own executable).
 */
#ifndef SB_TEST_CORE_FIXTURE_H
#define SB_TEST_CORE_FIXTURE_H

#include <stdio.h>

#include "chanmap.h"
#include "sb_common.h"

static struct sb_chanmap *map;
static struct sb_kinds *kinds;

static int group_setup(void **state)
{
	char err[256];
	(void)state;

	if (sb_chanmap_default(&map, err, sizeof(err)) != SB_OK ||
	    sb_kinds_load(&kinds, SB_SOURCE_DIR "/schemas/topics.json", err, sizeof(err)) != SB_OK) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	sb_log_set_level(SB_LOG_ERR);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sb_chanmap_destroy(map);
	sb_kinds_destroy(kinds);
	return 0;
}

#endif
