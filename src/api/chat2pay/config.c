/*
 * config.c — GET /api/v2/config: the caller's Chat 2 Pay configuration
 * (DetailedWidgetConfigResponse).
 *
 * The reply depends only on configuration data (merchant, currencies,
 * integrators) and on the caller's key (shown masked), so each server thread
 * keeps the last rendered body per key, valid while the database's
 * configuration epoch is unchanged (see db_config_epoch).
 */
#include "api/api.h"
#include "api/chat2pay/chat2pay.h"

#include "app.h"
#include "service/views.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Rendered replies per thread, direct-mapped by key id. */
enum { CONFIG_CACHE_SLOTS = 64, CONFIG_CACHE_MAX_BODY = 16384 };
struct config_cache_slot {
    const struct db *db;
    uint64_t epoch;
    char key_id[DB_KEY_ID_LEN];
    char *body; /* malloc'd */
    size_t len;
};
static _Thread_local struct config_cache_slot config_cache[CONFIG_CACHE_SLOTS];

/* The bodies are malloc'd: a thread-specific key with a destructor frees a
 * thread's bodies when the thread ends. */
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *p)
{
    struct config_cache_slot *slots = p;
    for (size_t i = 0; i < CONFIG_CACHE_SLOTS; i++) {
        free(slots[i].body);
        slots[i].body = NULL;
    }
}

static void cache_key_create(void)
{
    pthread_key_create(&cache_key, cache_free);
}

static struct config_cache_slot *cache_slot(const char *key_id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = key_id; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return &config_cache[h % CONFIG_CACHE_SLOTS];
}

static void cache_store(struct config_cache_slot *s, const struct db *db, uint64_t epoch,
                        const char *key_id, const char *body, size_t len)
{
    if (len > CONFIG_CACHE_MAX_BODY)
        return;
    pthread_once(&cache_once, cache_key_create);
    if (!pthread_getspecific(cache_key))
        pthread_setspecific(cache_key, config_cache);
    char *copy = realloc(s->body, len + 1);
    if (!copy)
        return;
    memcpy(copy, body, len + 1);
    s->body = copy;
    s->len = len;
    s->db = db;
    s->epoch = epoch;
    memcpy(s->key_id, key_id, sizeof s->key_id);
}

struct config_ctx {
    struct req *r;
    json_object *view;
};

static enum db_status load_cb(struct db_tx *tx, void *cls)
{
    struct config_ctx *c = cls;
    struct svc s = {.tx = tx, .a = c->r->arena, .now = time_now(), .cfg = c->r->app->cfg};
    json_object_put(c->view);
    c->view = NULL;
    return svc_config_view(&s, c->r->auth.merchant_id, api_masked_key(c->r), &c->view);
}

void api_config_get(struct req *r)
{
    uint64_t epoch = db_config_epoch(r->app->db);
    struct config_cache_slot *slot = cache_slot(r->auth.key_id);
    if (slot->db == r->app->db && slot->epoch == epoch && slot->body &&
        strcmp(slot->key_id, r->auth.key_id) == 0) {
        reply_text(r, 200, "application/json", slot->body, slot->len);
        return;
    }
    struct config_ctx c = {.r = r};
    enum db_status st = db_run(r->app->db, DB_READ, "config_get", load_cb, &c);
    if (st <= 0) {
        json_object_put(c.view);
        if (st < 0)
            api_reply_db_error(r, st);
        else
            reply_error(r, ERR_NOT_FOUND, "Chat 2 Pay configuration not found");
        return;
    }
    size_t len;
    const char *body = json_object_to_json_string_length(
        c.view, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    cache_store(slot, r->app->db, epoch, r->auth.key_id, body, len);
    reply_text(r, 200, "application/json", body, len);
    json_object_put(c.view);
}
