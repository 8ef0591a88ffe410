/* SPDX-License-Identifier: MIT
 *
 * schema_format.c - the string formats `format` checks: date-time, date
 * and time (RFC 3339, leap seconds only at 23:59:60 UTC) and uuid.  Any
 * other format name is refused when the schema is compiled, so a format
 * is either checked here or the schema does not load.
 */
#include "schema_internal.h"

#include <stdbool.h>
#include <string.h>

static const struct {
	const char *name;
	enum sb_schema_fmt fmt;
} formats[] = {
	{ "date-time", F_DATE_TIME }, { "date", F_DATE }, { "time", F_TIME },
	{ "uuid", F_UUID },
};

static int num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool is_date(const char *s, size_t len)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, max;

	if (len != 10 || !sb_schema_digits(s, 4) || s[4] != '-' || !sb_schema_digits(s + 5, 2) ||
	    s[7] != '-' || !sb_schema_digits(s + 8, 2))
		return false;
	y = num2(s) * 100 + num2(s + 2);
	m = num2(s + 5);
	d = num2(s + 8);
	if (m < 1 || m > 12 || d < 1)
		return false;
	max = mdays[m - 1];
	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		max = 29;
	return d <= max;
}

/* RFC 3339 full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM).  A leap second
 * (:60) is valid only where it falls on 23:59 UTC. */
static bool is_time(const char *s, size_t len)
{
	const char *p = s + 8, *end = s + len;
	int h, m, sec, oh = 0, om = 0, sign = 0;

	if (len < 9 || !sb_schema_digits(s, 2) || s[2] != ':' || !sb_schema_digits(s + 3, 2) ||
	    s[5] != ':' || !sb_schema_digits(s + 6, 2))
		return false;
	h = num2(s);
	m = num2(s + 3);
	sec = num2(s + 6);
	if (*p == '.') {
		p++;
		if (p >= end || !sb_schema_digits(p, 1))
			return false;
		while (p < end && sb_schema_digits(p, 1))
			p++;
	}
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		sign = *p == '+' ? 1 : -1;
		if (end - p < 6 || !sb_schema_digits(p + 1, 2) || p[3] != ':' ||
		    !sb_schema_digits(p + 4, 2))
			return false;
		oh = num2(p + 1);
		om = num2(p + 4);
		p += 6;
	} else {
		return false;
	}
	if (p != end || h > 23 || m > 59 || sec > 60 || oh > 23 || om > 59)
		return false;
	if (sec == 60) {
		int utc = ((h * 60 + m - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;

		if (utc != 23 * 60 + 59)
			return false;
	}
	return true;
}

static bool is_date_time(const char *s, size_t len)
{
	return len > 11 && is_date(s, 10) && (s[10] == 'T' || s[10] == 't') &&
	       is_time(s + 11, len - 11);
}

static bool is_uuid(const char *s, size_t len)
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

bool sb_schema_format_ok(enum sb_schema_fmt f, const char *s)
{
	size_t len = strlen(s);

	switch (f) {
	case F_DATE_TIME: return is_date_time(s, len);
	case F_DATE: return is_date(s, len);
	case F_TIME: return is_time(s, len);
	case F_UUID: return is_uuid(s, len);
	case F_NONE: return true;
	}
	return true;
}

const char *sb_schema_format_name(enum sb_schema_fmt f)
{
	for (size_t i = 0; i < SB_ARRAY_LEN(formats); i++)
		if (formats[i].fmt == f)
			return formats[i].name;
	return "?";
}

enum sb_schema_fmt sb_schema_format_find(const char *name)
{
	for (size_t i = 0; i < SB_ARRAY_LEN(formats); i++)
		if (!strcmp(name, formats[i].name))
			return formats[i].fmt;
	return F_NONE;
}
