/*
 * links.c — payment link transitions (see links.h).
 *
 * The link's state is its `status` (the transactionStatus id that stands for
 * a core/link_fsm.h state) and `live` (false once the state is final, or
 * once its payment was reversed or voided: a link that blocks no new link
 * for its order). Every event goes through svc_link_event, which asks the
 * table what to do.
 */
#include "service/links.h"

#include <stdio.h>
#include <string.h>

#include "core/payment_fsm.h"
#include "core/ref.h"
#include "core/status.h"
#include "db/payments.h"
#include "db/providers.h"
#include "service/callbacks.h"
#include "util/crypto.h"
#include "util/time.h"

/* into out[DB_REF_LEN]: 7 base62 digits of the time in milliseconds (in
 * order until 2081), then 88 random bits in 15 digits. The references of the
 * links created together sort together, so each new one goes to the same
 * last few pages of the unique index on ref instead of a random page of it:
 * a group commit writes far fewer index pages. 88 bits keep two references
 * drawn in the same millisecond apart; a reference is not a secret (the
 * token is, and stays all random). */
static void new_link_ref(char *out)
{
    ref_base62_put_u64((uint64_t)(time_now() / 1000), out, 7);
    crypto_random_base62(88, out + 7, 15);
}

static void new_link_token(char *out)
{
    crypto_random_base62(96, out, 17);
}

void svc_link_request_ids(struct link_request *rq)
{
    new_link_ref(rq->ref);
    new_link_token(rq->token);
}

enum db_status svc_enqueue_for(struct svc *s, const char *merchant_id, int64_t link_id,
                               enum job_kind kind, int64_t arg, usec_t run_at)
{
    struct db_job job = {.kind = kind, .link_id = link_id, .arg = arg, .run_at = run_at};
    snprintf(job.merchant_id, sizeof job.merchant_id, "%s", merchant_id);
    enum db_status st = DB_CALL(s->tx, jobs, insert, &job);
    if (st >= 0)
        s->queued |= 1u << job_kind_pool(kind);
    return st;
}

enum db_status svc_enqueue(struct svc *s, const struct db_link *l, enum job_kind kind, int64_t arg,
                           usec_t run_at)
{
    return svc_enqueue_for(s, l->merchant_id, l->id, kind, arg, run_at);
}

enum db_status svc_history(struct svc *s, const struct db_link *l, const struct svc_entry *e)
{
    struct db_link_status row = {.status = e->status,
                                 .created_at = s->now,
                                 .http_code = e->http,
                                 .response_code = e->code,
                                 .response_desc = e->desc};
    enum db_status st = DB_CALL(s->tx, links, status_append, l->merchant_id, l->id, &row);
    if (st < 0)
        return st;
    return svc_cb_transaction_event(s, l, &row);
}

/* ---- create ------------------------------------------------------------------------- */

/* The rules that need the merchant's configuration; problems go to errs. */
static enum db_status check_config(struct svc *s, const struct db_merchant *m,
                                   const struct link_request *rq, struct field_errors *errs)
{
    struct arena *a = s->a;
    enum db_status st;
    if (rq->currency) {
        struct db_currency cur[DB_MAX_CURRENCIES];
        size_t n = 0;
        st = DB_CALL(s->tx, currencies, list, m->id, cur, DB_MAX_CURRENCIES, &n);
        if (st < 0)
            return st;
        bool found = false;
        char list[DB_MAX_CURRENCIES * 5 + 1] = "";
        size_t used = 0;
        for (size_t i = 0; i < n; i++) {
            found |= strcmp(cur[i].code, rq->currency->code) == 0;
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                     cur[i].code);
        }
        if (!found)
            field_errors_add(errs, a, "currency",
                             "%s is not a supported currency of this merchant (supported: %s)",
                             rq->currency->code, n ? list : "none");
    }
    if (rq->to && rq->channel_set && rq->channel != CHANNEL_NONE) {
        st = DB_CALL(s->tx, providers, optout_get, m->id, rq->to);
        if (st < 0)
            return st;
        if (st > 0)
            field_errors_add(errs, a, "to",
                             "%s opted out of this merchant's messages (replied STOP); they "
                             "can opt back in by replying START",
                             rq->to);
    }
    if (rq->channel_set) {
        bool enabled = rq->channel == CHANNEL_NONE ||
                       (rq->channel == CHANNEL_SMS && m->sms_enabled) ||
                       (rq->channel == CHANNEL_WHATSAPP && m->whatsapp_enabled);
        if (!enabled)
            field_errors_add(errs, a, "channel", "%s is not enabled for this merchant",
                             channel_name(rq->channel));
    }
    if (rq->application_id) {
        struct db_integrator it;
        st = DB_CALL(s->tx, integrators, get, m->id, rq->application_id, &it);
        if (st < 0)
            return st;
        if (st == 0)
            field_errors_add(errs, a, "applicationId", "no such application for this merchant");
        else if (it.status != INTEGRATOR_ACTIVATED)
            field_errors_add(errs, a, "applicationId", "application is %s, not ACTIVATED",
                             db_integrator_status_name(it.status));
    }
    if (rq->gateway_settings_id) {
        st = DB_CALL(s->tx, settings, gateway_settings_exists, m->id, rq->gateway_settings_id);
        if (st < 0)
            return st;
        if (st == 0)
            field_errors_add(errs, a, "paymentGatewaySettingsId",
                             "no such payment gateway settings for this merchant");
    }
    return DB_ONE_RESULT;
}

/* Why the order cannot have a new link, into errs. */
static void order_taken(struct arena *a, const char *order_number, enum order_block why,
                        const char *ref, struct field_errors *errs)
{
    if (why == ORDER_PAID)
        field_errors_add(errs, a, "orderNumber",
                         "order %s is already paid (payment link %s); reverse or void that "
                         "payment before asking for a new one",
                         order_number, ref);
    else if (why == ORDER_IN_PROGRESS)
        field_errors_add(errs, a, "orderNumber",
                         "order %s has a payment in progress (payment link %s); wait for "
                         "its outcome",
                         order_number, ref);
    else if (why == ORDER_LIVE)
        field_errors_add(errs, a, "orderNumber",
                         "order %s already has a live payment link (%s); cancel it or wait "
                         "until it expires",
                         order_number, ref);
}

enum db_status svc_link_create(struct svc *s, const char *merchant_id,
                               const struct link_request *rq, struct field_errors *errs,
                               struct db_link *l, struct db_merchant *m)
{
    /* with the callback settings: the new link's first history entry may
     * queue a callback */
    enum db_status st = svc_merchant_get(s, merchant_id, m);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = check_config(s, m, rq, errs);
    if (st < 0)
        return st;
    enum order_block why = ORDER_FREE;
    char ref[DB_REF_LEN] = "";
    if (errs->count || errs->dropped || !rq->currency || !rq->amounts_ok) {
        /* refused: with the order's problem too, if it has one (a valid
         * request's order is checked as its link is written) */
        if (rq->order_number) {
            st = DB_CALL(s->tx, links, order_block, m->id, rq->order_number, 0, s->now, &why, ref);
            if (st < 0)
                return st;
            order_taken(s->a, rq->order_number, why, ref, errs);
        }
        return DB_ROLLBACK;
    }

    memset(l, 0, sizeof *l);
    memcpy(l->merchant_id, m->id, sizeof l->merchant_id);
    memcpy(l->ref, rq->ref, sizeof l->ref);
    memcpy(l->token, rq->token, sizeof l->token);
    l->order_number = rq->order_number;
    l->channel = rq->channel;
    snprintf(l->msisdn_to, sizeof l->msisdn_to, "%s", rq->to);
    snprintf(l->msisdn_from, sizeof l->msisdn_from, "%s",
             rq->from ? rq->from
                      : (l->channel == CHANNEL_WHATSAPP ? m->whatsapp_from : m->sms_from));
    memcpy(l->currency, rq->currency->code, 4);
    l->total_minor = rq->total_minor;
    l->has_subtotal = rq->has_subtotal;
    l->subtotal_minor = rq->subtotal_minor;
    l->has_tax = rq->has_tax;
    l->tax_minor = rq->tax_minor;
    l->transaction_type =
        rq->transaction_type_set ? rq->transaction_type : m->default_transaction_type;
    snprintf(l->application_id, sizeof l->application_id, "%s",
             rq->application_id ? rq->application_id : "");
    snprintf(l->gateway_settings_id, sizeof l->gateway_settings_id, "%s",
             rq->gateway_settings_id ? rq->gateway_settings_id : "");
    l->reconciliation_id = rq->reconciliation_id;
    l->merchant_descriptor = rq->merchant_descriptor;
    l->additional_data = rq->additional_data;
    l->line_items = rq->line_items;
    l->auto_reversal = rq->auto_reversal;
    l->request_timestamp = rq->request_timestamp;
    l->status = link_state_status(LINK_S_REQUESTED);
    l->payment_status = PAY_PENDING;
    l->live = true;
    l->created_at = s->now;
    l->expires_at = s->now + m->link_ttl_s * 1000000;
    /* with its first history entry (svc_history's, in the same write) */
    struct db_link_status first = {.status = LINK_PAYMENT_LINK_REQUEST_RECEIVED,
                                   .created_at = s->now};
    st = DB_CALL(s->tx, links, insert, l, &first, &why, ref);
    if (st < 0)
        return st;
    if (st == DB_NO_RESULTS) {
        order_taken(s->a, rq->order_number, why, ref, errs);
        return DB_ROLLBACK;
    }
    st = svc_cb_transaction_event(s, l, &first);
    if (st < 0)
        return st;
    if (l->channel != CHANNEL_NONE) {
        st = svc_enqueue(s, l, JOB_SEND_LINK, 0, s->now);
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

/* ---- events ------------------------------------------------------------------------- */

enum db_status svc_link_event(struct svc *s, struct db_link *l, enum link_event e,
                              const struct svc_entry *detail, const char **refused)
{
    const struct link_rule *rule = link_fsm(link_state_from_status(l->status), e);
    if (refused)
        *refused = NULL;
    switch (rule->verdict) {
    case FSM_REFUSE:
        if (refused)
            *refused = rule->reason;
        return DB_NO_RESULTS;
    case FSM_IGNORE:
        return DB_NO_RESULTS;
    case FSM_MOVE: {
        l->status = link_state_status(rule->next);
        if (link_state_final(rule->next))
            l->live = false;
        enum db_status st = DB_CALL(s->tx, links, update, l);
        if (st < 0)
            return st;
        break;
    }
    case FSM_STAY:
        break;
    }
    struct svc_entry entry = {.status = link_event_status(e)};
    if (detail) {
        entry.http = detail->http;
        entry.code = detail->code;
        entry.desc = detail->desc;
    }
    enum db_status st = svc_history(s, l, &entry);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* Would a person's open be recorded now: never opened, and the link can be? */
static bool open_due(const struct db_link *l)
{
    return !l->clicked_at &&
           link_fsm(link_state_from_status(l->status), LINK_E_OPEN)->verdict == FSM_MOVE;
}

enum db_status svc_link_open(struct svc *s, struct db_link *l, const struct db_merchant *m)
{
    if (!open_due(l))
        return DB_NO_RESULTS;
    l->clicked_at = s->now;
    l->expires_at = s->now + m->click_ttl_s * 1000000;
    l->page_expires_at = s->now + m->page_ttl_s * 1000000;
    return svc_link_event(s, l, LINK_E_OPEN, NULL, NULL);
}

enum db_status svc_link_visit(struct svc *s, const char *token, bool preview, bool record,
                              enum link_visit *out, struct db_link *l, struct db_merchant *m)
{
    enum db_status st = DB_CALL(s->tx, links, get_by_token, token, s->a, l);
    if (st <= 0) {
        *out = VISIT_UNKNOWN;
        return st;
    }
    st = svc_merchant_get(s, l->merchant_id, m); /* opening it may be history */
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    enum link_state state = link_state_from_status(l->status);
    if (state == LINK_S_CANCELLED) {
        *out = VISIT_CANCELLED;
        return DB_ONE_RESULT;
    }
    if (l->payment_status != PAY_PENDING && l->payment_status != PAY_FAILED) {
        *out = VISIT_OPEN; /* paid or being confirmed: the page says so */
        return DB_ONE_RESULT;
    }
    if (l->expires_at <= s->now || state == LINK_S_EXPIRED) {
        *out = VISIT_EXPIRED;
        return DB_ONE_RESULT;
    }
    if (!l->live) {
        *out = VISIT_UNUSABLE;
        return DB_ONE_RESULT;
    }
    *out = VISIT_OPEN;
    if (preview || !open_due(l))
        return DB_ONE_RESULT;
    if (!record) {
        *out = VISIT_FIRST_OPEN;
        return DB_ONE_RESULT;
    }
    st = svc_link_open(s, l, m);
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_link_cancel(struct svc *s, const char *merchant_id, const char *ref,
                               struct db_link *l, const char **refused)
{
    *refused = NULL;
    enum db_status st = DB_CALL(s->tx, links, get_by_ref, merchant_id, ref, s->a, l);
    if (st <= 0)
        return st;
    /* a link whose time is up is expired, even before the sweeper records it */
    enum link_state state = link_state_from_status(l->status);
    if (l->expires_at <= s->now && !link_state_final(state) && state != LINK_S_OPENED) {
        *refused = link_fsm(LINK_S_EXPIRED, LINK_E_CANCEL)->reason;
        return DB_NO_RESULTS;
    }
    st = svc_link_event(s, l, LINK_E_CANCEL, NULL, refused);
    if (st <= 0)
        return st;
    /* the customer is told only when one of the link's messages may have
     * reached them: not for a link still being sent (its send, if it goes
     * through, tells them: svc_message_sent), refused or reported
     * undelivered on every channel tried */
    if (l->channel == CHANNEL_NONE)
        return DB_ONE_RESULT;
    st = DB_CALL(s->tx, providers, link_reached, l->merchant_id, l->id);
    if (st < 0)
        return st;
    if (st > 0) {
        st = svc_enqueue(s, l, JOB_SEND_CANCEL, l->id, s->now);
        if (st < 0)
            return st;
    }
    return DB_ONE_RESULT;
}

/* ---- expiry ------------------------------------------------------------------------- */

struct due {
    int64_t id;
    char merchant_id[DB_UUID_LEN];
};

struct due_list {
    struct due *items;
    int n, cap;
};

static void collect_due(void *cls, int64_t link_id, const char *merchant_id)
{
    struct due_list *d = cls;
    if (d->n >= d->cap)
        return;
    d->items[d->n].id = link_id;
    snprintf(d->items[d->n].merchant_id, DB_UUID_LEN, "%s", merchant_id);
    d->n++;
}

enum db_status svc_links_expire_due(struct svc *s, int limit, int *listed, int *expired)
{
    struct due_list d = {.items = arena_calloc(s->a, (size_t)limit, sizeof *d.items), .cap = limit};
    *listed = *expired = 0;
    enum db_status st = DB_CALL(s->tx, links, list_expired, s->now, limit, collect_due, &d);
    if (st < 0)
        return st;
    for (int i = 0; i < d.n; i++) {
        struct db_link l;
        st = DB_CALL(s->tx, links, get_by_id, d.items[i].merchant_id, d.items[i].id, s->a, &l);
        if (st < 0)
            return st;
        /* a paid link, or one whose payment is being decided, does not expire
         * (the list leaves out links with a payment running at the gateway) */
        if (st == 0 || !l.live || l.expires_at > s->now ||
            (l.payment_status != PAY_PENDING && l.payment_status != PAY_FAILED))
            continue;
        st = svc_link_event(s, &l, LINK_E_EXPIRE, NULL, NULL);
        if (st < 0)
            return st;
        *expired += st > 0;
    }
    *listed = d.n;
    return DB_ONE_RESULT;
}

/* ---- sending ------------------------------------------------------------------------ */

enum db_status svc_link_delivery(struct svc *s, const char *merchant_id, int64_t link_id,
                                 bool delivered, const struct svc_entry *detail)
{
    struct db_link l;
    enum db_status st = DB_CALL(s->tx, links, get_by_id, merchant_id, link_id, s->a, &l);
    if (st <= 0)
        return st;
    st = svc_link_event(s, &l, delivered ? LINK_E_DELIVERED : LINK_E_DELIVERY_FAILED, detail, NULL);
    return st < 0 ? st : DB_ONE_RESULT;
}
