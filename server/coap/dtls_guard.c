/*
 * dtls_guard.c - see dtls_guard.h. Two interpositions: recvmsg(2) (libcoap 4.3.1 reads every
 * datagram of an unconnected UDP endpoint with it) and GnuTLS's gnutls_dtls_cookie_verify
 * (so that libcoap's GnuTLS accepts the guard's cookies instead of its own; issue 14, rpk). Both are
 * found by the dynamic linker because airliftd defines them; the real ones are reached with
 * dlsym(RTLD_NEXT). A datagram is dropped by reading it and, once nothing is left to read
 * (or after DROP_BATCH drops), returning -1 with errno ECONNREFUSED, which libcoap ignores
 * silently (as for an ICMP port unreachable).
 */
#define _GNU_SOURCE
#include "dtls_guard.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <gnutls/gnutls.h>
#include <gnutls/dtls.h>

#define ALD_GUARD_MAX 8
#define BUCKETS 1024    /* source addresses whose rate is tracked at once, per socket */
#define DROP_BATCH 64   /* datagrams dropped in one call before libcoap gets control back */
#define COOKIE_LEN 16
#define REC_HDR 13      /* DTLS record header */
#define HS_HDR 12       /* DTLS handshake message header */
#define CT_HANDSHAKE 22
#define HT_CLIENT_HELLO 1
#define HT_HELLO_VERIFY_REQUEST 3

struct bucket {
    uint32_t ip; /* network order; 0: unused */
    double tokens;
    uint64_t last_ms;
};

/* The bytes of the cookie exchange the guard answered for one peer, until its session
 * takes them (ald_guard_take_exchange). */
struct exchange {
    uint32_t ip;
    uint16_t port; /* network order; 0: unused */
    uint32_t in, out;
};
#define EXCHANGES 256

struct guard {
    int fd; /* -1: free slot */
    struct exchange exchanges[EXCHANGES];
    ald_guard_reset_fn reset;
    void *arg;
    struct ald_guard_stats stats;
    struct bucket buckets[BUCKETS];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct guard guards[ALD_GUARD_MAX];
/* fd + 1 of each slot's socket (0: free), read without the lock: every other socket's
 * recvmsg goes straight through, and the guard's own calls never wait on the lock. */
static int guarded_key[ALD_GUARD_MAX];
static uint8_t secret[32];
static bool have_secret, cookies_installed;
/* The peer of the ClientHello the guard last passed on, for gnutls_dtls_cookie_verify, which
 * libcoap calls while it handles that very datagram on the same thread. */
static _Thread_local struct sockaddr_in current_peer;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * issue 11 (checkin): HMAC-SHA256 under the secret from a MAC context keyed once (HMAC()
 * fetches the algorithm and sets the key up again at every call: a twentieth of airliftd's
 * CPU per check-in, for the guard's two cookies); each cookie works on a copy of it, so
 * threads never share one. False if OpenSSL cannot.
 */
static EVP_MAC_CTX *keyed; /* made once, under key_lock; kept for the process */
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;

static bool keyed_hmac(const uint8_t *msg, size_t n, uint8_t *mac, unsigned int *len)
{
    EVP_MAC_CTX *key = __atomic_load_n(&keyed, __ATOMIC_ACQUIRE), *ctx;
    size_t out = 0;
    if (!have_secret) /* keyed once: never under a secret still to come */
        return false;
    if (!key) {
        pthread_mutex_lock(&key_lock);
        if (!(key = keyed)) {
            EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
            OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                OSSL_PARAM_construct_end()};
            key = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
            EVP_MAC_free(hmac); /* the context holds its own reference */
            if (key && !EVP_MAC_init(key, secret, sizeof secret, params)) {
                EVP_MAC_CTX_free(key);
                key = NULL;
            }
            __atomic_store_n(&keyed, key, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&key_lock);
        if (!key)
            return false;
    }
    bool ok = (ctx = EVP_MAC_CTX_dup(key)) && EVP_MAC_update(ctx, msg, n) &&
              EVP_MAC_final(ctx, mac, &out, EVP_MAX_MD_SIZE);
    EVP_MAC_CTX_free(ctx);
    *len = ok ? (unsigned int)out : 0;
    return ok;
}

/* The cookie of peer for period p (a count of COOKIE_PERIOD_S since the epoch). */
static void make_cookie(const struct sockaddr_in *peer, uint64_t p, uint8_t out[COOKIE_LEN])
{
    uint8_t msg[4 + 2 + 8], mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    memcpy(msg, &peer->sin_addr.s_addr, 4);
    memcpy(msg + 4, &peer->sin_port, 2);
    for (int i = 0; i < 8; i++)
        msg[6 + i] = (uint8_t)(p >> (8 * i));
    if (!keyed_hmac(msg, sizeof msg, mac, &len) &&
        !HMAC(EVP_sha256(), secret, sizeof secret, msg, sizeof msg, mac, &len))
        len = 0;
    if (len < COOKIE_LEN)
        memset(mac, 0, COOKIE_LEN);
    memcpy(out, mac, COOKIE_LEN);
}

static uint64_t period_now(void)
{
    return (uint64_t)time(NULL) / ALD_GUARD_COOKIE_PERIOD_S;
}

/* A cookie of this period or the last one for peer. */
static bool cookie_ok(const struct sockaddr_in *peer, const uint8_t *cookie, size_t len)
{
    uint8_t want[COOKIE_LEN];
    uint64_t p = period_now();
    if (len != COOKIE_LEN || !have_secret)
        return false;
    for (int back = 0; back < 2; back++) {
        make_cookie(peer, p - (uint64_t)back, want);
        if (CRYPTO_memcmp(want, cookie, COOKIE_LEN) == 0)
            return true;
    }
    return false;
}

/* ---- issue 14 (rpk): the cookie check of libcoap's GnuTLS ---- */

/* As in GnuTLS 3.7.9's gnutls_dtls_cookie_verify: where a ClientHello's session_id length
 * sits (record header 13, handshake header 12, client_version 2, random 32). */
#define GT_SID_AT (REC_HDR + HS_HDR + 34)

typedef int (*cookie_verify_fn)(gnutls_datum_t *, void *, size_t, void *, size_t,
                                gnutls_dtls_prestate_st *);

/*
 * Interposed: libcoap's GnuTLS checks each ClientHello of a new peer with
 * gnutls_dtls_cookie_verify under a key of its own. The guard has answered the peer's first
 * ClientHello with its own cookie already (and passes on only those that carry it), so the
 * check here is the guard's cookie for the peer the guard just passed; the prestate is filled
 * as GnuTLS fills it (the client's record and handshake sequence numbers, our 0). Before the
 * guard has a secret (not attached yet), GnuTLS's own check runs.
 */
int gnutls_dtls_cookie_verify(gnutls_datum_t *key, void *client_data, size_t client_data_size,
                              void *_msg, size_t msg_size, gnutls_dtls_prestate_st *prestate)
{
    const uint8_t *msg = _msg;
    pthread_mutex_lock(&lock);
    bool mine = cookies_installed && have_secret;
    pthread_mutex_unlock(&lock);
    if (!mine) {
        cookie_verify_fn real;
        void *sym = dlsym(RTLD_NEXT, "gnutls_dtls_cookie_verify");
        memcpy(&real, &sym, sizeof real);
        return real ? real(key, client_data, client_data_size, _msg, msg_size, prestate)
                    : GNUTLS_E_INTERNAL_ERROR;
    }
    size_t pos = GT_SID_AT;
    if (msg_size < pos + 1)
        return GNUTLS_E_UNEXPECTED_PACKET_LENGTH;
    size_t sid = msg[pos++];
    if (sid > 32 || msg_size < pos + sid + 1)
        return GNUTLS_E_UNEXPECTED_PACKET_LENGTH;
    pos += sid;
    size_t clen = msg[pos++];
    if (msg_size < pos + clen + 1)
        return GNUTLS_E_UNEXPECTED_PACKET_LENGTH;
    if (!cookie_ok(&current_peer, msg + pos, clen))
        return GNUTLS_E_BAD_COOKIE;
    prestate->record_seq = msg[10];                   /* client's record seq */
    prestate->hsk_read_seq = msg[REC_HDR + 5];        /* client's handshake seq */
    prestate->hsk_write_seq = 0;                      /* GnuTLS sends 0 for this message */
    return 0;
}

bool ald_guard_cookies_installed(void)
{
    pthread_mutex_lock(&lock);
    bool yes = cookies_installed;
    pthread_mutex_unlock(&lock);
    return yes;
}

/* ---- the per-address rate limit ---- */

static bool take_token(struct guard *g, uint32_t ip)
{
    uint32_t h = (ip * 2654435761u) >> 22; /* 10 bits: BUCKETS */
    struct bucket *b = &g->buckets[h % BUCKETS];
    uint64_t t = now_ms();
    if (b->ip != ip) { /* a new address (or one that takes over the slot): a full bucket */
        b->ip = ip;
        b->tokens = ALD_GUARD_CH_BURST;
        b->last_ms = t;
    }
    b->tokens += (double)(t - b->last_ms) * ALD_GUARD_CH_RATE / 1000.0;
    if (b->tokens > ALD_GUARD_CH_BURST)
        b->tokens = ALD_GUARD_CH_BURST;
    b->last_ms = t;
    if (b->tokens < 1.0)
        return false;
    b->tokens -= 1.0;
    return true;
}

/* ---- the datagram check ---- */

/* Answer the ClientHello in ch (its record sequence number at ch + 5) with a
 * HelloVerifyRequest carrying peer's cookie, as OpenSSL's DTLSv1_listen would. */
static void send_verify_request(int fd, const uint8_t *ch, const struct sockaddr_in *peer)
{
    uint8_t out[REC_HDR + HS_HDR + 3 + COOKIE_LEN];
    size_t body = 3 + COOKIE_LEN, hs = HS_HDR + body;
    out[0] = CT_HANDSHAKE;
    out[1] = 0xfe; /* DTLS 1.0 in a HelloVerifyRequest, whatever the version (RFC 6347 4.2.1) */
    out[2] = 0xff;
    out[3] = out[4] = 0;        /* epoch 0 */
    memcpy(out + 5, ch + 5, 6); /* the ClientHello's record sequence number */
    out[11] = (uint8_t)(hs >> 8);
    out[12] = (uint8_t)hs;
    uint8_t *h = out + REC_HDR;
    h[0] = HT_HELLO_VERIFY_REQUEST;
    h[1] = 0, h[2] = (uint8_t)(body >> 8), h[3] = (uint8_t)body; /* length */
    h[4] = h[5] = 0;                                             /* message_seq 0 */
    h[6] = h[7] = h[8] = 0;                                      /* fragment_offset */
    h[9] = 0, h[10] = (uint8_t)(body >> 8), h[11] = (uint8_t)body;
    h[12] = 0xfe;
    h[13] = 0xff;
    h[14] = COOKIE_LEN;
    make_cookie(peer, period_now(), h + 15);
    (void)sendto(fd, out, sizeof out, MSG_DONTWAIT, (const struct sockaddr *)peer, sizeof *peer);
}

/*
 * The cookie of a ClientHello record of n bytes (*cookie, *len; *len 0 if it has none).
 * Returns false if it is not one whole, unfragmented ClientHello.
 */
static bool hello_cookie(const uint8_t *d, size_t n, const uint8_t **cookie, size_t *len)
{
    size_t rec = (size_t)d[11] << 8 | d[12];
    if (REC_HDR + rec > n || rec < HS_HDR)
        return false;
    const uint8_t *h = d + REC_HDR;
    size_t msg = (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    size_t off = (size_t)h[6] << 16 | (size_t)h[7] << 8 | h[8];
    size_t frag = (size_t)h[9] << 16 | (size_t)h[10] << 8 | h[11];
    if (off != 0 || frag != msg || HS_HDR + msg > rec)
        return false;
    const uint8_t *b = h + HS_HDR, *end = b + msg;
    if (end - b < 2 + 32 + 1)
        return false;
    b += 2 + 32; /* client_version, random */
    if (end - b < 1 + b[0] + 1)
        return false;
    b += 1 + b[0]; /* session_id */
    if (end - b < 1 + b[0])
        return false;
    *len = b[0];
    *cookie = b + 1;
    return true;
}

/* Decide on one datagram read from g's socket: true to pass it to libcoap. */
static bool admit(struct guard *g, int fd, const struct msghdr *msg, size_t n)
{
    const struct sockaddr_in *peer = msg->msg_name;
    const uint8_t *cookie = NULL;
    size_t cookie_len = 0;
    if (msg->msg_iovlen < 1 || n > msg->msg_iov[0].iov_len || !peer ||
        msg->msg_namelen < sizeof *peer || peer->sin_family != AF_INET)
        return true; /* not the one-buffer IPv4 read of libcoap 4.3.1: not ours to judge */
    const uint8_t *d = msg->msg_iov[0].iov_base;
    if (n < REC_HDR + 1 || d[0] != CT_HANDSHAKE || d[REC_HDR] != HT_CLIENT_HELLO ||
        d[3] != 0 || d[4] != 0)
        return true; /* not a ClientHello of epoch 0: libcoap's */
    g->stats.hellos++;
    if (!take_token(g, peer->sin_addr.s_addr)) {
        g->stats.throttled++;
        return false;
    }
    if (n < REC_HDR + HS_HDR || !hello_cookie(d, n, &cookie, &cookie_len)) {
        g->stats.malformed++;
        return false;
    }
    if (!cookies_installed) { /* libcoap checks cookies itself: a new handshake resets */
        if (cookie_len == 0 && g->reset(g->arg, peer))
            g->stats.resets++;
        return true;
    }
    if (!cookie_ok(peer, cookie, cookie_len)) {
        send_verify_request(fd, d, peer);
        g->stats.cookies_sent++;
        struct exchange *x = &g->exchanges[(peer->sin_addr.s_addr * 2654435761u ^
                                            peer->sin_port) % EXCHANGES];
        x->ip = peer->sin_addr.s_addr;
        x->port = peer->sin_port;
        x->in = (uint32_t)n;
        x->out = REC_HDR + HS_HDR + 3 + COOKIE_LEN;
        return false;
    }
    g->stats.cookies_ok++;
    current_peer = *peer;
    if (g->reset(g->arg, peer))
        g->stats.resets++;
    return true;
}

static struct guard *guard_of(int fd)
{
    for (int i = 0; i < ALD_GUARD_MAX; i++)
        if (guards[i].reset && guards[i].fd == fd)
            return &guards[i];
    return NULL;
}

typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);

/* Interposed: the guard's check on guarded sockets, the real recvmsg for every other. */
ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    static recvmsg_fn real;
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "recvmsg");
        memcpy(&real, &sym, sizeof real);
        if (!real) {
            errno = ENOSYS;
            return -1;
        }
    }
    bool mine = false;
    for (int i = 0; i < ALD_GUARD_MAX && !mine; i++)
        mine = __atomic_load_n(&guarded_key[i], __ATOMIC_ACQUIRE) == fd + 1;
    if (!mine || !msg)
        return real(fd, msg, flags);
    pthread_mutex_lock(&lock);
    struct guard *g = guard_of(fd);
    if (!g) {
        pthread_mutex_unlock(&lock);
        return real(fd, msg, flags);
    }
    socklen_t namelen = msg->msg_namelen;
    size_t controllen = msg->msg_controllen;
    ssize_t n = -1;
    for (int i = 0; i < DROP_BATCH; i++) {
        msg->msg_namelen = namelen;
        msg->msg_controllen = controllen;
        n = real(fd, msg, i ? flags | MSG_DONTWAIT : flags);
        if (n < 0 && i > 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break; /* dropped what there was: nothing for libcoap this time */
        if (n <= 0 || admit(g, fd, msg, (size_t)n)) {
            pthread_mutex_unlock(&lock);
            return n;
        }
    }
    pthread_mutex_unlock(&lock);
    errno = ECONNREFUSED;
    return -1;
}

int ald_guard_attach(int fd, ald_guard_reset_fn reset, void *arg)
{
    int rc = -1;
    pthread_mutex_lock(&lock);
    if (!have_secret)
        have_secret = RAND_bytes(secret, sizeof secret) == 1;
    cookies_installed = have_secret; /* issue 14 (rpk): gnutls_dtls_cookie_verify is ours */
    for (int i = 0; i < ALD_GUARD_MAX && rc < 0; i++) {
        if (guards[i].reset)
            continue;
        memset(&guards[i], 0, sizeof guards[i]);
        guards[i].fd = fd;
        guards[i].reset = reset;
        guards[i].arg = arg;
        __atomic_store_n(&guarded_key[i], fd + 1, __ATOMIC_RELEASE);
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return have_secret ? rc : -1;
}

void ald_guard_detach(int fd)
{
    pthread_mutex_lock(&lock);
    struct guard *g = guard_of(fd);
    if (g) {
        __atomic_store_n(&guarded_key[g - guards], 0, __ATOMIC_RELEASE);
        g->reset = NULL;
        g->fd = -1;
    }
    pthread_mutex_unlock(&lock);
}

bool ald_guard_take_exchange(int fd, const struct sockaddr_in *peer, uint32_t *in,
                             uint32_t *out)
{
    bool found = false;
    pthread_mutex_lock(&lock);
    struct guard *g = guard_of(fd);
    struct exchange *x = g ? &g->exchanges[(peer->sin_addr.s_addr * 2654435761u ^
                                            peer->sin_port) % EXCHANGES]
                           : NULL;
    if (x && x->port == peer->sin_port && x->ip == peer->sin_addr.s_addr) {
        *in = x->in;
        *out = x->out;
        x->port = 0;
        found = true;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void ald_guard_stats(int fd, struct ald_guard_stats *out)
{
    pthread_mutex_lock(&lock);
    struct guard *g = guard_of(fd);
    if (g)
        *out = g->stats;
    else
        memset(out, 0, sizeof *out);
    pthread_mutex_unlock(&lock);
}
