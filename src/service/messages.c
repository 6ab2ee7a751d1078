/*
 * messages.c — what happens to the messages chatpay sends (see messages.h).
 */
#include "service/messages.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/link_fsm.h"
#include "core/status.h"
#include "service/callbacks.h"
#include "service/links.h"
#include "service/receipts.h"
#include "util/log.h"
#include "util/tz.h"

/* ---- reminders and quiet hours ---------------------------------------------------------- */

int svc_reminders_parse(const char *text, usec_t out[SVC_REMINDERS_MAX])
{
    if (!*text)
        return 0;
    int n = time_parse_durations(text, out, SVC_REMINDERS_MAX, 60LL * 1000000,
                                 7LL * 24 * 3600 * 1000000);
    for (int i = 1; i < n; i++)
        if (out[i] <= out[i - 1])
            return -1; /* increasing */
    return n;
}

usec_t svc_quiet_release(const struct db_merchant *m, usec_t at)
{
    if (m->quiet_start < 0 || m->quiet_end < 0 || m->quiet_start == m->quiet_end)
        return at;
    const char *zone = m->timezone[0] ? m->timezone : "UTC";
    int minute = tz_minute_of_day(zone, at);
    if (minute < 0)
        return at;
    bool quiet = m->quiet_start < m->quiet_end
                     ? minute >= m->quiet_start && minute < m->quiet_end
                     : minute >= m->quiet_start || minute < m->quiet_end; /* over midnight */
    if (!quiet)
        return at;
    int wait = (m->quiet_end - minute + 1440) % 1440;
    /* to the start of the minute the window ends at */
    usec_t into_minute = at % (60LL * 1000000);
    usec_t release = at - into_minute + (usec_t)wait * 60 * 1000000;
    /* the wait was counted in wall minutes: across a change of the zone's
     * offset (daylight saving) the clock then reads an hour off; move to
     * where it reads the window's end, unless that time does not exist */
    int got = tz_minute_of_day(zone, release);
    if (got >= 0 && got != m->quiet_end) {
        int d = (m->quiet_end - got + 1440) % 1440;
        if (d > 720)
            d -= 1440;
        usec_t moved = release + (usec_t)d * 60 * 1000000;
        if (tz_minute_of_day(zone, moved) == m->quiet_end)
            release = moved;
    }
    return release;
}

/* ---- opt-outs ----------------------------------------------------------------------------- */

int svc_optout_word(const char *text)
{
    static const char *const stop[] = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL",
                                       "END",  "QUIT",    "OPTOUT",      "OPT-OUT"};
    static const char *const start[] = {"START", "UNSTOP", "YES", "OPTIN", "OPT-IN"};
    if (!text)
        return 0;
    while (isspace((unsigned char)*text))
        text++;
    size_t n = strlen(text);
    while (n && isspace((unsigned char)text[n - 1]))
        n--;
    for (size_t i = 0; i < sizeof stop / sizeof stop[0]; i++)
        if (strlen(stop[i]) == n && strncasecmp(text, stop[i], n) == 0)
            return 1;
    for (size_t i = 0; i < sizeof start / sizeof start[0]; i++)
        if (strlen(start[i]) == n && strncasecmp(text, start[i], n) == 0)
            return -1;
    return 0;
}

enum db_status svc_opted_out(struct svc *s, const char *merchant_id, const char *msisdn, bool *out)
{
    enum db_status st = DB_CALL(s->tx, providers, optout_get, merchant_id, msisdn);
    *out = st > 0;
    return st < 0 ? st : DB_ONE_RESULT;
}

/* ---- sending ------------------------------------------------------------------------------ */

/* The provider refused its credentials: unhealthy, and the merchant told
 * (its channels are no longer enabled in /api/v2/config). */
static enum db_status unhealthy(struct svc *s, const struct db_merchant *m, const char *provider_id,
                                const struct channel_result *r)
{
    const char *why = arena_printf(s->a, "credentials refused: HTTP %d %s %s", r->http_code,
                                   r->code, r->description);
    enum db_status st = DB_CALL(s->tx, providers, set_health, provider_id, false, why, s->now);
    if (st <= 0)
        return st;
    log_warn("provider %s of merchant %s refused its credentials (HTTP %d, code %s)", provider_id,
             m->id, r->http_code, r->code);
    const char *changed[2];
    size_t n = 0;
    if (strcmp(m->sms_provider, provider_id) == 0)
        changed[n++] = "smsChannelEnabled";
    if (strcmp(m->whatsapp_provider, provider_id) == 0)
        changed[n++] = "whatsappChannelEnabled";
    return n ? svc_cb_settings(s, m->id, changed, n) : DB_ONE_RESULT;
}

/* Does a WhatsApp link that could not be sent go out by SMS instead? */
static bool falls_back(const struct db_merchant *m, const struct svc_send *snd)
{
    const struct channel_result *r = snd->res;
    return snd->purpose == PM_LINK && snd->reminder == 0 && snd->channel == CHANNEL_WHATSAPP &&
           m->fallback_sms && m->sms_enabled && r->outcome == CHANNEL_REJECTED &&
           (r->reason == CHANNEL_R_NOT_ON_CHANNEL || r->reason == CHANNEL_R_WINDOW_CLOSED);
}

/* The link goes out again (the first send refused, or a send reported
 * undelivered): its history keeps the WhatsApp failure as `status` (the
 * link stays usable) and says what goes next; a send job does it, by SMS
 * unless `how` is the template. */
static enum db_status send_again(struct svc *s, const struct db_merchant *m, struct db_link *l,
                                 int status, int64_t how, const struct svc_entry *detail)
{
    struct svc_entry e = *detail;
    e.status = status;
    e.desc = arena_printf(s->a, "%s; sending it %s instead", detail->desc ? detail->desc : "",
                          how == SEND_LINK_TEMPLATE ? "as the WhatsApp template" : "by SMS");
    enum db_status st = svc_history(s, l, &e);
    if (st < 0)
        return st;
    if (how != SEND_LINK_TEMPLATE) {
        l->channel = CHANNEL_SMS;
        snprintf(l->msisdn_from, sizeof l->msisdn_from, "%s", m->sms_from);
        st = DB_CALL(s->tx, links, update, l);
        if (st < 0)
            return st;
    }
    /* a first send is never held; a resend after a report (which may come
     * much later) waits out the merchant's quiet hours like a reminder */
    return svc_enqueue(s, l, JOB_SEND_LINK, how,
                       how == SEND_LINK_FIRST ? s->now : svc_quiet_release(m, s->now));
}

/* After a link's send (the first, or reminder `done`): the next reminder,
 * if the merchant wants more, at its offset from the link's creation (held
 * past quiet hours). */
static enum db_status next_reminder(struct svc *s, const struct db_merchant *m,
                                    const struct db_link *l, int done)
{
    usec_t waits[SVC_REMINDERS_MAX];
    int n = m->reminders[0] ? svc_reminders_parse(m->reminders, waits) : 0;
    if (done < 0 || done >= n)
        return DB_ONE_RESULT;
    usec_t at = l->created_at + waits[done];
    /* one held past quiet hours (or sent late) does not bring the next
     * with it: they stay as far apart as the merchant set them */
    if (done >= 1) {
        usec_t gap = waits[done] - waits[done - 1];
        if (at < s->now + gap)
            at = s->now + gap;
    }
    if (at < s->now)
        at = s->now;
    return svc_enqueue(s, l, JOB_SEND_REMINDER, done + 1, svc_quiet_release(m, at));
}

enum db_status svc_message_sent(struct svc *s, const struct db_merchant *m, int64_t link_id,
                                const struct svc_send *snd)
{
    const struct channel_result *r = snd->res;
    bool sent = r->outcome == CHANNEL_SENT || r->outcome == CHANNEL_UNKNOWN;
    enum db_status st;
    if (r->reason == CHANNEL_R_AUTH && strcmp(snd->provider_id, "sandbox") != 0) {
        st = unhealthy(s, m, snd->provider_id, r);
        if (st < 0)
            return st;
    }
    struct db_provider_message msg = {
        .link_id = link_id,
        .purpose = snd->purpose,
        .channel = snd->channel,
        .state = r->outcome == CHANNEL_SENT      ? PM_SENT
                 : r->outcome == CHANNEL_UNKNOWN ? PM_UNKNOWN
                                                 : PM_FAILED,
        .created_at = s->now,
    };
    snprintf(msg.merchant_id, sizeof msg.merchant_id, "%s", m->id);
    snprintf(msg.provider_id, sizeof msg.provider_id, "%s", snd->provider_id);
    snprintf(msg.ref, sizeof msg.ref, "%s", snd->ref);
    snprintf(msg.provider_ref, sizeof msg.provider_ref, "%s", r->provider_ref);
    st = DB_CALL(s->tx, providers, message_insert, &msg);
    if (st < 0)
        return st;
    if (st == 0)
        return DB_ONE_RESULT; /* recorded by an earlier run of the job */

    struct svc_entry detail = {.http = r->http_code,
                               .code = r->code[0] ? r->code : NULL,
                               .desc = r->description[0] ? r->description : NULL};
    if (r->outcome == CHANNEL_UNKNOWN)
        detail.desc = arena_printf(s->a,
                                   "The provider did not confirm the message (%s); it may have "
                                   "been sent: its delivery receipt will tell",
                                   r->description[0] ? r->description : "no answer");
    struct db_link l;
    st = DB_CALL(s->tx, links, get_by_id, m->id, link_id, s->a, &l);
    if (st <= 0)
        return st;
    if (snd->purpose == PM_LINK && snd->reminder)
        detail.desc = arena_printf(s->a, "Reminder %d%s%s", snd->reminder, detail.desc ? ": " : "",
                                   detail.desc ? detail.desc : "");
    if (snd->purpose == PM_LINK && sent && link_state_from_status(l.status) == LINK_S_CANCELLED) {
        /* the link was cancelled while this send was under way: the
         * customer may have it now, and is told, unless the cancel queued
         * the notice already (an earlier message had reached them) */
        st = DB_CALL(s->tx, jobs, exists, m->id, JOB_SEND_CANCEL, l.id);
        if (st == 0)
            st = svc_enqueue(s, &l, JOB_SEND_CANCEL, l.id, s->now);
        if (st < 0)
            return st;
    }
    switch (snd->purpose) {
    case PM_LINK:
        if (falls_back(m, snd))
            return send_again(s, m, &l, LINK_PAYMENT_LINK_SENT_FAILED,
                              snd->again ? SEND_LINK_AGAIN : SEND_LINK_FIRST, &detail);
        st = svc_link_event(s, &l, sent ? LINK_E_SENT : LINK_E_SEND_FAILED, &detail, NULL);
        if (st >= 0 && sent && !snd->again)
            st = next_reminder(s, m, &l, snd->reminder);
        break;
    case PM_RECEIPT:
        st = svc_receipt_send_result(s, m->id, link_id, sent, &detail);
        break;
    default:
        st = DB_ONE_RESULT; /* a cancellation notice: its row is all */
        break;
    }
    if (st < 0)
        return st;
    if (sent && snd->receipt_delay)
        st = svc_enqueue(s, &l, JOB_DELIVERY_RECEIPT, msg.id, s->now + snd->receipt_delay);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* ---- reports ------------------------------------------------------------------------------ */

bool svc_link_awaits_customer(const struct db_link *l, usec_t now)
{
    enum link_state st = link_state_from_status(l->status);
    return l->live && !l->clicked_at && l->expires_at > now && l->payment_status == PAY_PENDING &&
           (st == LINK_S_SENT || st == LINK_S_DELIVERED || st == LINK_S_UNDELIVERED);
}

/* The job that sent (or is sending) the message of our reference `ref`
 * ("cpm_<job id>"); DB_NO_RESULTS when it is not one, or is gone. */
static enum db_status ref_job(struct svc *s, const char *merchant_id, const char *ref,
                              struct db_job *out)
{
    long long job_id;
    int end = 0;
    if (sscanf(ref, "cpm_%lld%n", &job_id, &end) != 1 || ref[end] || job_id <= 0)
        return DB_NO_RESULTS;
    return DB_CALL(s->tx, jobs, get, merchant_id, job_id, out);
}

/* A WhatsApp link message reported undelivered: does the link go again,
 * and how? Only its first send (or the template sent after it), while the
 * link still waits for the customer on WhatsApp; *how says how. */
static enum db_status resend_how(struct svc *s, const struct db_provider_message *msg,
                                 enum channel_reason reason, const struct db_merchant *m,
                                 const struct db_link *l, int64_t *how)
{
    /* (delivered: a reminder reached the customer meanwhile) */
    if (l->channel != CHANNEL_WHATSAPP || !svc_link_awaits_customer(l, s->now) ||
        link_state_from_status(l->status) == LINK_S_DELIVERED)
        return DB_NO_RESULTS;
    struct db_job job;
    enum db_status st = ref_job(s, m->id, msg->ref, &job);
    if (st <= 0)
        return st; /* purged: too late to send it again */
    if (job.kind != JOB_SEND_LINK || job.link_id != l->id)
        return DB_NO_RESULTS; /* a reminder, or not this link's */
    if (reason == CHANNEL_R_WINDOW_CLOSED && job.arg == SEND_LINK_FIRST && m->wa_template[0])
        *how = SEND_LINK_TEMPLATE;
    else if (m->fallback_sms && m->sms_enabled)
        *how = SEND_LINK_AGAIN;
    else
        return DB_NO_RESULTS;
    return DB_ONE_RESULT;
}

/* A WhatsApp link's message reported undelivered for a reason another send
 * can get past: sent again (DB_ONE_RESULT), or DB_NO_RESULTS. */
static enum db_status maybe_resend(struct svc *s, const struct db_provider_message *msg,
                                   enum channel_reason reason, const struct svc_entry *detail)
{
    if (msg->purpose != PM_LINK || msg->channel != CHANNEL_WHATSAPP ||
        (reason != CHANNEL_R_NOT_ON_CHANNEL && reason != CHANNEL_R_WINDOW_CLOSED))
        return DB_NO_RESULTS;
    struct db_merchant m;
    enum db_status st = DB_CALL(s->tx, merchants, get, msg->merchant_id, &m);
    if (st <= 0)
        return st;
    struct db_link l;
    st = DB_CALL(s->tx, links, get_by_id, msg->merchant_id, msg->link_id, s->a, &l);
    if (st <= 0)
        return st;
    int64_t how;
    st = resend_how(s, msg, reason, &m, &l, &how);
    if (st <= 0)
        return st;
    st = send_again(s, &m, &l, LINK_PAYMENT_LINK_DELIVERY_FAILED, how, detail);
    return st < 0 ? st : DB_ONE_RESULT;
}

enum db_status svc_message_report(struct svc *s, struct db_provider_message *msg,
                                  const struct svc_report *r)
{
    usec_t at = r->at ? r->at : s->now;
    if (r->provider_ref && r->provider_ref[0] && !msg->provider_ref[0])
        snprintf(msg->provider_ref, sizeof msg->provider_ref, "%s", r->provider_ref);
    bool final = msg->state == PM_DELIVERED || msg->state == PM_FAILED;
    int next = r->delivery == DELIVERY_DELIVERED ? PM_DELIVERED
               : r->delivery == DELIVERY_FAILED  ? PM_FAILED
                                                 : PM_SENT;
    /* forward only: nothing after a final state; an intermediate state only
     * when it is news and not older than the last (a final state is taken
     * whatever its time: the query's clock and the callbacks' may differ) */
    if (final ||
        (next == PM_SENT && (msg->state == PM_SENT || (msg->status_at && at < msg->status_at))))
        return DB_NO_RESULTS;
    msg->state = next;
    snprintf(msg->status, sizeof msg->status, "%s", r->status ? r->status : "");
    msg->status_at = at;
    enum db_status st = DB_CALL(s->tx, providers, message_update, msg);
    if (st < 0 || next == PM_SENT)
        return st < 0 ? st : DB_ONE_RESULT;
    struct svc_entry detail = {.http = r->http, .code = r->code, .desc = r->desc};
    if (!detail.desc && r->status && r->status[0])
        detail.desc = r->status;
    bool delivered = next == PM_DELIVERED;
    switch (msg->purpose) {
    case PM_LINK:
        st = delivered ? DB_NO_RESULTS : maybe_resend(s, msg, r->reason, &detail);
        if (st == DB_NO_RESULTS)
            st = svc_link_delivery(s, msg->merchant_id, msg->link_id, delivered, &detail);
        break;
    case PM_RECEIPT:
        st = svc_receipt_delivery(s, msg->merchant_id, msg->link_id, delivered, &detail);
        break;
    default:
        st = DB_ONE_RESULT;
        break;
    }
    return st < 0 ? st : DB_ONE_RESULT;
}

/* Have the status query of msg run now: the pending one moved up, else a
 * new one. */
static enum db_status confirm_report(struct svc *s, struct db_provider_message *msg,
                                     const char *provider_ref)
{
    enum db_status st;
    if (provider_ref[0] && !msg->provider_ref[0]) { /* the send's answer was lost */
        snprintf(msg->provider_ref, sizeof msg->provider_ref, "%s", provider_ref);
        st = DB_CALL(s->tx, providers, message_update, msg);
        if (st < 0)
            return st;
    }
    st = DB_CALL(s->tx, jobs, hurry, JOB_DELIVERY_RECEIPT, msg->id, s->now);
    if (st != 0)
        return st < 0 ? st : DB_ONE_RESULT;
    return svc_enqueue_for(s, msg->merchant_id, msg->link_id, JOB_DELIVERY_RECEIPT, msg->id,
                           s->now);
}

enum db_status svc_channel_events(struct svc *s, const char *provider_id, const char *merchant_id,
                                  bool confirm, const struct channel_event *events, size_t n,
                                  int *applied, int *early)
{
    *applied = 0;
    *early = 0;
    for (size_t i = 0; i < n; i++) {
        const struct channel_event *e = &events[i];
        enum db_status st;
        if (e->kind == CHANNEL_EV_REPLY) {
            int word = svc_optout_word(e->text);
            if (!word || !e->from[0])
                continue;
            /* at the time the customer wrote, when the provider tells it
             * (never later than now): a STOP and a START re-delivered out
             * of order are applied in the order they were written */
            usec_t at = e->at > 0 && e->at < s->now ? e->at : s->now;
            st = word > 0 ? DB_CALL(s->tx, providers, optout_add, merchant_id, e->from,
                                    arena_printf(s->a, "reply via %s", provider_id), at)
                          : DB_CALL(s->tx, providers, optout_remove, merchant_id, e->from, at);
            if (st < 0)
                return st;
            *applied += st > 0;
            continue;
        }
        struct db_provider_message msg;
        st = DB_CALL(s->tx, providers, message_find, provider_id, e->provider_ref, e->ref, &msg);
        if (st < 0)
            return st;
        if (st == 0 && e->ref[0]) {
            /* the report overtook the send's record: its job still runs
             * (the provider answered, the row is not written yet) */
            struct db_job job;
            st = ref_job(s, merchant_id, e->ref, &job);
            if (st < 0)
                return st;
            if (st > 0 && !job.done_at)
                *early += 1;
            continue;
        }
        if (st == 0 || strcmp(msg.merchant_id, merchant_id) != 0)
            continue; /* not one of ours (or another instance's): ignored */
        if (confirm && (e->delivery == DELIVERY_DELIVERED || e->delivery == DELIVERY_FAILED)) {
            if (msg.state == PM_DELIVERED || msg.state == PM_FAILED)
                continue; /* settled: the report can change nothing */
            st = confirm_report(s, &msg, e->provider_ref);
            if (st < 0)
                return st;
            *applied += 1;
            continue;
        }
        struct svc_report r = {.delivery = e->delivery,
                               .status = e->status,
                               .code = e->code[0] ? e->code : NULL,
                               .desc = e->description[0] ? e->description : NULL,
                               .at = e->at,
                               .provider_ref = e->provider_ref,
                               .reason = e->reason};
        st = svc_message_report(s, &msg, &r);
        if (st < 0)
            return st;
        *applied += st > 0;
    }
    return DB_ONE_RESULT;
}
