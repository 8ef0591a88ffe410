/* SPDX-License-Identifier: MIT
 *
 * topic.c - MQTT topic filter matching and id validation.
 */
#include "topic.h"

#include <ctype.h>
#include <string.h>

int sb_topic_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > 65535)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '+' || name[i] == '#' || name[i] == '\0')
			return 0;
	return 1;
}

int sb_topic_filter_valid(const char *f)
{
	size_t len = strlen(f);

	if (len == 0 || len > 65535)
		return 0;
	for (size_t i = 0; i < len; i++) {
		int starts = i == 0 || f[i - 1] == '/';
		int ends = i + 1 == len || f[i + 1] == '/';
		if (f[i] == '+' && !(starts && ends))
			return 0;
		if (f[i] == '#' && !(starts && i + 1 == len))
			return 0;
	}
	return 1;
}

int sb_topic_matches(const char *f, const char *t)
{
	if (*t == '$' && (*f == '+' || *f == '#'))
		return 0;
	for (;;) {
		if (f[0] == '#' && f[1] == '\0')
			return 1;
		if (f[0] == '+' && (f[1] == '/' || f[1] == '\0')) {
			while (*t && *t != '/')
				t++;
			f++;
		} else {
			while (*f && *f != '/' && *f == *t) {
				f++;
				t++;
			}
			if ((*f && *f != '/') || (*t && *t != '/'))
				return 0;
		}
		/* both at '/' or at end */
		if (*f == '\0' && *t == '\0')
			return 1;
		if (*f == '\0')
			return 0;
		if (*t == '\0')
			/* "a/#" matches "a" */
			return f[0] == '/' && f[1] == '#' && f[2] == '\0';
		f++;
		t++;
	}
}

int sb_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || c == '_' || c == '-') || c > 127)
			return 0;
	}
	return 1;
}

int sb_uuid_valid(const char *s, size_t len)
{
	if (len != 36)
		return 0;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

int sb_topic_filter_covers(const char *wider, const char *f)
{
	const char *w = wider;

	if (f[0] == '$' && (w[0] == '+' || w[0] == '#'))
		return 0;
	for (;;) {
		size_t wl = strcspn(w, "/"), fl = strcspn(f, "/");

		if (wl == 1 && w[0] == '#')
			return 1;
		if (wl == 1 && w[0] == '+') {
			if (fl == 1 && f[0] == '#')
				return 0;
		} else if (wl != fl || memcmp(w, f, wl) != 0) {
			return 0;
		}
		w += wl;
		f += fl;
		if (!*f)   /* f's last level: w ends too, or only "/#" is left */
			return !*w || strcmp(w, "/#") == 0;
		if (!*w)
			return 0;
		w++;   /* past the '/' */
		f++;
	}
}
