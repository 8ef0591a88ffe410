/* SPDX-License-Identifier: MIT
 *
 * schema_set.c - the schemas of one directory (the payload contract's
 * schemas/), compiled at start and looked up by file name.  topics.json in
 * the same directory maps topics to these names; it is not a schema and is
 * skipped here.
 */
#include "schema.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILE_BYTES (1024 * 1024)
#define MAX_SET_FILES 256

struct set_entry {
	char *name;
	struct sb_schema *schema;
};

struct sb_schema_set {
	struct set_entry *v;
	size_t n;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum sb_err read_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f)
		return SB_ERR_IO;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		if (errno == 0 || S_ISDIR(st.st_mode))
			errno = EISDIR;
		fclose(f);
		return SB_ERR_IO;
	}
	if (st.st_size > MAX_FILE_BYTES) {
		fclose(f);
		return SB_ERR_LIMIT;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		return SB_ERR_NOMEM;
	}
	*len = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return SB_ERR_IO;
	}
	fclose(f);
	buf[*len] = '\0';
	*out = buf;
	return SB_OK;
}

static enum sb_err load_one(struct sb_schema_set *set, const char *dir,
			    const char *name, char *err, size_t errlen)
{
	char path[4096], why[512];
	const char *end = NULL;
	struct sb_schema *s;
	size_t len = 0;
	char *text = NULL;
	cJSON *js;
	enum sb_err rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", name);
		return SB_ERR_LIMIT;
	}
	rc = read_file(path, &text, &len);
	if (rc) {
		snprintf(err, errlen, "%s: %s", name,
			 rc == SB_ERR_LIMIT ? "file larger than 1 MiB" : strerror(errno));
		return rc;
	}
	js = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!js) {
		int line = 1, col = 1;

		for (const char *p = text; end && p < end && p < text + len; p++) {
			if (*p == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		snprintf(err, errlen, "%s: not valid JSON (line %d, column %d)", name, line, col);
		free(text);
		return SB_ERR_INVAL;
	}
	free(text);
	rc = sb_schema_compile(&s, js, why, sizeof(why));
	cJSON_Delete(js);
	if (rc) {
		snprintf(err, errlen, "%s: %s", name, why);
		return rc;
	}
	set->v[set->n].name = strdup(name);
	if (!set->v[set->n].name) {
		sb_schema_destroy(s);
		snprintf(err, errlen, "%s: out of memory", name);
		return SB_ERR_NOMEM;
	}
	set->v[set->n++].schema = s;
	return SB_OK;
}

enum sb_err sb_schema_set_load(struct sb_schema_set **out, const char *dir,
			       char *err, size_t errlen)
{
	char dummy[1];
	char *names[MAX_SET_FILES];
	size_t nnames = 0, i;
	struct sb_schema_set *set = NULL;
	struct dirent *de;
	enum sb_err rc = SB_OK;
	DIR *d;

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!out || !dir) {
		snprintf(err, errlen, "no directory");
		return SB_ERR_INVAL;
	}
	*out = NULL;
	d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return SB_ERR_IO;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") ||
		    !strcmp(de->d_name, "topics.json"))
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
			continue;
		if (nnames == MAX_SET_FILES) {
			snprintf(err, errlen, "%s: more than %d schema files", dir, MAX_SET_FILES);
			rc = SB_ERR_LIMIT;
			break;
		}
		if (!(names[nnames] = strdup(de->d_name))) {
			snprintf(err, errlen, "out of memory");
			rc = SB_ERR_NOMEM;
			break;
		}
		nnames++;
	}
	closedir(d);
	if (rc)
		goto out;
	qsort(names, nnames, sizeof(names[0]), cmp_names);
	set = calloc(1, sizeof(*set));
	if (!set || !(set->v = calloc(nnames ? nnames : 1, sizeof(*set->v)))) {
		snprintf(err, errlen, "out of memory");
		rc = SB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < nnames && !rc; i++)
		rc = load_one(set, dir, names[i], err, errlen);
out:
	for (i = 0; i < nnames; i++)
		free(names[i]);
	if (rc) {
		sb_schema_set_destroy(set);
		return rc;
	}
	*out = set;
	return SB_OK;
}

const struct sb_schema *sb_schema_set_get(const struct sb_schema_set *set,
					  const char *name)
{
	if (!set || !name)
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->v[i].name, name))
			return set->v[i].schema;
	return NULL;
}

void sb_schema_set_destroy(struct sb_schema_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; set->v && i < set->n; i++) {
		free(set->v[i].name);
		sb_schema_destroy(set->v[i].schema);
	}
	free(set->v);
	free(set);
}
