/*
 * ddi.c - see ddi.h.
 */
#include "ddi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "airlift_common/hex.h"
#include "airlift_common/platform.h"
#include "blobs.h"
#include "swu.h"
#include "updates.h"
#include "util.h"

/* ---- authentication ---- */

/* Does the token text t equal want (constant time in the compared bytes)? */
static bool token_eq(const char *t, const char *want)
{
    size_t n = strlen(want);
    return n > 0 && strlen(t) == n && CRYPTO_memcmp(t, want, n) == 0;
}

struct ald_result ald_ddi_auth(struct ald_store *st, const struct ald_ddi_conf *conf,
                               const char *tenant, const char *controller, const char *auth,
                               struct ald_device_rec *dev)
{
    char psk_hex[2 * ALD_PSK_MAX_LEN + 1];
    bool gateway = false, target = false;
    if (strcmp(tenant, conf->tenant) != 0)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "tenant '%s' is not served here "
                        "(this server's tenant is '%s')", tenant, conf->tenant);
    if (!auth)
        return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized", "missing Authorization: "
                        "TargetToken <token> or GatewayToken <token>");
    if (!strncasecmp(auth, "TargetToken ", 12))
        target = true;
    else if (!strncasecmp(auth, "GatewayToken ", 13))
        gateway = true;
    else
        return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized", "Authorization must use the "
                        "TargetToken or GatewayToken scheme");
    const char *tok = auth + (target ? 12 : 13);
    while (*tok == ' ')
        tok++;
    if (gateway && !token_eq(tok, conf->gateway_token))
        return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized", conf->gateway_token[0]
                        ? "the gateway token is wrong" : "this server accepts no gateway "
                        "token (--ddi-gateway-token is not set)");
    enum ald_store_rc rc = st->ops->device_get(st, controller, dev);
    bool found = rc == ALD_STORE_OK && dev->platform == ALC_PLATFORM_LINUX;
    if (rc != ALD_STORE_OK && rc != ALD_STORE_NOT_FOUND)
        return ald_store_failed(rc);
    if (target) {
        bool ok = false;
        if (found) {
            alc_hex_encode(dev->psk, dev->psk_len, psk_hex);
            ok = token_eq(tok, psk_hex);
            memset(psk_hex, 0, sizeof psk_hex);
        }
        if (!ok) /* one answer for both: a token does not reveal which devices exist */
            return ald_fail(ALD_ERR_UNAUTHORIZED, "unauthorized", "the target token is not "
                            "the one of a linux device '%s'", controller);
    }
    if (!found)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "device '%s' does not exist or is "
                        "not of platform linux", controller);
    return ald_ok();
}

/* ---- the device's DDI inventory ---- */

/* dev's inventory as a JSON object (a new reference; {"ddi": true} if it has none). */
static json_t *inventory_of(const struct ald_device_rec *dev)
{
    json_t *inv = dev->inventory[0] ? json_loads(dev->inventory, 0, NULL) : NULL;
    if (!json_is_object(inv)) {
        json_decref(inv);
        inv = json_pack("{s:b}", "ddi", 1);
    }
    return inv;
}

/* Store inv (borrowed) as dev's inventory. */
static enum ald_store_rc inventory_save(struct ald_store *st, const struct ald_device_rec *dev,
                                        json_t *inv)
{
    char *text = json_dumps(inv, JSON_COMPACT);
    enum ald_store_rc rc = ALD_STORE_ERROR;
    if (text && strlen(text) < ALD_INVENTORY_MAX)
        rc = st->ops->device_report(st, dev->name, text, ald_now_ms(), -1);
    free(text);
    return rc;
}

static int64_t cancel_ack_of(const struct ald_device_rec *dev)
{
    json_t *inv = inventory_of(dev);
    int64_t id = json_integer_value(json_object_get(inv, "cancel_ack"));
    json_decref(inv);
    return id;
}

struct newest {
    struct ald_update_rec *rec;
    bool found;
};

static int take_newest(void *ctx, const struct ald_update_rec *rec)
{
    struct newest *n = ctx;
    *n->rec = *rec;
    n->found = true;
    return 1;
}

/* dev's newest update, if it is a cancelled one the device saw and has not acknowledged. */
static bool cancel_pending(struct ald_store *st, const struct ald_device_rec *dev,
                           struct ald_update_rec *rec)
{
    struct newest n = {rec, false};
    if (st->ops->update_list(st, dev->id, 1, take_newest, &n) != ALD_STORE_OK || !n.found)
        return false;
    return !strcmp(rec->state, "cancelled") && rec->started_at != 0 &&
           cancel_ack_of(dev) != rec->id;
}

/* ---- resources ---- */

/* {"href": base + tail + id} (id 0: none). */
static json_t *href(const char *base, const char *tail, long long id)
{
    char url[1024];
    if (id)
        snprintf(url, sizeof url, "%s%s/%lld", base, tail, id);
    else
        snprintf(url, sizeof url, "%s%s", base, tail);
    return json_pack("{s:s}", "href", url);
}

json_t *ald_ddi_poll(struct ald_store *st, const struct ald_ddi_conf *conf,
                     const struct ald_device_rec *dev, const char *base, struct ald_result *res)
{
    struct ald_update_rec *rec = malloc(sizeof *rec);
    char sleep[16];
    json_t *links = json_object(), *out = NULL;
    *res = ald_ok();
    if (!rec || !links)
        goto out;
    enum ald_store_rc rc = st->ops->update_active(st, dev->id, rec);
    if (rc == ALD_STORE_OK)
        json_object_set_new(links, "deploymentBase",
                            href(base, "/deploymentBase", (long long)rec->id));
    else if (rc != ALD_STORE_NOT_FOUND) {
        *res = ald_store_failed(rc);
        goto out;
    } else if (cancel_pending(st, dev, rec))
        json_object_set_new(links, "cancelAction",
                            href(base, "/cancelAction", (long long)rec->id));
    json_t *inv = inventory_of(dev);
    if (!json_object_get(inv, "attributes"))
        json_object_set_new(links, "configData", href(base, "/configData", 0));
    json_decref(inv);
    snprintf(sleep, sizeof sleep, "%02u:%02u:%02u", conf->poll_s / 3600, conf->poll_s / 60 % 60,
             conf->poll_s % 60);
    out = json_pack("{s:{s:{s:s}}}", "config", "polling", "sleep", sleep);
    if (out && json_object_size(links))
        json_object_set(out, "_links", links);
out:
    if (!out && ald_is_ok(res))
        *res = ald_store_failed(ALD_STORE_ERROR);
    json_decref(links);
    free(rec);
    return out;
}

/* The image of update rec's one step (a .swu), into *img. */
static bool step_image(struct ald_store *st, const struct ald_update_rec *rec,
                       struct ald_image_rec *img)
{
    json_t *steps = json_loads(rec->steps_json, 0, NULL);
    const char *id = json_string_value(json_object_get(json_array_get(steps, 0), "image"));
    bool ok = id && st->ops->image_get_id(st, id, img) == ALD_STORE_OK && ald_swu_image(img);
    json_decref(steps);
    return ok;
}

/* Hex digests of a blob with md ("sha1", "md5") into hex; false if unreadable. */
static bool blob_digest(const char *data_dir, const char *id, const char *md, char *hex)
{
    const EVP_MD *type = EVP_get_digestbyname(md);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t buf[65536], out[EVP_MAX_MD_SIZE];
    unsigned outlen = 0;
    uint64_t off = 0;
    bool ok = type && ctx && EVP_DigestInit_ex(ctx, type, NULL) == 1;
    while (ok) {
        ssize_t n = ald_blob_read(data_dir, ALD_BLOB_IMAGE, id, off, buf, sizeof buf);
        if (n <= 0) {
            ok = n == 0;
            break;
        }
        ok = EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
        off += (uint64_t)n;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, out, &outlen) == 1;
    if (ok)
        alc_hex_encode(out, outlen, hex);
    EVP_MD_CTX_free(ctx);
    return ok;
}

struct ald_result ald_ddi_deployment(struct ald_updates *u, struct ald_store *st,
                                     const char *data_dir, const struct ald_device_rec *dev,
                                     int64_t action, const char *base, json_t **out)
{
    struct ald_update_rec *rec = malloc(sizeof *rec);
    struct ald_image_rec *img = malloc(sizeof *img);
    struct ald_result res = ald_ok();
    char sha1[41], md5[33], path[160];
    *out = NULL;
    if (!rec || !img) {
        res = ald_store_failed(ALD_STORE_ERROR);
        goto out;
    }
    if (st->ops->update_active(st, dev->id, rec) != ALD_STORE_OK || rec->id != action) {
        res = ald_fail(ALD_ERR_NOT_FOUND, "not_found", "action %lld is not an open deployment "
                       "of '%s'", (long long)action, dev->name);
        goto out;
    }
    if (!step_image(st, rec, img) || !blob_digest(data_dir, img->id, "sha1", sha1) ||
        !blob_digest(data_dir, img->id, "md5", md5)) {
        res = ald_fail(ALD_ERR_INTERNAL, "internal", "the .swu image of update %lld cannot "
                       "be read", (long long)rec->id);
        goto out;
    }
    if (!strcmp(rec->state, "queued")) {
        res = ald_updates_ddi_report(u, rec->id, "downloading", NULL, 0, rec);
        if (!ald_is_ok(&res))
            goto out;
    }
    char filename[ALD_SHA256_HEX + 8], url[1024];
    snprintf(filename, sizeof filename, "%s.swu", img->id);
    snprintf(path, sizeof path, "/softwaremodules/%lld/artifacts/%s", (long long)rec->id,
             filename);
    snprintf(url, sizeof url, "%s%s", base, path);
    bool https = !strncmp(base, "https:", 6);
    json_t *links = json_pack("{s:{s:s}}", https ? "download" : "download-http", "href", url);
    json_t *art = json_pack("{s:s, s:{s:s, s:s, s:s}, s:I, s:o}", "filename", filename,
                            "hashes", "sha1", sha1, "md5", md5, "sha256", img->id, "size",
                            (json_int_t)img->file_size, "_links", links);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)rec->id);
    json_t *messages = json_array();
    if (rec->why[0])
        json_array_append_new(messages, json_string(rec->why));
    *out = json_pack("{s:s, s:{s:s, s:s, s:[{s:s, s:s, s:s, s:[o]}]}, s:{s:s, s:o}}",
                     "id", id, "deployment", "download", "forced", "update", "forced",
                     "chunks", "part", "os", "version", img->version, "name", "swu",
                     "artifacts", art, "actionHistory", "status", rec->state, "messages",
                     messages);
    if (!*out)
        res = ald_store_failed(ALD_STORE_ERROR);
out:
    free(rec);
    free(img);
    return res;
}

struct ald_result ald_ddi_cancel_action(struct ald_store *st, const struct ald_device_rec *dev,
                                        int64_t action, json_t **out)
{
    struct ald_update_rec *rec = malloc(sizeof *rec);
    char id[24];
    *out = NULL;
    bool ok = rec && cancel_pending(st, dev, rec) && rec->id == action;
    free(rec);
    if (!ok)
        return ald_fail(ALD_ERR_NOT_FOUND, "not_found", "action %lld of '%s' has no cancel "
                        "to acknowledge", (long long)action, dev->name);
    snprintf(id, sizeof id, "%lld", (long long)action);
    *out = json_pack("{s:s, s:{s:s}}", "id", id, "cancelAction", "stopId", id);
    return *out ? ald_ok() : ald_store_failed(ALD_STORE_ERROR);
}

/* ---- feedback ---- */

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return true;
    return false;
}

struct ald_result ald_ddi_feedback_parse(json_t *doc, struct ald_ddi_feedback *fb)
{
    static const char *const executions[] = {"closed", "proceeding", "canceled", "scheduled",
                                             "rejected", "resumed", "downloaded", "download",
                                             NULL};
    static const char *const results[] = {"success", "failure", "none", NULL};
    json_t *status = json_object_get(doc, "status"), *d;
    size_t i;
    memset(fb, 0, sizeof *fb);
    if (!json_is_object(status))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "feedback: 'status' must be an "
                        "object");
    fb->execution = json_string_value(json_object_get(status, "execution"));
    if (!fb->execution || !one_of(fb->execution, executions))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "feedback: 'status.execution' "
                        "must be closed, proceeding, canceled, scheduled, rejected, resumed, "
                        "downloaded or download");
    fb->finished = json_string_value(json_object_get(json_object_get(status, "result"),
                                                     "finished"));
    if (!fb->finished)
        fb->finished = "none";
    if (!one_of(fb->finished, results))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "feedback: "
                        "'status.result.finished' must be success, failure or none");
    json_t *details = json_object_get(status, "details");
    if (details && !json_is_array(details))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "feedback: 'status.details' "
                        "must be an array of strings");
    json_array_foreach(details, i, d) {
        if (!json_is_string(d))
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "feedback: "
                            "'status.details[%zu]' is not a string", i);
        if (fb->ndetails < ALD_DDI_DETAILS_MAX)
            fb->details[fb->ndetails++] = json_string_value(d);
    }
    return ald_ok();
}

/* lead, then `before` (if not empty), then the details (only those starting with "ERROR"
 * if errors_only), joined by "; ", into why, cut to fit; control characters become spaces.
 * false if no detail was taken. */
static bool details_why(const struct ald_ddi_feedback *fb, const char *lead, const char *before,
                        bool errors_only, char *why, size_t cap)
{
    size_t o = (size_t)snprintf(why, cap, "%s%s", lead, before);
    bool sep = before[0] != '\0', took = false;
    for (size_t i = 0; i < fb->ndetails && o + 1 < cap; i++) {
        const char *d = fb->details[i];
        while (*d == ' ')
            d++;
        if (!*d || (errors_only && strncmp(d, "ERROR", 5) != 0) || strstr(why, d))
            continue; /* nothing, not an error, or said already */
        o += (size_t)snprintf(why + o, cap - o, "%s%s", sep ? "; " : "", d);
        sep = took = true;
    }
    for (char *p = why; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return took;
}

struct ald_result ald_ddi_feedback(struct ald_updates *u, struct ald_store *st,
                                   const struct ald_device_rec *dev, int64_t action, bool cancel,
                                   const struct ald_ddi_feedback *fb)
{
    struct ald_update_rec *rec = malloc(sizeof *rec);
    struct ald_image_rec *img = malloc(sizeof *img);
    struct ald_result res = ald_ok();
    char why[ALD_WHY_MAX + 1];
    if (!rec || !img) {
        res = ald_store_failed(ALD_STORE_ERROR);
        goto out;
    }
    if (cancel) {
        if (!cancel_pending(st, dev, rec) || rec->id != action) {
            res = ald_fail(ALD_ERR_NOT_FOUND, "not_found", "action %lld of '%s' has no cancel "
                           "to acknowledge", (long long)action, dev->name);
            goto out;
        }
        if (!strcmp(fb->execution, "closed") || !strcmp(fb->execution, "canceled") ||
            !strcmp(fb->execution, "rejected")) {
            json_t *inv = inventory_of(dev);
            json_object_set_new(inv, "cancel_ack", json_integer(action));
            enum ald_store_rc rc = inventory_save(st, dev, inv);
            json_decref(inv);
            if (rc != ALD_STORE_OK)
                res = ald_store_failed(rc);
        }
        goto out;
    }
    enum ald_store_rc rc = st->ops->update_get(st, action, rec);
    if (rc != ALD_STORE_OK || rec->device_id != dev->id) {
        res = rc == ALD_STORE_OK || rc == ALD_STORE_NOT_FOUND
                  ? ald_fail(ALD_ERR_NOT_FOUND, "not_found", "action %lld is not a deployment "
                             "of '%s'", (long long)action, dev->name)
                  : ald_store_failed(rc);
        goto out;
    }
    const char *to, *lead = NULL;
    bool closed = !strcmp(fb->execution, "closed");
    if (closed && strcmp(fb->finished, "failure") != 0)
        to = "succeeded";
    else if (closed)
        to = "failed", lead = "the device reports failure: ";
    else if (!strcmp(fb->execution, "rejected"))
        to = "failed", lead = "the device rejected the update: ";
    else if (!strcmp(fb->execution, "canceled"))
        to = "cancelled", lead = "the device cancelled the update: ";
    else if (!strcmp(fb->execution, "downloaded") ||
             (rec->total_bytes && rec->offset >= rec->total_bytes))
        to = "installing";
    else
        to = "downloading";
    /* The errors a device reports while it proceeds (SWUpdate: "ERROR : SW not compatible
     * with hardware") are kept as the update's why and lead the final one's. */
    bool set_why = lead != NULL;
    if (lead)
        details_why(fb, lead, rec->why, false, why, sizeof why);
    else
        set_why = details_why(fb, "", rec->why, true, why, sizeof why);
    if (!strcmp(to, "succeeded")) { /* what went wrong on the way no longer matters */
        why[0] = '\0';
        set_why = true;
    }
    if (!strcmp(to, "succeeded") && !step_image(st, rec, img)) {
        res = ald_fail(ALD_ERR_INTERNAL, "internal", "the .swu image of update %lld cannot be "
                       "read", (long long)rec->id);
        goto out;
    }
    res = ald_updates_ddi_report(u, rec->id, to, set_why ? why : NULL, 0, rec);
    if (ald_is_ok(&res) && !strcmp(to, "succeeded")) {
        json_t *inv = inventory_of(dev);
        json_object_set_new(inv, "swu", json_pack("{s:s, s:s}", "image", img->id, "version",
                                                  img->version));
        rc = inventory_save(st, dev, inv);
        json_decref(inv);
        if (rc != ALD_STORE_OK)
            res = ald_store_failed(rc);
    }
out:
    free(rec);
    free(img);
    return res;
}

struct ald_result ald_ddi_config_data(struct ald_store *st, const struct ald_device_rec *dev,
                                      json_t *doc)
{
    json_t *data = json_object_get(doc, "data"), *v;
    const char *mode = json_string_value(json_object_get(doc, "mode")), *k;
    if (!mode)
        mode = "merge";
    if (strcmp(mode, "merge") && strcmp(mode, "replace") && strcmp(mode, "remove"))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "configData: 'mode' must be "
                        "merge, replace or remove");
    if (!json_is_object(data))
        return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "configData: 'data' must be an "
                        "object of strings");
    json_object_foreach(data, k, v)
        if (!json_is_string(v) || strlen(k) > 128 || strlen(json_string_value(v)) > 128)
            return ald_fail(ALD_ERR_BAD_REQUEST, "bad_request", "configData: 'data.%.64s' "
                            "must be a string of at most 128 bytes (keys too)", k);
    json_t *inv = inventory_of(dev);
    json_t *attrs = json_object_get(inv, "attributes");
    if (!json_is_object(attrs) || !strcmp(mode, "replace")) {
        attrs = json_object();
        json_object_set_new(inv, "attributes", attrs);
    }
    if (!strcmp(mode, "remove"))
        json_object_foreach(data, k, v)
            json_object_del(attrs, k);
    else
        json_object_update(attrs, data);
    enum ald_store_rc rc = inventory_save(st, dev, inv);
    json_decref(inv);
    return rc == ALD_STORE_OK ? ald_ok()
           : ald_fail(rc == ALD_STORE_ERROR ? ALD_ERR_BAD_REQUEST : ALD_ERR_UNAVAILABLE,
                      rc == ALD_STORE_ERROR ? "bad_request" : "unavailable",
                      "configData: the attributes cannot be stored (more than %u bytes?)",
                      (unsigned)ALD_INVENTORY_MAX);
}

struct ald_result ald_ddi_artifact(struct ald_store *st, const struct ald_device_rec *dev,
                                   int64_t action, const char *filename,
                                   struct ald_image_rec *img)
{
    struct ald_update_rec *rec = malloc(sizeof *rec);
    char want[ALD_SHA256_HEX + 8];
    bool ok = rec && st->ops->update_get(st, action, rec) == ALD_STORE_OK &&
              rec->device_id == dev->id && step_image(st, rec, img);
    free(rec);
    if (ok) {
        snprintf(want, sizeof want, "%s.swu", img->id);
        ok = !strcmp(filename, want);
    }
    return ok ? ald_ok()
              : ald_fail(ALD_ERR_NOT_FOUND, "not_found", "no artifact '%.80s' in action %lld "
                         "of '%s'", filename, (long long)action, dev->name);
}

void ald_ddi_account(struct ald_store *st, const struct ald_device_rec *dev, uint64_t tx,
                     uint64_t rx)
{
    struct ald_update_rec *rec = malloc(sizeof *rec);
    int64_t update_id = 0;
    if (rec && st->ops->update_active(st, dev->id, rec) == ALD_STORE_OK)
        update_id = rec->id;
    free(rec);
    st->ops->device_seen(st, dev->id, ald_now_ms(), tx, rx, update_id);
}
