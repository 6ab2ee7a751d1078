/*
 * service.h — the one place where links and payments change.
 *
 * Every change of state (a link created, sent, opened, cancelled, expired; a
 * payment begun, answered, captured, reversed; a receipt; a callback) is a
 * function of src/service/ that runs inside the caller's transaction: it
 * checks the state tables (core/link_fsm.h, core/payment_fsm.h), writes the
 * new state, appends the history entry and queues its outbox jobs, all in
 * that one transaction, so that they commit together or not at all. The
 * callers — API handlers and job runners — do the I/O around it: they parse
 * and render, and call gateways and providers with no transaction open.
 *
 * Service functions never call the API or the job runners (arrows point
 * down: api → service → core/db; jobs → service).
 */
#ifndef CHATPAY_SERVICE_SERVICE_H
#define CHATPAY_SERVICE_SERVICE_H

#include <stdbool.h>

#include "db/db.h"
#include "db/jobs.h"
#include "db/links.h"
#include "util/arena.h"
#include "util/time.h"

struct config;

/* What a service function works with: the caller's transaction, an arena for
 * what it reads, the time of the change and the server's configuration. */
struct svc {
    struct db_tx *tx;
    struct arena *a;
    usec_t now;
    const struct config *cfg;
    unsigned queued;         /* the pools (1 << enum job_pool) of the jobs queued: wake them after
                                the commit (app_wake_workers) */
    struct svc_cb_cache *cb; /* the callback URLs read in this transaction (callbacks.c) */
};

/* Queue a job for link l (run_at: when it is due). */
enum db_status svc_enqueue(struct svc *s, const struct db_link *l, enum job_kind kind, int64_t arg,
                           usec_t run_at);
/* Queue a job of the merchant's (link_id 0: of no link). */
enum db_status svc_enqueue_for(struct svc *s, const char *merchant_id, int64_t link_id,
                               enum job_kind kind, int64_t arg, usec_t run_at);

/* An entry of a link's history. http, code and desc describe a provider's or
 * gateway's answer (0 / NULL when none). */
struct svc_entry {
    int status; /* transactionStatus id (core/status.h) */
    int http;
    const char *code;
    const char *desc;
};

/* Append an entry to link l's history (and queue its transaction event
 * callback). */
enum db_status svc_history(struct svc *s, const struct db_link *l, const struct svc_entry *e);

#endif
