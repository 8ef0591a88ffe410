/* SPDX-License-Identifier: MIT
 *
 * conn_limits.c - the per-address table (a chained hash keyed by the
 * address, seeded so that a client cannot choose addresses that collide)
 * and the deadline list.  Every request gets the same time, so deadlines
 * come in the order requests start: the list is a FIFO, appended at the
 * tail and expired from the head, each step O(1).
 */
#include "conn_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct sb_conn_peer {
	unsigned char key[SB_CONN_KEY_LEN];
	unsigned sockets, requests;
	struct sb_conn_peer *next;     /* in its bucket */
};

struct sb_conn_limits {
	struct sb_conn_limits_params p;
	struct sb_conn_peer **buckets;
	size_t n_buckets, n_peers;     /* n_buckets: a power of two */
	unsigned sockets;
	struct sb_list requests;       /* entries in a request, by deadline */
	struct sb_conn_stats stats;
};

enum sb_err sb_conn_limits_create(struct sb_conn_limits **out, const struct sb_conn_limits_params *p)
{
	struct sb_conn_limits *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l)
		return SB_ERR_NOMEM;
	l->p = *p;
	l->n_buckets = 64;
	l->buckets = calloc(l->n_buckets, sizeof(*l->buckets));
	if (!l->buckets) {
		free(l);
		return SB_ERR_NOMEM;
	}
	*out = l;
	return SB_OK;
}

void sb_conn_limits_destroy(struct sb_conn_limits *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_buckets; i++)
		while (l->buckets[i]) {
			struct sb_conn_peer *p = l->buckets[i];
			l->buckets[i] = p->next;
			free(p);
		}
	free(l->buckets);
	free(l);
}

enum sb_err sb_conn_key(const struct sockaddr *sa, socklen_t len, unsigned char key[SB_CONN_KEY_LEN])
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(key, 0, SB_CONN_KEY_LEN);
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(key, v4mapped, sizeof(v4mapped));
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return SB_OK;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		/* an IPv4 client of a dual-stack socket is that IPv4 address */
		if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0)
			memcpy(key, a, SB_CONN_KEY_LEN);
		else
			memcpy(key, a, 8);
		return SB_OK;
	}
	return SB_ERR_INVAL;
}

enum sb_err sb_conn_key_text(const char *addr, unsigned char key[SB_CONN_KEY_LEN])
{
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, addr, &v4.sin_addr) == 1)
		return sb_conn_key((const struct sockaddr *)&v4, sizeof(v4), key);
	if (inet_pton(AF_INET6, addr, &v6.sin6_addr) == 1)
		return sb_conn_key((const struct sockaddr *)&v6, sizeof(v6), key);
	memset(key, 0, SB_CONN_KEY_LEN);
	return SB_ERR_INVAL;
}

/* ---- the address table ------------------------------------------------------------------ */

static size_t bucket_of(const struct sb_conn_limits *l, const unsigned char *key)
{
	uint64_t h = l->p.seed ^ 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < SB_CONN_KEY_LEN; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	return (size_t)h & (l->n_buckets - 1);
}

static struct sb_conn_peer *peer_find(const struct sb_conn_limits *l, const unsigned char *key)
{
	for (struct sb_conn_peer *p = l->buckets[bucket_of(l, key)]; p; p = p->next)
		if (memcmp(p->key, key, SB_CONN_KEY_LEN) == 0)
			return p;
	return NULL;
}

/* Twice the buckets once there are more addresses than buckets; a failed
 * allocation keeps the table as it is (longer chains, still correct). */
static void grow(struct sb_conn_limits *l)
{
	size_t n = l->n_buckets * 2, old = l->n_buckets;
	struct sb_conn_peer **b = calloc(n, sizeof(*b)), **ob = l->buckets;

	if (!b)
		return;
	l->buckets = b;
	l->n_buckets = n;
	for (size_t i = 0; i < old; i++)
		while (ob[i]) {
			struct sb_conn_peer *p = ob[i];
			size_t k = bucket_of(l, p->key);

			ob[i] = p->next;
			p->next = b[k];
			b[k] = p;
		}
	free(ob);
}

static struct sb_conn_peer *peer_add(struct sb_conn_limits *l, const unsigned char *key)
{
	struct sb_conn_peer *p = calloc(1, sizeof(*p));
	size_t k;

	if (!p)
		return NULL;
	if (l->n_peers >= l->n_buckets)
		grow(l);
	memcpy(p->key, key, SB_CONN_KEY_LEN);
	k = bucket_of(l, key);
	p->next = l->buckets[k];
	l->buckets[k] = p;
	l->n_peers++;
	return p;
}

static void peer_drop(struct sb_conn_limits *l, struct sb_conn_peer *p)
{
	struct sb_conn_peer **pp = &l->buckets[bucket_of(l, p->key)];

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	l->n_peers--;
	free(p);
}

/* ---- the deadline list ------------------------------------------------------------------- */

static int in_request(const struct sb_conn_entry *e)
{
	return e->node.owner != NULL;
}

static void start_request(struct sb_conn_limits *l, struct sb_conn_entry *e, int64_t now)
{
	e->deadline = now + l->p.request_ms;
	sb_list_add_tail(&l->requests, &e->node);
	if (e->peer)
		e->peer->requests++;
}

static void end_request(struct sb_conn_entry *e)
{
	sb_list_remove(&e->node);
	if (e->peer)
		e->peer->requests--;
}

/* ---- connections --------------------------------------------------------------------------- */

/* The address `key` for one more connection (its count raised), or NULL
 * with *why set: at its limit (the requests' limit too when `requests`),
 * or out of memory. */
static struct sb_conn_peer *peer_take(struct sb_conn_limits *l, const unsigned char *key,
				      int requests, enum sb_conn_refusal *why)
{
	struct sb_conn_peer *p = peer_find(l, key);

	if (p && ((l->p.per_ip_sockets && p->sockets >= l->p.per_ip_sockets) ||
		  (requests && l->p.per_ip_requests && p->requests >= l->p.per_ip_requests))) {
		l->stats.refused_per_ip++;
		*why = SB_CONN_REFUSED_PER_IP;
		return NULL;
	}
	if (!p && !(p = peer_add(l, key))) {
		l->stats.refused_max++;
		*why = SB_CONN_REFUSED_MAX;
		return NULL;
	}
	p->sockets++;
	return p;
}

enum sb_conn_refusal sb_conn_limits_admit(struct sb_conn_limits *l, struct sb_conn_entry *e,
					  const unsigned char key[SB_CONN_KEY_LEN], int exempt,
					  int64_t now)
{
	struct sb_conn_peer *p = NULL;
	enum sb_conn_refusal why;

	if (l->sockets >= l->p.max_sockets || l->requests.count >= l->p.max_requests) {
		l->stats.refused_max++;
		return SB_CONN_REFUSED_MAX;
	}
	if (!exempt && !(p = peer_take(l, key, 1, &why)))
		return why;
	memset(e, 0, sizeof(*e));
	e->peer = p;
	e->admitted = 1;
	l->sockets++;
	start_request(l, e, now);
	return SB_CONN_ADMITTED;
}

enum sb_conn_refusal sb_conn_limits_claim(struct sb_conn_limits *l, struct sb_conn_entry *e,
					  const unsigned char key[SB_CONN_KEY_LEN])
{
	enum sb_conn_refusal why;

	if (!e->admitted || e->peer)
		return SB_CONN_ADMITTED;
	if (!(e->peer = peer_take(l, key, 0, &why)))
		return why;
	/* counted as the requests of its address too while in one, so that
	 * the end of the request or the release takes back what is there */
	if (in_request(e))
		e->peer->requests++;
	return SB_CONN_ADMITTED;
}

void sb_conn_limits_request_done(struct sb_conn_limits *l, struct sb_conn_entry *e)
{
	if (e->admitted && in_request(e))
		end_request(e);
}

void sb_conn_limits_request_next(struct sb_conn_limits *l, struct sb_conn_entry *e, int64_t now)
{
	if (e->admitted && !in_request(e))
		start_request(l, e, now);
}

struct sb_conn_entry *sb_conn_limits_expired(struct sb_conn_limits *l, int64_t now)
{
	struct sb_conn_entry *e;

	if (!l->requests.head)
		return NULL;
	e = sb_container_of(l->requests.head, struct sb_conn_entry, node);
	if (e->deadline > now)
		return NULL;
	end_request(e);
	l->stats.request_timeouts++;
	return e;
}

int64_t sb_conn_limits_next_deadline(const struct sb_conn_limits *l)
{
	return l->requests.head ?
		sb_container_of(l->requests.head, struct sb_conn_entry, node)->deadline : INT64_MAX;
}

void sb_conn_limits_release(struct sb_conn_limits *l, struct sb_conn_entry *e)
{
	if (!e->admitted)
		return;
	if (in_request(e))
		end_request(e);
	e->admitted = 0;
	l->sockets--;
	if (e->peer && --e->peer->sockets == 0)
		peer_drop(l, e->peer);
	e->peer = NULL;
}

struct sb_conn_stats *sb_conn_limits_stats(struct sb_conn_limits *l)
{
	return &l->stats;
}

void sb_conn_limits_counts(const struct sb_conn_limits *l, const unsigned char *key,
			   struct sb_conn_counts *out)
{
	const struct sb_conn_peer *p = key ? peer_find(l, key) : NULL;

	memset(out, 0, sizeof(*out));
	out->sockets = l->sockets;
	out->requests = (unsigned)l->requests.count;
	out->peers = l->n_peers;
	if (p) {
		out->peer_sockets = p->sockets;
		out->peer_requests = p->requests;
	}
}
