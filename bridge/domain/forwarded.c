/* SPDX-License-Identifier: MIT
 *
 * forwarded.c - X-Forwarded-For read as nginx's real_ip_recursive does
 * (see forwarded.h): from the right, while the address at hand is a
 * trusted proxy.
 */
#include "forwarded.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct addr {
	int v6;                   /* 0: IPv4 in b[0..3] */
	unsigned char b[16];
};

/* An address in text (IPv4-mapped IPv6 becomes IPv4); 0 when it is none. */
static int parse_addr(const char *s, struct addr *a)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b) == 1)
		return 1;
	if (inet_pton(AF_INET6, s, a->b) != 1)
		return 0;
	if (memcmp(a->b, mapped, 12) == 0) {
		memmove(a->b, a->b + 12, 4);
		memset(a->b + 4, 0, 12);
		return 1;
	}
	a->v6 = 1;
	return 1;
}

/* "addr" or "addr/bits"; 0 when it is neither. */
static int parse_block(const char *s, struct addr *a, int *bits)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	char *end;
	long b;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!parse_addr(buf, a))
		return 0;
	*bits = a->v6 ? 128 : 32;
	if (!slash)
		return 1;
	if (slash[1] < '0' || slash[1] > '9')
		return 0;
	b = strtol(slash + 1, &end, 10);
	if (*end || b > *bits)
		return 0;
	*bits = (int)b;
	return 1;
}

static int in_block(const struct addr *a, const struct addr *net, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (a->v6 != net->v6)
		return 0;
	if (memcmp(a->b, net->b, (size_t)full) != 0)
		return 0;
	return !rest || ((a->b[full] ^ net->b[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

int sb_forwarded_valid(const char *entry)
{
	struct addr a;
	int bits;

	return entry && parse_block(entry, &a, &bits);
}

static int trusted_addr(char *const *trusted, size_t n, const struct addr *a)
{
	for (size_t i = 0; i < n; i++) {
		struct addr net;
		int bits;

		if (parse_block(trusted[i], &net, &bits) && in_block(a, &net, bits))
			return 1;
	}
	return 0;
}

int sb_forwarded_trusted(char *const *trusted, size_t n, const char *addr)
{
	struct addr a;

	return parse_addr(addr, &a) && trusted_addr(trusted, n, &a);
}

static void format(const struct addr *a, char *out)
{
	if (!inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->b, out, SB_ADDR_MAX))
		out[0] = '\0';
}

/* One X-Forwarded-For entry, spaces around it trimmed, a port or brackets
 * taken off: "1.2.3.4", "1.2.3.4:80", "[::1]:80", "::1". */
static int parse_entry(const char *s, size_t n, struct addr *a)
{
	char buf[64];
	char *colon;

	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close || (close[1] && close[1] != ':'))
			return 0;
		*close = '\0';
		return parse_addr(buf + 1, a);
	}
	/* one colon: IPv4 with a port; more: IPv6 */
	colon = strchr(buf, ':');
	if (colon && !strchr(colon + 1, ':'))
		*colon = '\0';
	return parse_addr(buf, a);
}

void sb_forwarded_client(char *const *trusted, size_t n, const char *peer, const char *xff,
			 char *out)
{
	struct addr cur, next;
	const char *end;

	if (!parse_addr(peer, &cur)) {
		snprintf(out, SB_ADDR_MAX, "%s", peer);
		return;
	}
	end = xff ? xff + strlen(xff) : NULL;
	while (end && trusted_addr(trusted, n, &cur)) {
		const char *start = end;

		while (start > xff && start[-1] != ',')
			start--;
		if (!parse_entry(start, (size_t)(end - start), &next))
			break;   /* garbage: the trusted proxy is all that is known */
		cur = next;
		if (start == xff)
			break;
		end = start - 1;
	}
	format(&cur, out);
}
