/* SPDX-License-Identifier: MIT
 *
 * conn_limits.h - who may open a connection, and how long a connection may
 * take to send its request (docs/protocol.md §5.14): a table of the open
 * connections per client address, the connections still in their HTTP
 * request (the WebSocket handshake, or a plain request's headers) in the
 * order of their deadlines, and the counters of what was refused.  Pure
 * module: the adapter (conn_guard.c) asks at accept, reports the end of
 * each request and the close, and closes what sb_conn_limits_expired()
 * hands back; times are passed in.
 */
#ifndef SB_CONN_LIMITS_H
#define SB_CONN_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "list.h"
#include "sb_common.h"

/* A client address as the limits see it: IPv4 as an IPv4-mapped IPv6
 * address, IPv6 cut to its /64 (one host or one site: a client may pick
 * any address of its /64). */
#define SB_CONN_KEY_LEN 16

struct sb_conn_limits_params {
	unsigned max_sockets;       /* every connection, whatever its state */
	unsigned max_requests;      /* connections in their request at once */
	unsigned per_ip_sockets;    /* per address; 0 = no limit */
	unsigned per_ip_requests;   /* per address, in their request; 0 = no limit */
	int64_t request_ms;         /* how long a request may take (> 0) */
	uint64_t seed;              /* hashes the addresses (any value) */
};

/* What /metrics shows (statusbus_connections_refused_total). */
struct sb_conn_stats {
	uint64_t refused_per_ip;        /* at accept: the address is at its limit */
	uint64_t refused_max;           /* at accept: max_sockets or max_requests reached */
	uint64_t request_timeouts;      /* closed: the request not in by its deadline */
	uint64_t headers_too_large;     /* answered 431 (counted by the adapter) */
	uint64_t frames_unmasked;       /* closed 1002 (counted by the adapter) */
	uint64_t frames_too_large;      /* closed 4009 at the frame header (adapter) */
};

enum sb_conn_refusal { SB_CONN_ADMITTED = 0, SB_CONN_REFUSED_PER_IP, SB_CONN_REFUSED_MAX };

struct sb_conn_peer;

/* One connection, embedded in the caller's record; its fields belong to
 * this module. */
struct sb_conn_entry {
	struct sb_conn_peer *peer;      /* NULL: exempt from the per-address limits */
	struct sb_list_node node;       /* in the deadline list while in a request */
	int64_t deadline;
	int admitted;
};

struct sb_conn_limits;

/* Caller frees with sb_conn_limits_destroy() once every entry is released. */
enum sb_err sb_conn_limits_create(struct sb_conn_limits **out,
				  const struct sb_conn_limits_params *p);
/* Accepts NULL. */
void sb_conn_limits_destroy(struct sb_conn_limits *l);

/* The key of a peer address (AF_INET or AF_INET6) into key[]; SB_ERR_INVAL
 * for another family or a short length. */
enum sb_err sb_conn_key(const struct sockaddr *sa, socklen_t len,
			unsigned char key[SB_CONN_KEY_LEN]);

/* The key of an address in text (IPv4, IPv6, IPv4-mapped IPv6), as
 * sb_conn_key() makes it; SB_ERR_INVAL when it is no address. */
enum sb_err sb_conn_key_text(const char *addr, unsigned char key[SB_CONN_KEY_LEN]);

/* A new connection from `key`: admitted (e is then counted, in its request
 * with a deadline of now + request_ms) or refused (e untouched, the
 * refusal counted).  `exempt` skips the per-address limits (a trusted
 * proxy: its clients are not its address).  SB_CONN_REFUSED_MAX also when
 * out of memory. */
enum sb_conn_refusal sb_conn_limits_admit(struct sb_conn_limits *l, struct sb_conn_entry *e,
					  const unsigned char key[SB_CONN_KEY_LEN], int exempt,
					  int64_t now);
/* e, admitted exempt (a trusted proxy's connection), turns out to be for
 * the client `key` (X-Forwarded-For of its WebSocket upgrade): counted
 * under key against per_ip_sockets from now until released, under that
 * key whatever the configuration says by then (the entry keeps it), or
 * refused (SB_CONN_REFUSED_PER_IP, counted as refused_per_ip; e stays
 * exempt, the caller closes it).  An entry counted under an address
 * already (not exempt, or claimed before) stays as it is: admitted.
 * SB_CONN_REFUSED_MAX when out of memory. */
enum sb_conn_refusal sb_conn_limits_claim(struct sb_conn_limits *l, struct sb_conn_entry *e,
					  const unsigned char key[SB_CONN_KEY_LEN]);
/* e's request is in (headers complete, or the WebSocket upgrade done): no
 * deadline any more.  Nothing when e is not in a request. */
void sb_conn_limits_request_done(struct sb_conn_limits *l, struct sb_conn_entry *e);
/* e (a keep-alive connection) waits for its next request, with a fresh
 * deadline.  Nothing when e is in a request already. */
void sb_conn_limits_request_next(struct sb_conn_limits *l, struct sb_conn_entry *e, int64_t now);
/* The next entry whose deadline is past at `now`, taken out of its request
 * and counted as a request timeout (the caller closes it and releases it
 * later), or NULL. */
struct sb_conn_entry *sb_conn_limits_expired(struct sb_conn_limits *l, int64_t now);
/* The earliest deadline, or INT64_MAX when no connection is in a request. */
int64_t sb_conn_limits_next_deadline(const struct sb_conn_limits *l);
/* The connection closed: uncounted.  Nothing for an entry never admitted
 * or released already. */
void sb_conn_limits_release(struct sb_conn_limits *l, struct sb_conn_entry *e);

/* The counters; the adapter adds its own (431, frames) here too. */
struct sb_conn_stats *sb_conn_limits_stats(struct sb_conn_limits *l);

struct sb_conn_counts {
	unsigned sockets, requests;             /* all addresses */
	unsigned peer_sockets, peer_requests;   /* of the address asked for */
	size_t peers;                           /* addresses with a connection */
};
/* The counts now, with those of `key` (NULL: zero). */
void sb_conn_limits_counts(const struct sb_conn_limits *l, const unsigned char *key,
			   struct sb_conn_counts *out);

#endif
