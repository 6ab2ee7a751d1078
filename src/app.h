/*
 * app.h — the running application: configuration and shared handles that
 * every handler and worker reaches through struct req → app.
 */
#ifndef CHATPAY_APP_H
#define CHATPAY_APP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "db/db.h"

struct channel_registry;
struct gateway_registry;
struct net;

struct app {
    const struct config *cfg;
    struct db *db;
    struct channel_registry *channels; /* messaging providers (NULL in admin commands) */
    struct gateway_registry *gateways; /* payment gateways (NULL in admin commands) */
    struct net *net;                   /* outbound HTTP: callbacks (NULL in admin commands) */
    _Atomic bool stopping;             /* set on shutdown: provider calls in flight end */
    usec_t started_at;                 /* wall clock, for build info */
    struct workers *workers;           /* background job threads (NULL when not running here) */
    /* tell the job threads that jobs of these pools were queued (set when
     * they run here) */
    void (*wake)(struct workers *w, unsigned pools);
};

/* Jobs of these pools (1 << enum job_pool; struct svc's `queued`) were
 * queued: wake the job threads now rather than at their next poll (another
 * process's workers poll). Nothing when pools is 0. */
static inline void app_wake_workers(struct app *app, unsigned pools)
{
    if (pools && app->workers && app->wake)
        app->wake(app->workers, pools);
}

#endif
