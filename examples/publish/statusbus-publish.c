/* SPDX-License-Identifier: MIT
 *
 * statusbus-publish - publish one statusbus status record (retained, QoS 1,
 * validated locally against the bridge's schemas first) or stream log
 * lines - a deploy's, or the runtime log of an app, a database or a
 * service - from stdin or from a command it runs, with seqs that can go on
 * across restarts (--seq-from, --state-file).  A thin CLI on
 * libstatusbus-publish (sb_publish.h); see docs/publishing.md.
 *
 * Exit status: 0 done, 1 invalid record or broker failure, 2 usage; when it
 * runs a command: the command's status (1 if that was 0 but log lines were
 * lost).
 */
#define _GNU_SOURCE   /* pipe2 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sb_publish.h"
#include "seqstate.h"

#ifndef SB_PUB_VERSION
#define SB_PUB_VERSION "0.0.0"
#endif

#define PROG "statusbus-publish"

extern char **environ;

static const char usage_text[] =
"usage: " PROG " [BROKER] --team T --app|--db|--service UUID --status S\n"
"                         [--old S] [--reason TEXT] [--name NAME]\n"
"       " PROG " [BROKER] --team T --server UUID --reachable true|false\n"
"                         [--old-reachable B] [--latency MS] [--reason TEXT] [--name NAME]\n"
"       " PROG " [BROKER] --team T --deploy UUID --deploy-status S --progress N\n"
"                         [--step TEXT] [--step-index N] [--total-steps N] [--old S]\n"
"                         [--commit SHA] [--triggered-by WHO] [--app UUID]\n"
"       " PROG " [BROKER] --team T --app|--db|--service|--server|--deploy UUID --delete\n"
"       " PROG " [BROKER] --team T --deploy UUID --logs [--no-final] [--quiet]\n"
"                         [--exec] [-- COMMAND [ARG...]]\n"
"       " PROG " [BROKER] --team T --app|--db|--service UUID --logs [--quiet]\n"
"                         [--seq-from N] [--state-file F] [--exec] [-- COMMAND [ARG...]]\n"
"\n"
"Publishes one status record of team T, retained at QoS 1, after validating it\n"
"against the same JSON schemas as statusbus-bridge, and waits for the broker's\n"
"PUBACK.  With --logs, publishes stdin line by line to deploy/UUID/logs (seq\n"
"from 1, QoS 1), or with -- COMMAND runs it and publishes its stdout and stderr\n"
"separately, then the final deploy status: finished (exit status 0) or failed,\n"
"progress 100.  A --deploy-status given with --logs is published first.\n"
"With --app, --db or --service, --logs streams a runtime log (e.g. the output\n"
"of docker logs -f) to team/T/KIND/UUID/logs, with no final status; a --status\n"
"given with it is published first.\n"
"\n"
"Status:\n"
"  --status S           app/db/service status (running, starting, stopped, ...)\n"
"  --deploy-status S    deploy status (created, queued, running, finished, failed,\n"
"                       cancelled); --status is accepted too\n"
"  --old S              the status before this change\n"
"  --reason TEXT        why it changed      --name NAME   display name\n"
"  --reachable B        server reachability: true or false (--old-reachable B)\n"
"  --latency MS         round-trip time of the reachability check\n"
"  --progress N         deploy progress, 0-100\n"
"  --step TEXT, --step-index N, --total-steps N, --commit SHA, --triggered-by WHO,\n"
"  --app UUID (with --deploy: the application deployed)\n"
"  --delete             clear the retained status (the resource was deleted)\n"
"Logs:\n"
"  --logs               stream stdin (or COMMAND's output) as deploy log lines\n"
"  --exec               run the COMMAND given after -- (implied by it)\n"
"  --no-final           do not publish the final deploy status\n"
"  --seq-from N         number the first line N (default 1): go on where an\n"
"                       earlier run of the stream stopped\n"
"  --state-file F       keep the next seq in F: start from it (or --seq-from\n"
"                       when F does not exist yet) and write it back, so that\n"
"                       a restart goes on; after a crash the stream goes on at\n"
"                       most 1000 ahead (a gap), never behind\n"
"  -q, --quiet          do not copy the lines to stdout/stderr\n"
"Broker (BROKER):\n"
"  --uri URI            tcp://host:port or ssl://host:port ($STATUSBUS_URI;\n"
"                       default tcp://127.0.0.1:1883)\n"
"  --host H, --port P   instead of --uri (ssl:// when a TLS file is given)\n"
"  --username U         ($STATUSBUS_USERNAME)\n"
"  --password-file F    first line is the password ($STATUSBUS_PASSWORD_FILE)\n"
"  --cafile F           CA of the broker's certificate (TLS)\n"
"  --cert F, --key F    client certificate and key (TLS)\n"
"  --client-id ID       default statusbus-publish-<pid>-<random>\n"
"  --timeout SECONDS    connect and PUBACK deadline (default 10)\n"
"Other:\n"
"  --schemas DIR        schemas directory ($STATUSBUS_SCHEMAS; default the\n"
"                       installed one, else ./schemas)\n"
"  -n, --dry-run        validate and print topic and payload; publish nothing\n"
"  -h, --help           this text\n"
"  -V, --version        the version\n"
"\n"
"Exit status: 0 published, 1 invalid record or broker failure, 2 usage; with\n"
"a COMMAND, its exit status (1 when it succeeded but log lines were lost).\n";

enum {
	O_TEAM = 256, O_APP, O_DB, O_SERVICE, O_SERVER, O_DEPLOY, O_STATUS, O_DEPLOY_STATUS,
	O_OLD, O_REASON, O_NAME, O_REACHABLE, O_OLD_REACHABLE, O_LATENCY, O_PROGRESS, O_STEP,
	O_STEP_INDEX, O_TOTAL_STEPS, O_COMMIT, O_TRIGGERED_BY, O_DELETE, O_LOGS, O_EXEC,
	O_NO_FINAL, O_URI, O_HOST, O_PORT, O_USERNAME, O_PASSWORD_FILE, O_CAFILE, O_CERT,
	O_KEY, O_CLIENT_ID, O_TIMEOUT, O_SCHEMAS, O_SEQ_FROM, O_STATE_FILE,
};

static const struct option long_opts[] = {
	{ "team", required_argument, NULL, O_TEAM },
	{ "app", required_argument, NULL, O_APP },
	{ "db", required_argument, NULL, O_DB },
	{ "service", required_argument, NULL, O_SERVICE },
	{ "server", required_argument, NULL, O_SERVER },
	{ "deploy", required_argument, NULL, O_DEPLOY },
	{ "status", required_argument, NULL, O_STATUS },
	{ "deploy-status", required_argument, NULL, O_DEPLOY_STATUS },
	{ "old", required_argument, NULL, O_OLD },
	{ "reason", required_argument, NULL, O_REASON },
	{ "name", required_argument, NULL, O_NAME },
	{ "reachable", required_argument, NULL, O_REACHABLE },
	{ "old-reachable", required_argument, NULL, O_OLD_REACHABLE },
	{ "latency", required_argument, NULL, O_LATENCY },
	{ "progress", required_argument, NULL, O_PROGRESS },
	{ "step", required_argument, NULL, O_STEP },
	{ "step-index", required_argument, NULL, O_STEP_INDEX },
	{ "total-steps", required_argument, NULL, O_TOTAL_STEPS },
	{ "commit", required_argument, NULL, O_COMMIT },
	{ "triggered-by", required_argument, NULL, O_TRIGGERED_BY },
	{ "delete", no_argument, NULL, O_DELETE },
	{ "logs", no_argument, NULL, O_LOGS },
	{ "exec", no_argument, NULL, O_EXEC },
	{ "no-final", no_argument, NULL, O_NO_FINAL },
	{ "seq-from", required_argument, NULL, O_SEQ_FROM },
	{ "state-file", required_argument, NULL, O_STATE_FILE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "uri", required_argument, NULL, O_URI },
	{ "host", required_argument, NULL, O_HOST },
	{ "port", required_argument, NULL, O_PORT },
	{ "username", required_argument, NULL, O_USERNAME },
	{ "password-file", required_argument, NULL, O_PASSWORD_FILE },
	{ "cafile", required_argument, NULL, O_CAFILE },
	{ "cert", required_argument, NULL, O_CERT },
	{ "key", required_argument, NULL, O_KEY },
	{ "client-id", required_argument, NULL, O_CLIENT_ID },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "schemas", required_argument, NULL, O_SCHEMAS },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *team, *app, *db, *service, *server, *deploy;
	const char *status, *deploy_status, *old, *reason, *name, *step, *commit, *triggered_by;
	int reachable, old_reachable, progress, step_index, total_steps;
	double latency;
	int del, logs, exec, no_final, quiet, dry_run;
	const char *uri, *host, *username, *password_file, *cafile, *cert, *key, *client_id;
	const char *schemas, *state_file;
	int port, timeout_s;
	unsigned long long seq_from;
	char **command;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": %s\ntry: " PROG " --help\n", msg);
	return 2;
}

static int parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0")) {
		*out = 0;
		return 0;
	}
	return -1;
}

/* 0 ok, or the exit status (2) after printing the usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	a->reachable = a->old_reachable = SB_UNSET;
	a->progress = a->step_index = a->total_steps = SB_UNSET;
	a->latency = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:qnhV", long_opts, NULL)) != -1) {
		const char *v = optarg;

		switch (c) {
		case O_TEAM: a->team = v; break;
		case O_APP: a->app = v; break;
		case O_DB: a->db = v; break;
		case O_SERVICE: a->service = v; break;
		case O_SERVER: a->server = v; break;
		case O_DEPLOY: a->deploy = v; break;
		case O_STATUS: a->status = v; break;
		case O_DEPLOY_STATUS: a->deploy_status = v; break;
		case O_OLD: a->old = v; break;
		case O_REASON: a->reason = v; break;
		case O_NAME: a->name = v; break;
		case O_STEP: a->step = v; break;
		case O_COMMIT: a->commit = v; break;
		case O_TRIGGERED_BY: a->triggered_by = v; break;
		case O_REACHABLE:
			if (parse_bool(v, &a->reachable))
				return usage_error("--reachable: expected true or false, got \"%s\"", v);
			break;
		case O_OLD_REACHABLE:
			if (parse_bool(v, &a->old_reachable))
				return usage_error("--old-reachable: expected true or false, got \"%s\"", v);
			break;
		case O_LATENCY: {
			char *end;

			errno = 0;
			a->latency = strtod(v, &end);
			if (errno || end == v || *end || a->latency < 0)
				return usage_error("--latency: expected milliseconds, got \"%s\"", v);
			break;
		}
		case O_PROGRESS:
			if (parse_int(v, INT_MIN + 1, INT_MAX, &a->progress))
				return usage_error("--progress: expected an integer, got \"%s\"", v);
			break;
		case O_STEP_INDEX:
			if (parse_int(v, INT_MIN + 1, INT_MAX, &a->step_index))
				return usage_error("--step-index: expected an integer, got \"%s\"", v);
			break;
		case O_TOTAL_STEPS:
			if (parse_int(v, INT_MIN + 1, INT_MAX, &a->total_steps))
				return usage_error("--total-steps: expected an integer, got \"%s\"", v);
			break;
		case O_DELETE: a->del = 1; break;
		case O_LOGS: a->logs = 1; break;
		case O_EXEC: a->exec = 1; break;
		case O_NO_FINAL: a->no_final = 1; break;
		case O_SEQ_FROM: {
			char *end;

			errno = 0;
			a->seq_from = strtoull(v, &end, 10);
			if (errno || end == v || *end || *v < '0' || *v > '9' || a->seq_from < 1 ||
			    a->seq_from > SB_SEQ_MAX)
				return usage_error("--seq-from: expected 1 to %llu, got \"%s\"",
						   (unsigned long long)SB_SEQ_MAX, v);
			break;
		}
		case O_STATE_FILE: a->state_file = v; break;
		case 'q': a->quiet = 1; break;
		case 'n': a->dry_run = 1; break;
		case O_URI: a->uri = v; break;
		case O_HOST: a->host = v; break;
		case O_PORT:
			if (parse_int(v, 1, 65535, &a->port))
				return usage_error("--port: expected 1-65535, got \"%s\"", v);
			break;
		case O_USERNAME: a->username = v; break;
		case O_PASSWORD_FILE: a->password_file = v; break;
		case O_CAFILE: a->cafile = v; break;
		case O_CERT: a->cert = v; break;
		case O_KEY: a->key = v; break;
		case O_CLIENT_ID: a->client_id = v; break;
		case O_TIMEOUT:
			if (parse_int(v, 1, 3600, &a->timeout_s))
				return usage_error("--timeout: expected 1-3600 seconds, got \"%s\"", v);
			break;
		case O_SCHEMAS: a->schemas = v; break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf(PROG " %s\n", SB_PUB_VERSION);
			exit(0);
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0)
			return usage_error("unexpected argument \"%s\" (a command goes after --)",
					   argv[optind]);
		a->command = argv + optind;
	}
	if (a->exec && !a->command)
		return usage_error("--exec needs a command after --");
	if (a->command)
		a->exec = a->logs = 1;
	return 0;
}

/* The resource named on the command line; -1 after a usage error. */
static int check_args(struct args *a, enum sb_resource *kind, const char **id)
{
	int n = !!a->db + !!a->service + !!a->server + !!a->deploy + (!!a->app && !a->deploy);
	int is_status = 0;

	if (!a->team)
		return usage_error("--team is required");
	if (n != 1)
		return usage_error("give exactly one of --app, --db, --service, --server, --deploy");
	if (a->deploy) {
		*kind = SB_RES_DEPLOY;
		*id = a->deploy;
		if (a->status && a->deploy_status)
			return usage_error("--status and --deploy-status: give one");
		if (a->status)
			a->deploy_status = a->status;
		a->status = NULL;
	} else if (a->server) {
		*kind = SB_RES_SERVER;
		*id = a->server;
	} else {
		*kind = a->app ? SB_RES_APP : a->db ? SB_RES_DB : SB_RES_SERVICE;
		*id = a->app ? a->app : a->db ? a->db : a->service;
		is_status = 1;
	}
	if (*kind != SB_RES_DEPLOY &&
	    (a->deploy_status || a->progress != SB_UNSET || a->step || a->step_index != SB_UNSET ||
	     a->total_steps != SB_UNSET || a->commit || a->triggered_by))
		return usage_error("--deploy-status, --progress, --step, --step-index, --total-steps, "
				   "--commit and --triggered-by apply to --deploy only");
	if (*kind != SB_RES_SERVER &&
	    (a->reachable != SB_UNSET || a->old_reachable != SB_UNSET || a->latency >= 0))
		return usage_error("--reachable, --old-reachable and --latency apply to --server only");
	if (*kind == SB_RES_SERVER && (a->status || a->old))
		return usage_error("--server takes --reachable true|false, not --status/--old");
	if (*kind == SB_RES_DEPLOY && (a->reason || a->name))
		return usage_error("--reason and --name do not apply to --deploy");
	if (a->logs && *kind == SB_RES_SERVER)
		return usage_error("--logs needs --deploy, --app, --db or --service UUID");
	if ((a->seq_from || a->state_file) && !a->logs)
		return usage_error("--seq-from and --state-file go with --logs");
	if (a->no_final && *kind != SB_RES_DEPLOY)
		return usage_error("--no-final applies to --deploy --logs only");
	if (a->del && (a->logs || a->status || a->deploy_status || a->reachable != SB_UNSET))
		return usage_error("--delete takes no status and no --logs");
	if (!a->del && !a->logs) {
		if (is_status && !a->status)
			return usage_error("--status is required");
		if (*kind == SB_RES_SERVER && a->reachable == SB_UNSET)
			return usage_error("--reachable true|false is required");
		if (*kind == SB_RES_DEPLOY && !a->deploy_status)
			return usage_error("--deploy-status is required (or --logs)");
	}
	if (a->uri && (a->host || a->port))
		return usage_error("--uri or --host/--port, not both");
	if (!!a->cert != !!a->key)
		return usage_error("--cert and --key go together");
	return 0;
}

static void fill_status(const struct args *a, enum sb_resource kind, const char *id,
			struct sb_status *st)
{
	sb_status_init(st, kind, a->team, id);
	st->status = kind == SB_RES_DEPLOY ? a->deploy_status : a->status;
	st->old_status = a->old;
	st->reason = a->reason;
	st->name = a->name;
	st->reachable = a->reachable;
	st->old_reachable = a->old_reachable;
	st->latency_ms = a->latency;
	st->progress = a->progress;
	st->step = a->step;
	st->step_index = a->step_index;
	st->total_steps = a->total_steps;
	st->commit = a->commit;
	st->triggered_by = a->triggered_by;
	if (kind == SB_RES_DEPLOY)
		st->app = a->app;
}

static const char *env_or(const char *v, const char *name)
{
	const char *e = v || !name ? NULL : getenv(name);

	return v ? v : (e && *e ? e : NULL);
}

/* ---- log streaming ------------------------------------------------------------ */

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static void echo(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;   /* our own output is gone: keep publishing */
		buf += n;
		len -= (size_t)n;
	}
}

/* --state-file: moved past every seq before it is used (seqstate.h) */
static struct sb_seqstate *seq_state;
static int seq_failed;

/* Hands n bytes of output to the stream, once the state file holds a seq
 * past every one they can use (a line takes at least one byte; + 2 for the
 * partial lines flushed at the end).  When the file cannot be written no
 * more lines are published (a restart could number lines again) and the
 * exit status says so; the output is still read and echoed. */
static void feed(struct sb_log_stream *ls, enum sb_stream stream, const char *buf, size_t n)
{
	char err[512];

	if (seq_failed)
		return;
	if (seq_state && sb_seqstate_reserve(seq_state, sb_log_stream_lines(ls) + n + 2, err,
					     sizeof(err)) != SB_OK) {
		fprintf(stderr, PROG ": %s: no more log lines are published\n", err);
		seq_failed = 1;
		return;
	}
	sb_log_stream_write(ls, stream, buf, n);   /* failures: reported at close */
}

/* Publishes what fd yields until EOF.  0 at EOF, -1 on a read error. */
static int pump(struct sb_log_stream *ls, int fd, enum sb_stream stream, int echo_fd,
		int *open_fd)
{
	char buf[16384];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (n == 0) {
		close(fd);
		*open_fd = -1;
		return 0;
	}
	feed(ls, stream, buf, (size_t)n);
	if (echo_fd >= 0)
		echo(echo_fd, buf, (size_t)n);
	return 0;
}

/* Runs the command with its stdout and stderr on two pipes and streams
 * both.  Returns its exit status (128 + signal when killed, 127 when it
 * could not be started). */
static int run_command(struct sb_log_stream *ls, char **command, int quiet)
{
	int out[2], err[2], fds[2], status;
	posix_spawn_file_actions_t fa;
	struct sigaction sa;
	pid_t pid;
	int rc;

	if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
		fprintf(stderr, PROG ": pipe: %s\n", strerror(errno));
		return 127;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	rc = posix_spawnp(&pid, command[0], &fa, NULL, command, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	if (rc != 0) {
		char line[512];

		snprintf(line, sizeof(line), PROG ": cannot run %s: %s", command[0], strerror(rc));
		fprintf(stderr, "%s\n", line);
		feed(ls, SB_STREAM_STDERR, line, strlen(line));
		close(out[0]);
		close(err[0]);
		return 127;
	}
	child_pid = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	fds[0] = out[0];
	fds[1] = err[0];
	while (fds[0] >= 0 || fds[1] >= 0) {
		struct pollfd p[2] = { { fds[0], POLLIN, 0 }, { fds[1], POLLIN, 0 } };

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (pump(ls, fds[i], i ? SB_STREAM_STDERR : SB_STREAM_STDOUT,
				 quiet ? -1 : (i ? 2 : 1), &fds[i]) < 0) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 127;
	}
	child_pid = 0;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

static int stream_stdin(struct sb_log_stream *ls, int quiet)
{
	int fd = 0;

	while (fd >= 0) {
		if (pump(ls, fd, SB_STREAM_STDOUT, quiet ? -1 : 1, &fd) < 0) {
			fprintf(stderr, PROG ": reading stdin: %s\n", strerror(errno));
			return 1;
		}
	}
	return 0;
}

/* ---- main ------------------------------------------------------------------------ */

static void report(const char *err, enum sb_err e)
{
	fprintf(stderr, PROG ": %s\n", err[0] ? err : sb_strerror(e));
}

int main(int argc, char **argv)
{
	struct sb_publish_opts o;
	struct sb_publisher *pub = NULL;
	struct sb_validator *val = NULL;
	struct sb_status st;
	struct sb_seqstate ss;
	struct sb_log_stream_opts lo;
	struct args a;
	enum sb_resource kind = SB_RES_APP;
	const char *id = NULL;
	char err[1024], uri[512], *topic = NULL, *payload = NULL, *log_topic = NULL;
	int rc, publish_status;
	enum sb_err e = SB_OK;

	err[0] = '\0';
	signal(SIGPIPE, SIG_IGN);
	rc = parse_args(argc, argv, &a);
	if (rc == 0)
		rc = check_args(&a, &kind, &id);
	if (rc)
		return rc;

	/* build and validate before touching the network: an invalid record
	 * publishes nothing */
	fill_status(&a, kind, id, &st);
	e = sb_status_build(&st, &topic, &payload, err, sizeof(err));
	if (e != SB_OK) {
		report(err, e);
		return e == SB_ERR_INVAL ? 2 : 1;
	}
	e = sb_validator_load(&val, a.schemas, err, sizeof(err));
	if (e != SB_OK) {
		report(err, e);
		free(topic);
		free(payload);
		return 1;
	}
	/* with --logs, a status given too goes first */
	publish_status = !a.del && (!a.logs || st.status);
	if (publish_status) {
		e = sb_validator_check(val, topic, payload, strlen(payload), 0, NULL, err,
				       sizeof(err));
		if (e != SB_OK) {
			report(err, e);
			rc = 1;
			goto out;
		}
	}
	if (a.dry_run) {
		if (a.del)
			printf("%s (empty retained payload: delete)\n", topic);
		else if (publish_status)
			printf("%s %s\n", topic, payload);
		if (a.logs && sb_log_topic(kind, a.team, id, &log_topic, NULL, 0) == SB_OK)
			printf("%s (log lines)\n", log_topic);
		free(log_topic);
		goto out;
	}
	lo = (struct sb_log_stream_opts){ kind, a.team, id, a.seq_from };
	if (a.state_file) {
		e = sb_seqstate_open(&ss, a.state_file, a.seq_from, &lo.first_seq, err, sizeof(err));
		if (e != SB_OK) {
			report(err, e);
			rc = 1;
			goto out;
		}
		seq_state = &ss;
	}

	sb_publish_opts_init(&o);
	a.uri = env_or(a.uri, a.host || a.port ? NULL : "STATUSBUS_URI");
	if (!a.uri && (a.host || a.port)) {
		int tls = a.cafile || a.cert;

		snprintf(uri, sizeof(uri), "%s://%s:%d", tls ? "ssl" : "tcp",
			 a.host ? a.host : "127.0.0.1", a.port ? a.port : tls ? 8883 : 1883);
		a.uri = uri;
	}
	o.uri = a.uri;
	o.client_id = a.client_id;
	o.username = env_or(a.username, "STATUSBUS_USERNAME");
	o.password_file = env_or(a.password_file, "STATUSBUS_PASSWORD_FILE");
	o.ca_file = a.cafile;
	o.cert_file = a.cert;
	o.key_file = a.key;
	o.schemas_dir = sb_validator_dir(val);
	o.timeout_ms = a.timeout_s ? a.timeout_s * 1000 : 0;
	e = sb_publisher_create(&pub, &o, err, sizeof(err));
	if (e != SB_OK) {
		report(err, e);
		rc = 1;
		goto out;
	}
	if (a.del) {
		e = sb_publish_delete(pub, topic, err, sizeof(err));
	} else if (publish_status) {
		e = sb_publish_status(pub, &st, err, sizeof(err));
	}
	if (e != SB_OK) {
		report(err, e);
		rc = 1;
		goto out;
	}
	if (a.logs) {
		struct sb_log_stream *ls;
		int status = 0;

		uint64_t next;

		e = sb_log_stream_open_opts(&ls, pub, &lo, err, sizeof(err));
		if (e != SB_OK) {
			report(err, e);
			rc = 1;
			goto out;
		}
		if (a.command)
			status = run_command(ls, a.command, a.quiet);
		else if (stream_stdin(ls, a.quiet) != 0)
			status = 1;
		next = sb_log_stream_lines(ls) + 1;
		e = sb_log_stream_close(ls, a.no_final || kind != SB_RES_DEPLOY ? -1 : status, err,
					sizeof(err));
		if (e != SB_OK)
			report(err, e);
		if (seq_state && !seq_failed &&
		    sb_seqstate_close(seq_state, next, err, sizeof(err)) != SB_OK) {
			report(err, SB_ERR_IO);
			seq_failed = 1;
		}
		if (e == SB_OK && seq_failed)
			e = SB_ERR_IO;
		rc = a.command ? (status ? status : e != SB_OK) : (status || e != SB_OK);
	}
out:
	sb_publisher_destroy(pub);
	sb_validator_destroy(val);
	free(topic);
	free(payload);
	return rc;
}
