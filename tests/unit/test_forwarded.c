/* SPDX-License-Identifier: MIT
 *
 * test_forwarded.c - unit tests for forwarded.c: the client's address
 * behind trusted reverse proxies (listen.trusted_proxies and
 * X-Forwarded-For), the spoofing it must not allow (a direct client's own
 * header, entries a trusted proxy did not write), addresses in every form
 * proxies write them (ports, brackets, IPv4-mapped IPv6, spaces), CIDR
 * blocks at their edges, and the config's check of the list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "forwarded.h"

static char *local[] = { "127.0.0.1", "::1" };
static char *nets[] = { "10.0.0.0/8", "192.168.1.0/25", "fd00::/8", "203.0.113.7" };

static void client(char *const *trusted, size_t n, const char *peer, const char *xff,
		   const char *want)
{
	char out[SB_ADDR_MAX];

	memset(out, 'x', sizeof(out));
	sb_forwarded_client(trusted, n, peer, xff, out);
	if (strcmp(out, want) != 0)
		fail_msg("peer %s, X-Forwarded-For [%s]: %s, want %s", peer, xff ? xff : "(none)",
			 out, want);
}

static void test_direct_clients_cannot_spoof(void **state)
{
	(void)state;
	client(local, 2, "198.51.100.9", NULL, "198.51.100.9");
	client(local, 2, "198.51.100.9", "1.2.3.4", "198.51.100.9");
	client(NULL, 0, "127.0.0.1", "1.2.3.4", "127.0.0.1");   /* nothing trusted */
}

static void test_behind_one_proxy(void **state)
{
	(void)state;
	client(local, 2, "127.0.0.1", "198.51.100.9", "198.51.100.9");
	client(local, 2, "::1", "2001:db8::5", "2001:db8::5");
	/* a client's own header arrives left of what the proxy appended */
	client(local, 2, "127.0.0.1", "6.6.6.6, 198.51.100.9", "198.51.100.9");
	/* the proxy sent none, or an empty one: the proxy is the client */
	client(local, 2, "127.0.0.1", NULL, "127.0.0.1");
	client(local, 2, "127.0.0.1", "", "127.0.0.1");
	client(local, 2, "127.0.0.1", " , ", "127.0.0.1");
}

static void test_behind_a_chain(void **state)
{
	(void)state;
	/* CDN (203.0.113.7) -> load balancer (10.1.2.3) -> bridge */
	client(nets, 4, "10.1.2.3", "198.51.100.9, 203.0.113.7", "198.51.100.9");
	client(nets, 4, "10.1.2.3", "6.6.6.6,198.51.100.9,203.0.113.7", "198.51.100.9");
	/* every entry trusted: the leftmost is the best known */
	client(nets, 4, "10.1.2.3", "10.9.9.9, 203.0.113.7", "10.9.9.9");
	/* garbage stops the walk at the trusted address right of it */
	client(nets, 4, "10.1.2.3", "198.51.100.9, unknown", "10.1.2.3");
	client(nets, 4, "10.1.2.3", "198.51.100.9, unknown, 203.0.113.7", "203.0.113.7");
}

static void test_address_forms(void **state)
{
	(void)state;
	client(local, 2, "127.0.0.1", "198.51.100.9:51234", "198.51.100.9");
	client(local, 2, "127.0.0.1", "[2001:db8::5]:443", "2001:db8::5");
	client(local, 2, "127.0.0.1", "[2001:db8::5]", "2001:db8::5");
	client(local, 2, "127.0.0.1", "\t198.51.100.9 ", "198.51.100.9");
	client(local, 2, "127.0.0.1", "2001:DB8:0:0::5", "2001:db8::5");   /* normalised */
	/* an IPv6 listener sees IPv4 peers mapped */
	client(local, 2, "::ffff:127.0.0.1", "198.51.100.9", "198.51.100.9");
	client(local, 2, "127.0.0.1", "::ffff:198.51.100.9", "198.51.100.9");
	client(local, 2, "127.0.0.1", "[2001:db8::5", "127.0.0.1");
	client(local, 2, "127.0.0.1", "[2001:db8::5]x", "127.0.0.1");
	/* a peer that is no address (a unix socket) stays as it is */
	client(local, 2, "unix", "198.51.100.9", "unix");
}

static void test_blocks(void **state)
{
	(void)state;
	assert_true(sb_forwarded_trusted(nets, 4, "10.255.255.255"));
	assert_false(sb_forwarded_trusted(nets, 4, "11.0.0.0"));
	assert_true(sb_forwarded_trusted(nets, 4, "192.168.1.127"));
	assert_false(sb_forwarded_trusted(nets, 4, "192.168.1.128"));    /* /25 edge */
	assert_true(sb_forwarded_trusted(nets, 4, "fdff:ffff::1"));
	assert_false(sb_forwarded_trusted(nets, 4, "fe00::1"));
	assert_true(sb_forwarded_trusted(nets, 4, "203.0.113.7"));
	assert_false(sb_forwarded_trusted(nets, 4, "203.0.113.8"));
	assert_true(sb_forwarded_trusted(nets, 4, "::ffff:10.0.0.1"));   /* mapped */
	assert_false(sb_forwarded_trusted(nets, 4, "not an address"));
	assert_true(sb_forwarded_trusted((char *[]){ "0.0.0.0/0" }, 1, "1.2.3.4"));
	assert_false(sb_forwarded_trusted((char *[]){ "0.0.0.0/0" }, 1, "::1"));
}

static void test_valid_entries(void **state)
{
	static const char *const good[] = { "127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8",
					    "0.0.0.0/0", "::/0", "192.168.0.1/32" };
	static const char *const bad[] = { "", "localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/",
					   "10.0.0.0/-1", "10.0.0.0/8x", "/8", "1.2.3", "10.0.0.0/ 8" };
	struct sb_config *cfg = NULL;
	char err[256];
	(void)state;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(sb_forwarded_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sb_forwarded_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
	assert_false(sb_forwarded_valid(NULL));
	assert_int_equal(sb_config_parse(&cfg, "{\"listen\":{\"trusted_proxies\":[\"10.0.0.0/33\"]}}",
					 "x.json", err, sizeof(err)), SB_ERR_INVAL);
	assert_string_equal(err, "x.json: listen.trusted_proxies: \"10.0.0.0/33\" is not an "
			    "address or address/prefix");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_clients_cannot_spoof),
		cmocka_unit_test(test_behind_one_proxy),
		cmocka_unit_test(test_behind_a_chain),
		cmocka_unit_test(test_address_forms),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_valid_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
