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
    {"POST", "/api/v2/payment/{paymentLinkRef}/capture", api_capture, AUTH_API_KEY, 0, 0},
    {"POST", "/api/v2/payment/{paymentLinkRef}/reverse", api_reverse, AUTH_API_KEY, 0, 0},

    /* sandbox tools (extension) */
    {"GET", "/api/v2/sandbox/messages", api_sandbox_messages, AUTH_API_KEY, 0, 0},

    /* customer pages */
    {"GET", "/p/{token}", api_link_page, AUTH_NONE, 0, 0},
    {"POST", "/p/{token}/pay", api_pay, AUTH_NONE, 0, 4096},
    {"GET", "/p/{token}/return", api_pay_return, AUTH_NONE, 0, 0},

    /* the sandbox gateway's hosted pages (a stand-in for a real gateway) */
    {"GET", "/sandbox-gateway/checkout/{ref}", api_sandbox_checkout, AUTH_NONE, 0, 0},
    {"POST", "/sandbox-gateway/checkout/{ref}", api_sandbox_checkout_submit, AUTH_NONE, 0, 4096},
    {"GET", "/sandbox-gateway/3ds/{ref}", api_sandbox_3ds, AUTH_NONE, 0, 0},
    {"POST", "/sandbox-gateway/3ds/{ref}", api_sandbox_3ds_submit, AUTH_NONE, 0, 4096},
    {"GET", "/static/chatpay.css", api_static_css, AUTH_NONE, 0, 0},
    {"GET", "/static/chatpay.js", api_static_js, AUTH_NONE, 0, 0},
    {"GET", "/m/{merchantId}/logo", api_merchant_logo, AUTH_NONE, 0, 0},

    /* operations */
    {"GET", "/livez", api_livez, AUTH_NONE, ROUTE_HEALTH, 0},
    {"GET", "/readyz", api_readyz, AUTH_NONE, ROUTE_HEALTH, 0},
    {"GET", "/metrics", api_metrics, AUTH_NONE, ROUTE_ADMIN, 0},
    {"GET", "/openapi.json", api_openapi, AUTH_NONE, 0, 0},
    {"GET", "/", api_index, AUTH_NONE, 0, 0},
};

const size_t api_route_count = sizeof api_routes / sizeof api_routes[0];
