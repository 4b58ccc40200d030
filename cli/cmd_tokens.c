/*
 * cmd_tokens.c - airlift tokens create | list | revoke: the API tokens of airliftd (issue 14;
 * docs/cli.md "airlift tokens", docs/api.md "Tokens"). Needs an admin token.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#define EXPIRES_IN_MAX_S (10ll * 366 * 86400) /* the API's limit: ten years */

enum { OPT_SCOPE, OPT_EXPIRES };

static bool scope_valid(const char *s)
{
    return !strcmp(s, "read") || !strcmp(s, "operator") || !strcmp(s, "admin");
}

/*
 * --expires: a duration from now, digits and s, m, h, d or w ("30d", "12h"), sent as
 * expires_in (seconds, so the server's clock decides); or an RFC 3339 time or a date, sent
 * as expires_at as typed. Sets the field in req; false if s is neither.
 */
static bool expires_set(json_t *req, const char *s)
{
    int64_t ms = 0;
    if (!alc_parse_time(s, 0, &ms))
        return false;
    if (!strchr(s, '-')) { /* a duration: alc_parse_time gave 0 - duration */
        int64_t secs = -ms / 1000;
        if (secs < 1 || secs > EXPIRES_IN_MAX_S)
            return false;
        cli_json_set(req, "expires_in", json_integer((json_int_t)secs));
    } else {
        cli_json_set(req, "expires_at", json_string(s));
    }
    return true;
}

static int tokens_create(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    static const struct cli_option options[] = {{"scope", 0, true, OPT_SCOPE},
                                                {"expires", 0, true, OPT_EXPIRES},
                                                {NULL, 0, false, 0}};
    struct cli_parser p;
    struct cli_server srv;
    const char *value, *name = NULL, *scope = NULL, *expires = NULL;
    json_t *req, *reply = NULL;
    int opt, rc;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_SCOPE: scope = value; break;
        case OPT_EXPIRES: expires = value; break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); return 0;
        case CLI_ARG_POSITIONAL:
            if (name)
                return cli_usage_error(cli, "one token name, please");
            name = value;
            break;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (!name)
        return cli_usage_error(cli, "which name? (airlift tokens create NAME --scope "
                               "read|operator|admin)");
    if (!alc_name_valid(name))
        return cli_usage_error(cli, "token name '%s' is not valid: expected 1..%d of "
                               "[A-Za-z0-9._-], starting with a letter or digit", name,
                               ALC_NAME_MAX);
    if (!scope)
        return cli_usage_error(cli, "which scope for %s? --scope read, operator or admin", name);
    if (!scope_valid(scope))
        return cli_usage_error(cli, "--scope '%s': expected read, operator or admin", scope);
    req = json_pack("{s:s, s:s}", "name", name, "scope", scope);
    if (!req)
        return cli_error(cli, CLI_EXIT_INTERNAL, "out of memory");
    if (expires && !expires_set(req, expires)) {
        json_decref(req);
        return cli_usage_error(cli, "--expires '%s': expected a duration from now (90s, 15m, "
                               "12h, 30d, 1w; at most 10 years), an RFC 3339 time "
                               "(2026-12-31T00:00:00Z) or a date (2026-12-31)", expires);
    }
    if ((rc = cli_server_load(cli, &srv)) != 0) {
        json_decref(req);
        return rc;
    }
    rc = cli_api_ok(cli, &srv, "POST", "/v1/tokens", req, &reply);
    json_decref(req);
    if (rc)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    /* The secret alone on stdout (`> ci.token` makes a --token-file); the rest on stderr. */
    fprintf(stderr, "token %s created: scope %s, %s%s\n", cli_jstr(reply, "name"),
            cli_jstr(reply, "scope"),
            json_is_string(json_object_get(reply, "expires_at")) ? "expires " : "never expires",
            cli_jstr(reply, "expires_at"));
    printf("%s\n", cli_jstr(reply, "token"));
    fprintf(stderr, "it is shown this once: keep it now (airlift --token-file FILE reads it)\n");
    json_decref(reply);
    return 0;
}

/* "revoked", "expired" or "active", from a token object of the API. */
static const char *token_state(json_t *t)
{
    if (json_is_true(json_object_get(t, "revoked")))
        return "revoked";
    return json_is_true(json_object_get(t, "expired")) ? "expired" : "active";
}

/* A time of the API, or "-" for null. */
static const char *time_or_dash(json_t *t, const char *key)
{
    const char *s = cli_jstr(t, key);
    return s[0] ? s : "-";
}

static int tokens_list(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    json_t *reply = NULL, *t, *list;
    size_t i;
    int rc = cli_positionals(cli, self, argc, argv, NULL, 0, "");
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", "/v1/tokens", NULL, &reply)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    list = json_object_get(reply, "tokens");
    printf("%-20s %-8s %-7s %-24s %-24s %s\n", "NAME", "SCOPE", "STATE", "CREATED", "EXPIRES",
           "LAST USED");
    json_array_foreach(list, i, t) {
        const char *state = token_state(t);
        printf("%-20s %-8s %-7s %-24s %-24s %s\n", cli_jstr(t, "name"), cli_jstr(t, "scope"),
               state, cli_jstr(t, "created_at"),
               !strcmp(state, "revoked") && cli_jstr(t, "revoked_at")[0]
                   ? cli_jstr(t, "revoked_at")
                   : time_or_dash(t, "expires_at"),
               time_or_dash(t, "last_used_at"));
    }
    json_decref(reply);
    return 0;
}

static int tokens_revoke(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *name;
    json_t *reply = NULL, *t, *live = NULL, *revoked = NULL, *done = NULL;
    struct alc_suggest s;
    char path[64];
    size_t i;
    int rc = cli_positionals(cli, self, argc, argv, &name, 1, "NAME");
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!alc_name_valid(name))
        return cli_usage_error(cli, "token name '%s' is not valid: expected 1..%d of "
                               "[A-Za-z0-9._-], starting with a letter or digit", name,
                               ALC_NAME_MAX);
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", "/v1/tokens", NULL, &reply)) != 0)
        return rc;
    /* A name belongs to one token that is not revoked (docs/api.md): that one, else the
     * newest revoked one for the message. */
    alc_suggest_init(&s, name);
    json_array_foreach(json_object_get(reply, "tokens"), i, t) {
        alc_suggest_offer(&s, cli_jstr(t, "name"));
        if (strcmp(cli_jstr(t, "name"), name))
            continue;
        if (json_is_true(json_object_get(t, "revoked")))
            revoked = t;
        else
            live = t;
    }
    if (!live && !revoked) {
        rc = s.best ? cli_error(cli, CLI_EXIT_SERVER, "token '%s' does not exist; did you mean "
                                "'%s'?", name, s.best)
                    : cli_error(cli, CLI_EXIT_SERVER, "token '%s' does not exist", name);
        goto out;
    }
    if (!live) {
        if (cli->json) {
            rc = cli_json_print(cli, json_incref(revoked));
        } else {
            fprintf(stderr, "token %s was already revoked%s%s\n", name,
                    cli_jstr(revoked, "revoked_at")[0] ? " at " : "",
                    cli_jstr(revoked, "revoked_at"));
        }
        goto out;
    }
    snprintf(path, sizeof path, "/v1/tokens/%lld", cli_jint(live, "id"));
    if ((rc = cli_api_ok(cli, &srv, "DELETE", path, NULL, &done)) != 0)
        goto out;
    if (cli->json) {
        json_object_set_new(live, "revoked", json_true());
        rc = cli_json_print(cli, json_incref(live));
    } else {
        fprintf(stderr, "token %s revoked: its requests are refused from now on\n", name);
    }
out:
    json_decref(done);
    json_decref(reply);
    return rc;
}

static const struct cli_command create_cmd = {
    "create", NULL, "make a token; its secret is printed once",
    "Usage: airlift tokens create NAME --scope read|operator|admin [--expires WHEN] [--json]\n"
    "\n"
    "Makes the API token NAME (1..64 of [A-Za-z0-9._-]; the actor of what it does in the\n"
    "events). Prints the secret alone on stdout, once: it cannot be shown again.\n"
    "  --scope S       read (look), operator (+ devices, images, updates, rollouts) or\n"
    "                  admin (+ tokens); required\n"
    "  --expires WHEN  refused after WHEN: a duration from now (90s, 15m, 12h, 30d, 1w),\n"
    "                  an RFC 3339 time (2026-12-31T00:00:00Z) or a date (2026-12-31);\n"
    "                  default: never\n",
    tokens_create, NULL};
static const struct cli_command list_cmd = {
    "list", "ls", "every token: scope, state, created, expires, last used",
    "Usage: airlift tokens list [--json]\n"
    "\n"
    "Every token ever made, revoked ones too, never a secret: name, scope, state (active,\n"
    "expired, revoked), created, expires (for a revoked token: when it was revoked), last\n"
    "used (to the minute). --json: the API's {\"tokens\": [...]}.\n",
    tokens_list, NULL};
static const struct cli_command revoke_cmd = {
    "revoke", NULL, "revoke a token: its requests are refused",
    "Usage: airlift tokens revoke NAME [--json]\n"
    "\n"
    "Revokes the token NAME: every request with it is refused from now on (401, \"token\n"
    "'NAME' was revoked at ...\") and its event streams end. The last admin token cannot be\n"
    "revoked (make another first). A token already revoked is reported, exit 0.\n",
    tokens_revoke, NULL};

static const struct cli_command *const tokens_cmds[] = {&create_cmd, &list_cmd, &revoke_cmd,
                                                         NULL};
const struct cli_command cli_tokens_group = {
    "tokens", "token", "API tokens: create, list, revoke", NULL, NULL, tokens_cmds};
