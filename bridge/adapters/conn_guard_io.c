/* SPDX-License-Identifier: MIT
 *
 * conn_guard_io.c - the client bytes lws reads, seen before lws parses
 * them.  libwebsockets 4.1 offers no hook between its read from a client
 * socket and its HTTP and WebSocket parsers, and those parsers accept
 * unmasked frames, wait for the payload of a frame header announcing
 * 2^62 bytes, and close silently on a request head larger than their
 * table (docs/protocol.md §5.14).  lws reads a plain socket with recv()
 * and a TLS one with SSL_read(), both through the dynamic linker: the
 * bridge's executable defines both, and so comes first for
 * libwebsockets.so.  The definitions here pass every call through
 * unchanged unless it comes from the lws service thread for a socket the
 * guard checks (conn_guard.c); then the bytes read are fed to wire_check.c
 * and lws gets only those before an offending request head or frame.
 * Paho's MQTT thread, OpenSSL's own reads (read(2)) and everything else
 * are untouched.
 *
 * Limits left: nothing else may read these sockets with recv() on the
 * service thread; a client that closes its side right after the offending
 * bytes may see the connection close without the 431 or close frame.
 */
#define _GNU_SOURCE
/* recv() is defined here: no fortified inline of it */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "conn_guard.h"

/* Once a connection has a verdict, at most this much is read and dropped
 * per call (the rest at the next one). */
#define DROP_MAX (64 * 1024)

static ssize_t plain_read(int fd, void *buf, size_t len, int flags)
{
	return recvfrom(fd, buf, len, flags, NULL, NULL);
}

/* Reads and drops what fd has: 0 at its end, else -1 with errno (EAGAIN
 * when all that was there is dropped). */
static ssize_t drop_plain(int fd, int flags)
{
	unsigned char buf[4096];
	size_t total = 0;

	while (total < DROP_MAX) {
		ssize_t r = plain_read(fd, buf, sizeof(buf), flags);

		if (r <= 0)
			return r;
		total += (size_t)r;
	}
	errno = EAGAIN;
	return -1;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n;
	size_t k;

	if ((flags & MSG_PEEK) || !sb_conn_guard_watching(fd))
		return plain_read(fd, buf, len, flags);
	if (sb_conn_guard_discarding(fd))
		return drop_plain(fd, flags);
	n = plain_read(fd, buf, len, flags);
	if (n <= 0)
		return n;
	k = sb_conn_guard_inbound(fd, buf, (size_t)n);
	return k ? (ssize_t)k : drop_plain(fd, flags);
}

/* ---- TLS --------------------------------------------------------------------------------- */

typedef int (*ssl_read_fn)(SSL *, void *, int);

static ssl_read_fn real_ssl_read;
static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;

static void ssl_resolve(void)
{
	real_ssl_read = (ssl_read_fn)dlsym(RTLD_NEXT, "SSL_read");
}

/* Reads and drops what the TLS layer has, until it wants more (then
 * SSL_get_error() says WANT_READ, as lws expects) or fails.  Past DROP_MAX
 * it returns 0: lws then closes the connection. */
static int drop_tls(SSL *ssl)
{
	unsigned char buf[4096];
	size_t total = 0;

	while (total < DROP_MAX) {
		int r = real_ssl_read(ssl, buf, (int)sizeof(buf));

		if (r <= 0)
			return r;
		total += (size_t)r;
	}
	return 0;
}

int SSL_read(SSL *ssl, void *buf, int num)
{
	int fd, n;
	size_t k;

	pthread_once(&ssl_once, ssl_resolve);
	if (!real_ssl_read)
		return -1;
	fd = SSL_get_fd(ssl);
	if (num <= 0 || !sb_conn_guard_watching(fd))
		return real_ssl_read(ssl, buf, num);
	if (sb_conn_guard_discarding(fd))
		return drop_tls(ssl);
	n = real_ssl_read(ssl, buf, num);
	if (n <= 0)
		return n;
	k = sb_conn_guard_inbound(fd, buf, (size_t)n);
	return k ? (int)k : drop_tls(ssl);
}
