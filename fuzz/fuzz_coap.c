/*
 * fuzz_coap.c - libFuzzer harness for what airliftd reads out of a device's CoAP request
 * (server/coap/coap_request.h): any datagram libcoap accepts as a PDU goes through the
 * transfer path, the window query and its limits, the id= query, the Block2 option and the
 * body, as the endpoint reads them; the body (and the whole input) as an inventory the
 * server records (core/updates.c); and any text through the transfer-key parser
 * (server/core/transfers.c), which must give back the key it read. Nothing may crash, read
 * out of bounds or accept a window outside the limits of docs/protocol.md.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>

#include "airlift/wire.h"
#include "airlift/proto.h"
#include "coap_request.h"
#include "transfers.h"
#include "updates.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An inventory as on_inventory takes it (core/updates.c): decoded, its reason made UTF-8,
 * then kept as JSON, which must always work (a device that cannot be recorded cannot
 * check in). */
static void inventory(const uint8_t *data, size_t size)
{
    struct al_inventory inv;
    if (al_inventory_decode(data, size, &inv) != AL_OK)
        return;
    ald_utf8_scrub(inv.reason);
    json_t *j = ald_inventory_json(&inv);
    if (!j)
        abort();
    json_decref(j);
}

static void transfer_key(const uint8_t *data, size_t size)
{
    char key[ALD_TRANSFER_KEY_MAX + 8], again[ALD_TRANSFER_KEY_MAX + 1];
    struct ald_transfer t;
    size_t n = size < sizeof key - 1 ? size : sizeof key - 1;
    memcpy(key, data, n);
    key[n] = '\0';
    if (!ald_transfer_parse_key(key, &t))
        return;
    ald_transfer_key(&t, again);
    if (strcmp(again, key) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    struct ald_coap_window w;
    char id[ALD_IDENTITY_MAX + 1];
    uint32_t plan = 0;
    uint8_t step = 0;
    coap_block_t block;
    const uint8_t *body = NULL;
    size_t len = 0, offset = 0, total = 0;

    transfer_key(data, size);
    inventory(data, size);
    if (!started) {
        coap_startup();
        coap_set_log_level(LOG_EMERG);
        started = true;
    }
    coap_pdu_t *pdu = coap_pdu_init(0, 0, 0, size);
    if (!pdu)
        return 0;
    if (!coap_pdu_parse(COAP_PROTO_UDP, data, size, pdu))
        goto out;
    char kind = ald_coap_transfer_path(pdu, &plan, &step);
    if (kind && kind != 'f' && kind != 'w')
        abort();
    if (ald_coap_window_query(pdu, &w)) {
        for (size_t fit = 0; fit <= 1472; fit += 368)
            if (ald_coap_window_ok(&w, fit) &&
                (w.count < 1 || w.count > AL_WIRE_WINDOW_MAX || w.chunk > fit ||
                 w.chunk % AL_WIRE_CHUNK_ALIGN || w.chunk == 0))
                abort();
    }
    if (ald_coap_query_identity(pdu, id) && (id[0] == '\0' || strlen(id) > ALD_IDENTITY_MAX))
        abort();
    (void)coap_get_block(pdu, COAP_OPTION_BLOCK2, &block);
    if (coap_get_data_large(pdu, &len, &body, &offset, &total)) {
        if (len > size)
            abort();
        inventory(body, len);
    }
out:
    coap_delete_pdu(pdu);
    return 0;
}
