/*
 * cmd_products.c - airlift products create | list | show: the kinds of device a fleet is
 * made of (one platform each), which releases are for and devices belong to.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

enum { OPT_PLATFORM };

static int products_create(struct cli *cli, const struct cli_command *self, int argc,
                           char **argv)
{
    static const struct cli_option options[] = {{"platform", 0, true, OPT_PLATFORM},
                                                {NULL, 0, false, 0}};
    struct cli_parser p;
    struct cli_server srv;
    const char *value, *name = NULL, *platform_arg = NULL;
    json_t *req, *reply = NULL;
    char buf[32];
    uint16_t platform;
    int opt, rc;
    cli_parser_init(&p, cli, options, argc, argv);
    while ((opt = cli_parser_next(&p, &value)) != CLI_ARG_DONE) {
        switch (opt) {
        case OPT_PLATFORM: platform_arg = value; break;
        case CLI_ARG_HELP: cli_print_help(self, cli->path); return 0;
        case CLI_ARG_POSITIONAL:
            if (name)
                return cli_usage_error(cli, "one product name, please");
            name = value;
            break;
        default: return CLI_EXIT_USAGE;
        }
    }
    if (!name)
        return cli_usage_error(cli, "which name? (airlift products create NAME --platform "
                               "electron|ID)");
    if (!platform_arg)
        return cli_usage_error(cli, "which platform is %s for? --platform electron or a "
                               "platform id 0..65535", name);
    if (!alc_platform_parse(platform_arg, &platform))
        return cli_usage_error(cli, "--platform '%s': expected a platform name (electron, "
                               "boron, ...) or a platform id 0..65535", platform_arg);
    if ((rc = cli_server_load(cli, &srv)) != 0)
        return rc;
    req = json_pack("{s:s, s:i}", "name", name, "platform", (int)platform);
    rc = cli_api_ok(cli, &srv, "POST", "/v1/products", req, &reply);
    json_decref(req);
    if (rc)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    printf("product %s created for platform %s\n"
           "devices join it with: airlift devices set DEVICE --product %s\n",
           cli_jstr(reply, "name"), cli_platform_str(cli_jint(reply, "platform"), buf, sizeof buf),
           cli_jstr(reply, "name"));
    json_decref(reply);
    return 0;
}

static int products_list(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    json_t *reply = NULL, *pr;
    size_t i;
    char buf[32];
    int rc = cli_positionals(cli, self, argc, argv, NULL, 0, "");
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", "/v1/products", NULL, &reply)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, reply);
    json_t *products = json_object_get(reply, "products");
    if (!json_array_size(products))
        printf("no products (airlift products create NAME --platform electron)\n");
    else
        printf("%-24s %-14s %s\n", "NAME", "PLATFORM", "CREATED");
    json_array_foreach(products, i, pr)
        printf("%-24s %-14s %s\n", cli_jstr(pr, "name"),
               cli_platform_str(cli_jint(pr, "platform"), buf, sizeof buf), cli_jstr(pr, "created_at"));
    json_decref(reply);
    return 0;
}

static int products_show(struct cli *cli, const struct cli_command *self, int argc, char **argv)
{
    struct cli_server srv;
    const char *name;
    char path[160] = "/v1/products", buf[32];
    json_t *pr = NULL, *rels = NULL, *devs = NULL, *v;
    size_t i, members = 0;
    int rc = cli_positionals(cli, self, argc, argv, &name, 1, "NAME");
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = cli_path_add(cli, path, sizeof path, "product", name)) != 0 ||
        (rc = cli_server_load(cli, &srv)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", path, NULL, &pr)) != 0)
        return rc;
    if (cli->json)
        return cli_json_print(cli, pr);
    strcat(path, "/releases");
    if ((rc = cli_api_ok(cli, &srv, "GET", path, NULL, &rels)) != 0 ||
        (rc = cli_api_ok(cli, &srv, "GET", "/v1/devices", NULL, &devs)) != 0)
        goto out;
    json_array_foreach(json_object_get(devs, "devices"), i, v)
        members += !strcmp(cli_jstr(v, "product"), cli_jstr(pr, "name"));
    printf("product %s: platform %s, created %s, %zu device%s\n", cli_jstr(pr, "name"),
           cli_platform_str(cli_jint(pr, "platform"), buf, sizeof buf), cli_jstr(pr, "created_at"),
           members, members == 1 ? "" : "s");
    json_t *list = json_object_get(rels, "releases");
    if (!json_array_size(list))
        printf("no releases yet (airlift releases create %s VERSION IMAGE...)\n",
               cli_jstr(pr, "name"));
    else
        printf("releases:\n");
    json_array_foreach(list, i, v)
        printf("  %-16s %-10s %zu image%s  %s\n", cli_jstr(v, "version"), cli_jstr(v, "channel"),
               json_array_size(json_object_get(v, "images")),
               json_array_size(json_object_get(v, "images")) == 1 ? " " : "s",
               cli_jstr(v, "created_at"));
out:
    json_decref(pr);
    json_decref(rels);
    json_decref(devs);
    return rc;
}

static const struct cli_command create_cmd = {
    "create", NULL, "add a product: a kind of device, on one platform",
    "Usage: airlift products create NAME --platform NAME|ID [--json]\n"
    "\n"
    "Adds the product NAME (1..64 of [A-Za-z0-9._-]). Its releases hold images built for its\n"
    "platform, and only devices of that platform can belong to it.\n"
    "  --platform P    a platform name (electron, boron, ...) or id 0..65535 (required)\n",
    products_create, NULL};
static const struct cli_command list_cmd = {
    "list", "ls", "every product and its platform",
    "Usage: airlift products list [--json]\n", products_list, NULL};
static const struct cli_command show_cmd = {
    "show", NULL, "one product: platform, devices, releases",
    "Usage: airlift products show NAME [--json]\n"
    "\n"
    "The product's platform, how many devices belong to it and its releases. --json: the\n"
    "API's product object.\n",
    products_show, NULL};

static const struct cli_command *const products_cmds[] = {&create_cmd, &list_cmd, &show_cmd,
                                                           NULL};
const struct cli_command cli_products_group = {
    "products", "product", "products: create, list, show", NULL, NULL, products_cmds};
