/* SPDX-License-Identifier: MIT
 *
 * test_conn_limits.c - unit tests for domain/conn_limits.c: address keys
 * (IPv4, IPv4-mapped IPv6, IPv6 /64), each limit walked to its bound and
 * one past it (global sockets, global requests, per-address sockets and
 * requests, 0 = no limit, exempt peers), deadlines in order and only when
 * due, keep-alive re-arming, releases in any state, and a random run
 * against a model of the counts; keys from text, and a trusted proxy's
 * connections claimed for their forwarded client's address (limited,
 * released under the address they were counted with).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "conn_limits.h"

static struct sb_conn_limits *make(unsigned sockets, unsigned requests, unsigned ip_sockets,
				   unsigned ip_requests)
{
	struct sb_conn_limits *l;
	struct sb_conn_limits_params p = {
		.max_sockets = sockets, .max_requests = requests, .per_ip_sockets = ip_sockets,
		.per_ip_requests = ip_requests, .request_ms = 5000, .seed = 42,
	};

	assert_int_equal(sb_conn_limits_create(&l, &p), SB_OK);
	return l;
}

static void key4(const char *ip, unsigned char key[SB_CONN_KEY_LEN])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };

	assert_int_equal(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
	assert_int_equal(sb_conn_key((struct sockaddr *)&sa, sizeof(sa), key), SB_OK);
}

static void key6(const char *ip, unsigned char key[SB_CONN_KEY_LEN])
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };

	assert_int_equal(inet_pton(AF_INET6, ip, &sa.sin6_addr), 1);
	assert_int_equal(sb_conn_key((struct sockaddr *)&sa, sizeof(sa), key), SB_OK);
}

/* Releases e[0..n) and destroys l, nothing counted any more. */
static void release_all(struct sb_conn_limits *l, struct sb_conn_entry *e, int n)
{
	struct sb_conn_counts c;

	for (int i = 0; i < n; i++)
		sb_conn_limits_release(l, &e[i]);
	sb_conn_limits_counts(l, NULL, &c);
	assert_int_equal(c.sockets + c.requests + (unsigned)c.peers, 0);
	sb_conn_limits_destroy(l);
}

static void test_keys(void **state)
{
	unsigned char a[SB_CONN_KEY_LEN], b[SB_CONN_KEY_LEN];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sockaddr un = { .sa_family = AF_UNIX };

	(void)state;
	key4("192.0.2.7", a);
	key6("::ffff:192.0.2.7", b);
	assert_memory_equal(a, b, SB_CONN_KEY_LEN);     /* dual stack: the same client */
	key4("192.0.2.8", b);
	assert_memory_not_equal(a, b, SB_CONN_KEY_LEN);
	key6("2001:db8:1:2:aaaa::1", a);
	key6("2001:db8:1:2:bbbb::9", b);
	assert_memory_equal(a, b, SB_CONN_KEY_LEN);     /* one /64 */
	key6("2001:db8:1:3::1", b);
	assert_memory_not_equal(a, b, SB_CONN_KEY_LEN);
	assert_int_equal(sb_conn_key((struct sockaddr *)&sa, sizeof(sa) - 1, a), SB_ERR_INVAL);
	assert_int_equal(sb_conn_key(&un, sizeof(un), a), SB_ERR_INVAL);
}

static void test_per_ip_requests_bound(void **state)
{
	struct sb_conn_limits *l = make(100, 100, 0, 3);
	struct sb_conn_entry e[5];
	unsigned char a[SB_CONN_KEY_LEN], b[SB_CONN_KEY_LEN];
	struct sb_conn_counts c;

	(void)state;
	key4("10.0.0.1", a);
	key4("10.0.0.2", b);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sb_conn_limits_admit(l, &e[i], a, 0, 0), SB_CONN_ADMITTED);
	assert_int_equal(sb_conn_limits_admit(l, &e[3], a, 0, 0), SB_CONN_REFUSED_PER_IP);
	/* another address is not affected, nor an exempt one */
	assert_int_equal(sb_conn_limits_admit(l, &e[4], b, 0, 0), SB_CONN_ADMITTED);
	sb_conn_limits_release(l, &e[4]);
	assert_int_equal(sb_conn_limits_admit(l, &e[4], a, 1, 0), SB_CONN_ADMITTED);
	assert_int_equal((int)sb_conn_limits_stats(l)->refused_per_ip, 1);
	/* a request done makes room for a new one, the socket still counts */
	sb_conn_limits_request_done(l, &e[0]);
	sb_conn_limits_counts(l, a, &c);
	assert_int_equal(c.peer_sockets, 3);
	assert_int_equal(c.peer_requests, 2);
	assert_int_equal(c.sockets, 4);
	assert_int_equal(c.requests, 3);
	assert_int_equal(sb_conn_limits_admit(l, &e[3], a, 0, 0), SB_CONN_ADMITTED);
	release_all(l, e, 5);
}

static void test_per_ip_sockets_bound(void **state)
{
	struct sb_conn_limits *l = make(100, 100, 2, 0);
	struct sb_conn_entry e[3];
	unsigned char a[SB_CONN_KEY_LEN];

	(void)state;
	key6("2001:db8::1", a);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sb_conn_limits_admit(l, &e[i], a, 0, 0), SB_CONN_ADMITTED);
		sb_conn_limits_request_done(l, &e[i]);
	}
	/* established connections count against the total */
	assert_int_equal(sb_conn_limits_admit(l, &e[2], a, 0, 0), SB_CONN_REFUSED_PER_IP);
	sb_conn_limits_release(l, &e[1]);
	assert_int_equal(sb_conn_limits_admit(l, &e[2], a, 0, 0), SB_CONN_ADMITTED);
	sb_conn_limits_release(l, &e[0]);
	sb_conn_limits_release(l, &e[2]);
	sb_conn_limits_release(l, &e[2]);   /* twice: nothing */
	sb_conn_limits_destroy(l);
}

static void test_key_text(void **state)
{
	unsigned char a[SB_CONN_KEY_LEN], b[SB_CONN_KEY_LEN];

	(void)state;
	key4("198.51.100.9", a);
	assert_int_equal(sb_conn_key_text("198.51.100.9", b), SB_OK);
	assert_memory_equal(a, b, SB_CONN_KEY_LEN);
	assert_int_equal(sb_conn_key_text("::ffff:198.51.100.9", b), SB_OK);
	assert_memory_equal(a, b, SB_CONN_KEY_LEN);
	key6("2001:db8:1:2::1", a);
	assert_int_equal(sb_conn_key_text("2001:db8:1:2:ffff::7", b), SB_OK);
	assert_memory_equal(a, b, SB_CONN_KEY_LEN);     /* its /64 */
	assert_int_equal(sb_conn_key_text("?", b), SB_ERR_INVAL);
	assert_int_equal(sb_conn_key_text("", b), SB_ERR_INVAL);
	assert_int_equal(sb_conn_key_text("198.51.100.9:443", b), SB_ERR_INVAL);
}

/* A proxy's connections: exempt at accept, then each counted under the
 * address its client has (X-Forwarded-For), against per_ip_sockets. */
static void test_claim(void **state)
{
	struct sb_conn_limits *l = make(100, 100, 2, 1);
	struct sb_conn_entry e[6], d;
	unsigned char proxy[SB_CONN_KEY_LEN], c9[SB_CONN_KEY_LEN], c10[SB_CONN_KEY_LEN];
	struct sb_conn_counts c;

	(void)state;
	key4("127.0.0.1", proxy);
	key4("198.51.100.9", c9);
	key4("198.51.100.10", c10);
	/* the proxy is exempt: more connections than either per-address limit */
	for (int i = 0; i < 6; i++)
		assert_int_equal(sb_conn_limits_admit(l, &e[i], proxy, 1, 0), SB_CONN_ADMITTED);
	sb_conn_limits_counts(l, proxy, &c);
	assert_int_equal(c.peer_sockets, 0);
	assert_int_equal(c.sockets, 6);
	/* claimed while in their request: the requests' limit does not apply,
	 * the sockets' does */
	assert_int_equal(sb_conn_limits_claim(l, &e[0], c9), SB_CONN_ADMITTED);
	assert_int_equal(sb_conn_limits_claim(l, &e[1], c9), SB_CONN_ADMITTED);
	assert_int_equal(sb_conn_limits_claim(l, &e[1], c10), SB_CONN_ADMITTED);  /* again: stays */
	sb_conn_limits_counts(l, c9, &c);
	assert_int_equal(c.peer_sockets, 2);
	assert_int_equal(c.peer_requests, 2);
	sb_conn_limits_counts(l, c10, &c);
	assert_int_equal(c.peer_sockets, 0);
	assert_int_equal(sb_conn_limits_claim(l, &e[2], c9), SB_CONN_REFUSED_PER_IP);
	assert_int_equal((int)sb_conn_limits_stats(l)->refused_per_ip, 1);
	assert_int_equal(sb_conn_limits_claim(l, &e[3], c10), SB_CONN_ADMITTED);
	/* a direct client of that address shares its count */
	assert_int_equal(sb_conn_limits_admit(l, &d, c9, 0, 0), SB_CONN_REFUSED_PER_IP);
	/* an entry counted under its own address at accept is not claimed */
	sb_conn_limits_request_done(l, &e[3]);
	assert_int_equal(sb_conn_limits_admit(l, &d, c10, 0, 0), SB_CONN_ADMITTED);
	assert_int_equal(sb_conn_limits_claim(l, &d, c9), SB_CONN_ADMITTED);
	sb_conn_limits_counts(l, c10, &c);
	assert_int_equal(c.peer_sockets, 2);
	sb_conn_limits_release(l, &d);
	/* the request ends: the address's requests with it */
	sb_conn_limits_request_done(l, &e[0]);
	sb_conn_limits_request_done(l, &e[2]);   /* refused, exempt: nothing to take back */
	sb_conn_limits_counts(l, c9, &c);
	assert_int_equal(c.peer_requests, 1);
	/* released: room for one more of .9 */
	sb_conn_limits_release(l, &e[0]);
	assert_int_equal(sb_conn_limits_claim(l, &e[2], c9), SB_CONN_ADMITTED);
	/* an entry not admitted (or released) is never claimed */
	assert_int_equal(sb_conn_limits_claim(l, &e[0], c10), SB_CONN_ADMITTED);
	sb_conn_limits_counts(l, c10, &c);
	assert_int_equal(c.peer_sockets, 1);
	release_all(l, e, 6);
}

/* Many connections claimed and released in turn, in and out of their
 * request: nothing stays counted. */
static void test_claim_no_leak(void **state)
{
	struct sb_conn_limits *l = make(1000, 1000, 3, 2);
	struct sb_conn_entry e[4];
	unsigned char k[SB_CONN_KEY_LEN];
	struct sb_conn_counts c;
	unsigned admitted = 0;

	(void)state;
	key4("198.51.100.9", k);
	for (int round = 0; round < 500; round++) {
		for (int i = 0; i < 4; i++) {
			assert_int_equal(sb_conn_limits_admit(l, &e[i], k, 1, round), SB_CONN_ADMITTED);
			if ((round + i) % 2)
				sb_conn_limits_request_done(l, &e[i]);
			admitted += sb_conn_limits_claim(l, &e[i], k) == SB_CONN_ADMITTED;
		}
		sb_conn_limits_counts(l, k, &c);
		assert_int_equal(c.peer_sockets, 3);
		for (int i = 0; i < 4; i++)
			sb_conn_limits_release(l, &e[(i + round) % 4]);
	}
	assert_int_equal(admitted, 3 * 500);
	assert_int_equal((int)sb_conn_limits_stats(l)->refused_per_ip, 500);
	sb_conn_limits_counts(l, k, &c);
	assert_int_equal(c.sockets + c.requests + c.peer_sockets + c.peer_requests + (unsigned)c.peers,
			 0);
	sb_conn_limits_destroy(l);
}

static void test_global_bounds(void **state)
{
	struct sb_conn_limits *l = make(3, 2, 0, 0);
	struct sb_conn_entry e[4];
	unsigned char a[SB_CONN_KEY_LEN];

	(void)state;
	key4("10.0.0.1", a);
	assert_int_equal(sb_conn_limits_admit(l, &e[0], a, 0, 0), SB_CONN_ADMITTED);
	assert_int_equal(sb_conn_limits_admit(l, &e[1], a, 0, 0), SB_CONN_ADMITTED);
	/* two in a request: max_requests */
	assert_int_equal(sb_conn_limits_admit(l, &e[2], a, 1, 0), SB_CONN_REFUSED_MAX);
	sb_conn_limits_request_done(l, &e[0]);
	assert_int_equal(sb_conn_limits_admit(l, &e[2], a, 0, 0), SB_CONN_ADMITTED);
	sb_conn_limits_request_done(l, &e[1]);
	/* three sockets: max_sockets, even with room for requests */
	assert_int_equal(sb_conn_limits_admit(l, &e[3], a, 0, 0), SB_CONN_REFUSED_MAX);
	assert_int_equal((int)sb_conn_limits_stats(l)->refused_max, 2);
	for (int i = 0; i < 3; i++)
		sb_conn_limits_release(l, &e[i]);
	sb_conn_limits_destroy(l);
}

static void test_deadlines(void **state)
{
	struct sb_conn_limits *l = make(100, 100, 0, 0);
	struct sb_conn_entry e[3];
	unsigned char a[SB_CONN_KEY_LEN];

	(void)state;
	key4("10.0.0.1", a);
	assert_true(sb_conn_limits_next_deadline(l) == INT64_MAX);
	assert_int_equal(sb_conn_limits_admit(l, &e[0], a, 0, 1000), SB_CONN_ADMITTED);
	assert_int_equal(sb_conn_limits_admit(l, &e[1], a, 0, 2000), SB_CONN_ADMITTED);
	assert_int_equal(sb_conn_limits_admit(l, &e[2], a, 0, 3000), SB_CONN_ADMITTED);
	assert_true(sb_conn_limits_next_deadline(l) == 6000);
	/* done in time: no deadline */
	sb_conn_limits_request_done(l, &e[0]);
	assert_true(sb_conn_limits_next_deadline(l) == 7000);
	assert_null(sb_conn_limits_expired(l, 6999));
	assert_ptr_equal(sb_conn_limits_expired(l, 7000), &e[1]);
	assert_null(sb_conn_limits_expired(l, 7000));
	/* a keep-alive connection waits for its next request from now */
	sb_conn_limits_request_next(l, &e[0], 7500);
	sb_conn_limits_request_next(l, &e[2], 7500);    /* in one already: unchanged */
	assert_true(sb_conn_limits_next_deadline(l) == 8000);
	assert_ptr_equal(sb_conn_limits_expired(l, 20000), &e[2]);
	assert_ptr_equal(sb_conn_limits_expired(l, 20000), &e[0]);
	assert_null(sb_conn_limits_expired(l, 20000));
	assert_int_equal((int)sb_conn_limits_stats(l)->request_timeouts, 3);
	/* an expired entry stays counted as a socket until released */
	{
		struct sb_conn_counts c;

		sb_conn_limits_counts(l, a, &c);
		assert_int_equal(c.sockets, 3);
		assert_int_equal(c.requests, 0);
	}
	for (int i = 0; i < 3; i++)
		sb_conn_limits_release(l, &e[i]);
	sb_conn_limits_destroy(l);
}

/* Random admits, request ends, re-arms, expiries and releases over 40
 * addresses against a model of the counts: the table grows past its
 * initial buckets and shrinks back to empty. */
static void test_random_against_model(void **state)
{
	enum { N = 3000, PEERS = 40 };
	struct sb_conn_limits *l = make(N, N, 30, 10);
	struct sb_conn_entry *e = calloc(N, sizeof(*e));
	int *peer = calloc(N, sizeof(int)), *live = calloc(N, sizeof(int)), *req = calloc(N, sizeof(int));
	unsigned sockets[PEERS] = { 0 }, requests[PEERS] = { 0 };
	unsigned char key[PEERS][SB_CONN_KEY_LEN];
	int64_t now = 0;

	(void)state;
	srand(7);
	for (int p = 0; p < PEERS; p++) {
		char ip[32];

		snprintf(ip, sizeof(ip), "10.1.%d.%d", p / 7, p);
		key4(ip, key[p]);
	}
	for (int step = 0; step < 50000; step++) {
		int i = rand() % N, op = rand() % 5;
		struct sb_conn_counts c;

		now += rand() % 50;
		if (!live[i] && op <= 1) {
			int p = rand() % PEERS;
			enum sb_conn_refusal r = sb_conn_limits_admit(l, &e[i], key[p], 0, now);
			int want = sockets[p] >= 30 ? SB_CONN_REFUSED_PER_IP :
				   requests[p] >= 10 ? SB_CONN_REFUSED_PER_IP : SB_CONN_ADMITTED;

			assert_int_equal(r, want);
			if (r == SB_CONN_ADMITTED) {
				live[i] = req[i] = 1;
				peer[i] = p;
				sockets[p]++;
				requests[p]++;
			}
		} else if (live[i] && op == 2) {
			sb_conn_limits_request_done(l, &e[i]);
			requests[peer[i]] -= req[i];
			req[i] = 0;
		} else if (live[i] && op == 3) {
			sb_conn_limits_request_next(l, &e[i], now);
			requests[peer[i]] += !req[i];
			req[i] = 1;
		} else if (live[i]) {
			sb_conn_limits_release(l, &e[i]);
			sockets[peer[i]]--;
			requests[peer[i]] -= req[i];
			live[i] = req[i] = 0;
		}
		for (struct sb_conn_entry *x; (x = sb_conn_limits_expired(l, now));) {
			int k = (int)(x - e);

			assert_true(req[k]);
			requests[peer[k]]--;
			req[k] = 0;
		}
		if (step % 97 == 0) {
			int p = rand() % PEERS;

			sb_conn_limits_counts(l, key[p], &c);
			assert_int_equal(c.peer_sockets, sockets[p]);
			assert_int_equal(c.peer_requests, requests[p]);
		}
	}
	for (int i = 0; i < N; i++)
		if (live[i])
			sb_conn_limits_release(l, &e[i]);
	{
		struct sb_conn_counts c;

		sb_conn_limits_counts(l, NULL, &c);
		assert_int_equal(c.sockets, 0);
		assert_int_equal(c.requests, 0);
		assert_int_equal((int)c.peers, 0);
	}
	sb_conn_limits_destroy(l);
	free(e);
	free(peer);
	free(live);
	free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_per_ip_requests_bound),
		cmocka_unit_test(test_per_ip_sockets_bound),
		cmocka_unit_test(test_key_text),
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_claim_no_leak),
		cmocka_unit_test(test_global_bounds),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
