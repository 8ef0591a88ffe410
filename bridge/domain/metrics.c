/* SPDX-License-Identifier: MIT
 *
 * metrics.c - the counter registry and its Prometheus exposition (format
 * 0.0.4: "# HELP", "# TYPE" once per family, then "name{labels} value"
 * lines), and the /healthz document.  A label set is validated, escaped
 * and rendered once, when its series is added, so rendering only reads
 * the values.
 */
#include "metrics.h"

#include "frame.h"

#include <stdlib.h>
#include <string.h>

struct series {
	char *labels;          /* "{a=\"x\",b=\"y\"}", or NULL when unlabelled */
	const uint64_t *src;   /* borrowed; NULL: value */
	uint64_t value;
	const struct sb_hist *hist;   /* borrowed; histograms only */
};

struct family {
	char *name, *help;
	enum sb_metrics_type type;
	struct series *s;
	size_t n, cap;
};

struct sb_metrics_reg {
	struct family *f;
	size_t n, cap;
	enum sb_err err;       /* the first failed add, sticky */
};

enum sb_err sb_metrics_create(struct sb_metrics_reg **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? SB_OK : SB_ERR_NOMEM;
}

void sb_metrics_destroy(struct sb_metrics_reg *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++) {
		struct family *f = &reg->f[i];
		for (size_t j = 0; j < f->n; j++)
			free(f->s[j].labels);
		free(f->s);
		free(f->name);
		free(f->help);
	}
	free(reg->f);
	free(reg);
}

/* Room for one more element in *arr (n used of *cap). */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t c;

	if (n < *cap)
		return 1;
	c = *cap ? *cap * 2 : 8;
	p = realloc(*arr, c * size);
	if (!p)
		return 0;
	*arr = p;
	*cap = c;
	return 1;
}

/* Metric names may contain ':', label names may not (and "__" is reserved
 * for Prometheus itself). */
static int valid_name(const char *s, int colon)
{
	if (!s || !*s)
		return 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			 (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return colon || strncmp(s, "__", 2) != 0;
}

/* Exposition escaping: backslash and newline everywhere; the double quote
 * too inside a label value (HELP text leaves it as is). */
static void put_escaped(struct sb_buf *b, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			sb_buf_puts(b, "\\\\");
		else if (*s == '\n')
			sb_buf_puts(b, "\\n");
		else if (quote && *s == '"')
			sb_buf_puts(b, "\\\"");
		else
			sb_buf_append(b, s, 1);
	}
}

/* The rendered label set of s into *out (NULL when s has none). */
static enum sb_err render_labels(const struct sb_metrics_series *s, char **out)
{
	struct sb_buf b;

	*out = NULL;
	if (!s->n_labels)
		return SB_OK;
	sb_buf_init(&b);
	sb_buf_puts(&b, "{");
	for (size_t i = 0; i < s->n_labels; i++) {
		const struct sb_metrics_label *l = &s->labels[i];
		if (!valid_name(l->name, 0) || !l->value) {
			sb_buf_free(&b);
			return SB_ERR_INVAL;
		}
		sb_buf_printf(&b, "%s%s=\"", i ? "," : "", l->name);
		put_escaped(&b, l->value, 1);
		sb_buf_puts(&b, "\"");
	}
	sb_buf_puts(&b, "}");
	*out = sb_buf_str(&b) ? strdup(sb_buf_str(&b)) : NULL;
	sb_buf_free(&b);
	return *out ? SB_OK : SB_ERR_NOMEM;
}

/* The family called name, created (empty) on first use. */
static enum sb_err family_for(struct sb_metrics_reg *reg, const struct sb_metrics_series *s,
			      struct family **out)
{
	struct family *f;

	for (size_t i = 0; i < reg->n; i++) {
		if (strcmp(reg->f[i].name, s->name) == 0) {
			*out = &reg->f[i];
			return reg->f[i].type == s->type ? SB_OK : SB_ERR_INVAL;
		}
	}
	if (!grow((void **)&reg->f, &reg->cap, reg->n, sizeof(*reg->f)))
		return SB_ERR_NOMEM;
	f = &reg->f[reg->n];
	memset(f, 0, sizeof(*f));
	f->type = s->type;
	f->name = strdup(s->name);
	f->help = strdup(s->help ? s->help : "");
	if (!f->name || !f->help) {
		free(f->name);
		free(f->help);
		return SB_ERR_NOMEM;
	}
	reg->n++;
	*out = f;
	return SB_OK;
}

static enum sb_err add(struct sb_metrics_reg *reg, const struct sb_metrics_series *s)
{
	struct family *f = NULL;
	char *labels;
	enum sb_err err;

	if (!valid_name(s->name, 1) || (s->n_labels && !s->labels) ||
	    (s->type != SB_METRICS_COUNTER && s->type != SB_METRICS_GAUGE &&
	     s->type != SB_METRICS_HISTOGRAM) ||
	    (s->type == SB_METRICS_HISTOGRAM && (!s->hist || s->n_labels)))
		return SB_ERR_INVAL;
	err = render_labels(s, &labels);
	if (err == SB_OK)
		err = family_for(reg, s, &f);
	for (size_t i = 0; err == SB_OK && i < f->n; i++)
		if ((!labels && !f->s[i].labels) ||
		    (labels && f->s[i].labels && strcmp(labels, f->s[i].labels) == 0))
			err = SB_ERR_INVAL;   /* the same series twice */
	if (err == SB_OK && !grow((void **)&f->s, &f->cap, f->n, sizeof(*f->s)))
		err = SB_ERR_NOMEM;
	if (err != SB_OK) {
		free(labels);
		return err;
	}
	f->s[f->n++] = (struct series){ .labels = labels, .src = s->src, .value = s->value,
					.hist = s->hist };
	return SB_OK;
}

enum sb_err sb_metrics_add(struct sb_metrics_reg *reg, const struct sb_metrics_series *s)
{
	if (reg->err == SB_OK)
		reg->err = add(reg, s);
	return reg->err;
}

enum sb_err sb_metrics_counter(struct sb_metrics_reg *reg, const char *name, const char *help,
			       const uint64_t *src)
{
	return sb_metrics_add(reg, &(struct sb_metrics_series){
		.type = SB_METRICS_COUNTER, .name = name, .help = help, .src = src });
}

enum sb_err sb_metrics_gauge(struct sb_metrics_reg *reg, const char *name, const char *help,
			     uint64_t v)
{
	return sb_metrics_add(reg, &(struct sb_metrics_series){
		.type = SB_METRICS_GAUGE, .name = name, .help = help, .value = v });
}

enum sb_err sb_metrics_histogram(struct sb_metrics_reg *reg, const char *name, const char *help,
				 const struct sb_hist *h)
{
	return sb_metrics_add(reg, &(struct sb_metrics_series){
		.type = SB_METRICS_HISTOGRAM, .name = name, .help = help, .hist = h });
}

void sb_hist_init(struct sb_hist *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = n < SB_HIST_MAX_BOUNDS ? n : SB_HIST_MAX_BOUNDS;
}

void sb_hist_observe(struct sb_hist *h, double v)
{
	size_t i = 0;

	while (i < h->nbounds && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += v;
}

/* name_bucket{le="..."} cumulative, then name_sum and name_count. */
static void render_hist(struct sb_buf *b, const char *name, const struct sb_hist *h)
{
	uint64_t cum = 0;

	for (size_t i = 0; i <= h->nbounds; i++) {
		cum += h->counts[i];
		if (i < h->nbounds)
			sb_buf_printf(b, "%s_bucket{le=\"%.6g\"} %llu\n", name, h->bounds[i],
				      (unsigned long long)cum);
		else
			sb_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
				      (unsigned long long)cum);
	}
	sb_buf_printf(b, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name,
		      (unsigned long long)h->count);
}

static const char *type_name(enum sb_metrics_type t)
{
	return t == SB_METRICS_COUNTER ? "counter" : t == SB_METRICS_GAUGE ? "gauge" : "histogram";
}

/* The builder's text as a malloc'ed string; frees the builder. */
static char *finish(struct sb_buf *b)
{
	char *s = sb_buf_str(b) ? strdup(sb_buf_str(b)) : NULL;

	sb_buf_free(b);
	return s;
}

char *sb_metrics_render_prometheus(const struct sb_metrics_reg *reg)
{
	struct sb_buf b;

	if (reg->err != SB_OK)
		return NULL;
	sb_buf_init(&b);
	for (size_t i = 0; i < reg->n; i++) {
		const struct family *f = &reg->f[i];
		sb_buf_printf(&b, "# HELP %s ", f->name);
		put_escaped(&b, f->help, 0);
		sb_buf_printf(&b, "\n# TYPE %s %s\n", f->name, type_name(f->type));
		for (size_t j = 0; j < f->n; j++) {
			const struct series *s = &f->s[j];
			if (s->hist) {
				render_hist(&b, f->name, s->hist);
				continue;
			}
			sb_buf_printf(&b, "%s%s %llu\n", f->name, s->labels ? s->labels : "",
				      (unsigned long long)(s->src ? *s->src : s->value));
		}
	}
	return finish(&b);
}

char *sb_metrics_health_json(const struct sb_metrics_health *h)
{
	struct sb_buf b;

	sb_buf_init(&b);
	sb_buf_printf(&b, "{\"mqtt\":\"%s\",\"version\":",
		      h->mqtt_connected ? "connected" : "disconnected");
	/* the version is build data (git describe, a vendor suffix): escape it */
	sb_buf_json_str(&b, h->version, strlen(h->version));
	sb_buf_printf(&b, ",\"uptime_s\":%lld,"
		      "\"connections\":%llu,\"channels\":%llu,\"subscriptions\":%llu,"
		      "\"mqtt_subscriptions\":%llu,\"mqtt_subscriptions_active\":%llu,"
		      "\"cache_topics\":%llu,\"queue_bytes\":%llu,"
		      "\"mqtt_reconnects\":%llu,\"messages_in\":%llu,\"messages_out\":%llu,"
		      "\"frames_out\":%llu,\"batches\":%llu,\"conflated\":%llu,\"gaps\":%llu,"
		      "\"slow_client_closes\":%llu,\"dropped\":%llu,\"auth_failures\":%llu}",
		      (long long)h->uptime_s,
		      (unsigned long long)h->connections, (unsigned long long)h->channels,
		      (unsigned long long)h->subscriptions, (unsigned long long)h->mqtt_subscriptions,
		      (unsigned long long)h->mqtt_subscriptions_active,
		      (unsigned long long)h->cache_topics, (unsigned long long)h->queue_bytes,
		      (unsigned long long)h->mqtt_reconnects, (unsigned long long)h->messages_in,
		      (unsigned long long)h->messages_out, (unsigned long long)h->frames_out,
		      (unsigned long long)h->batches, (unsigned long long)h->conflated,
		      (unsigned long long)h->gaps, (unsigned long long)h->slow_client_closes,
		      (unsigned long long)h->dropped, (unsigned long long)h->auth_failures);
	return finish(&b);
}
