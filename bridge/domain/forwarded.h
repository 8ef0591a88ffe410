/* SPDX-License-Identifier: MIT
 *
 * forwarded.h - the client's address behind reverse proxies: the peer of
 * the TCP connection, unless it is one of listen.trusted_proxies, in which
 * case X-Forwarded-For is read from the right (the entry the trusted proxy
 * appended) past every trusted address to the first one that is not.  A
 * client that connects directly cannot make itself someone else by
 * sending the header: its own address is not trusted, so the header is
 * ignored.  Pure module (inet_pton and string work only).
 */
#ifndef SB_FORWARDED_H
#define SB_FORWARDED_H

#include <stddef.h>

#include "sb_common.h"

/* The longest address written: an IPv6 address in text, NUL included. */
#define SB_ADDR_MAX 46

/* 1 when `entry` is an IPv4 or IPv6 address, or one with a prefix length
 * ("10.0.0.0/8", "fd00::/8"): what listen.trusted_proxies may hold. */
int sb_forwarded_valid(const char *entry);

/* 1 when `addr` (an address in text; IPv4-mapped IPv6 counts as IPv4) is
 * in one of the n entries of `trusted`. */
int sb_forwarded_trusted(char *const *trusted, size_t n, const char *addr);

/* The client's address into out[SB_ADDR_MAX], normalised (inet_ntop;
 * IPv4-mapped IPv6 written as IPv4): `peer` when it is not trusted or
 * there is no `xff` (NULL or empty); else the rightmost entry of `xff`
 * (comma-separated; "addr:port" and "[v6]:port" accepted) that is not
 * trusted, or the leftmost entry when all are.  An entry that is not an
 * address stops the walk at the trusted address right of it.  A `peer`
 * that is no address is copied as it is (cut to fit). */
void sb_forwarded_client(char *const *trusted, size_t n, const char *peer, const char *xff,
			 char *out);

#endif
