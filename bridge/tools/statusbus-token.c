/* SPDX-License-Identifier: MIT
 *
 * statusbus-token - mints HS256 development tokens for statusbus and
 * verifies any statusbus token the way the bridge does (docs/protocol.md
 * §4 and §11).
 *
 * Minting builds the claims with cJSON, signs them with sb_jwt_sign_hs256()
 * and then verifies the result with sb_jwt_verify() before printing it, so
 * the tool never prints a token that the bridge would refuse for its
 * claims.  Verifying prints the claims the bridge would use (teams given as
 * integers come out as strings) as one line of JSON on stdout.
 *
 * Exit codes: 0 success, 1 refused token or unreadable file, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "config.h"
#include "jwt.h"
#include "sb_common.h"
#include "sb_version.h"

#define PROG "statusbus-token"
#define MAX_SECRET_FILE (64 * 1024)
#define MAX_PEM_FILE (1024 * 1024)
#define MAX_TOKEN_INPUT (64 * 1024)
#define MAX_TTL 315360000LL      /* ten years */
#define MAX_LEEWAY 3600
#define MIN_GOOD_SECRET 32       /* RFC 7518 3.2: at least the hash size */

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct args {
	int verify, ttl_set, leeway_set, wildcard_first;
	const char *secret, *secret_file, *public_key, *alg;
	const char *sub, *teams, *channels, *iss, *aud;
	long long ttl, max_ttl;
	int leeway;
	const char *token;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage:\n"
"  " PROG " (--secret S | --secret-file F) --sub USER [--teams T1,T2]\n"
"                  [--channels C1,C2] [--ttl SECONDS] [--iss I] [--aud A]\n"
"                  [--max-ttl SECONDS] [--allow-wildcard-first-segment]\n"
"  " PROG " --verify --alg HS256|RS256|ES256\n"
"                  (--secret S | --secret-file F | --public-key PEM)\n"
"                  [--iss I] [--aud A] [--leeway SECONDS] [--max-ttl SECONDS]\n"
"                  [--allow-wildcard-first-segment] [TOKEN | -]\n"
"\n"
"Mints an HS256 token for statusbus (a development token; in production the\n"
"application backend signs tokens) and prints it, or verifies TOKEN (read\n"
"from standard input when absent or '-') as the bridge would and prints its\n"
"claims as JSON.\n"
"\n"
"  --secret S          HS256 shared secret (visible to ps: prefer --secret-file)\n"
"  --secret-file F     read the secret from F; one trailing newline is removed\n"
"  --sub USER          subject, the user id (required when minting)\n"
"  --teams LIST        comma-separated team ids ([A-Za-z0-9_-]{1,64})\n"
"  --channels LIST     comma-separated extra channels, '*' = one segment\n"
"  --ttl SECONDS       lifetime, 1 to %lld (default 3600)\n"
"  --iss I, --aud A    issuer and audience claims; with --verify, required\n"
"                      values\n"
"  --max-ttl SECONDS   the bridge's auth.max_ttl_s: exp at most this far\n"
"                      after iat (or now), 60 to %lld (default 86400)\n"
"  --allow-wildcard-first-segment\n"
"                      the bridge's auth.allow_wildcard_first_segment: a\n"
"                      channels pattern may start with '*' (\"*.42\")\n"
"  --verify            verify instead of minting\n"
"  --alg ALG           the algorithm the key is for (required with --verify)\n"
"  --public-key FILE   PEM public key or certificate for RS256/ES256\n"
"  --leeway SECONDS    clock skew allowed for exp/nbf/iat, 0 to %d\n"
"                      (default 30)\n"
"  -h, --help          show this help\n"
"  -V, --version       show the version\n"
"\n"
"Exit status: 0 success, 1 token refused or file unreadable, 2 usage error.\n",
		MAX_TTL, MAX_TTL, MAX_LEEWAY);
}

static int parse_ll(const char *s, long long min, long long max,
		    long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return 0;
	*out = v;
	return 1;
}


/* The secret from --secret or --secret-file; *owned is set when it must be
 * cleansed and freed. */
static int load_secret(const struct args *a, const char **secret, size_t *len,
		       char **owned)
{
	enum sb_err e;

	*owned = NULL;
	if (a->secret) {
		*secret = a->secret;
		*len = strlen(a->secret);
		return EXIT_OK;
	}
	e = sb_read_file(a->secret_file, MAX_SECRET_FILE, 1, owned, len);
	if (e != SB_OK) {
		fprintf(stderr, PROG ": %s: %s%s\n", a->secret_file, sb_strerror(e),
			e == SB_ERR_LIMIT ? " (over 64 KiB)" : "");
		return EXIT_FAIL;
	}
	if (*len == 0) {
		fprintf(stderr, PROG ": %s: the secret is empty\n", a->secret_file);
		free(*owned);
		*owned = NULL;
		return EXIT_FAIL;
	}
	*secret = *owned;
	return EXIT_OK;
}

static void drop_secret(char *owned, size_t len)
{
	if (owned) {
		OPENSSL_cleanse(owned, len);
		free(owned);
	}
}

/* "a,b,c" -> a JSON array of strings; an empty entry is a usage error. */
static int add_list(cJSON *obj, const char *name, const char *list)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, name);
	const char *p = list, *comma;
	char *item;
	size_t n;

	if (!arr)
		goto oom;
	for (;;) {
		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0) {
			fprintf(stderr, PROG ": --%s: empty entry in \"%s\"\n", name,
				list);
			return EXIT_USAGE;
		}
		item = strndup(p, n);
		if (!item || !cJSON_AddItemToArray(arr, cJSON_CreateString(item))) {
			free(item);
			goto oom;
		}
		free(item);
		if (!comma)
			return EXIT_OK;
		p = comma + 1;
	}
oom:
	fprintf(stderr, PROG ": out of memory\n");
	return EXIT_FAIL;
}

static int mint(const struct args *a)
{
	struct sb_jwt_verify_opts opts = { 0 };
	struct sb_jwt_claims *claims = NULL;
	struct sb_jwt_key *key = NULL;
	const char *secret;
	char *owned, *json = NULL, *token = NULL, reason[256];
	size_t secret_len = 0;
	time_t now = time(NULL);
	cJSON *c = NULL;
	enum sb_err e;
	int rc;

	rc = load_secret(a, &secret, &secret_len, &owned);
	if (rc != EXIT_OK)
		return rc;
	if (secret_len < MIN_GOOD_SECRET)
		fprintf(stderr, PROG ": warning: the secret is %zu bytes; use at "
			"least %d random bytes outside development\n", secret_len,
			MIN_GOOD_SECRET);

	c = cJSON_CreateObject();
	if (!c || !cJSON_AddStringToObject(c, "sub", a->sub) ||
	    !cJSON_AddNumberToObject(c, "iat", (double)now) ||
	    !cJSON_AddNumberToObject(c, "exp", (double)now + (double)a->ttl))
		goto oom;
	if (a->iss && !cJSON_AddStringToObject(c, "iss", a->iss))
		goto oom;
	if (a->aud && !cJSON_AddStringToObject(c, "aud", a->aud))
		goto oom;
	if (a->teams && (rc = add_list(c, "teams", a->teams)) != EXIT_OK)
		goto out;
	if (a->channels && (rc = add_list(c, "channels", a->channels)) != EXIT_OK)
		goto out;
	rc = EXIT_FAIL;
	json = cJSON_PrintUnformatted(c);
	if (!json)
		goto oom;
	e = sb_jwt_sign_hs256(&token, (const unsigned char *)secret, secret_len,
			      json);
	if (e != SB_OK) {
		fprintf(stderr, PROG ": cannot sign: %s\n", sb_strerror(e));
		goto out;
	}

	/* Check the claims exactly as the bridge will. */
	e = sb_jwt_key_create_hmac(&key, (const unsigned char *)secret,
				   secret_len);
	if (e != SB_OK) {
		fprintf(stderr, PROG ": %s\n", sb_strerror(e));
		goto out;
	}
	opts.now_s = (int64_t)now;
	opts.issuer = a->iss;
	opts.audience = a->aud;
	opts.max_ttl_s = a->max_ttl;
	opts.allow_wildcard_first_segment = a->wildcard_first;
	e = sb_jwt_verify(key, token, strlen(token), &opts, &claims, reason,
			  sizeof(reason));
	if (e != SB_OK) {
		fprintf(stderr, PROG ": the bridge would refuse this token: %s\n",
			reason);
		rc = EXIT_USAGE;
		goto out;
	}
	printf("%s\n", token);
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	goto out;
oom:
	fprintf(stderr, PROG ": out of memory\n");
	rc = EXIT_FAIL;
out:
	sb_jwt_claims_destroy(claims);
	sb_jwt_key_destroy(key);
	if (token)
		OPENSSL_cleanse(token, strlen(token));
	free(token);
	cJSON_free(json);
	cJSON_Delete(c);
	drop_secret(owned, secret_len);
	return rc;
}

static int load_key(const struct args *a, enum sb_jwt_alg alg,
		    struct sb_jwt_key **key)
{
	const char *secret;
	char *owned, *pem, err[256];
	size_t len = 0;
	enum sb_err e;
	int rc;

	if (alg == SB_JWT_HS256) {
		rc = load_secret(a, &secret, &len, &owned);
		if (rc != EXIT_OK)
			return rc;
		e = sb_jwt_key_create_hmac(key, (const unsigned char *)secret, len);
		drop_secret(owned, len);
		if (e != SB_OK) {
			fprintf(stderr, PROG ": HS256 key: %s\n", sb_strerror(e));
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	e = sb_read_file(a->public_key, MAX_PEM_FILE, 0, &pem, &len);
	if (e != SB_OK) {
		fprintf(stderr, PROG ": %s: %s\n", a->public_key, sb_strerror(e));
		return EXIT_FAIL;
	}
	e = sb_jwt_key_create_pem(key, alg, pem, len, err, sizeof(err));
	free(pem);
	if (e != SB_OK) {
		fprintf(stderr, PROG ": %s: %s\n", a->public_key, err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static cJSON *string_array(char *const *v, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; arr && i < n; i++)
		if (!cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]))) {
			cJSON_Delete(arr);
			return NULL;
		}
	return arr;
}

static int print_claims(const struct sb_jwt_claims *cl)
{
	cJSON *c = cJSON_CreateObject(), *teams, *channels;
	char *json = NULL;
	int ok = 0;

	if (!c || !cJSON_AddStringToObject(c, "sub", cl->sub) ||
	    !cJSON_AddNumberToObject(c, "exp", (double)cl->exp))
		goto out;
	if (cl->nbf && !cJSON_AddNumberToObject(c, "nbf", (double)cl->nbf))
		goto out;
	if (cl->iat && !cJSON_AddNumberToObject(c, "iat", (double)cl->iat))
		goto out;
	teams = string_array(cl->teams, cl->n_teams);
	if (!teams || !cJSON_AddItemToObject(c, "teams", teams)) {
		cJSON_Delete(teams);
		goto out;
	}
	channels = string_array(cl->channels, cl->n_channels);
	if (!channels || !cJSON_AddItemToObject(c, "channels", channels)) {
		cJSON_Delete(channels);
		goto out;
	}
	json = cJSON_PrintUnformatted(c);
	if (json)
		ok = printf("%s\n", json) > 0 && fflush(stdout) == 0;
out:
	cJSON_free(json);
	cJSON_Delete(c);
	return ok;
}

/* The token from the command line or, for "-" or none, stdin with
 * surrounding whitespace removed. */
static int read_token(const struct args *a, char **owned, const char **tok,
		      size_t *len)
{
	size_t n = 0, start = 0;
	char *buf;

	*owned = NULL;
	if (a->token && strcmp(a->token, "-") != 0) {
		*tok = a->token;
		*len = strlen(a->token);
		return EXIT_OK;
	}
	buf = malloc(MAX_TOKEN_INPUT + 1);
	if (!buf) {
		fprintf(stderr, PROG ": out of memory\n");
		return EXIT_FAIL;
	}
	n = fread(buf, 1, MAX_TOKEN_INPUT + 1, stdin);
	if (ferror(stdin) || n > MAX_TOKEN_INPUT) {
		fprintf(stderr, PROG ": cannot read a token of at most %d bytes "
			"from standard input\n", MAX_TOKEN_INPUT);
		free(buf);
		return EXIT_FAIL;
	}
	while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
		n--;
	while (start < n && strchr(" \t\r\n", buf[start]))
		start++;
	*owned = buf;
	*tok = buf + start;
	*len = n - start;
	return EXIT_OK;
}

static int verify(const struct args *a)
{
	struct sb_jwt_verify_opts opts = { 0 };
	struct sb_jwt_claims *claims = NULL;
	struct sb_jwt_key *key = NULL;
	enum sb_jwt_alg alg;
	char *owned = NULL, reason[256];
	const char *tok;
	size_t len;
	enum sb_err e;
	int rc;

	if (sb_jwt_alg_parse(a->alg, &alg) != SB_OK) {
		fprintf(stderr, PROG ": --alg: expected HS256, RS256 or ES256\n");
		return EXIT_USAGE;
	}
	if (alg == SB_JWT_HS256 && a->public_key) {
		fprintf(stderr, PROG ": HS256 takes --secret or --secret-file, not "
			"--public-key\n");
		return EXIT_USAGE;
	}
	if (alg != SB_JWT_HS256 && !a->public_key) {
		fprintf(stderr, PROG ": %s takes --public-key, not a secret\n",
			a->alg);
		return EXIT_USAGE;
	}
	rc = load_key(a, alg, &key);
	if (rc != EXIT_OK)
		return rc;
	rc = read_token(a, &owned, &tok, &len);
	if (rc != EXIT_OK)
		goto out;
	opts.now_s = (int64_t)time(NULL);
	opts.leeway_s = a->leeway;
	opts.issuer = a->iss;
	opts.audience = a->aud;
	opts.max_ttl_s = a->max_ttl;
	opts.allow_wildcard_first_segment = a->wildcard_first;
	e = sb_jwt_verify(key, tok, len, &opts, &claims, reason, sizeof(reason));
	if (e != SB_OK) {
		fprintf(stderr, PROG ": token refused (%s): %s\n", sb_strerror(e),
			reason);
		rc = EXIT_FAIL;
		goto out;
	}
	rc = print_claims(claims) ? EXIT_OK : EXIT_FAIL;
out:
	sb_jwt_claims_destroy(claims);
	sb_jwt_key_destroy(key);
	free(owned);
	return rc;
}

enum {
	OPT_SECRET = 256, OPT_SECRET_FILE, OPT_PUBLIC_KEY, OPT_SUB, OPT_TEAMS,
	OPT_CHANNELS, OPT_TTL, OPT_ISS, OPT_AUD, OPT_VERIFY, OPT_ALG, OPT_LEEWAY,
	OPT_MAX_TTL, OPT_WILDCARD_FIRST,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "secret", required_argument, NULL, OPT_SECRET },
		{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
		{ "public-key", required_argument, NULL, OPT_PUBLIC_KEY },
		{ "sub", required_argument, NULL, OPT_SUB },
		{ "teams", required_argument, NULL, OPT_TEAMS },
		{ "channels", required_argument, NULL, OPT_CHANNELS },
		{ "ttl", required_argument, NULL, OPT_TTL },
		{ "iss", required_argument, NULL, OPT_ISS },
		{ "aud", required_argument, NULL, OPT_AUD },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "alg", required_argument, NULL, OPT_ALG },
		{ "leeway", required_argument, NULL, OPT_LEEWAY },
		{ "max-ttl", required_argument, NULL, OPT_MAX_TTL },
		{ "allow-wildcard-first-segment", no_argument, NULL, OPT_WILDCARD_FIRST },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct args a = { .ttl = 3600, .leeway = 30, .max_ttl = SB_JWT_DEFAULT_MAX_TTL };
	long long v;
	int ch, keys;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_SECRET: a.secret = optarg; break;
		case OPT_SECRET_FILE: a.secret_file = optarg; break;
		case OPT_PUBLIC_KEY: a.public_key = optarg; break;
		case OPT_SUB: a.sub = optarg; break;
		case OPT_TEAMS: a.teams = optarg; break;
		case OPT_CHANNELS: a.channels = optarg; break;
		case OPT_ISS: a.iss = optarg; break;
		case OPT_AUD: a.aud = optarg; break;
		case OPT_VERIFY: a.verify = 1; break;
		case OPT_ALG: a.alg = optarg; break;
		case OPT_WILDCARD_FIRST: a.wildcard_first = 1; break;
		case OPT_MAX_TTL:
			if (!parse_ll(optarg, 60, MAX_TTL, &a.max_ttl)) {
				fprintf(stderr, PROG ": --max-ttl: expected 60 to %lld "
					"seconds\n", MAX_TTL);
				return EXIT_USAGE;
			}
			break;
		case OPT_TTL:
			if (!parse_ll(optarg, 1, MAX_TTL, &a.ttl)) {
				fprintf(stderr, PROG ": --ttl: expected 1 to %lld "
					"seconds\n", MAX_TTL);
				return EXIT_USAGE;
			}
			a.ttl_set = 1;
			break;
		case OPT_LEEWAY:
			if (!parse_ll(optarg, 0, MAX_LEEWAY, &v)) {
				fprintf(stderr, PROG ": --leeway: expected 0 to %d "
					"seconds\n", MAX_LEEWAY);
				return EXIT_USAGE;
			}
			a.leeway = (int)v;
			a.leeway_set = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf(PROG " " SB_VERSION "\n");
			return EXIT_OK;
		case ':':
			fprintf(stderr, PROG ": option %s needs a value\n",
				argv[optind - 1]);
			fprintf(stderr, "Try '" PROG " --help'.\n");
			return EXIT_USAGE;
		default:
			if (optopt > 0 && optopt < 128)
				fprintf(stderr, PROG ": unknown option -%c\n", optopt);
			else
				fprintf(stderr, PROG ": unknown option %s\n",
					argv[optind - 1]);
			fprintf(stderr, "Try '" PROG " --help'.\n");
			return EXIT_USAGE;
		}
	}

	keys = !!a.secret + !!a.secret_file + !!a.public_key;
	if (a.secret && !*a.secret) {
		fprintf(stderr, PROG ": --secret: the secret is empty\n");
		return EXIT_USAGE;
	}
	if (a.verify) {
		if (a.sub || a.teams || a.channels || a.ttl_set) {
			fprintf(stderr, PROG ": --sub, --teams, --channels and --ttl "
				"are for minting, not --verify\n");
			return EXIT_USAGE;
		}
		if (!a.alg || keys != 1) {
			fprintf(stderr, PROG ": --verify needs --alg and exactly one "
				"of --secret, --secret-file, --public-key\n");
			return EXIT_USAGE;
		}
		if (argc - optind > 1) {
			fprintf(stderr, PROG ": expected at most one TOKEN\n");
			return EXIT_USAGE;
		}
		a.token = optind < argc ? argv[optind] : NULL;
		return verify(&a);
	}

	if (a.public_key || a.alg || a.leeway_set) {
		fprintf(stderr, PROG ": --public-key, --alg and --leeway are for "
			"--verify; minting is HS256 with a secret\n");
		return EXIT_USAGE;
	}
	if (keys != 1 || !a.sub) {
		fprintf(stderr, PROG ": minting needs --sub and exactly one of "
			"--secret, --secret-file\nTry '" PROG " --help'.\n");
		return EXIT_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument \"%s\"\n", argv[optind]);
		return EXIT_USAGE;
	}
	return mint(&a);
}
