/* coap_pace.c - see coap_pace.h. */
#include "coap_pace.h"

bool ald_coap_pace_take(struct ald_coap_pace *p, uint32_t bytes, bool first, uint64_t now_us)
{
    if (!p->started) {
        p->started = true;
        p->at_us = now_us;
        p->tokens = ALD_COAP_PACE_BURST;
    } else if (now_us > p->at_us) {
        uint64_t add = (now_us - p->at_us) * ALD_COAP_PACE_RATE / 1000000u;
        if (add) {
            p->tokens = p->tokens + (int64_t)add > (int64_t)ALD_COAP_PACE_BURST
                            ? (int64_t)ALD_COAP_PACE_BURST : p->tokens + (int64_t)add;
            p->at_us = now_us;
        }
    }
    if (p->tokens < (int64_t)bytes && !first)
        return false;
    p->tokens -= bytes;
    return true;
}
