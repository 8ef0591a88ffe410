/* SPDX-License-Identifier: MIT
 *
 * statusbus-validate-bench - how many payloads per second the bridge's
 * schema validator (bridge/domain/schema.c) checks, per schema, on the
 * examples in schemas/examples/<schema>/{valid,invalid}/ (*.json).
 *
 * Three figures per schema, each measured for --seconds over the examples
 * in turn on one core:
 *   validate/s        valid examples, parsed once (the validator alone)
 *   parse+validate/s  valid examples from their text, as the bridge does for
 *                     every MQTT message (cJSON parse, validate, free)
 *   invalid/s         invalid examples from their text, with the reason
 *                     string the bridge logs
 * It also checks that every valid example passes and every invalid one
 * fails, and exits 1 when one does not: a benchmark of a wrong validator is
 * worth nothing.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "schema.h"

#ifndef SB_SOURCE_SCHEMAS
#define SB_SOURCE_SCHEMAS "schemas"
#endif

#define MAX_EXAMPLES 256

struct example {
	char *name;
	char *text;
	size_t len;
	cJSON *doc;
};

struct set {
	struct example v[MAX_EXAMPLES];
	size_t n;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads the .json files of dir, sorted by name.  Returns -1 when dir is missing. */
static int load_set(const char *dir, struct set *s)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *names[MAX_EXAMPLES];
	size_t n = 0;

	s->n = 0;
	if (!d)
		return -1;
	while ((de = readdir(d)) && n < MAX_EXAMPLES) {
		size_t l = strlen(de->d_name);

		if (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (size_t i = 0; i < n; i++) {
		char path[4200];
		struct example *e = &s->v[s->n];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (!names[i] || sb_read_file(path, 1 << 20, 0, &e->text, &e->len) != SB_OK) {
			fprintf(stderr, "statusbus-validate-bench: cannot read %s\n", path);
			free(names[i]);
			continue;
		}
		e->name = names[i];
		e->doc = cJSON_ParseWithLength(e->text, e->len);
		s->n++;
	}
	return 0;
}

static void free_set(struct set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].text);
		cJSON_Delete(s->v[i].doc);
	}
	s->n = 0;
}

enum mode { M_VALIDATE, M_PARSE_VALIDATE, M_INVALID };

/* Runs `mode` over the set for about `ms`; returns operations per second. */
static double bench(const struct sb_schema *sch, const struct set *s, enum mode mode, int ms)
{
	int64_t start = sb_now_ms(), now = start;
	uint64_t ops = 0;
	char reason[256];
	volatile int sink = 0;

	if (!s->n)
		return 0;
	while (now - start < ms) {
		for (int batch = 0; batch < 64; batch++) {
			const struct example *e = &s->v[ops % s->n];

			if (mode == M_VALIDATE) {
				sink += sb_schema_validate(sch, e->doc, NULL, 0);
			} else {
				cJSON *doc = cJSON_ParseWithLength(e->text, e->len);

				sink += doc ? sb_schema_validate(sch, doc, mode == M_INVALID ? reason : NULL,
								 sizeof(reason)) : 1;
				cJSON_Delete(doc);
			}
			ops++;
		}
		now = sb_now_ms();
	}
	(void)sink;
	return (double)ops * 1000.0 / (double)(now - start);
}

/* Every valid example passes, every invalid one fails.  Returns mismatches. */
static int check(const char *schema, const struct sb_schema *sch, const struct set *valid,
		 const struct set *invalid)
{
	int bad = 0;
	char reason[256];

	for (size_t i = 0; i < valid->n; i++) {
		const struct example *e = &valid->v[i];

		if (!e->doc || sb_schema_validate(sch, e->doc, reason, sizeof(reason)) != SB_OK) {
			fprintf(stderr, "statusbus-validate-bench: %s: valid/%s is refused: %s\n", schema,
				e->name, e->doc ? reason : "not JSON");
			bad++;
		}
	}
	for (size_t i = 0; i < invalid->n; i++) {
		const struct example *e = &invalid->v[i];

		if (e->doc && sb_schema_validate(sch, e->doc, NULL, 0) == SB_OK) {
			fprintf(stderr, "statusbus-validate-bench: %s: invalid/%s is accepted\n", schema,
				e->name);
			bad++;
		}
	}
	return bad;
}

static const char usage[] =
"usage: statusbus-validate-bench [--schemas DIR] [--examples DIR] [--seconds S]\n"
"\n"
"Measures the payloads per second the bridge's schema validator checks, per\n"
"schema, on DIR/examples/<schema>/{valid,invalid}/*.json, and checks that the\n"
"valid ones pass and the invalid ones fail (exit 1 otherwise).\n"
"  --schemas DIR    schemas directory (default $STATUSBUS_SCHEMAS, else the\n"
"                   source tree's schemas/)\n"
"  --examples DIR   examples directory (default <schemas>/examples)\n"
"  --seconds S      time per schema and figure (default 0.3)\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "schemas", required_argument, NULL, 's' },
		{ "examples", required_argument, NULL, 'e' },
		{ "seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *schemas = getenv("STATUSBUS_SCHEMAS"), *examples = NULL;
	struct sb_schema_set *set = NULL;
	char err[512], exdir[4200];
	double seconds = 0.3;
	int c, bad = 0, nschemas = 0;
	DIR *d;
	struct dirent *de;
	char *names[64];
	int n = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': schemas = optarg; break;
		case 'e': examples = optarg; break;
		case 't':
			seconds = atof(optarg);
			if (seconds <= 0 || seconds > 600) {
				fprintf(stderr, "statusbus-validate-bench: --seconds: 0-600\n");
				return 2;
			}
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!schemas || !*schemas)
		schemas = SB_SOURCE_SCHEMAS;
	if (!examples) {
		snprintf(exdir, sizeof(exdir), "%s/examples", schemas);
		examples = exdir;
	}
	if (sb_schema_set_load(&set, schemas, err, sizeof(err)) != SB_OK) {
		fprintf(stderr, "statusbus-validate-bench: %s: %s\n", schemas, err);
		return 1;
	}
	d = opendir(examples);
	if (!d) {
		fprintf(stderr, "statusbus-validate-bench: no examples in %s\n", examples);
		sb_schema_set_destroy(set);
		return 1;
	}
	while ((de = readdir(d)) && n < (int)SB_ARRAY_LEN(names))
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);

	printf("%-26s %9s %14s %18s %12s\n", "schema", "examples", "validate/s",
	       "parse+validate/s", "invalid/s");
	for (int i = 0; i < n; i++) {
		struct set *valid = calloc(1, sizeof(*valid)), *invalid = calloc(1, sizeof(*invalid));
		char file[300], dir[4400];
		const struct sb_schema *sch;
		int ms = (int)(seconds * 1000);

		snprintf(file, sizeof(file), "%s.json", names[i]);
		sch = names[i] ? sb_schema_set_get(set, file) : NULL;
		if (!sch || !valid || !invalid) {
			if (names[i])
				fprintf(stderr, "statusbus-validate-bench: no schema %s for %s/%s\n", file,
					examples, names[i]);
			free(valid);
			free(invalid);
			free(names[i]);
			bad++;
			continue;
		}
		snprintf(dir, sizeof(dir), "%s/%s/valid", examples, names[i]);
		load_set(dir, valid);
		snprintf(dir, sizeof(dir), "%s/%s/invalid", examples, names[i]);
		load_set(dir, invalid);
		bad += check(file, sch, valid, invalid);
		printf("%-26s %4zu+%-4zu %14.0f %18.0f %12.0f\n", file, valid->n, invalid->n,
		       bench(sch, valid, M_VALIDATE, ms), bench(sch, valid, M_PARSE_VALIDATE, ms),
		       bench(sch, invalid, M_INVALID, ms));
		fflush(stdout);
		nschemas++;
		free_set(valid);
		free_set(invalid);
		free(valid);
		free(invalid);
		free(names[i]);
	}
	sb_schema_set_destroy(set);
	if (bad)
		fprintf(stderr, "statusbus-validate-bench: %d example(s) disagree with their schema\n",
			bad);
	return bad || !nschemas ? 1 : 0;
}
