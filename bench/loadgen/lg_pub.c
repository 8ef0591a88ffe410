// SPDX-License-Identifier: MIT
/*
 * lg_pub.c - sb-loadgen's publisher: one non-blocking connection, paced by
 * the monotonic clock so that message i leaves at start + i / rate (a late
 * loop catches up at once and counts the message as late), each payload
 * stamped with the wall-clock time it was written.  Raw MQTT rather than
 * Paho: at 150k QoS 1 messages/s the client library's own cost would share
 * the load core with the subscribers and blur the measurement.
 *
 * The payload is a valid app-status.json document (the schema of
 * team/<t>/app/<uuid>/status), padded in `reason` to the requested size:
 *   {"ts":"2026-11-22T05:24:32.123456Z","status":"running","reason":"seq 000000000042 xx…","name":"sb-loadgen"}
 */
#define _GNU_SOURCE
#include "lg_pub.h"
#include "lg_mqtt.h"
#include "lg_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define OUT_HIGH (1u << 20) /* stop composing while this much waits for the socket */
#define LATE_NS 10000000u   /* a message sent 10 ms after its slot is late */

struct pub {
	const struct lg_pub_opts *o;
	int fd;
	struct lg_buf out, in;
	char **topics; /* channels * topics expanded names */
	uint64_t sent, acked, errors, lost, late, max_lag_ns;
	unsigned inflight;
	uint16_t id;
	int reported;
};

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static int tcp_connect(const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* writes what waits; returns -1 when the connection is gone */
static int flush(struct pub *p)
{
	while (p->out.len) {
		ssize_t w = send(p->fd, p->out.p, p->out.len, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		lg_util_buf_consume(&p->out, (size_t)w);
	}
	return 0;
}

static int payload(struct pub *p, char *out, uint64_t seq)
{
	static const char tail[] = "\",\"name\":\"sb-loadgen\"}";
	char ts[LG_TS_LEN];
	lg_util_ts_format(ts, lg_util_real_us());
	int n = snprintf(out, 512, "{\"ts\":\"%.*s\",\"status\":\"running\",\"reason\":\"seq %012llu ",
			 LG_TS_LEN, ts, (unsigned long long)seq);
	int want = p->o->size - (int)sizeof tail + 1;
	while (n < want)
		out[n++] = 'x';
	memcpy(out + n, tail, sizeof tail - 1);
	return n + (int)sizeof tail - 1;
}

static int compose(struct pub *p, uint64_t seq)
{
	const struct lg_pub_opts *o = p->o;
	char pl[600];
	int plen = payload(p, pl, seq);
	int ch = (int)(seq % (uint64_t)o->channels);
	int t = (int)(seq / (uint64_t)o->channels % (uint64_t)o->topics);
	const char *topic = p->topics[ch * o->topics + t];
	if (o->target == LG_TARGET_MQTT) {
		uint8_t pkt[1200];
		if (o->qos && ++p->id == 0)
			p->id = 1;
		size_t n = lg_mqtt_publish(pkt, sizeof pkt, topic, pl, (size_t)plen, o->qos, p->id);
		return lg_util_buf_append(&p->out, pkt, n);
	}
	char req[1400];
	int n = snprintf(req, sizeof req,
			 "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
			 "Content-Length: %d\r\n\r\n%.*s",
			 topic, o->host, o->port, plen, plen, pl);
	return lg_util_buf_append(&p->out, req, (size_t)n);
}

static void count_ack(struct pub *p, int ok, const uint8_t *what, size_t n)
{
	p->acked++;
	if (p->inflight)
		p->inflight--;
	if (!ok) {
		p->errors++;
		if (p->reported++ < 5)
			fprintf(stderr, "sb-loadgen pub: refused: %.*s\n", (int)(n > 200 ? 200 : n),
				(const char *)what);
	}
}

/* the acknowledgements in p->in: PUBACKs or HTTP responses */
static void parse_acks(struct pub *p)
{
	size_t off = 0;
	const uint8_t *d = p->in.p;
	while (off < p->in.len) {
		size_t avail = p->in.len - off;
		if (p->o->target == LG_TARGET_MQTT) {
			size_t hl;
			long len = lg_mqtt_packet(d + off, avail, &hl);
			if (len <= 0)
				break;
			if (d[off] >> 4 == LG_MQTT_PUBACK)
				count_ack(p, 1, NULL, 0);
			off += (size_t)len;
			continue;
		}
		const uint8_t *hend = memmem(d + off, avail, "\r\n\r\n", 4);
		if (!hend)
			break;
		size_t hlen = (size_t)(hend - (d + off)) + 4, blen = 0;
		char hdr[2048];
		size_t cl = hlen < sizeof hdr ? hlen : sizeof hdr - 1;
		memcpy(hdr, d + off, cl);
		hdr[cl] = '\0';
		const char *h = strcasestr(hdr, "\r\ncontent-length:");
		if (h) {
			blen = strtoul(h + 17, NULL, 10);
		} else if (strcasestr(hdr, "\r\ntransfer-encoding: chunked")) {
			const uint8_t *z = memmem(d + off + hlen, avail - hlen, "0\r\n\r\n", 5);
			if (!z)
				break;
			blen = (size_t)(z - (d + off + hlen)) + 5;
		}
		if (hlen + blen > avail)
			break;
		int status = avail > 12 ? atoi((const char *)d + off + 9) : 0;
		count_ack(p, status >= 200 && status < 300, d + off, hlen + blen);
		off += hlen + blen;
	}
	lg_util_buf_consume(&p->in, off);
}

/* reads what arrived; returns -1 when the server closed the connection */
static int read_acks(struct pub *p)
{
	uint8_t buf[65536];
	for (;;) {
		ssize_t r = recv(p->fd, buf, sizeof buf, 0);
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (lg_util_buf_append(&p->in, buf, (size_t)r))
			return -1;
		parse_acks(p);
	}
}

static int open_link(struct pub *p)
{
	p->fd = tcp_connect(p->o->host, p->o->port);
	if (p->fd < 0) {
		fprintf(stderr, "sb-loadgen pub: connect %s:%d: %s\n", p->o->host, p->o->port,
			strerror(errno));
		return -1;
	}
	if (p->o->target != LG_TARGET_MQTT)
		return 0;
	uint8_t pkt[300];
	char id[64];
	snprintf(id, sizeof id, "lg-pub-%d", (int)getpid());
	lg_util_buf_append(&p->out, pkt, lg_mqtt_connect(pkt, sizeof pkt, id, 60));
	uint64_t deadline = lg_util_mono_ns() + 5000000000u;
	while (lg_util_mono_ns() < deadline) {
		if (flush(p) < 0)
			break;
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		poll(&pf, 1, 100);
		uint8_t b[4];
		ssize_t r = recv(p->fd, b, sizeof b, 0);
		if (r == 4 && b[0] >> 4 == LG_MQTT_CONNACK && b[3] == 0)
			return 0;
		if (r == 0 || (r > 0 && r != 4) || (r < 0 && errno != EAGAIN))
			break;
	}
	fprintf(stderr, "sb-loadgen pub: no CONNACK from %s:%d\n", p->o->host, p->o->port);
	return -1;
}

/* HTTP servers may close a keep-alive connection; MQTT ones only on error */
static int relink(struct pub *p)
{
	close(p->fd);
	p->fd = -1;
	p->lost += p->inflight;
	p->inflight = 0;
	p->out.len = p->in.len = 0;
	if (p->o->target == LG_TARGET_MQTT)
		return -1;
	return open_link(p);
}

static int make_topics(struct pub *p)
{
	const struct lg_pub_opts *o = p->o;
	p->topics = calloc((size_t)(o->channels * o->topics), sizeof *p->topics);
	if (!p->topics)
		return -1;
	for (int c = 0; c < o->channels; c++) {
		for (int t = 0; t < o->topics; t++) {
			char u[40], name[600];
			snprintf(u, sizeof u, "%08x-0000-4000-8000-%012x", (unsigned)c, (unsigned)t);
			if (lg_util_expand(name, sizeof name, o->topic, c, u) < 0)
				return -1;
			if (!(p->topics[c * o->topics + t] = strdup(name)))
				return -1;
		}
	}
	return 0;
}

static void summary(struct pub *p, double elapsed)
{
	printf("{\"sent\":%llu,\"acked\":%llu,\"errors\":%llu,\"lost\":%llu,\"unacked\":%u,"
	       "\"elapsed_s\":%.3f,\"rate\":%.1f,\"late\":%llu,\"max_lag_ms\":%.3f}\n",
	       (unsigned long long)p->sent, (unsigned long long)p->acked,
	       (unsigned long long)p->errors, (unsigned long long)p->lost, p->inflight, elapsed,
	       elapsed > 0 ? (double)p->sent / elapsed : 0, (unsigned long long)p->late,
	       (double)p->max_lag_ns / 1e6);
	fflush(stdout);
}

/* one round of the loop: compose what is due, write, wait for the next slot
 * or for acknowledgements; returns -1 when the link is lost for good */
static int step(struct pub *p, uint64_t start, uint64_t limit)
{
	const struct lg_pub_opts *o = p->o;
	int acked = o->target == LG_TARGET_HTTP || o->qos > 0;
	uint64_t now = lg_util_mono_ns();
	uint64_t due = limit;
	if (o->rate > 0) {
		uint64_t d = (uint64_t)((double)(now - start) * o->rate / 1e9) + 1;
		due = d < limit ? d : limit;
	}
	while (p->sent < due && (!acked || p->inflight < (unsigned)o->inflight) &&
	       p->out.len < OUT_HIGH) {
		if (o->rate > 0) {
			uint64_t slot = start + (uint64_t)((double)p->sent * 1e9 / o->rate);
			uint64_t lag = now > slot ? now - slot : 0;
			p->late += lag > LATE_NS;
			if (lag > p->max_lag_ns)
				p->max_lag_ns = lag;
		}
		if (compose(p, p->sent))
			return -1;
		p->sent++;
		p->inflight += (unsigned)acked;
	}
	if (flush(p) < 0)
		return relink(p);
	int64_t wait_ns = 50000000;
	if (o->rate > 0 && p->sent < limit) {
		uint64_t next = start + (uint64_t)((double)p->sent * 1e9 / o->rate);
		wait_ns = next > now ? (int64_t)(next - now) : 0;
		if (wait_ns > 50000000)
			wait_ns = 50000000;
	} else if (o->rate <= 0 && p->sent < limit && !(acked && p->inflight >= (unsigned)o->inflight) &&
		   !p->out.len) {
		wait_ns = 0;
	}
	struct pollfd pf = { .fd = p->fd, .events = POLLIN | (p->out.len ? POLLOUT : 0) };
	struct timespec ts = { .tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000 };
	if (ppoll(&pf, 1, &ts, NULL) > 0 && (pf.revents & (POLLIN | POLLHUP | POLLERR)) &&
	    read_acks(p) < 0)
		return relink(p);
	return 0;
}

int lg_pub_run(const struct lg_pub_opts *o)
{
	struct pub p = { .o = o };
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (make_topics(&p)) {
		fprintf(stderr, "sb-loadgen pub: bad topic template or out of memory\n");
		return 1;
	}
	if (open_link(&p))
		return 1;
	uint64_t start = lg_util_mono_ns();
	uint64_t limit = o->count > 0 ? (uint64_t)o->count : UINT64_MAX;
	uint64_t end = o->duration_s > 0 ? start + (uint64_t)(o->duration_s * 1e9) : UINT64_MAX;
	int rc = 0;
	while (!stop_signal && p.sent < limit && lg_util_mono_ns() < end) {
		if (step(&p, start, limit) < 0) {
			fprintf(stderr, "sb-loadgen pub: connection lost\n");
			rc = 1;
			break;
		}
	}
	double elapsed = (double)(lg_util_mono_ns() - start) / 1e9;
	/* the outstanding acknowledgements, briefly */
	uint64_t deadline = lg_util_mono_ns() + 5000000000u;
	while (!rc && (p.inflight || p.out.len) && lg_util_mono_ns() < deadline) {
		if (flush(&p) < 0)
			break;
		struct pollfd pf = { .fd = p.fd, .events = POLLIN | (p.out.len ? POLLOUT : 0) };
		if (poll(&pf, 1, 50) > 0 && read_acks(&p) < 0)
			break;
	}
	summary(&p, elapsed);
	if (p.fd >= 0)
		close(p.fd);
	for (int i = 0; i < o->channels * o->topics; i++)
		free(p.topics[i]);
	free(p.topics);
	lg_util_buf_free(&p.out);
	lg_util_buf_free(&p.in);
	return rc;
}
