/*
 * routes.c — every endpoint chatpay serves, as data.
 */
#include "api/api.h"

const struct route api_routes[] = {
    /* Chat 2 Pay API v2 */
    {"GET", "/api/v2/config", api_config_get, AUTH_API_KEY, 0, 0},
    {"PUT", "/api/v2/integration", api_integration_put, AUTH_API_KEY, ROUTE_JSON_BODY, 0},
    {"POST", "/api/v2/chat-2-pay", api_chat2pay_create, AUTH_API_KEY,
     ROUTE_JSON_BODY | ROUTE_IDEMPOTENT, 0},
    {"GET", "/api/v2/chat-2-pay/transaction-status", api_chat2pay_status, AUTH_API_KEY, 0, 0},
    {"POST", "/api/v2/cancel/{paymentLinkRef}", api_cancel, AUTH_API_KEY, 0, 0},

    /* sandbox tools (extension) */
    {"GET", "/api/v2/sandbox/messages", api_sandbox_messages, AUTH_API_KEY, 0, 0},

    /* customer pages */
    {"GET", "/p/{token}", api_link_page, AUTH_NONE, 0, 0},
    {"GET", "/static/chatpay.css", api_static_css, AUTH_NONE, 0, 0},

    /* operations */
    {"GET", "/livez", api_livez, AUTH_NONE, 0, 0},
    {"GET", "/readyz", api_readyz, AUTH_NONE, 0, 0},
    {"GET", "/metrics", api_metrics, AUTH_NONE, 0, 0},
    {"GET", "/openapi.json", api_openapi, AUTH_NONE, 0, 0},
    {"GET", "/", api_index, AUTH_NONE, 0, 0},
};

const size_t api_route_count = sizeof api_routes / sizeof api_routes[0];
