/*
 * util.c - option parsing, messages, files and JSON output for the airlift CLI.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLI_FILE_PATH_MAX 4096

/* ---- option parsing ---- */

void cli_parser_init(struct cli_parser *p, struct cli *cli, const struct cli_option *options,
                     int argc, char **argv)
{
    memset(p, 0, sizeof(*p));
    p->cli = cli;
    p->options = options;
    p->argc = argc;
    p->argv = argv;
}

static const struct cli_option *find_long(const struct cli_option *opts, const char *name,
                                          size_t len)
{
    for (; opts != NULL && opts->name != NULL; opts++) {
        if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0)
            return opts;
    }
    return NULL;
}

static const struct cli_option *find_short(const struct cli_option *opts, char c)
{
    for (; opts != NULL && opts->name != NULL; opts++) {
        if (opts->short_name != 0 && opts->short_name == c)
            return opts;
    }
    return NULL;
}

int cli_parser_next(struct cli_parser *p, const char **value)
{
    const struct cli_option *opt = NULL;
    const char *arg;
    const char *inline_value = NULL;

    *value = NULL;
    for (;;) {
        if (p->next >= p->argc)
            return CLI_ARG_DONE;
        arg = p->argv[p->next++];
        if (p->only_positionals || arg[0] != '-' || arg[1] == '\0') {
            *value = arg; /* "-" alone is a positional (stdin/stdout by convention) */
            return CLI_ARG_POSITIONAL;
        }
        if (strcmp(arg, "--") == 0) {
            p->only_positionals = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return CLI_ARG_HELP;
        if (strcmp(arg, "--json") == 0) {
            p->cli->json = true;
            continue;
        }
        break;
    }

    if (arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);

        opt = find_long(p->options, name, name_len);
        if (opt == NULL) {
            char wanted[64];
            struct alc_suggest sg;
            snprintf(wanted, sizeof wanted, "%.*s", (int)name_len, name);
            alc_suggest_init(&sg, wanted);
            for (const struct cli_option *o = p->options; o && o->name; o++)
                alc_suggest_offer(&sg, o->name);
            if (sg.best)
                cli_usage_error(p->cli, "unknown option '--%s'; did you mean '--%s'?", wanted,
                                sg.best);
            else
                cli_usage_error(p->cli, "unknown option '--%.*s'", (int)name_len, name);
            return CLI_ARG_ERROR;
        }
        if (eq != NULL) {
            if (!opt->has_value) {
                cli_usage_error(p->cli, "option '--%s' takes no value", opt->name);
                return CLI_ARG_ERROR;
            }
            inline_value = eq + 1;
        }
    } else {
        opt = find_short(p->options, arg[1]);
        if (opt == NULL) {
            cli_usage_error(p->cli, "unknown option '-%c'", arg[1]);
            return CLI_ARG_ERROR;
        }
        if (arg[2] != '\0') {
            if (!opt->has_value) {
                cli_usage_error(p->cli, "option '-%c' takes no value (flags do not combine)",
                                arg[1]);
                return CLI_ARG_ERROR;
            }
            inline_value = arg + 2; /* "-oFILE" */
        }
    }

    if (opt->has_value) {
        if (inline_value == NULL) {
            if (p->next >= p->argc) {
                cli_usage_error(p->cli, "option '--%s' needs a value", opt->name);
                return CLI_ARG_ERROR;
            }
            inline_value = p->argv[p->next++];
        }
        *value = inline_value;
    }
    return opt->id;
}

int cli_positionals(struct cli *cli, const struct cli_command *self, int argc, char **argv,
                    const char **args, int n, const char *usage)
{
    static const struct cli_option none[] = {{NULL, 0, false, 0}};
    struct cli_parser p;
    const char *value;
    int opt, got = 0;
    cli_parser_init(&p, cli, none, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        if (opt == CLI_ARG_HELP) {
            cli_print_help(self, cli->path);
            return -1;
        }
        if (opt != CLI_ARG_POSITIONAL)
            return CLI_EXIT_USAGE;
        if (got == n)
            return cli_usage_error(cli, "unexpected argument '%s'", value);
        args[got++] = value;
    }
    if (got < n)
        return cli_usage_error(cli, "usage: airlift %s %s", cli->path, usage);
    return 0;
}

bool cli_parse_function(const char *s, uint8_t *out)
{
    static const struct {
        const char *name;
        uint8_t function;
    } names[] = {
        {"bootloader", AL_FN_BOOTLOADER}, {"system", AL_FN_SYSTEM},
        {"application", AL_FN_APPLICATION}, {"app", AL_FN_APPLICATION},
        {"radio", AL_FN_RADIO},
    };
    uint32_t n;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].function;
            return true;
        }
    }
    if (alc_parse_u32(s, AL_FN_MAX, &n) && n >= 1) {
        *out = (uint8_t)n;
        return true;
    }
    return false;
}

bool cli_parse_version(const char *s, struct al_version *out)
{
    return al_version_parse(s, strlen(s), out) == AL_OK;
}

bool cli_parse_dependency(const char *s, struct al_dependency *out)
{
    char function[32];
    char index[16];
    const char *colon1 = strchr(s, ':');
    const char *colon2 = colon1 != NULL ? strchr(colon1 + 1, ':') : NULL;
    size_t function_len, index_len;
    uint32_t n;

    if (colon2 == NULL)
        return false;
    function_len = (size_t)(colon1 - s);
    index_len = (size_t)(colon2 - colon1 - 1);
    if (function_len >= sizeof(function) || index_len >= sizeof(index))
        return false;
    memcpy(function, s, function_len);
    function[function_len] = '\0';
    memcpy(index, colon1 + 1, index_len);
    index[index_len] = '\0';

    memset(out, 0, sizeof(*out));
    if (!cli_parse_function(function, &out->function) || !alc_parse_u32(index, AL_INDEX_MAX, &n))
        return false;
    out->index = (uint8_t)n;
    return cli_parse_version(colon2 + 1, &out->min_version);
}

/* ---- messages ---- */

/* The JSON form of an error message, when --json asked for one. */
static void json_error(struct cli *cli, int code, const char *fmt, va_list ap)
{
    char message[1024];

    if (!cli->json || cli->json_done)
        return;
    vsnprintf(message, sizeof(message), fmt, ap);
    cli_json_print(cli, json_pack("{s:{s:i, s:s}}", "error", "exit_code", code, "message",
                                  message));
}

int cli_error(struct cli *cli, int code, const char *fmt, ...)
{
    va_list ap;

    fputs("airlift: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    va_start(ap, fmt);
    json_error(cli, code, fmt, ap);
    va_end(ap);
    return code;
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    const char *space = cli->path[0] != '\0' ? " " : "";

    fprintf(stderr, "airlift%s%s: ", space, cli->path);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'airlift%s%s --help' for usage.\n", space, cli->path);
    va_start(ap, fmt);
    json_error(cli, CLI_EXIT_USAGE, fmt, ap);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

void cli_print_help(const struct cli_command *cmd, const char *path)
{
    if (cmd->help != NULL)
        fputs(cmd->help, stdout);
    if (cmd->subcommands == NULL)
        return;
    printf("\nCommands:\n");
    for (const struct cli_command *const *sub = cmd->subcommands; *sub != NULL; sub++)
        printf("  %-12s %s\n", (*sub)->name, (*sub)->summary);
    printf("\nRun 'airlift %s%sCOMMAND --help' for the options of a command.\n", path,
           path[0] != '\0' ? " " : "");
}

/* ---- files ---- */

static void errno_message(char *err, size_t errlen, const char *what, int errnum)
{
    snprintf(err, errlen, "%s: %s", what, strerror(errnum));
}

enum cli_read_status cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len,
                                   char *err, size_t errlen)
{
    enum cli_read_status status = CLI_READ_IO;
    uint8_t *data = NULL;
    struct stat st;
    size_t got = 0;
    int fd = -1;

    *buf = NULL;
    *len = 0;
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        errno_message(err, errlen, "cannot open", errno);
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        errno_message(err, errlen, "cannot stat", errno);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "is a directory, not a file");
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        goto out;
    }
    if ((uintmax_t)st.st_size > max) {
        status = CLI_READ_TOO_LARGE;
        snprintf(err, errlen, "too large (%jd bytes; at most %zu)", (intmax_t)st.st_size, max);
        goto out;
    }
    /* One byte more than announced, to notice a file that grew while we read it. */
    data = malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        snprintf(err, errlen, "out of memory reading %jd bytes", (intmax_t)st.st_size);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            errno_message(err, errlen, "read failed", errno);
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got > (size_t)st.st_size) {
            snprintf(err, errlen, "changed size while being read");
            goto out;
        }
    }
    *buf = data;
    *len = got;
    data = NULL;
    status = CLI_READ_OK;
out:
    free(data);
    if (fd >= 0)
        close(fd);
    return status;
}

int cli_path_exists(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0)
        return 1;
    return errno == ENOENT ? 0 : -1;
}

/* ---- output ---- */

const char *cli_platform_str(long long platform, char *buf, size_t cap)
{
    const char *name = platform >= 0 && platform <= ALC_PLATFORM_ID_MAX
                           ? alc_platform_name((unsigned)platform)
                           : NULL;
    if (name)
        snprintf(buf, cap, "%s (%lld)", name, platform);
    else
        snprintf(buf, cap, "%lld", platform);
    return buf;
}

const char *cli_size_str(uint64_t bytes, char *buf, size_t cap)
{
    /* Rounded down at each step, so "999.99 MB" never shows for a size that is 1.00 GB. */
    if (bytes < 1000)
        snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
    else if (bytes < 1000000)
        snprintf(buf, cap, "%llu.%llu kB", (unsigned long long)(bytes / 1000),
                 (unsigned long long)(bytes % 1000 / 100));
    else if (bytes < 1000000000)
        snprintf(buf, cap, "%llu.%02llu MB", (unsigned long long)(bytes / 1000000),
                 (unsigned long long)(bytes % 1000000 / 10000));
    else
        snprintf(buf, cap, "%llu.%02llu GB", (unsigned long long)(bytes / 1000000000),
                 (unsigned long long)(bytes % 1000000000 / 10000000));
    return buf;
}

const char *cli_version_str(const struct al_version *v, char buf[AL_VERSION_STR_MAX])
{
    if (al_version_format(v, buf, AL_VERSION_STR_MAX) == 0)
        snprintf(buf, AL_VERSION_STR_MAX, "?");
    return buf;
}

int cli_json_print(struct cli *cli, json_t *v)
{
    int result = CLI_EXIT_INTERNAL;

    /* Also on failure: stdout may hold part of a document. A stream of lines can always
     * take one more (an error). */
    cli->json_done = !cli->ndjson;
    if (v == NULL) {
        fputs("airlift: out of memory building JSON output\n", stderr);
        goto out;
    }
    if (json_dumpf(v, stdout, (cli->ndjson ? JSON_COMPACT : JSON_INDENT(2)) |
                                  JSON_PRESERVE_ORDER) != 0 ||
        fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        fputs("airlift: cannot write JSON output\n", stderr);
        goto out;
    }
    result = CLI_EXIT_OK;
out:
    json_decref(v);
    return result;
}

void cli_json_set(json_t *obj, const char *key, json_t *value)
{
    /* json_object_set_new releases value, also on failure; a NULL obj leaks nothing. */
    if (obj == NULL) {
        json_decref(value);
        return;
    }
    if (value == NULL)
        value = json_null();
    json_object_set_new(obj, key, value);
}

json_t *cli_json_al_err(al_err err)
{
    return json_pack("{s:i, s:s, s:s}", "code", (int)err, "name", al_err_name(err), "message",
                     al_strerror(err));
}

const char *cli_jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

long long cli_jint(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

const char *cli_rollout_state_words(const char *state)
{
    return !strcmp(state, "hand_flashed") ? "flashed by hand" : state;
}
