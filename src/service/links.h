/*
 * links.h — payment link transitions: create, send results, delivery,
 * the customer's first open, cancel, expire (see service.h).
 */
#ifndef CHATPAY_SERVICE_LINKS_H
#define CHATPAY_SERVICE_LINKS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/currency.h"
#include "core/fieldspec.h"
#include "core/link_fsm.h"
#include "db/merchants.h"
#include "service/service.h"

/* A new link as the merchant asked for it, its syntax checked by the caller
 * (problems found there are in the field_errors given to svc_link_create). */
struct link_request {
    bool channel_set;
    int channel;                     /* enum channel_type */
    const char *from, *to;           /* digits; from may be NULL */
    const char *order_number;        /* NULL when missing */
    const struct currency *currency; /* NULL when missing or invalid */
    bool amounts_ok;                 /* the amounts below are valid in the currency */
    int64_t total_minor;
    bool has_subtotal, has_tax;
    int64_t subtotal_minor, tax_minor;
    const char *gateway_settings_id, *application_id; /* NULL when not given */
    const char *reconciliation_id, *merchant_descriptor;
    const char *additional_data; /* JSON object text or NULL */
    const char *line_items;      /* normalised JSON array text or NULL */
    bool auto_reversal;
    bool transaction_type_set;
    int transaction_type;
    usec_t request_timestamp;
    /* the new link's paymentLinkRef and token, drawn before the transaction
     * (svc_link_request_ids): the writer's time is spent on the database */
    char ref[DB_REF_LEN], token[DB_REF_LEN];
};

/* Draw the reference and token of the link rq will create: a new
 * paymentLinkRef (22 base62 digits: the time in milliseconds, then 88
 * random bits) and page token (96 random bits). */
void svc_link_request_ids(struct link_request *rq);

/* Check the request against the merchant's configuration (currency,
 * channel, integrator, gateway settings, an order never paid twice) and,
 * when there is no problem at all — here or in errs already — store the link,
 * its first history entry and the job that sends it. DB_ROLLBACK when errs
 * holds problems. *l receives the link, *m the merchant. */
enum db_status svc_link_create(struct svc *s, const char *merchant_id,
                               const struct link_request *rq, struct field_errors *errs,
                               struct db_link *l, struct db_merchant *m);

/* Event e happens to link l (core/link_fsm.h): the state moves or stays,
 * the history records it (with the provider's answer in detail, may be
 * NULL). A refused event changes nothing: *refused gets the reason and the
 * result is DB_NO_RESULTS. */
enum db_status svc_link_event(struct svc *s, struct db_link *l, enum link_event e,
                              const struct svc_entry *detail, const char **refused);

/* The customer's first open (the page, or the Pay button straight away):
 * PAYMENT_LINK_CLICKED, the link lives click TTL from now and its payment
 * page page TTL. Nothing happens when it was opened before. */
enum db_status svc_link_open(struct svc *s, struct db_link *l, const struct db_merchant *m);

/* What the customer's browser finds at /p/<token>. */
enum link_visit {
    VISIT_OPEN,       /* the page (or, when paid or confirming, what became of the payment) */
    VISIT_UNKNOWN,    /* no such token */
    VISIT_EXPIRED,    /* the link's time is up */
    VISIT_CANCELLED,  /* cancelled by the merchant */
    VISIT_UNUSABLE,   /* the link could not be sent */
    VISIT_FIRST_OPEN, /* a person's first open, not recorded (record was false) */
};

/* A visit of the link page: a person's first visit opens the link (a link
 * preview robot's does not). Without `record` nothing is written, and a
 * first open answers VISIT_FIRST_OPEN: visit again with `record`, in a
 * write transaction (every later view needs only a read transaction). *l
 * and *m receive the link and its merchant. */
enum db_status svc_link_visit(struct svc *s, const char *token, bool preview, bool record,
                              enum link_visit *out, struct db_link *l, struct db_merchant *m);

/* The merchant cancels link `ref`: refused (*refused) unless it has not been
 * opened; the customer is told on the link's channel. DB_NO_RESULTS with
 * *refused NULL when there is no such link. */
enum db_status svc_link_cancel(struct svc *s, const char *merchant_id, const char *ref,
                               struct db_link *l, const char **refused);

/* Expire at most `limit` links whose time is up: not paid, and with no
 * payment running at the gateway. *listed: the candidates looked at (a
 * full batch means there may be more). */
enum db_status svc_links_expire_due(struct svc *s, int limit, int *listed, int *expired);

/* A delivery receipt for link `link_id`: PAYMENT_LINK_DELIVERED or
 * _DELIVERY_FAILED. */
enum db_status svc_link_delivery(struct svc *s, const char *merchant_id, int64_t link_id,
                                 bool delivered, const struct svc_entry *detail);

#endif
