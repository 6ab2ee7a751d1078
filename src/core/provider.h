/*
 * provider.h — what a configured provider (a messaging provider or a
 * payment gateway: `chatpay provider add --kind KIND --set NAME=VALUE`) is
 * made from: the settings its kind takes and the configuration an instance
 * gets. Pure: no I/O.
 */
#ifndef CHATPAY_CORE_PROVIDER_H
#define CHATPAY_CORE_PROVIDER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

struct net;

/* A setting of a kind of provider. */
struct provider_setting {
    const char *name;
    bool required;
    bool secret; /* stored sealed, never printed again */
    const char *help;
};

/* What an instance is made from. */
struct provider_config {
    const char *provider_id, *merchant_id;
    json_object *settings;   /* every setting as a string, secrets opened */
    struct net *net;         /* outbound HTTP */
    const char *inbound_url; /* <public_url>/hooks/<providerId>/<token> */
    bool test_mode;          /* a sandbox merchant's provider: its test mode */
};

/* An inbound request to /hooks/{providerId}/{token}/{rest} (or a browser's
 * POST back from a gateway's hosted checkout). */
struct provider_inbound {
    const char *method;       /* "GET" or "POST" */
    const char *url;          /* the public URL the provider called: public_url + path + query */
    const char *rest;         /* the path after the token ("status", "reply", ...; "" none) */
    const char *content_type; /* "" when none */
    const char *body;         /* the raw bytes (signatures are over these) */
    size_t body_len;
    /* a request header, NULL when absent */
    const char *(*header)(const void *cls, const char *name);
    const void *header_cls;
    /* a query parameter, NULL when absent */
    const char *(*query)(const void *cls, const char *name);
    const void *query_cls;
};

/* A setting's value from cfg, NULL when not set (or empty). */
const char *provider_setting(const struct provider_config *cfg, const char *name);

#endif
