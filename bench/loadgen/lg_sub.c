// SPDX-License-Identifier: MIT
/*
 * lg_sub.c - sb-loadgen's subscribers: one level-triggered epoll loop over
 * every connection, non-blocking connect and upgrade, then the protocol's
 * subscribe exchange, then counting.  A read goes into one shared buffer
 * and is parsed in place; only a frame cut by the read boundary is copied
 * into the connection's own buffer, so an idle connection holds no memory
 * besides its small struct.
 *
 * An event is a publish timestamp found in a data frame (see lg_util.h), so
 * a statusbus `batch` frame counts as many events as it carries and the
 * same count works for every protocol.  Counters are cumulative; the
 * latency histogram restarts at every report, so a report taken at the
 * start and one at the end of a window give that window's percentiles.
 */
#define _GNU_SOURCE
#include "lg_sub.h"
#include "lg_mqtt.h"
#include "lg_util.h"
#include "lg_ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { ST_IDLE, ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_SUBSCRIBED, ST_DEAD };

#define RBUF_SIZE (256 * 1024)
#define CONTROL_TAG UINT32_MAX
#define MAX_REPORTED_FAILURES 5

struct conn {
	int fd;
	uint8_t state;
	uint8_t msg_op;  /* opcode of the fragmented message in msg */
	const char *doom; /* set by a failed write: closed once the event is handled */
	uint64_t next_ping_ns;
	struct lg_buf in, msg, out, mq;
};

struct sub {
	const struct lg_sub_opts *o;
	int ep;
	struct conn *c;
	int next, pending;
	uint32_t rng;
	uint64_t open, subscribed, failed, closed, frames, events, bytes, errors, gaps, pings;
	int reported;
	struct lg_hist hist;
	uint64_t t0;
	uint8_t *rbuf;
	char ctl[256];
	size_t ctl_len;
	int quit;
};

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

/* where a publish timestamp starts; Pusher carries the payload as a JSON
 * string inside `data`, so its quotes are escaped */
static const char TS_KEY[] = "\"ts\":\"";
static const char TS_KEY_ESCAPED[] = "\\\"ts\\\":\\\"";
#define SCAN(s, p, n, key, now) lg_util_scan_events(p, n, key, sizeof key - 1, now, &(s)->hist)

static uint32_t rnd(struct sub *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 17;
	s->rng ^= s->rng << 5;
	return s->rng;
}

static void conn_close(struct sub *s, struct conn *c, const char *why)
{
	if (c->state == ST_DEAD)
		return;
	if (c->state == ST_SUBSCRIBED) {
		s->closed++;
	} else {
		s->failed++;
		s->pending--;
	}
	if (c->state >= ST_OPEN)
		s->open--;
	if (s->reported < MAX_REPORTED_FAILURES) {
		s->reported++;
		fprintf(stderr, "sb-loadgen: connection %d %s: %s\n", (int)(c - s->c),
			c->state == ST_SUBSCRIBED ? "closed" : "failed", why);
	}
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = ST_DEAD;
	lg_util_buf_free(&c->in);
	lg_util_buf_free(&c->msg);
	lg_util_buf_free(&c->out);
	lg_util_buf_free(&c->mq);
	c->doom = NULL;
}

/* Queues bytes for the socket: written at once when nothing waits before
 * them, else kept until the next EPOLLOUT edge.  A failure dooms the
 * connection; the
 * caller finds c->doom set and stops. */
static void conn_write(struct sub *s, struct conn *c, const void *data, size_t n)
{
	const uint8_t *p = data;
	if (c->doom)
		return;
	if (!c->out.len) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN) {
			c->doom = "write failed";
			return;
		}
		if (w < 0)
			w = 0;
		p += w;
		n -= (size_t)w;
		if (!n)
			return;
	}
	if (lg_util_buf_append(&c->out, p, n))
		c->doom = "out of memory";
}

static void ws_send(struct sub *s, struct conn *c, int opcode, const void *p, size_t n)
{
	uint8_t f[16384 + LG_WS_MAX_HDR];
	if (n > 16384) {
		c->doom = "frame too large";
		return;
	}
	conn_write(s, c, f, lg_ws_frame(f, opcode, p, n, rnd(s)));
}

static void ws_send_text(struct sub *s, struct conn *c, const char *text)
{
	ws_send(s, c, LG_WS_TEXT, text, strlen(text));
}

static void mark_subscribed(struct sub *s, struct conn *c)
{
	if (c->state == ST_OPEN) {
		c->state = ST_SUBSCRIBED;
		s->subscribed++;
		s->pending--;
	}
}

static int channel_of(struct sub *s, struct conn *c)
{
	return (int)(c - s->c) % s->o->channels;
}

/* the protocol's first words once the upgrade is done */
static void on_open(struct sub *s, struct conn *c, uint64_t now_ns)
{
	char buf[9000];
	s->open++;
	c->state = ST_OPEN;
	switch (s->o->proto) {
	case LG_PROTO_V1:
		if (s->o->token)
			snprintf(buf, sizeof buf, "{\"op\":\"hello\",\"token\":\"%s\"}", s->o->token);
		else
			snprintf(buf, sizeof buf, "{\"op\":\"hello\"}");
		ws_send_text(s, c, buf);
		break;
	case LG_PROTO_MQTT: {
		char id[64];
		uint8_t pkt[300];
		snprintf(id, sizeof id, "lg-%d-%d", (int)getpid(), (int)(c - s->c));
		ws_send(s, c, LG_WS_BINARY, pkt,
			lg_mqtt_connect(pkt, sizeof pkt, id, s->o->keepalive_s));
		c->next_ping_ns = now_ns + (uint64_t)(s->o->keepalive_s - 5) * 1000000000u;
		break;
	}
	case LG_PROTO_NCHAN:
		mark_subscribed(s, c); /* the upgrade is the subscription */
		break;
	case LG_PROTO_PUSHER:
		break; /* waits for pusher:connection_established */
	}
}

static void report_error(struct sub *s, struct conn *c, const uint8_t *p, size_t n)
{
	s->errors++;
	if (s->reported < MAX_REPORTED_FAILURES) {
		s->reported++;
		fprintf(stderr, "sb-loadgen: connection %d got: %.*s\n", (int)(c - s->c),
			(int)(n > 300 ? 300 : n), (const char *)p);
	}
}

/* the value of "key":"… at the start of p (first 256 bytes), or NULL */
static const uint8_t *field(const uint8_t *p, size_t n, const char *key, size_t klen)
{
	const uint8_t *q = memmem(p, n < 256 ? n : 256, key, klen);
	return q ? q + klen : NULL;
}

#define STARTS(q, end, lit) ((q) && (size_t)((end) - (q)) >= sizeof(lit) - 1 && \
			     memcmp((q), lit, sizeof(lit) - 1) == 0)

static void on_v1(struct sub *s, struct conn *c, const uint8_t *p, size_t n, int64_t now_us)
{
	const uint8_t *end = p + n, *op = field(p, n, "\"op\":\"", 6);
	char buf[600], ch[512];
	if (STARTS(op, end, "event\"") || STARTS(op, end, "batch\"")) {
		s->events += SCAN(s, p, n, TS_KEY, now_us);
	} else if (STARTS(op, end, "welcome\"")) {
		lg_util_expand(ch, sizeof ch, s->o->channel, channel_of(s, c), NULL);
		snprintf(buf, sizeof buf, "{\"op\":\"sub\",\"id\":1,\"channel\":\"%s\"}", ch);
		ws_send_text(s, c, buf);
	} else if (STARTS(op, end, "ack\"")) {
		mark_subscribed(s, c);
	} else if (STARTS(op, end, "gap\"")) {
		s->gaps++;
	} else if (STARTS(op, end, "error\"")) {
		report_error(s, c, p, n);
		if (c->state != ST_SUBSCRIBED)
			c->doom = "refused";
	}
}

static void on_pusher(struct sub *s, struct conn *c, const uint8_t *p, size_t n, int64_t now_us)
{
	const uint8_t *end = p + n, *ev = field(p, n, "\"event\":\"", 9);
	char buf[600], ch[512];
	if (STARTS(ev, end, "pusher:connection_established\"")) {
		lg_util_expand(ch, sizeof ch, s->o->channel, channel_of(s, c), NULL);
		snprintf(buf, sizeof buf,
			 "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"%s\"}}", ch);
		ws_send_text(s, c, buf);
	} else if (STARTS(ev, end, "pusher_internal:subscription_succeeded\"")) {
		mark_subscribed(s, c);
	} else if (STARTS(ev, end, "pusher:ping\"")) {
		s->pings++;
		ws_send_text(s, c, "{\"event\":\"pusher:pong\",\"data\":{}}");
	} else if (STARTS(ev, end, "pusher:error\"") ||
		   STARTS(ev, end, "pusher:subscription_error\"")) {
		report_error(s, c, p, n);
		if (c->state != ST_SUBSCRIBED)
			c->doom = "refused";
	} else if (STARTS(ev, end, "statusbus:gap\"")) {
		s->gaps++;
	} else {
		s->events += SCAN(s, p, n, TS_KEY_ESCAPED, now_us);
	}
}

/* one MQTT packet (complete) */
static void on_mqtt_packet(struct sub *s, struct conn *c, const uint8_t *p, size_t n,
			   size_t hl, int64_t now_us)
{
	int type = p[0] >> 4;
	if (type == LG_MQTT_CONNACK) {
		if (n < 4 || p[3] != 0) {
			c->doom = "CONNACK refused";
			return;
		}
		char filter[512];
		uint8_t pkt[600];
		lg_util_expand(filter, sizeof filter, s->o->channel, channel_of(s, c), NULL);
		ws_send(s, c, LG_WS_BINARY, pkt, lg_mqtt_subscribe(pkt, sizeof pkt, 1, filter, 0));
	} else if (type == LG_MQTT_SUBACK) {
		if (n < hl + 3 || p[hl + 2] == 0x80) {
			c->doom = "SUBACK refused";
			return;
		}
		mark_subscribed(s, c);
	} else if (type == LG_MQTT_PUBLISH) {
		s->events += SCAN(s, p + hl, n - hl, TS_KEY, now_us);
	} else if (type == LG_MQTT_PINGRESP) {
		s->pings++; /* the heartbeat, client-initiated in MQTT */
	}
}

/* MQTT packets may straddle WebSocket messages: a byte stream per connection */
static void on_mqtt(struct sub *s, struct conn *c, const uint8_t *p, size_t n, int64_t now_us)
{
	const uint8_t *d = p;
	size_t avail = n;
	if (c->mq.len) {
		if (lg_util_buf_append(&c->mq, p, n)) {
			c->doom = "out of memory";
			return;
		}
		d = c->mq.p;
		avail = c->mq.len;
	}
	size_t off = 0, hl;
	long len = 0;
	while (!c->doom && (len = lg_mqtt_packet(d + off, avail - off, &hl)) > 0) {
		on_mqtt_packet(s, c, d + off, (size_t)len, hl, now_us);
		off += (size_t)len;
	}
	if (len < 0)
		c->doom = "malformed MQTT packet";
	if (c->mq.len)
		lg_util_buf_consume(&c->mq, off);
	else if (off < avail && lg_util_buf_append(&c->mq, d + off, avail - off))
		c->doom = "out of memory";
}

static void on_message(struct sub *s, struct conn *c, const uint8_t *p, size_t n, int64_t now_us)
{
	s->frames++;
	switch (s->o->proto) {
	case LG_PROTO_V1:
		on_v1(s, c, p, n, now_us);
		break;
	case LG_PROTO_PUSHER:
		on_pusher(s, c, p, n, now_us);
		break;
	case LG_PROTO_MQTT:
		on_mqtt(s, c, p, n, now_us);
		break;
	case LG_PROTO_NCHAN:
		s->events += SCAN(s, p, n, TS_KEY, now_us);
		break;
	}
}

static void on_frame(struct sub *s, struct conn *c, const struct lg_ws_hdr *h,
		     const uint8_t *p, int64_t now_us)
{
	size_t n = (size_t)h->len;
	if (h->opcode == LG_WS_PING) {
		s->pings++;
		ws_send(s, c, LG_WS_PONG, p, n);
	} else if (h->opcode == LG_WS_CLOSE) {
		static char why[160];
		int code = n >= 2 ? p[0] << 8 | p[1] : 0;
		snprintf(why, sizeof why, "close frame %d %.*s", code,
			 (int)(n > 2 ? (n - 2 > 100 ? 100 : n - 2) : 0), (const char *)p + 2);
		ws_send(s, c, LG_WS_CLOSE, p, n >= 2 ? 2 : 0);
		c->doom = why;
	} else if (h->opcode == LG_WS_PONG) {
		/* nothing: the load client sends no pings */
	} else if (h->opcode == LG_WS_CONT || !h->fin) {
		if (h->opcode != LG_WS_CONT)
			c->msg_op = (uint8_t)h->opcode;
		if (lg_util_buf_append(&c->msg, p, n)) {
			c->doom = "out of memory";
			return;
		}
		if (h->fin) {
			on_message(s, c, c->msg.p, c->msg.len, now_us);
			lg_util_buf_consume(&c->msg, c->msg.len);
		}
	} else {
		on_message(s, c, p, n, now_us);
	}
}

/* Parses what p holds; returns how many bytes were used (the rest is an
 * incomplete header block or frame). */
static size_t process(struct sub *s, struct conn *c, const uint8_t *p, size_t n, int64_t now_us)
{
	size_t off = 0;
	if (c->state == ST_HANDSHAKE) {
		int k = lg_ws_response(p, n);
		if (k == 0)
			return 0;
		if (k < 0) {
			static char why[120];
			const uint8_t *eol = memchr(p, '\r', n);
			snprintf(why, sizeof why, "upgrade refused: %.*s",
				 (int)(eol ? (size_t)(eol - p) : (n > 80 ? 80 : n)), (const char *)p);
			c->doom = why;
			return n;
		}
		off = (size_t)k;
		on_open(s, c, lg_util_mono_ns());
	}
	while (!c->doom && off < n) {
		struct lg_ws_hdr h;
		int r = lg_ws_parse(p + off, n - off, &h);
		if (r < 0) {
			c->doom = "bad frame header";
			break;
		}
		if (r == 0 || h.hlen + h.len > n - off)
			break;
		on_frame(s, c, &h, p + off + h.hlen, now_us);
		off += h.hlen + (size_t)h.len;
	}
	return off;
}

/* Edge-triggered: reads until a read comes back short (the socket's queue
 * was emptied; new data raises a new edge) or would block. */
static void on_readable(struct sub *s, struct conn *c)
{
	for (;;) {
		ssize_t r = recv(c->fd, s->rbuf, RBUF_SIZE, 0);
		if (r == 0) {
			conn_close(s, c, "closed by the server");
			return;
		}
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(s, c, strerror(errno));
			return;
		}
		s->bytes += (uint64_t)r;
		int64_t now_us = lg_util_real_us();
		if (c->in.len) {
			if (lg_util_buf_append(&c->in, s->rbuf, (size_t)r)) {
				conn_close(s, c, "out of memory");
				return;
			}
			lg_util_buf_consume(&c->in, process(s, c, c->in.p, c->in.len, now_us));
		} else {
			size_t used = process(s, c, s->rbuf, (size_t)r, now_us);
			if (used < (size_t)r && !c->doom &&
			    lg_util_buf_append(&c->in, s->rbuf + used, (size_t)r - used))
				c->doom = "out of memory";
		}
		if (c->doom || r < RBUF_SIZE)
			return;
	}
}

static void on_writable(struct sub *s, struct conn *c)
{
	if (c->state == ST_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			conn_close(s, c, strerror(err));
			return;
		}
		char req[1200], path[512];
		lg_util_expand(path, sizeof path, s->o->path, channel_of(s, c), NULL);
		const char *sp = s->o->proto == LG_PROTO_V1 ? "statusbus.v1" :
				 s->o->proto == LG_PROTO_MQTT ? "mqtt" : NULL;
		int n = lg_ws_request(req, sizeof req, s->o->host, s->o->port, path, sp);
		c->state = ST_HANDSHAKE;
		conn_write(s, c, req, (size_t)(n < 0 ? 0 : n));
		return;
	}
	while (c->out.len) {
		ssize_t w = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno != EAGAIN)
				c->doom = "write failed";
			return;
		}
		lg_util_buf_consume(&c->out, (size_t)w);
	}
}

static void conn_start(struct sub *s, struct conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)s->o->port) };
	inet_pton(AF_INET, s->o->host, &a.sin_addr);
	s->pending++;
	c->state = ST_CONNECTING;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		/* counted as failed; there is nothing to close */
		s->pending--;
		s->failed++;
		if (s->reported++ < MAX_REPORTED_FAILURES)
			fprintf(stderr, "sb-loadgen: socket: %s\n", strerror(errno));
		c->state = ST_DEAD;
		return;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* edge-triggered, registered once: a level-triggered fd is polled again
	 * after every report, which cost the client more than its reads */
	struct epoll_event e = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				 .data.u32 = (uint32_t)(c - s->c) };
	epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &e);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS)
		conn_close(s, c, strerror(errno));
}

static void report(struct sub *s)
{
	double t = (double)(lg_util_mono_ns() - s->t0) / 1e9;
	printf("{\"t\":%.3f,\"target\":%d,\"open\":%llu,\"subscribed\":%llu,\"failed\":%llu,"
	       "\"closed\":%llu,\"frames\":%llu,\"events\":%llu,\"bytes\":%llu,\"errors\":%llu,"
	       "\"gaps\":%llu,\"pings\":%llu,\"lat_n\":%llu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
	       "\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
	       t, s->o->conns, (unsigned long long)s->open, (unsigned long long)s->subscribed,
	       (unsigned long long)s->failed, (unsigned long long)s->closed,
	       (unsigned long long)s->frames, (unsigned long long)s->events,
	       (unsigned long long)s->bytes, (unsigned long long)s->errors,
	       (unsigned long long)s->gaps, (unsigned long long)s->pings,
	       (unsigned long long)s->hist.n, lg_util_hist_pct_ms(&s->hist, 0.50),
	       lg_util_hist_pct_ms(&s->hist, 0.90), lg_util_hist_pct_ms(&s->hist, 0.99),
	       (double)s->hist.max_us / 1000.0);
	fflush(stdout);
	memset(&s->hist, 0, sizeof s->hist);
}

static void on_control(struct sub *s)
{
	ssize_t r = read(0, s->ctl + s->ctl_len, sizeof s->ctl - s->ctl_len - 1);
	if (r <= 0) {
		s->quit = 1; /* the driver went away */
		return;
	}
	s->ctl_len += (size_t)r;
	char *nl;
	while ((nl = memchr(s->ctl, '\n', s->ctl_len))) {
		*nl = '\0';
		if (strcmp(s->ctl, "stat") == 0)
			report(s);
		else if (strcmp(s->ctl, "quit") == 0)
			s->quit = 1;
		size_t used = (size_t)(nl + 1 - s->ctl);
		memmove(s->ctl, nl + 1, s->ctl_len - used);
		s->ctl_len -= used;
	}
	if (s->ctl_len == sizeof s->ctl - 1)
		s->ctl_len = 0; /* a line that long is no command */
}

/* MQTT keep-alive: the client speaks first or the broker drops it */
static void keepalive(struct sub *s, uint64_t now)
{
	uint8_t pkt[2];
	for (int i = 0; i < s->o->conns; i++) {
		struct conn *c = &s->c[i];
		if (c->state < ST_OPEN || c->state == ST_DEAD || now < c->next_ping_ns)
			continue;
		c->next_ping_ns = now + (uint64_t)(s->o->keepalive_s - 5) * 1000000000u;
		ws_send(s, c, LG_WS_BINARY, pkt, lg_mqtt_pingreq(pkt));
		if (c->doom)
			conn_close(s, c, c->doom);
	}
}

int lg_sub_run(const struct lg_sub_opts *o)
{
	struct sub s = { .o = o, .rng = 2463534242u ^ (uint32_t)getpid() };
	s.c = calloc((size_t)o->conns, sizeof *s.c);
	s.rbuf = malloc(RBUF_SIZE);
	s.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!s.c || !s.rbuf || s.ep < 0) {
		fprintf(stderr, "sb-loadgen: out of memory\n");
		return 1;
	}
	for (int i = 0; i < o->conns; i++)
		s.c[i].fd = -1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (o->control) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = CONTROL_TAG };
		epoll_ctl(s.ep, EPOLL_CTL_ADD, 0, &e);
	}
	s.t0 = lg_util_mono_ns();
	uint64_t next_report = s.t0 + (uint64_t)(o->interval_s * 1e9);
	uint64_t next_sweep = s.t0 + 1000000000u;
	uint64_t end = o->duration_s > 0 ? s.t0 + (uint64_t)(o->duration_s * 1e9) : UINT64_MAX;
	struct epoll_event ev[512];
	while (!s.quit && !stop_signal) {
		while (s.pending < o->concurrency && s.next < o->conns)
			conn_start(&s, &s.c[s.next++]);
		int n = epoll_wait(s.ep, ev, 512, s.next < o->conns ? 5 : 50);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u32 == CONTROL_TAG) {
				on_control(&s);
				continue;
			}
			struct conn *c = &s.c[ev[i].data.u32];
			if (c->state == ST_DEAD)
				continue;
			if (ev[i].events & (EPOLLOUT | EPOLLERR))
				on_writable(&s, c);
			if (c->state != ST_DEAD && !c->doom &&
			    (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)))
				on_readable(&s, c);
			if (c->doom)
				conn_close(&s, c, c->doom);
		}
		uint64_t now = lg_util_mono_ns();
		if (now >= end)
			break;
		if (now >= next_sweep) {
			next_sweep = now + 1000000000u;
			if (o->proto == LG_PROTO_MQTT)
				keepalive(&s, now);
		}
		if (o->interval_s > 0 && now >= next_report) {
			next_report = now + (uint64_t)(o->interval_s * 1e9);
			report(&s);
		}
	}
	report(&s);
	for (int i = 0; i < o->conns; i++)
		if (s.c[i].fd >= 0)
			close(s.c[i].fd);
	for (int i = 0; i < o->conns; i++) {
		lg_util_buf_free(&s.c[i].in);
		lg_util_buf_free(&s.c[i].msg);
		lg_util_buf_free(&s.c[i].out);
		lg_util_buf_free(&s.c[i].mq);
	}
	free(s.c);
	free(s.rbuf);
	close(s.ep);
	return 0;
}
