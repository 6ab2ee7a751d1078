/*
 * app.h — the running application: configuration and shared handles that
 * every handler and worker reaches through struct req → app.
 */
#ifndef CHATPAY_APP_H
#define CHATPAY_APP_H

#include "config.h"
#include "db/db.h"

struct app {
    const struct config *cfg;
    struct db *db;
    usec_t started_at;       /* wall clock, for build info */
    struct workers *workers; /* background job threads (NULL in admin commands) */
};

#endif
