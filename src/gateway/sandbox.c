/*
 * sandbox.c — the sandbox gateway: a test payment gateway that lives inside
 * chatpay under /sandbox-gateway/ (pages in api/sandbox_gateway_pages.c).
 *
 * It keeps its own records (table sandbox_gateway) the way a real gateway
 * would: chatpay's side only learns results by asking with its reference.
 * The test card decides the outcome (gateway/cards.h). The "timeout" card is
 * decided ACCEPT but its answer is lost: result() says GW_NO_ANSWER until a
 * query() finds it.
 */
#include "gateway/gateway.h"

#include <stdio.h>
#include <string.h>

#include "db/sandbox.h"
#include "gateway/cards.h"
#include "util/crypto.h"

struct rec_ctx {
    struct db_sandbox_gw g;
    const char *ref;
    bool found;
};

static enum db_status insert_cb(struct db_tx *tx, void *cls)
{
    struct rec_ctx *c = cls;
    return DB_CALL(tx, sandbox_gateway, insert, &c->g);
}

static bool sandbox_begin(const struct gateway *gw, const struct gw_payment *p, struct arena *a,
                          struct gw_checkout *out)
{
    struct db *db = gw->state;
    struct rec_ctx c;
    memset(&c, 0, sizeof c);
    snprintf(c.g.ref, sizeof c.g.ref, "%s", p->ref);
    snprintf(c.g.merchant_id, sizeof c.g.merchant_id, "%s", p->merchant_id);
    c.g.op = p->op;
    c.g.amount_minor = p->amount_minor;
    snprintf(c.g.currency, sizeof c.g.currency, "%s", p->currency);
    snprintf(c.g.return_url, sizeof c.g.return_url, "%s", p->return_url);
    c.g.created_at = time_now();
    c.g.expires_at = p->expires_at;
    if (db_run(db, DB_WRITE, "sandbox_gw_begin", insert_cb, &c) < 0)
        return false;
    memset(out, 0, sizeof *out);
    out->url = arena_printf(a, "%s/sandbox-gateway/checkout/%s", p->base_url, p->ref);
    return true;
}

static enum db_status get_cb(struct db_tx *tx, void *cls)
{
    struct rec_ctx *c = cls;
    enum db_status st = DB_CALL(tx, sandbox_gateway, get, c->ref, &c->g);
    c->found = st > 0;
    return st;
}

/* A query: delivers a lost answer, and decides a payment under review (the
 * sandbox's reviewers approve everything they are asked about). */
static enum db_status answer_cb(struct db_tx *tx, void *cls)
{
    struct rec_ctx *c = cls;
    enum db_status st = DB_CALL(tx, sandbox_gateway, get, c->ref, &c->g);
    c->found = st > 0;
    if (st <= 0 || c->g.state != SANDBOX_GW_DECIDED)
        return st;
    bool review = c->g.decision == GW_REVIEW;
    if (c->g.answered && !review)
        return st;
    c->g.answered = true;
    if (review) {
        c->g.decision = GW_ACCEPT;
        c->g.response_code = 100;
        c->g.error_text[0] = '\0';
        c->g.decided_at = time_now();
    }
    return DB_CALL(tx, sandbox_gateway, update, &c->g);
}

static void fill(const struct db_sandbox_gw *g, struct gw_result *out)
{
    memset(out, 0, sizeof *out);
    out->decision = (enum gw_decision)g->decision;
    out->response_code = g->response_code;
    snprintf(out->request_ref, sizeof out->request_ref, "%s", g->request_ref);
    snprintf(out->auth_ref, sizeof out->auth_ref, "%s", g->auth_ref);
    snprintf(out->card_type, sizeof out->card_type, "%s", g->card_type);
    snprintf(out->masked_pan, sizeof out->masked_pan, "%s", g->masked_pan);
    snprintf(out->expiry, sizeof out->expiry, "%s", g->expiry);
    snprintf(out->error_text, sizeof out->error_text, "%s", g->error_text);
    out->at = g->decided_at;
}

static void sandbox_result(const struct gateway *gw, const struct gw_target *t,
                           struct gw_result *out)
{
    struct db *db = gw->state;
    const char *merchant_id = t->merchant_id;
    struct rec_ctx c = {.ref = t->ref};
    if (db_run(db, DB_READ, "sandbox_gw_result", get_cb, &c) < 0 || !c.found ||
        strcmp(c.g.merchant_id, merchant_id) != 0) {
        gw_no_answer(out, "gateway unavailable");
        return;
    }
    if (c.g.state != SANDBOX_GW_DECIDED) {
        gw_no_answer(out, "payment not completed at the gateway");
        out->checkout_open = true;
        return;
    }
    if (!c.g.answered) {
        gw_no_answer(out, "no answer from the gateway (timeout)");
        return;
    }
    fill(&c.g, out);
}

static void sandbox_query(const struct gateway *gw, const struct gw_target *t,
                          struct gw_result *out)
{
    struct db *db = gw->state;
    const char *merchant_id = t->merchant_id;
    struct rec_ctx c = {.ref = t->ref};
    if (db_run(db, DB_WRITE, "sandbox_gw_query", answer_cb, &c) < 0 || !c.found ||
        strcmp(c.g.merchant_id, merchant_id) != 0) {
        gw_no_answer(out, c.found ? "gateway unavailable" : "unknown reference");
        return;
    }
    if (c.g.state != SANDBOX_GW_DECIDED) {
        gw_no_answer(out, "payment not completed at the gateway");
        out->checkout_open = true;
        return;
    }
    fill(&c.g, out);
}

/* Close a checkout that is still waiting for the card form or 3-D Secure;
 * a decided one is answered instead (like a query). */
static enum db_status cancel_cb(struct db_tx *tx, void *cls)
{
    struct rec_ctx *c = cls;
    enum db_status st = DB_CALL(tx, sandbox_gateway, get, c->ref, &c->g);
    c->found = st > 0;
    if (st <= 0)
        return st;
    if (c->g.state == SANDBOX_GW_DECIDED) {
        if (c->g.answered)
            return st;
        c->g.answered = true;
    } else if (c->g.state != SANDBOX_GW_CLOSED) {
        c->g.state = SANDBOX_GW_CLOSED;
        c->g.decided_at = time_now();
    } else {
        return st;
    }
    return DB_CALL(tx, sandbox_gateway, update, &c->g);
}

static enum gw_cancel sandbox_cancel(const struct gateway *gw, const struct gw_target *t,
                                     struct gw_result *out)
{
    struct db *db = gw->state;
    const char *merchant_id = t->merchant_id;
    struct rec_ctx c = {.ref = t->ref};
    memset(out, 0, sizeof *out);
    if (db_run(db, DB_WRITE, "sandbox_gw_cancel", cancel_cb, &c) < 0)
        return GW_CANCEL_FAILED;
    if (!c.found || strcmp(c.g.merchant_id, merchant_id) != 0)
        return GW_CANCEL_CLOSED; /* never begun here: nothing can be paid */
    if (c.g.state != SANDBOX_GW_DECIDED)
        return GW_CANCEL_CLOSED;
    fill(&c.g, out);
    return GW_CANCEL_COMPLETED;
}

struct operate_ctx {
    struct db_sandbox_gw g;
    const char *payment_ref;
    bool payment_ok;
};

/* A capture, reverse, void or refund: accepted when the payment (for a
 * refund: the sale or capture) was accepted, except the refunds of the
 * card whose refunds fail and the WhatsApp Pay refunds whose value ends in
 * 13 (declined) or 14 (never answered); recorded under its own ref, so a
 * repeated call gives the same answer. */
static enum db_status operate_cb(struct db_tx *tx, void *cls)
{
    struct operate_ctx *c = cls;
    struct db_sandbox_gw existing;
    enum db_status st = DB_CALL(tx, sandbox_gateway, get, c->g.ref, &existing);
    if (st < 0)
        return st;
    if (st > 0) {
        c->g = existing;
        return DB_ONE_RESULT;
    }
    struct db_sandbox_gw pay;
    memset(&pay, 0, sizeof pay);
    st = DB_CALL(tx, sandbox_gateway, get, c->payment_ref, &pay);
    if (st < 0)
        return st;
    /* a payment under review can be reversed (paymentReviewAutoReversal) */
    bool reversible =
        pay.decision == GW_ACCEPT || (c->g.op == GW_OP_REVERSE && pay.decision == GW_REVIEW);
    c->payment_ok = st > 0 && pay.state == SANDBOX_GW_DECIDED && reversible &&
                    strcmp(pay.merchant_id, c->g.merchant_id) == 0;
    snprintf(c->g.currency, sizeof c->g.currency, "%s", st > 0 ? pay.currency : "");
    st = DB_CALL(tx, sandbox_gateway, insert, &c->g);
    if (st < 0)
        return st;
    c->g.state = SANDBOX_GW_DECIDED;
    c->g.answered = true;
    c->g.decided_at = time_now();
    char rr[21];
    crypto_random_base62(96, rr, 17);
    snprintf(c->g.request_ref, sizeof c->g.request_ref, "SBX%s", rr);
    bool whatsapp = strncmp(pay.card_type, SANDBOX_GW_WHATSAPP, strlen(SANDBOX_GW_WHATSAPP)) == 0;
    if (c->payment_ok && c->g.op == GW_OP_REFUND && whatsapp && c->g.amount_minor % 100 == 14)
        return DB_ROLLBACK; /* never answers: nothing recorded, asked again in vain */
    if (c->payment_ok && c->g.op == GW_OP_REFUND &&
        (cards_refunds_fail(pay.masked_pan) || (whatsapp && c->g.amount_minor % 100 == 13))) {
        c->g.decision = GW_DECLINE;
        c->g.response_code = 203;
        snprintf(c->g.error_text, sizeof c->g.error_text, "The card issuer declined the refund");
        snprintf(c->g.card_type, sizeof c->g.card_type, "%s", pay.card_type);
        snprintf(c->g.masked_pan, sizeof c->g.masked_pan, "%s", pay.masked_pan);
    } else if (c->payment_ok) {
        c->g.decision = GW_ACCEPT;
        c->g.response_code = 100;
        snprintf(c->g.auth_ref, sizeof c->g.auth_ref, "%s", pay.auth_ref);
        snprintf(c->g.card_type, sizeof c->g.card_type, "%s", pay.card_type);
        snprintf(c->g.masked_pan, sizeof c->g.masked_pan, "%s", pay.masked_pan);
        snprintf(c->g.expiry, sizeof c->g.expiry, "%s", pay.expiry);
    } else {
        c->g.decision = GW_ERROR;
        c->g.response_code = 102;
        snprintf(c->g.error_text, sizeof c->g.error_text,
                 "The original payment was not accepted by the gateway");
    }
    st = DB_CALL(tx, sandbox_gateway, update, &c->g);
    return st < 0 ? st : DB_ONE_RESULT;
}

static void sandbox_operate(const struct gateway *gw, const struct gw_target *t,
                            struct gw_result *out)
{
    struct db *db = gw->state;
    struct operate_ctx c;
    memset(&c, 0, sizeof c);
    snprintf(c.g.ref, sizeof c.g.ref, "%s", t->ref);
    snprintf(c.g.merchant_id, sizeof c.g.merchant_id, "%s", t->merchant_id);
    snprintf(c.g.parent_ref, sizeof c.g.parent_ref, "%s", t->parent_ref);
    c.g.op = t->op;
    c.g.amount_minor = t->amount_minor;
    c.g.created_at = time_now();
    c.payment_ref = t->parent_ref;
    if (db_run(db, DB_WRITE, "sandbox_gw_operate", operate_cb, &c) < 0) {
        gw_no_answer(out, "gateway unavailable");
        return;
    }
    fill(&c.g, out);
}

const struct gateway_ops gateway_sandbox_ops = {
    .kind = "sandbox",
    .begin = sandbox_begin,
    .result = sandbox_result,
    .operate = sandbox_operate,
    .query = sandbox_query,
    .cancel = sandbox_cancel,
};
