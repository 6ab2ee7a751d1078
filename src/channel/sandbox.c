/*
 * sandbox.c — the sandbox channel: an outbox table instead of a provider.
 *
 * Test numbers (the last four digits of "to"):
 *   0000  the send is rejected          → PAYMENT_LINK_SENT_FAILED
 *   0001  sent, then not delivered      → PAYMENT_LINK_SENT, PAYMENT_LINK_DELIVERY_FAILED
 *   else  sent, then delivered          → PAYMENT_LINK_SENT, PAYMENT_LINK_DELIVERED
 */
#include "channel/channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "core/status.h"
#include "db/sandbox.h"

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

struct send_ctx {
    const struct channel_message *m;
    struct db_message row;
    bool existed;
    struct arena *a;
};

static enum db_status send_cb(struct db_tx *tx, void *cls)
{
    struct send_ctx *c = cls;
    enum db_status st = DB_CALL(tx, messages, insert, &c->row);
    if (st < 0)
        return st;
    if (st == 0) {
        /* this job sent its message before (a retry after a crash) */
        c->existed = true;
        st = DB_CALL(tx, messages, get_by_job, c->m->job_id, c->a, &c->row);
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

static void sandbox_send(const struct channel *ch, const struct channel_message *m,
                         struct channel_result *out)
{
    struct db *db = ch->state;
    memset(out, 0, sizeof *out);
    bool reject = ends_with(m->to, "0000");
    struct send_ctx c = {.m = m};
    struct db_message *row = &c.row;
    snprintf(row->merchant_id, sizeof row->merchant_id, "%s", m->merchant_id);
    row->job_id = m->job_id;
    row->link_id = m->link_id;
    row->channel = m->channel;
    snprintf(row->msisdn_from, sizeof row->msisdn_from, "%s", m->from ? m->from : "");
    snprintf(row->msisdn_to, sizeof row->msisdn_to, "%s", m->to);
    row->text = m->text;
    row->status = reject ? "FAILED" : "SENT";
    row->created_at = time_now();
    c.a = arena_new(0);
    enum db_status st = db_run(db, DB_WRITE, "sandbox_send", send_cb, &c);
    arena_free(c.a);
    if (st < 0) {
        out->outcome = CHANNEL_TRANSIENT;
        snprintf(out->description, sizeof out->description, "sandbox outbox unavailable");
        return;
    }
    snprintf(out->provider_ref, sizeof out->provider_ref, "%lld", (long long)row->id);
    if (reject) {
        out->outcome = CHANNEL_REJECTED;
        out->http_code = 400;
        snprintf(out->code, sizeof out->code, "105");
        snprintf(out->description, sizeof out->description,
                 "Invalid destination address (sandbox number ending in 0000)");
        return;
    }
    out->outcome = CHANNEL_SENT;
    out->http_code = 202;
    snprintf(out->code, sizeof out->code, "0");
    snprintf(out->description, sizeof out->description, "Accepted for delivery");
}

struct receipt_ctx {
    const char *merchant_id;
    int64_t id;
    const char *status;
};

static enum db_status receipt_cb(struct db_tx *tx, void *cls)
{
    struct receipt_ctx *c = cls;
    return DB_CALL(tx, messages, set_status, c->merchant_id, c->id, c->status);
}

/* The sandbox decides delivery from the number, and records it on the message. */
static void sandbox_query(const struct channel *ch, const char *merchant_id,
                          const char *provider_ref, const char *ref, const char *to,
                          struct channel_receipt *out)
{
    struct db *db = ch->state;
    memset(out, 0, sizeof *out);
    bool failed = ends_with(to, "0001");
    struct receipt_ctx c = {merchant_id, strtoll(provider_ref, NULL, 10),
                            failed ? "UNDELIVERED" : "DELIVERED"};
    if (db_run(db, DB_WRITE, "sandbox_receipt", receipt_cb, &c) < 0) {
        out->delivery = DELIVERY_PENDING;
        return;
    }
    out->http_code = 200;
    out->known = true;
    out->at = time_now();
    snprintf(out->status, sizeof out->status, "%s", c.status);
    if (failed) {
        out->delivery = DELIVERY_FAILED;
        snprintf(out->code, sizeof out->code, "007");
        snprintf(out->description, sizeof out->description,
                 "Error delivering message (sandbox number ending in 0001)");
    } else {
        out->delivery = DELIVERY_DELIVERED;
        snprintf(out->code, sizeof out->code, "004");
        snprintf(out->description, sizeof out->description, "Received by recipient");
    }
}

const struct channel_ops channel_sandbox_ops = {
    .kind = "sandbox",
    .channels = 1u << CHANNEL_SMS | 1u << CHANNEL_WHATSAPP,
    .send = sandbox_send,
    .query = sandbox_query,
    .receipt_delay = 500 * 1000,
};
