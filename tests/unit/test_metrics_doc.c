/* SPDX-License-Identifier: MIT
 *
 * test_metrics_doc.c - docs/metrics.md names every family GET /metrics
 * exports, with its type: the families come from the real view
 * (metrics_view.c) with every optional part on (Pusher, the inbox), so a
 * new counter without a line in the reference fails here, naming it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "inbox.h"
#include "metrics_view.h"
#include "session_pusher.h"

static void test_every_family_documented(void **state)
{
	struct sb_metrics m;
	struct sb_hub_gauges g;
	struct sb_pusher_stats p;
	struct sb_inbox_stats in;
	char *text, *doc, *line, *save = NULL;
	size_t len, families = 0, missing = 0;
	(void)state;

	memset(&m, 0, sizeof(m));
	memset(&g, 0, sizeof(g));
	memset(&p, 0, sizeof(p));
	memset(&in, 0, sizeof(in));
	assert_int_equal(sb_read_file(SB_SOURCE_DIR "/docs/metrics.md", 1 << 20, 0, &doc, &len),
			 SB_OK);
	text = sb_metrics_view_prometheus(&m, &g, &p, &in);
	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128], type[32], want[200], row[200];

		if (sscanf(line, "# TYPE %127s %31s", name, type) != 2)
			continue;
		families++;
		/* its row: "| `name` | type |" or "| `name{label}` | type |" */
		snprintf(want, sizeof(want), "| `%s` | %s |", name, type);
		snprintf(row, sizeof(row), "| `%s{", name);
		if (!strstr(doc, want) && !(strstr(doc, row) && strstr(strstr(doc, row), type))) {
			print_error("docs/metrics.md lacks a row for %s (%s)\n", name, type);
			missing++;
		}
	}
	assert_true(families >= 50);
	assert_int_equal(missing, 0);
	free(text);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_family_documented),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
